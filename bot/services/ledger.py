"""Balances from the ledger, computed in SQL: open = invoiced − allocated; overdue = open past due."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Subquery

from models import Allocation, Money, Receivable

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balance:
    open: Decimal = ZERO
    overdue: Decimal = ZERO


def open_of_receivable() -> ColumnElement[Decimal]:
    """A receivable's open amount (amount − allocations) as a correlated sum.

    For queries about a few customers: it uses the allocations' receivable
    index. Whole-company reports join :func:`allocated_per_receivable` instead,
    which aggregates the allocations table once.
    """
    allocation = aliased(Allocation)
    paid = (select(func.coalesce(func.sum(allocation.amount), 0))
            .where(allocation.receivable_id == Receivable.id).correlate(Receivable).scalar_subquery())
    return type_coerce(Receivable.amount - paid, Money())


def allocated_per_receivable() -> Subquery:
    """receivable_id → total allocated (reversals allocate negative amounts), for whole-company sums."""
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
    remaining = open_of_receivable()
    rows = await session.execute(
        select(
            Receivable.customer_id,
            type_coerce(func.sum(remaining), Money()),
            type_coerce(func.sum(case((Receivable.due_on < today, remaining), else_=0)), Money()),
        )
        .where(Receivable.customer_id.in_(ids))
        .group_by(Receivable.customer_id)
    )
    return {customer_id: Balance(open_ or ZERO, overdue or ZERO) for customer_id, open_, overdue in rows}


async def balance(session: AsyncSession, customer_id: int, today: date) -> Balance:
    return (await balances(session, [customer_id], today)).get(customer_id, Balance())
