"""Customers (dealers, shops, offices) and who looks after them."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, str_enum

GRADES = ("A", "B", "C", "D")


class CustomerStatus(enum.StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    INACTIVE = "inactive"


class Customer(IdMixin, Base):
    __tablename__ = "customers"
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(1), default="C")
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    status: Mapped[CustomerStatus] = mapped_column(
        str_enum(CustomerStatus, "customer_status"), default=CustomerStatus.ACTIVE)
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    #: Overrides of the grade's policy; None means "as the grade says".
    credit_days: Mapped[int | None]
    credit_limit: Mapped[Decimal | None]
    created_at: Mapped[datetime] = mapped_column(index=True)  # new customers of a period (migration 0011)
    #: Denormalised from visits so "who is due" never scans the visit history.
    last_visit_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Kept by database triggers on ``visits`` (migration 0012), never written by the bot itself: how
    #: many visits the customer has, and the one before the latest (the second-latest ``visited_at``;
    #: None with fewer than two).
    visit_count: Mapped[int] = mapped_column(default=0, server_default="0")
    prev_visit_at: Mapped[datetime | None]
    #: The update that registered a prospect through /newcustomer (None for imports).
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)


Index("ix_customers_code_lower", func.lower(Customer.code), unique=True)
Index("ix_customers_name_lower", func.lower(Customer.name))
