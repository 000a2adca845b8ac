"""Receivables aging: open amounts by how long past due — not due, 1-30, 31-60, 61-90, 90+ days."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.money.ledger import is_open
from models import Customer, Money, Receivable

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
BUCKET_LABELS = {
    "current": N_("not yet due"),
    "1-30": N_("1-30 days"),
    "31-60": N_("31-60 days"),
    "61-90": N_("61-90 days"),
    "90+": N_("over 90 days"),
}
ZERO = Decimal("0.00")


@dataclass
class Aging:
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    invoices: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.total - self.buckets["current"]


def bucket_of(today: date, due_on: ColumnElement[date] | None = None) -> ColumnElement[str]:
    """SQL: the aging bucket of a receivable (``due_on``: its due date, by default the column's) on
    ``today`` (cut-off dates, so any database)."""
    due = Receivable.due_on if due_on is None else due_on
    return case(
        (due >= today, "current"),
        (due >= today - timedelta(days=30), "1-30"),
        (due >= today - timedelta(days=60), "31-60"),
        (due >= today - timedelta(days=90), "61-90"),
        else_="90+",
    )


async def aging_by_rep(
    session: AsyncSession, today: date, customers: ColumnElement[bool] | None = None
) -> dict[int | None, Aging]:
    """Open receivables per rep and bucket, in one aggregate query (disputed ones included).

    ``customers`` (a condition on ``Customer``) limits them to those customers' receivables; None
    means every customer, read from the open receivables' index alone, without the customers table.
    """
    bucket = bucket_of(today)
    query = (
        select(
            Receivable.rep_id, bucket, func.count(), type_coerce(func.sum(Receivable.open_amount), Money())
        )
        .where(is_open())
        .group_by(Receivable.rep_id, bucket)
    )
    if customers is not None:
        query = query.join(Customer, Customer.id == Receivable.customer_id).where(customers)
    rows = await session.execute(query)
    result: dict[int | None, Aging] = defaultdict(Aging)
    for rep_id, name, count, total in rows:
        result[rep_id].buckets[name] = total or ZERO
        result[rep_id].invoices += count
    return dict(result)


async def aging_total(
    session: AsyncSession, today: date, customers: ColumnElement[bool] | None = None
) -> Aging:
    """Open receivables by bucket, all reps together (``customers`` as in :func:`aging_by_rep`).

    The open receivables are summed per due date first (a few hundred dates), and only those sums
    are put into buckets: the bucket expression is not evaluated, nor grouped on, per receivable.
    For every customer they are read in due-date order from ``ix_receivables_open_by_due``, which
    only a query naming ``source IS NOT NULL`` (always true) may use — this one.
    """
    by_day = (
        select(
            Receivable.due_on.label("due_on"),
            func.count().label("invoices"),
            func.sum(Receivable.open_amount).label("open"),
        )
        .where(is_open())
        .group_by(Receivable.due_on)
    )
    if customers is None:
        by_day = by_day.where(Receivable.source.is_not(None))
    else:
        by_day = by_day.join(Customer, Customer.id == Receivable.customer_id).where(customers)
    days = by_day.subquery()
    bucket = bucket_of(today, days.c.due_on)
    rows = await session.execute(
        select(bucket, func.sum(days.c.invoices), type_coerce(func.sum(days.c.open), Money())).group_by(
            bucket
        )
    )
    result = Aging()
    for name, count, total in rows:
        result.buckets[name] = total or ZERO
        result.invoices += int(count)
    return result
