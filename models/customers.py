"""Customers (dealers, shops, offices) and who looks after them."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, validates

from bot.text import PHONE_KEY_LENGTH, SEARCH_KEY_LENGTH, phone_key, search_key
from models.base import Base, IdMixin, inserted_values, str_enum

GRADES = ("A", "B", "C", "D")


class CustomerStatus(enum.StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    #: No longer worked: left out of lists, plans and lookups. A prospect merged into an existing
    #: customer is inactive too, with ``merged_into_id`` naming that customer.
    INACTIVE = "inactive"


#: The columns looked up by a normalised key, and the column holding each one's key.
KEYED = {"code": "code_key", "name": "name_key"}


def search_keys(values: Mapping[str, Any]) -> dict[str, str | None]:
    """The key columns to write with ``values`` (those of :data:`KEYED`, and ``phone``, it sets): for
    a Core UPDATE, which neither the ORM's validators nor the insert defaults below can see."""
    keys: dict[str, str | None] = {
        key: search_key(values[column]) for column, key in KEYED.items() if column in values
    }
    if "phone" in values:
        keys["phone_key"] = phone_key(values["phone"])
    return keys


def _key_of(column: str) -> Callable[[DefaultExecutionContext], str]:
    """An insert default computing the key from the row's own ``column``: Core inserts (imports,
    bulk loads) get their keys like the ORM's, one row of an executemany at a time."""

    def default(context: DefaultExecutionContext) -> str:
        return search_key(inserted_values(context)[column])

    return default


def _phone_key_of(context: DefaultExecutionContext) -> str | None:
    """The insert default of ``phone_key`` (see :func:`_key_of`); a row without a phone has none."""
    return phone_key(inserted_values(context).get("phone"))


#: Customers holding unapplied credit: the partial index's condition, repeated literally by the
#: queries that list or sum them (``bot.services.money.ledger.holds_credit``).
HOLDS_CREDIT = "credit > 0"


class Customer(IdMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        # The few customers holding credit (migration 0024): /overdue's and the summary's credit line
        # read them without a pass over every customer.
        Index(
            "ix_customers_credit",
            "credit",
            sqlite_where=text(HOLDS_CREDIT),
            postgresql_where=text(HOLDS_CREDIT),
        ),
    )
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: :func:`bot.text.search_key` of ``code`` and of ``name``, what typed text is looked up by:
    #: case- and width-insensitive on both databases (SQLite's ``lower()`` folds only A-Z). Kept in
    #: step here, whoever writes: the validator below for the ORM, the insert default for Core
    #: inserts, :func:`search_keys` for a Core UPDATE (migration 0015 filled them for older rows).
    #: Unique for codes: ``ÄB-1`` and ``äb-1`` are one customer.
    code_key: Mapped[str] = mapped_column(
        String(SEARCH_KEY_LENGTH), unique=True, index=True, default=_key_of("code")
    )
    name_key: Mapped[str] = mapped_column(String(SEARCH_KEY_LENGTH), index=True, default=_key_of("name"))
    grade: Mapped[str] = mapped_column(String(1), default="C")
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    status: Mapped[CustomerStatus] = mapped_column(
        str_enum(CustomerStatus, "customer_status"), default=CustomerStatus.ACTIVE
    )
    phone: Mapped[str | None] = mapped_column(String(40))
    #: :func:`bot.text.phone_key` of ``phone`` (its digits), what "a customer with this phone number"
    #: is looked up by; kept in step like the search keys (migration 0023 filled it for older rows).
    phone_key: Mapped[str | None] = mapped_column(String(PHONE_KEY_LENGTH), index=True, default=_phone_key_of)
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
    #: Unapplied credit: what the customer's collections and credit notes have not settled (an
    #: overpayment, a return beyond the open balance). Kept by database triggers on ``collections``,
    #: ``credit_notes`` and ``allocations`` (migration 0024), never written by the bot itself; read
    #: it with a query, as a loaded object is not refreshed when a trigger changes it.
    credit: Mapped[Decimal] = mapped_column(default=Decimal("0.00"), server_default="0")
    #: The update that registered a prospect through /newcustomer (None for imports).
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: A prospect found to be an existing customer (``bot/services/field/prospects.py``): that customer,
    #: which its visits, orders and collections were moved to. The prospect is kept, inactive.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    #: The opaque ``/start`` parameter printed in the customer's QR code (bot/services/field/qr.py,
    #: migration 0032): random, never derived from the code; replaced to revoke a printed sheet.
    qr_token: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    @validates(*KEYED)
    def _keep_key(self, column: str, value: str) -> str:
        setattr(self, KEYED[column], search_key(value))
        return value

    @validates("phone")
    def _keep_phone_key(self, column: str, value: str | None) -> str | None:
        self.phone_key = phone_key(value)
        return value
