"""The grade policy: how often a customer is visited and what credit they get.

Grades set visit frequency (part 4, art. 16) and credit term and limit
(part 1, items 6–7); a customer may override its credit term and limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, GradePolicy


@dataclass(frozen=True)
class GradeRule:
    visit_every_days: int
    credit_days: int
    credit_limit: Decimal


_POLICIES = GradePolicy.__table__
_RULES = select(
    _POLICIES.c.grade, _POLICIES.c.visit_every_days, _POLICIES.c.credit_days, _POLICIES.c.credit_limit
)  # Core columns: every visit reads them


async def grade_rules(session: AsyncSession) -> dict[str, GradeRule]:
    rows = await session.execute(_RULES)
    return {grade: GradeRule(every, days, limit) for grade, every, days, limit in rows}


def credit_terms(customer: Customer, rules: dict[str, GradeRule]) -> tuple[int, Decimal]:
    """(credit days, credit limit): the customer's own, else their grade's."""
    rule = rules.get(customer.grade)
    days = customer.credit_days if customer.credit_days is not None else (rule.credit_days if rule else 0)
    limit = (
        customer.credit_limit
        if customer.credit_limit is not None
        else (rule.credit_limit if rule else Decimal("0.00"))
    )
    return days, limit


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def next_visit_due(
    last_visit_at: datetime | None, grade: str, rules: dict[str, GradeRule], zone: ZoneInfo, today: date
) -> date:
    """The local date a customer is next due; never visited means due today."""
    rule = rules.get(grade)
    if last_visit_at is None or rule is None:
        return today
    return local_date(last_visit_at, zone) + timedelta(days=rule.visit_every_days)


def due_for_visit(rules: dict[str, GradeRule], zone: ZoneInfo, today: date) -> ColumnElement[bool]:
    """SQL condition: the customer is due (or overdue) for a visit on ``today``.

    One cut-off per grade (four at most), so the database can use the
    ``last_visit_at`` index and nothing is computed per row in Python.
    """
    clauses = [
        and_(
            Customer.grade == grade,
            Customer.last_visit_at < start_of_day(today - timedelta(days=rule.visit_every_days - 1), zone),
        )
        for grade, rule in rules.items()
    ]
    return or_(Customer.last_visit_at.is_(None), *clauses) if clauses else false()
