"""Balances from the ledger, in SQL: open = invoiced − allocated; overdue = open past due.

Each receivable carries its open amount (``Receivable.open_amount``): database triggers keep it
equal to ``amount − SUM(allocations)`` in the same transaction as every allocation (migration
0009), so no query recomputes the ledger. Open receivables are listed by a partial index, which
a query uses when it says :func:`is_open`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from models import Money, Receivable

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
