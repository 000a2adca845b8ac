"""``report_reminder``: reps without today's report, with a button to write it.

Who has not reported reaches the managers in the ``report_digest`` at the deadline
(``jobs/report_digest.py``), with the reports that are in.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.i18n import N_, Translator
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import DailyReport, Role


async def _reps_without_report(ctx: JobContext) -> list[Recipient]:
    reps = await recipients(ctx.session, Role.REP)
    reported = set(await ctx.session.scalars(select(DailyReport.rep_id).where(DailyReport.day == ctx.today)))
    return [rep for rep in reps if rep.id not in reported]


async def report_reminder(ctx: JobContext) -> None:
    for rep in await _reps_without_report(ctx):
        t = Translator(rep.language)
        text = t(N_("{name}, today's work report is not in yet. It takes a minute:"), name=rep.name)
        button = [[{"text": t.gettext(N_("Write today's report")), "callback_data": "report:start"}]]
        await ctx.push(rep.id, ctx.today.isoformat(), text, button)
