"""Company policy that the regulations tie to a customer's grade."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

#: Visit frequency (days), credit term (days) and credit limit per grade, as shipped.
DEFAULT_GRADE_POLICY: dict[str, tuple[int, int, Decimal]] = {
    "A": (7, 60, Decimal("200000.00")),
    "B": (14, 45, Decimal("100000.00")),
    "C": (30, 30, Decimal("50000.00")),
    "D": (60, 0, Decimal("0.00")),
}


class GradePolicy(Base):
    __tablename__ = "grade_policies"

    grade: Mapped[str] = mapped_column(String(1), primary_key=True)
    visit_every_days: Mapped[int]
    credit_days: Mapped[int]
    credit_limit: Mapped[Decimal]
