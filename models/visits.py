"""Visits (客戶訪問): on-site, by phone, or a dealer stock check, with what was learned."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from bot.text import SEARCH_KEY_LENGTH, search_key
from models.base import Base, IdMixin, str_enum

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


def _product_key(context: DefaultExecutionContext) -> str:
    """The insert default of ``product_key``: from the row's own ``product``, whoever inserts it."""
    return search_key(context.get_current_parameters()["product"])


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
