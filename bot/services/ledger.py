"""Balances from the ledger, computed in SQL: open = invoiced − allocated; overdue = open past due."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Subquery

from models import Allocation, Money, Receivable

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balance:
    open: Decimal = ZERO
    overdue: Decimal = ZERO


def allocated_per_receivable() -> Subquery:
    """receivable_id → total allocated (reversals allocate negative amounts)."""
    return (select(Allocation.receivable_id, func.sum(Allocation.amount).label("allocated"))
            .group_by(Allocation.receivable_id).subquery("allocated"))


def open_amount(allocated: Subquery) -> ColumnElement[Decimal]:
    """A receivable's open amount, given the allocated subquery joined to it."""
    return type_coerce(Receivable.amount - func.coalesce(allocated.c.allocated, 0), Money())


async def balances(session: AsyncSession, customer_ids: Iterable[int], today: date) -> dict[int, Balance]:
    """Open and overdue balance per customer, in one aggregate query."""
    ids = list(customer_ids)
    if not ids:
        return {}
    allocated = allocated_per_receivable()
    remaining = open_amount(allocated)
    rows = await session.execute(
        select(
            Receivable.customer_id,
            type_coerce(func.sum(remaining), Money()),
            type_coerce(func.sum(case((Receivable.due_on < today, remaining), else_=0)), Money()),
        )
        .outerjoin(allocated, allocated.c.receivable_id == Receivable.id)
        .where(Receivable.customer_id.in_(ids))
        .group_by(Receivable.customer_id)
    )
    return {customer_id: Balance(open_ or ZERO, overdue or ZERO) for customer_id, open_, overdue in rows}


async def balance(session: AsyncSession, customer_id: int, today: date) -> Balance:
    return (await balances(session, [customer_id], today)).get(customer_id, Balance())
