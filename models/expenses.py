"""Expense claims (業務費用, regulations part 4 art. 3–5): what a rep spent on the company's business,
claimed against their role's monthly budget and approved by their manager (the director when the
claim takes them over the month's budget).

A claim is never edited once decided: approved or rejected, it stays as it was decided; the rep's
Undo (10 minutes, while nobody has decided it) marks it withdrawn. Only approved claims are paid
(finance reads them in the export); rejected and withdrawn ones never count against a budget.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, str_enum


class ExpenseCategory(enum.StrEnum):
    MEALS = "meals"  # 误餐费 (art. 3): the role's meal allowance applies
    FUEL = "fuel"  # 油费 (art. 32): a trip's fuel receipts are claimed as this
    TRANSPORT = "transport"
    LODGING = "lodging"
    ENTERTAINMENT = "entertainment"
    PHONE = "phone"
    OTHER = "other"


class ExpenseStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: Undone by the claimant before anyone decided it: nothing left to decide.
    WITHDRAWN = "withdrawn"


class Expense(IdMixin, Base):
    __tablename__ = "expenses"
    __table_args__ = (Index("ix_expenses_rep_month", "rep_id", "month"),)

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal]
    category: Mapped[ExpenseCategory] = mapped_column(str_enum(ExpenseCategory, "expense_category"))
    note: Mapped[str | None] = mapped_column(String(300))
    #: The Telegram file id of the receipt's photo (the largest size), if one was sent.
    receipt_file_id: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime]
    #: The first day of the company-local calendar month the claim counts in (its budget's month).
    month: Mapped[date]
    status: Mapped[ExpenseStatus] = mapped_column(
        str_enum(ExpenseStatus, "expense_status"), default=ExpenseStatus.PENDING, index=True
    )
    #: The role's monthly budget when claimed (None: none set), and whether this claim took the
    #: month's claims past it: then only the director (or an admin) decides it.
    budget: Mapped[Decimal | None]
    over_budget: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: A fuel receipt claimed while the rep's trip was open: that trip (models/trips.py, migration
    #: 0027; set by bot/services/field/trips.py when the trip ends or is shown).
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"), index=True)
