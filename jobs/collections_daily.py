"""``collections_daily``: the daily collections report (收款日報表) to finance (regulations part 4,
art. 27), every evening: the day's collections by rep and method, handed in or held, and totals.

It runs every day, not only on working days: money collected on a day off must reach a report too.
A working day always gets one ("no collections" is news to finance too); a day off only when
something was collected or reversed, and its push waits for the next working morning (the outbox's
calendar). What is collected after the report (default 20:00, after the 19:00 report deadline
and before quiet hours) is in ``/collections DAY``; the report says as of when it was drawn.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.money.finance_reports import EVERYONE, daily_collections
from bot.views.finance import collections_text
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import Role, User


async def finance_readers(session: AsyncSession) -> list[Recipient]:
    """Who gets finance's copy of a report: finance; the director when the company has no active
    finance user at all (the reports must reach someone answerable for the money)."""
    finance = await recipients(session, Role.FINANCE)
    if finance:
        return finance
    has_finance = await session.scalar(select(exists().where(User.role == Role.FINANCE, User.active)))
    return [] if has_finance else await recipients(session, Role.DIRECTOR)


async def collections_daily(ctx: JobContext) -> None:
    readers = await finance_readers(ctx.session)
    if not readers:
        return
    report = await daily_collections(ctx.session, EVERYONE, ctx.today, ctx.zone)
    if not (report.reps or report.reversed_count or ctx.company.is_working_day(ctx.today)):
        return
    for person in readers:
        text = collections_text(Translator(person.language), report, ctx.zone, as_of=ctx.now, pushed=True)
        await ctx.push(person.id, ctx.today.isoformat(), text)
