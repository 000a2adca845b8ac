"""The overdue rollup: each customer's overdue amount and invoices, read instead of summed.

``overdue_totals`` sums each customer's open receivables due before one day,
``overdue_rollup.as_of`` (migration 0034). Database triggers on ``receivables``
keep them in step with every allocation, void, due-date change and merge, in the same
transaction; what changes with the calendar (yesterday's not-yet-due invoices are overdue
today) is moved here, once a day: :func:`current` adds the receivables due in
[as_of, today) and sets ``as_of`` to today (or takes them off, if the clock went back).

The move runs in whichever writing transaction first needs the figures on a new day (the morning
``overdue_followup`` job, or the first /overdue). On PostgreSQL it first holds writes to
``receivables`` (``bot.db.with_writes_held``: it waits for the writers in flight to commit, and
excludes another move), so that every allocation is counted by exactly one side: a write that
committed before the lock is in the range's sums; one after it reads the new ``as_of`` in its
trigger. If the lock is not had within :data:`LOCK_TIMEOUT_MS` the caller falls back to summing
the receivables, as it does in a read-only transaction; the next caller tries again. The same
timeout bounds the wait for the customers' rows the move updates.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.db import insert_for, read_only, with_writes_held
from bot.services.money.ledger import is_open
from models import Money, OverdueRollup, OverdueTotal, Receivable

LOCK_TIMEOUT_MS = 2_000
ROW = OverdueRollup.id == 1


async def as_of(session: AsyncSession) -> date | None:
    """The day the customers' overdue figures are as of (None: never built, or no row)."""
    return await session.scalar(select(OverdueRollup.as_of).where(ROW))


async def current(session: AsyncSession, today: date) -> bool:
    """Whether the customers' overdue figures are as of ``today``, moving them there if need be.

    False (sum the receivables instead) in a read-only transaction, or when PostgreSQL's locks were
    not had in time (or a deadlock chose the move to give way): the move is undone, the transaction
    goes on.
    """
    if await as_of(session) == today:
        return True
    if await read_only(session):
        return False
    return await with_writes_held(
        session, "receivables", lambda connection: move(connection, today), timeout_ms=LOCK_TIMEOUT_MS
    )


async def move(connection: AsyncConnection, today: date) -> None:
    """Set the figures as of ``today``: add (or take off) the receivables due between the two days.

    Callers hold whatever lock keeps receivables still (:func:`current`); with no ``as_of`` yet
    everything due before ``today`` is added.
    """
    was = await connection.scalar(select(OverdueRollup.as_of).where(ROW).with_for_update())
    if was == today:
        return
    if was is None:
        await connection.execute(delete(OverdueTotal))  # nothing was counted: nothing may be left
        due, adding = Receivable.due_on < today, True
    elif was < today:
        due, adding = (Receivable.due_on >= was) & (Receivable.due_on < today), True
    else:  # the clock went back: what was due in between is not overdue yet
        due, adding = (Receivable.due_on >= today) & (Receivable.due_on < was), False
    shares = (
        select(
            Receivable.customer_id,
            type_coerce(func.sum(Receivable.open_amount), Money()).label("amount"),
            func.count().label("invoices"),
        )
        .where(due, is_open())
        .group_by(Receivable.customer_id)
    )
    totals = OverdueTotal.__table__
    if adding:
        upsert = insert_for(connection, totals).from_select(["customer_id", "amount", "invoices"], shares)
        await connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[totals.c.customer_id],
                set_={
                    "amount": totals.c.amount + upsert.excluded.amount,
                    "invoices": totals.c.invoices + upsert.excluded.invoices,
                },
            )
        )
    else:
        taken = shares.subquery("taken")
        await connection.execute(
            update(totals)
            .where(totals.c.customer_id == taken.c.customer_id)
            .values(amount=totals.c.amount - taken.c.amount, invoices=totals.c.invoices - taken.c.invoices)
        )
        await connection.execute(delete(totals).where(totals.c.invoices == 0))
    moved = await connection.execute(update(OverdueRollup).where(ROW).values(as_of=today))
    if not moved.rowcount:  # emptied (a restore, a test's TRUNCATE): as never built
        await connection.execute(insert(OverdueRollup).values(id=1, as_of=today))


async def rebuild(connection: AsyncConnection, today: date) -> None:
    """Build the figures afresh as of ``today``: for a ledger written with the triggers off (the
    bench's loader, as a bulk restore would)."""
    await connection.execute(update(OverdueRollup).where(ROW).values(as_of=None))
    await move(connection, today)
