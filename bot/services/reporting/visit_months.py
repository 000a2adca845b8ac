"""Each rep's visits of each month, counted as they are written: what the summary reads for a month.

``rep_months`` (visits, distinct customers, trust flags per rep and month) and
``rep_customer_months`` are kept by triggers on ``visits`` (migration 0035) in the same transaction
as every visit saved, undone or edited. Months are the company's: a trigger finds a visit's month in
``local_months`` (each month's first instant, UTC), filled for ``FIELDBOT_TIMEZONE`` by the
migration, and by :func:`build` — which then counts every visit once — when the first summary after
a change of zone needs it. Until then (or in a read-only transaction) the summary counts the visits
as before.

On PostgreSQL the build holds writes to ``visits`` (``bot.db.with_writes_held``, waiting at most
:data:`LOCK_TIMEOUT_MS` for the writers in flight), so no visit is counted twice or missed: one
committed before the lock is in the build's counts, one after it finds the new months in its
trigger. Visits' writers wait for as long as the build takes (a few seconds for a million visits).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    delete,
    distinct,
    exists,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.db import read_only, with_writes_held
from bot.services.field import trust
from bot.services.policy import start_of_day
from bot.services.reporting.periods import Period
from models import LocalMonth, RepCustomerMonth, RepMonth, Visit, VisitRollup

LOCK_TIMEOUT_MS = 2_000
#: The months ``local_months`` holds: visits outside them are not counted (none are, in practice).
FIRST_MONTH, LAST_MONTH = date(2000, 1, 1), date(2100, 12, 1)
ROW = VisitRollup.id == 1


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s, both included."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


async def built_for(session: AsyncSession) -> str | None:
    """The zone the months are built for (None: not built)."""
    return await session.scalar(select(VisitRollup.zone).where(ROW))


async def ready(session: AsyncSession, zone: ZoneInfo) -> bool:
    """Whether ``rep_months`` counts the visits by ``zone``'s months, building it if need be.

    False (count the visits instead) in a read-only transaction, or when PostgreSQL's locks were
    not had in time: the build is undone, the transaction goes on.
    """
    if await built_for(session) == zone.key:
        return True
    if await read_only(session):
        return False
    return await with_writes_held(
        session, "visits", lambda connection: build(connection, zone), timeout_ms=LOCK_TIMEOUT_MS
    )


async def build(connection: AsyncConnection, zone: ZoneInfo) -> None:
    """Count every visit afresh by ``zone``'s months (callers keep visits still: :func:`ready`)."""
    for table in (RepMonth, RepCustomerMonth, LocalMonth):
        await connection.execute(delete(table))
    months = months_between(FIRST_MONTH, LAST_MONTH)
    await connection.execute(
        insert(LocalMonth), [{"month": month, "starts_at": start_of_day(month, zone)} for month in months]
    )
    first, last = (
        await connection.execute(select(func.min(Visit.visited_at), func.max(Visit.visited_at)))
    ).one()
    if first is not None:
        for month in months_between(_local_date(first, zone), _local_date(last, zone)):
            await _count_month(connection, month, zone)
    moved = await connection.execute(update(VisitRollup).where(ROW).values(zone=zone.key))
    if not moved.rowcount:  # emptied (a restore, a test's TRUNCATE)
        await connection.execute(insert(VisitRollup).values(id=1, zone=zone.key))


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


async def _count_month(connection: AsyncConnection, month: date, zone: ZoneInfo) -> None:
    start, end = start_of_day(month, zone), start_of_day(next_month(month), zone)
    if month < FIRST_MONTH or month > LAST_MONTH:
        return
    in_month = (Visit.visited_at >= start) & (Visit.visited_at < end)
    await connection.execute(
        insert(RepCustomerMonth).from_select(
            ["month", "rep_id", "customer_id", "visits"],
            select(literal(month), Visit.rep_id, Visit.customer_id, func.count())
            .where(in_month)
            .group_by(Visit.rep_id, Visit.customer_id),
        )
    )
    await connection.execute(
        insert(RepMonth).from_select(
            ["month", "rep_id", "visits", "customers", "flagged", *(column.key for column in trust.COLUMNS)],
            select(
                literal(month),
                Visit.rep_id,
                func.count(),
                type_coerce(func.count(distinct(Visit.customer_id)), Integer()),
                *trust.count_columns(),
            )
            .where(in_month)
            .group_by(Visit.rep_id),
        )
    )


async def whole_month(session: AsyncSession, period: Period, zone: ZoneInfo) -> date | None:
    """The month whose ``rep_months`` rows are ``period``'s visits, or None (count the visits).

    A period from a month's first day to its last, or to a day after which that month has no
    visits yet (``/summary month``: the 1st to today), once the months are built for ``zone``
    (built here if need be). One statement asks both.
    """
    month = period.start
    if month.day != 1 or period.end >= next_month(month):
        return None
    after = start_of_day(period.end + timedelta(days=1), zone)
    later = exists().where(
        Visit.visited_at >= after, Visit.visited_at < start_of_day(next_month(month), zone)
    )
    zone_built, visits_later = (
        await session.execute(select(select(VisitRollup.zone).where(ROW).scalar_subquery(), later))
    ).one()
    if visits_later:
        return None
    if zone_built != zone.key and not await ready(session, zone):
        return None
    return month
