"""A person's last activity: their latest visit, order or collection they recorded themselves, or
daily report, ever.

``users.last_activity_at`` holds it, kept by database triggers on the four tables (migration 0036);
:func:`refill` computes it afresh for everyone, for a database written with those triggers off (the
bench's loader, as a bulk restore would).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarSelect, func, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Collection, DailyReport, Receivable, ReceivableSource, User, Visit


def latest() -> ScalarSelect[datetime]:
    """SQL: the latest activity of the person of the enclosing statement's ``users`` row (NULL with
    none), as the triggers keep it. Each arm names ``users`` as the enclosing row's, explicitly: a
    ``UNION`` inside a subquery is not correlated on its own."""
    person = User.id
    moments = union_all(
        select(func.max(Visit.visited_at).label("at")).where(Visit.rep_id == person).correlate(User),
        select(func.max(Receivable.created_at))
        .where(
            Receivable.rep_id == person,
            Receivable.source == ReceivableSource.ORDER,
            Receivable.recorded_by == person,
        )
        .correlate(User),
        select(func.max(Collection.received_at))
        .where(Collection.rep_id == person, Collection.recorded_by == person)
        .correlate(User),
        select(func.max(DailyReport.submitted_at)).where(DailyReport.rep_id == person).correlate(User),
    ).subquery("moments")
    return select(func.max(moments.c.at)).correlate(User).scalar_subquery()


async def refill(connection: AsyncConnection) -> None:
    """Everyone's last activity computed from the four tables."""
    await connection.execute(update(User).values(last_activity_at=latest()))
