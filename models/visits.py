"""Visits (客戶訪問): on-site, by phone, or a dealer stock check, with what was learned."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from bot.text import SEARCH_KEY_LENGTH, search_key
from models.base import Base, IdMixin, inserted_values, str_enum

#: Longest product name a stock line keeps (bot.services.field.visits refuses longer ones).
PRODUCT_CHARS = 120


class VisitKind(enum.StrEnum):
    VISIT = "visit"
    CALL = "call"
    STOCK_CHECK = "stock_check"


class FeedbackTopic(enum.StrEnum):
    QUALITY = "quality"
    PRICE = "price"
    DEMAND = "demand"
    COMPETITOR = "competitor"
    NEW_PRODUCT = "new_product"


class Visit(IdMixin, Base):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_customer_visited", "customer_id", "visited_at"),
        # Both cover the summary's "visits of the period": per rep, and company-wide.
        Index("ix_visits_rep_visited", "rep_id", "visited_at", "customer_id"),
        Index("ix_visits_visited_rep", "visited_at", "rep_id", "customer_id"),
    )

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    visited_at: Mapped[datetime]
    kind: Mapped[VisitKind] = mapped_column(str_enum(VisitKind, "visit_kind"))
    notes: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    #: Metres from the customer's known location, when both are known.
    distance_m: Mapped[int | None]
    #: Logged more than 1 km from the customer: flagged for the manager, never refused.
    far_away: Mapped[bool] = mapped_column(default=False)
    photo_file_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    next_follow_up: Mapped[date | None] = mapped_column(index=True)
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    # Trust flags for the manager (bot/services/field/trust.py), computed once when the visit is
    # saved so that every view reads them with the visit itself. Facts, never refusals.
    #: An on-site visit or stock check saved without a location.
    no_location: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: One of its photos (same Telegram ``file_unique_id``) was on an earlier visit, anyone's.
    photo_reused: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: One of its photos came in a forwarded message.
    photo_forwarded: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: Saved long after the earliest message it is made of was sent (``sent_at``).
    late_entry: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: When Telegram received the earliest message the visit is made of (its command, location,
    #: photos, notes); None for visits saved before migration 0029.
    sent_at: Mapped[datetime | None]
    #: When the rep last changed the notes or extras after saving (bot/services/field/visit_edits.py,
    #: migration 0032): the manager sees "edited"; the audit log has each change's before and after.
    edited_at: Mapped[datetime | None]


class VisitPhoto(Base):
    """A visit's photo by its Telegram ``file_unique_id`` (the same file whoever sends it, where the
    ``file_id`` differs per bot and over time): what finds a photo already used on another visit."""

    __tablename__ = "visit_photos"
    __table_args__ = (Index("ix_visit_photos_file_unique_id", "file_unique_id"),)

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    file_unique_id: Mapped[str] = mapped_column(String(64), primary_key=True)


def _product_key(context: DefaultExecutionContext) -> str:
    """The insert default of ``product_key``: from the row's own ``product``, whoever inserts it."""
    return search_key(inserted_values(context)["product"])


class StockLine(IdMixin, Base):
    """Dealer stock counted on a visit (part 4, art. 19)."""

    __tablename__ = "stock_lines"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(String(PRODUCT_CHARS))
    #: :func:`bot.text.search_key` of ``product``: what makes two counts one product's (``Cola 330ml``,
    #: ``cola 330ML`` and ``Ｃｏｌａ ３３０ml`` are one), the same on SQLite and PostgreSQL. Set on
    #: insert from ``product`` (migration 0021 filled it for older lines).
    product_key: Mapped[str] = mapped_column(String(SEARCH_KEY_LENGTH), default=_product_key)
    quantity: Mapped[int]
    #: The unit counted in (bot/services/field/units.py): a canonical key such as ``box`` for a known
    #: word (``箱``, ``boxes``, ``ctn``), the word as typed for an unknown one, None for a plain count.
    unit: Mapped[str | None] = mapped_column(String(20))


class StockMinimum(Base):
    """The least stock of a product any dealer should hold, set by an admin (``/settings stock``).

    A count below it is a shortfall, whatever the customer usually holds (bot/services/field/stock.py).
    """

    __tablename__ = "stock_minimums"

    product_key: Mapped[str] = mapped_column(String(SEARCH_KEY_LENGTH), primary_key=True)
    #: The product as the admin wrote it, to show.
    product: Mapped[str] = mapped_column(String(PRODUCT_CHARS))
    minimum: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Feedback(IdMixin, Base):
    """Market information gathered on a visit (part 4, art. 8 (4))."""

    __tablename__ = "feedback"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    topic: Mapped[FeedbackTopic] = mapped_column(str_enum(FeedbackTopic, "feedback_topic"))
    text: Mapped[str] = mapped_column(Text)
