"""``outstanding_report``: the outstanding-payments report (未收款項報告表) every ten days
(regulations part 4, art. 28: weekly and every ten days, checked by finance).

On the 1st, 11th and 21st: finance (all customers) and each manager (their team's customers) get
the open receivables by age, and the customers owing most, each by age. A day off still runs it:
its pushes wait for the next working morning. The weekly report (``weekly_outstanding``) is by rep.
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.services.money.finance_reports import EVERYONE, Outstanding, outstanding, team_scope
from bot.views.finance import outstanding_text
from jobs.collections_daily import finance_readers
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import Role


async def _send(ctx: JobContext, person: Recipient, report: Outstanding) -> None:
    if report.total.invoices:
        text = outstanding_text(Translator(person.language), report)
        await ctx.push(person.id, ctx.today.isoformat(), text)


async def outstanding_report(ctx: JobContext) -> None:
    readers = await finance_readers(ctx.session)
    if readers:
        everyone = await outstanding(ctx.session, EVERYONE, ctx.today)
        for person in readers:
            await _send(ctx, person, everyone)
    teams: dict[int, Outstanding] = {}
    for manager in await recipients(ctx.session, Role.MANAGER):
        if manager.team_id is None:
            continue
        if manager.team_id not in teams:
            scope = await team_scope(ctx.session, manager.team_id)
            teams[manager.team_id] = await outstanding(ctx.session, scope, ctx.today)
        await _send(ctx, manager, teams[manager.team_id])
