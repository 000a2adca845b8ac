"""Receivables aging: open amounts by how long past due — not due, 1-30, 31-60, 61-90, 90+ days."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.ledger import is_open
from models import Customer, Money, Receivable

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
BUCKET_LABELS = {"current": N_("not yet due"), "1-30": N_("1-30 days"), "31-60": N_("31-60 days"),
                 "61-90": N_("61-90 days"), "90+": N_("over 90 days")}
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


def bucket_of(today: date) -> ColumnElement[str]:
    """SQL: the aging bucket of a receivable on ``today`` (cut-off dates, so any database)."""
    return case(
        (Receivable.due_on >= today, "current"),
        (Receivable.due_on >= today - timedelta(days=30), "1-30"),
        (Receivable.due_on >= today - timedelta(days=60), "31-60"),
        (Receivable.due_on >= today - timedelta(days=90), "61-90"),
        else_="90+")


async def aging_by_rep(session: AsyncSession, today: date,
                       customers: ColumnElement[bool] | None = None) -> dict[int | None, Aging]:
    """Open receivables per rep and bucket, in one aggregate query (disputed ones included).

    ``customers`` (a condition on ``Customer``) limits them to those customers' receivables; None
    means every customer, read from the open receivables' index alone, without the customers table.
    """
    bucket = bucket_of(today)
    query = (select(Receivable.rep_id, bucket, func.count(),
                    type_coerce(func.sum(Receivable.open_amount), Money()))
             .where(is_open()).group_by(Receivable.rep_id, bucket))
    if customers is not None:
        query = query.join(Customer, Customer.id == Receivable.customer_id).where(customers)
    rows = await session.execute(query)
    result: dict[int | None, Aging] = defaultdict(Aging)
    for rep_id, name, count, total in rows:
        result[rep_id].buckets[name] = total or ZERO
        result[rep_id].invoices += count
    return dict(result)
