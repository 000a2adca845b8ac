"""Each rep's visits of each month of the company's time zone, counted as they are written.

Kept by database triggers on ``visits`` (migration 0035), never written by the bot itself except
when ``bot/services/reporting/visit_months.py`` builds them for a zone. The company summary reads
``rep_months`` for a month instead of counting the month's visits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class VisitRollup(Base):
    """The one row naming the zone the months below are built for (None: not built)."""

    __tablename__ = "visit_rollup"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    zone: Mapped[str | None] = mapped_column(String(64))


class LocalMonth(Base):
    """A month of the built zone and its first instant (UTC): how a trigger finds a visit's month."""

    __tablename__ = "local_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(unique=True)


class RepCustomerMonth(Base):
    """How many visits a rep paid a customer in a month: a row while there is one."""

    __tablename__ = "rep_customer_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    visits: Mapped[int]


class RepMonth(Base):
    """A rep's visits of a month: how many, of how many customers, and with each trust flag."""

    __tablename__ = "rep_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    visits: Mapped[int]
    customers: Mapped[int]
    flagged: Mapped[int]
    far_away: Mapped[int]
    no_location: Mapped[int]
    photo_reused: Mapped[int]
    photo_forwarded: Mapped[int]
    late_entry: Mapped[int]
