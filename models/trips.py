"""The vehicle log (行車記錄表, regulations part 4 art. 31–32): a rep's trips by car.

A trip is started with the odometer reading (and, if the rep sends one, a photo of the dashboard)
and ended with the reading, the purpose and the customers visited. Fuel receipts are expenses
(``models/expenses.py``, category ``fuel``) linked to the trip they were recorded in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin

#: Telegram file ids are opaque strings; this is room enough.
FILE_ID_CHARS = 200
#: The SQL of a trip still under way (a rep has at most one: the partial unique index).
OPEN = "ended_at IS NULL"


class Trip(IdMixin, Base):
    __tablename__ = "trips"
    __table_args__ = (
        # A rep's trips in time order: their latest reading, their month's kilometres.
        Index("ix_trips_rep_started", "rep_id", "started_at"),
        # One open trip per rep, whoever writes.
        Index(
            "uq_trips_open_rep",
            "rep_id",
            unique=True,
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
        CheckConstraint("odometer_end IS NULL OR odometer_end >= odometer_start", name="reading_order"),
    )

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime]
    odometer_start: Mapped[int]
    #: The dashboard's photo at the start, if the rep sent one.
    start_photo_file_id: Mapped[str | None] = mapped_column(String(FILE_ID_CHARS))
    ended_at: Mapped[datetime | None]
    odometer_end: Mapped[int | None]
    purpose: Mapped[str | None] = mapped_column(Text)
    #: The update that started the trip, and the one that ended it: each writes once.
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    end_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class TripCustomer(Base):
    """A customer visited on a trip, as the rep confirmed it at the end."""

    __tablename__ = "trip_customers"

    trip_id: Mapped[int] = mapped_column(ForeignKey("trips.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    #: The order the rep confirmed them in (the order of their visits, then those added).
    position: Mapped[int]
