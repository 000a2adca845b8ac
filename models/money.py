"""The ledger: receivables (應收賬款), collections (收款), returns (銷售退貨證明單) and credit notes,
and how collections and credit notes settle invoices.

Nothing here is ever edited in place once money moved: a correction is a new
collection that reverses an earlier one. Open balance = amount − allocations;
a voided receivable (an order undone or rejected, never deleted) counts as 0.

Money comes in two ways, both settling invoices through the same ``allocations``: a collection
(money received) and a credit note (goods returned, issued when a manager approves a return).
What a collection or credit note has not (yet) settled is the customer's *unapplied credit*:
``customers.credit`` = SUM(collections.amount) + SUM(credit_notes.amount) − SUM(their allocations),
kept by database triggers (migration 0024) like ``receivables.open_amount``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, inserted_values, str_enum


class ReceivableSource(enum.StrEnum):
    ORDER = "order"
    IMPORT = "import"


class PaymentMethod(enum.StrEnum):
    """How a customer paid; stored as the value (``VARCHAR(16)``, no database enum or CHECK).

    Cash and cheques are held by the rep until finance confirms the hand-in; the others are
    electronic and stored handed in (``bot/services/money/payment_methods.py``).
    """

    CASH = "cash"
    TRANSFER = "transfer"
    CHEQUE = "cheque"
    WECHAT = "wechat"  # WeChat Pay (微信支付)
    ALIPAY = "alipay"  # Alipay (支付宝)
    CARD = "card"  # a bank or credit card on a POS terminal (刷卡)


def _fully_open(context: DefaultExecutionContext) -> Any:
    """A new receivable is open for its whole amount (the database enforces it too)."""
    return inserted_values(context)["amount"]


#: Conditions of partial indexes; queries repeat them literally (``ledger.is_open``,
#: ``collections.held``) so both planners can use the indexes.
OPEN = "open_amount > 0"
NOT_HANDED_IN = "handed_in_at IS NULL"
#: Open, and naming ``source`` (never NULL): only a query that says so too can use the index.
OPEN_FOR_AGING = "open_amount > 0 AND source IS NOT NULL"


class Receivable(IdMixin, Base):
    __tablename__ = "receivables"
    __table_args__ = (
        Index("ix_receivables_customer_due", "customer_id", "due_on"),
        Index("ix_receivables_rep_due", "rep_id", "due_on"),
        # The summary's "latest order per rep" (bench: 900 ms → 15 ms on PostgreSQL, full size).
        Index("ix_receivables_rep_source_created", "rep_id", "source", "created_at"),
        # ... and the latest order a person recorded themselves (their last activity: migration 0033).
        Index("ix_receivables_rep_source_recorder_created", "rep_id", "source", "recorded_by", "created_at"),
        # Open receivables only (migration 0009), covering what /overdue, the aging buckets, balances
        # and the sweeps read, by customer and by rep: the settled majority is never touched.
        Index(
            "ix_receivables_open_by_customer",
            "customer_id",
            "due_on",
            "open_amount",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
        Index(
            "ix_receivables_open_by_rep",
            "rep_id",
            "due_on",
            "open_amount",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
        # The summary's orders of a period, per rep (covering; voided orders left out by the last
        # column, migration 0019).
        Index("ix_receivables_source_issued", "source", "issued_on", "rep_id", "amount", "voided_at"),
        # The company's aging: open amounts in due-date order (migration 0012), so they are summed
        # per due date without sorting. Hidden from every query but ``aging.aging_total``'s by its
        # condition: SQLite planned /overdue's totals on an open-by-due-date index (15 → 113 ms).
        Index(
            "ix_receivables_open_by_due",
            "due_on",
            "open_amount",
            "source",
            sqlite_where=text(OPEN_FOR_AGING),
            postgresql_where=text(OPEN_FOR_AGING),
        ),
    )

    invoice_no: Mapped[str] = mapped_column(String(60), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal]
    #: amount (0 once voided) − SUM(allocations), kept by database triggers in the same transaction
    #: as every allocation, amount change and void (migrations 0009, 0019): never write it; read it
    #: with a query, as a loaded object is not refreshed when an allocation changes it.
    open_amount: Mapped[Decimal] = mapped_column(default=_fully_open, server_default="0")
    issued_on: Mapped[date]
    due_on: Mapped[date]
    source: Mapped[ReceivableSource] = mapped_column(str_enum(ReceivableSource, "receivable_source"))
    disputed: Mapped[bool] = mapped_column(default=False)
    promise_date: Mapped[date | None]
    promise_amount: Mapped[Decimal | None]
    #: Highest overdue follow-up level already pushed (0: none); never goes down.
    followup_level: Mapped[int] = mapped_column(default=0, server_default="0")
    #: An order confirmed although it took the customer past the credit limit.
    over_limit: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Who placed the order (NULL for an imported invoice): only they may undo it.
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: A voided order (undone by whoever placed it, or rejected over the credit limit): the row is
    #: kept as it was, and the triggers count a voided receivable's amount as 0, so its open amount
    #: is 0 and no balance, list or check sees it (migration 0019). Set once; never cleared.
    voided_at: Mapped[datetime | None]
    voided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(String(300))


class Collection(IdMixin, Base):
    __tablename__ = "collections"
    __table_args__ = (
        # Covering the summary's collections of a period per rep and method (migration 0009 added
        # method, amount and reverses_id: SQLite no longer reads a row per collection).
        Index("ix_collections_rep_received", "rep_id", "received_at", "method", "amount", "reverses_id"),
        Index("ix_collections_customer_received", "customer_id", "received_at"),
        # The company summary's collections of a period, read from the index alone (migration 0011).
        Index("ix_collections_received", "received_at", "rep_id", "method", "amount", "reverses_id", "id"),
        # Cash and cheques not handed in yet (an electronic payment is stored handed in): held money,
        # /deposits; covering the summary's held money per rep (migration 0012).
        Index(
            "ix_collections_not_handed_in",
            "rep_id",
            "method",
            "amount",
            "reverses_id",
            "id",
            sqlite_where=text(NOT_HANDED_IN),
            postgresql_where=text(NOT_HANDED_IN),
        ),
    )

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: Negative for a reversal.
    amount: Mapped[Decimal]
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    receipt_no: Mapped[str | None] = mapped_column(String(60))
    received_at: Mapped[datetime]
    #: When finance confirmed the cash or cheque reached them; an electronic payment (transfer,
    #: WeChat Pay, Alipay, card) needs no hand-in and is stored with ``received_at`` here.
    handed_in_at: Mapped[datetime | None]
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id"), unique=True)
    reason: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class Allocation(IdMixin, Base):
    """Part of a collection or of a credit note applied to one receivable (negative when undone).

    Exactly one of ``collection_id`` and ``credit_note_id`` names where the money came from (a
    CHECK says so). ``from_credit`` marks money applied *later*, out of the customer's unapplied
    credit (an overpayment, or a return beyond the open balance, used on a new or reopened invoice),
    as opposed to what a collection settled as it was recorded: voiding an invoice gives such credit
    back to the customer (a negative allocation), while money collected against it must be undone
    first (``bot/services/money/ledger.py``). A reversal mirrors each kind separately, so both net out.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("(collection_id IS NULL) <> (credit_note_id IS NULL)", name="one_source"),
    )

    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id"), index=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    receivable_id: Mapped[int] = mapped_column(ForeignKey("receivables.id"), index=True)
    amount: Mapped[Decimal]
    from_credit: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class SalesReturn(IdMixin, Base):
    """Goods a customer returns: the rep's request for a return certificate (銷售退貨證明單,
    regulations part 4 art. 22), decided by the manager through its ``approvals`` row.

    Nothing in the ledger moves until it is approved: then a :class:`CreditNote` is issued for it,
    numbered, and settles the customer's invoices. Rejected, it stays as it was (the approval says
    so). ``rep_id`` is the customer's rep when it was asked for: the return counts against their
    sales, as the order did.
    """

    __tablename__ = "returns"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The invoice the goods were sold on, if the rep named one: it is settled first.
    receivable_id: Mapped[int | None] = mapped_column(ForeignKey("receivables.id"))
    amount: Mapped[Decimal]
    reason: Mapped[str | None] = mapped_column(String(300))
    #: Products and quantities, when given: ``[{"product": "Cement 42.5", "quantity": "10 bags"}]``.
    items: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"), unique=True)
    requested_at: Mapped[datetime]
    source_key: Mapped[str] = mapped_column(String(64), unique=True)


class CreditNote(IdMixin, Base):
    """The ledger side of an approved return: its certificate number and the amount credited.

    Settles the customer's invoices through ``allocations`` as a collection does (the named
    invoice first, then the oldest); what it cannot settle stays as the customer's credit.
    Numbered ``RT-YYYY-NNNN``, one sequence per year of issue, unique.
    """

    __tablename__ = "credit_notes"
    __table_args__ = (
        # The summary's and the export's returns of a period, per rep (covering).
        Index("ix_credit_notes_issued", "issued_at", "rep_id", "amount"),
    )

    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id"), unique=True)
    amount: Mapped[Decimal]
    issued_at: Mapped[datetime]
    issued_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source_key: Mapped[str] = mapped_column(String(64), unique=True)


class OverdueRollup(Base):
    """The one row saying which day the overdue rollup is as of (migration 0034).

    ``overdue_totals`` counts each customer's open receivables due before ``as_of``; the triggers
    on ``receivables`` read it for every change, and ``bot/services/money/overdue_rollup.py``
    moves it (None: never built, nothing counted).
    """

    __tablename__ = "overdue_rollup"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    as_of: Mapped[date | None]


class OverdueTotal(Base):
    """A customer's overdue receivables, summed (migration 0034): a row per customer with any.

    What the customer's open receivables due before ``overdue_rollup.as_of`` leave open, and how
    many they are. Kept by database triggers on ``receivables`` in the same transaction as every
    allocation, void, due-date change and merge, and moved a day at a time by
    ``bot/services/money/overdue_rollup.py``; never written by the bot otherwise. A table of its
    own, narrow, rather than columns of ``customers``: a day's move rewrites thousands of rows.
    """

    __tablename__ = "overdue_totals"
    __table_args__ = (
        # /overdue's page, largest first, read down the index; its totals from the index alone.
        Index("ix_overdue_totals_amount", "amount", "invoices"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    amount: Mapped[Decimal]
    invoices: Mapped[int]
