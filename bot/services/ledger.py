"""Balances from the ledger, in SQL: open = invoiced − allocated; overdue = open past due.

Each receivable carries its open amount (``Receivable.open_amount``): database triggers keep it
equal to ``amount − SUM(allocations)`` in the same transaction as every allocation (migration
0009), so no query recomputes the ledger. Open receivables are listed by a partial index, which
a query uses when it says :func:`is_open`.

A receivable is never deleted. An order that should not stand (undone by whoever placed it, or
rejected over the credit limit) is *voided* (:func:`void`): ``voided_at``, ``voided_by`` and
``void_reason`` are set once, the row and its amount stay as they were, and the same triggers
count a voided amount as 0 (migration 0019), so its open amount drops to 0 in the same statement
and every reader of :func:`is_open` (balances, credit checks, /overdue, aging, the sweeps) stops
seeing it. Readers of orders by issue date (the summary, the daily report, the export) say
:func:`standing` or show the void. Only a receivable no money is applied to can be voided: the
money would otherwise be silently moved off an invoice the customer may have paid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import case, func, literal_column, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from bot.i18n import N_
from bot.services.errors import Conflict
from models import Allocation, Collection, Customer, Money, Receivable

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balance:
    open: Decimal = ZERO
    overdue: Decimal = ZERO


def is_open() -> ColumnElement[bool]:
    """Receivables with money still open: the partial index's own condition, with a literal zero
    (a bound parameter would hide from SQLite's and PostgreSQL's generic plans that it matches)."""
    return Receivable.open_amount > literal_column("0")


async def balances(session: AsyncSession, customer_ids: Iterable[int], today: date) -> dict[int, Balance]:
    """Open and overdue balance per customer, in one aggregate query."""
    ids = list(customer_ids)
    if not ids:
        return {}
    remaining = Receivable.open_amount
    rows = await session.execute(
        select(
            Receivable.customer_id,
            type_coerce(func.sum(remaining), Money()),
            type_coerce(func.sum(case((Receivable.due_on < today, remaining), else_=0)), Money()),
        )
        .where(Receivable.customer_id.in_(ids), is_open())
        .group_by(Receivable.customer_id)
    )
    return {customer_id: Balance(open_ or ZERO, overdue or ZERO) for customer_id, open_, overdue in rows}


async def balance(session: AsyncSession, customer_id: int, today: date) -> Balance:
    return (await balances(session, [customer_id], today)).get(customer_id, Balance())


# -- voiding ---------------------------------------------------------------------------------------

#: ``void_reason`` of an order undone by whoever placed it, and of one rejected over the limit.
UNDONE = "undone by whoever placed the order"
REJECTED = "rejected over the credit limit"


def standing() -> ColumnElement[bool]:
    """Receivables that stand, i.e. are not voided (a voided one keeps its row, as 0)."""
    return Receivable.voided_at.is_(None)


async def applied_collections(session: AsyncSession, receivable_id: int) -> list[int]:
    """The collections whose money is still applied to a receivable: a collection and its reversal
    (whose allocations mirror it, negative) net out."""
    original = func.coalesce(Collection.reverses_id, Collection.id)
    return list(await session.scalars(
        select(original).select_from(Allocation).join(Collection, Collection.id == Allocation.collection_id)
        .where(Allocation.receivable_id == receivable_id)
        .group_by(original).having(func.sum(Allocation.amount) != 0).order_by(original)))


async def void(session: AsyncSession, receivable: Receivable, *, by: int, reason: str,
               now: datetime) -> bool:
    """Void ``receivable``: True if this call did, False if it was void already.

    The customer's row is locked first, as a collection locks it before settling invoices, so no
    money can be applied to the receivable between the check and the void. Raises
    :class:`Conflict` naming the collections if money is applied to it.
    """
    await session.execute(select(Customer.id).where(Customer.id == receivable.customer_id).with_for_update())
    applied = await applied_collections(session, receivable.id)
    if applied:
        raise Conflict(N_("Money is already applied to invoice {invoice} (collection {collections}): "
                          "that collection must be undone or reversed first."),
                       invoice=receivable.invoice_no, collections=", ".join(f"#{n}" for n in applied))
    done = await session.execute(
        update(Receivable).where(Receivable.id == receivable.id, Receivable.voided_at.is_(None))
        .values(voided_at=now, voided_by=by, void_reason=reason)
        .execution_options(synchronize_session=False))
    return bool(done.rowcount)  # type: ignore[attr-defined]
