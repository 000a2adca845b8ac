"""Company policy that the regulations tie to a customer's grade."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

#: Visit frequency (days), credit term (days) and credit limit per grade, as shipped.
#:
#: Visits follow the regulations' "at least once a week in principle, more or less often by
#: grade" (part 4, art. 16): A twice a week, B and C weekly, D every two weeks (the one grade
#: the rule's "in principle" lets fall below weekly). "Twice a week" is every 3 days: the
#: largest whole number of days that puts two visits in every run of seven days (every 4 days
#: would leave some weeks with one), e.g. Monday and Thursday. Credit term and limit follow
#: the grade (part 1, items 6–7). Admins change all of it with ``/settings grade``.
DEFAULT_GRADE_POLICY: dict[str, tuple[int, int, Decimal]] = {
    "A": (3, 60, Decimal("200000.00")),
    "B": (7, 45, Decimal("100000.00")),
    "C": (7, 30, Decimal("50000.00")),
    "D": (14, 0, Decimal("0.00")),
}


class GradePolicy(Base):
    __tablename__ = "grade_policies"

    grade: Mapped[str] = mapped_column(String(1), primary_key=True)
    visit_every_days: Mapped[int]
    credit_days: Mapped[int]
    credit_limit: Mapped[Decimal]
