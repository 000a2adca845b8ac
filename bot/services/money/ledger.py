"""Balances from the ledger, in SQL: open = invoiced − allocated; overdue = open past due; and the
customer's unapplied credit, and how it is used.

Each receivable carries its open amount (``Receivable.open_amount``): database triggers keep it
equal to ``amount − SUM(allocations)`` in the same transaction as every allocation (migration
0009), so no query recomputes the ledger. Open receivables are listed by a partial index, which
a query uses when it says :func:`is_open`.

A receivable is never deleted. An order that should not stand (undone by whoever placed it, or
rejected over the credit limit) is *voided* (:func:`void`): ``voided_at``, ``voided_by`` and
``void_reason`` are set once, the row and its amount stay as they were, and the same triggers
count a voided amount as 0 (migration 0019), so its open amount drops to 0 in the same statement
and every reader of :func:`is_open` (balances, credit checks, /overdue, aging, the sweeps) stops
seeing it. Readers of orders by issue date (the summary, the daily report, the export) say
:func:`standing` or show the void. Money *collected* against a receivable stops the void: the
money would otherwise be silently moved off an invoice the customer may have paid, so that
collection must be undone or reversed first. Credit that was only *applied* to it later (an
overpayment or a credit note, see below) is given back to the customer instead (a negative
allocation of the same source) and used on their other open invoices.

**Credit.** Money reaches the ledger as collections (money received) and credit notes (an approved
return, ``bot/services/money/credit_notes.py``); both settle receivables through ``allocations``. What
they have not settled is the customer's *unapplied credit*: ``customers.credit`` =
SUM(collections.amount) + SUM(credit_notes.amount) − SUM(their allocations), kept by triggers
(migration 0024) as ``open_amount`` is, so it is read in one row, never recomputed. It is never
negative and never lost: a reversal takes back exactly what its collection gave (its allocations
mirrored, kind by kind). It is *used*: whenever a customer with credit gets an open invoice — a new
order or import, an invoice reopened by a reversal, credit given back by a void — :func:`apply_credit`
settles the open invoices with it, oldest invoice first from the oldest credit first, in the same
transaction, as allocations marked ``from_credit``, with an audit entry; the caller's reply says so.
So a customer holds credit only while they owe nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    Select,
    Subquery,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Conflict
from models import Allocation, Collection, CreditNote, Customer, Money, Receivable

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Balance:
    open: Decimal = ZERO
    overdue: Decimal = ZERO


def is_open() -> ColumnElement[bool]:
    """Receivables with money still open: the partial index's own condition, with a literal zero
    (a bound parameter would hide from SQLite's and PostgreSQL's generic plans that it matches)."""
    return Receivable.open_amount > literal_column("0")


async def balances(session: AsyncSession, customer_ids: Iterable[int], today: date) -> dict[int, Balance]:
    """Open and overdue balance per customer, in one aggregate query."""
    ids = list(customer_ids)
    if not ids:
        return {}
    remaining = Receivable.open_amount
    rows = await session.execute(
        select(
            Receivable.customer_id,
            type_coerce(func.sum(remaining), Money()),
            type_coerce(func.sum(case((Receivable.due_on < today, remaining), else_=0)), Money()),
        )
        .where(Receivable.customer_id.in_(ids), is_open())
        .group_by(Receivable.customer_id)
    )
    return {customer_id: Balance(open_ or ZERO, overdue or ZERO) for customer_id, open_, overdue in rows}


async def balance(session: AsyncSession, customer_id: int, today: date) -> Balance:
    return (await balances(session, [customer_id], today)).get(customer_id, Balance())


# -- open invoices, oldest first -------------------------------------------------------------------


def open_receivables(customer_id: int | BindParameter[int]) -> Subquery:
    """The customer's open receivables with their open amount."""
    return (
        select(
            Receivable.id,
            Receivable.invoice_no,
            Receivable.due_on,
            Receivable.issued_on,
            Receivable.open_amount.label("open"),
        )
        .where(Receivable.customer_id == customer_id, is_open())
        .subquery("receivable_open")
    )


@dataclass(frozen=True)
class OpenInvoices:
    """The customer's whole open balance, and the open invoices (oldest first) an amount reaches."""

    total: Decimal
    reached: list[tuple[int, str, Decimal]]  # (receivable id, invoice no, open amount)


def _running_sums() -> Select[int, str, Decimal, Decimal]:
    """The open invoices (oldest first) that ``:amount`` reaches, each with the customer's open total."""
    opened = open_receivables(bindparam("customer_id"))
    running = select(
        opened.c.id,
        opened.c.invoice_no,
        opened.c.open,
        type_coerce(
            func.sum(opened.c.open).over(order_by=(opened.c.due_on, opened.c.issued_on, opened.c.id)), Money()
        ).label("through"),
        type_coerce(func.sum(opened.c.open).over(), Money()).label("total"),
    ).subquery("running")
    before = type_coerce(running.c.through - running.c.open, Money())
    return (
        select(running.c.id, running.c.invoice_no, running.c.open, running.c.total)
        .where(before < bindparam("amount", type_=Money()))
        .order_by(running.c.through)
    )


#: Built once: every collection runs it (building it per call cost more than running it).
_RUNNING_SUMS = _running_sums()


async def oldest_open_first(session: AsyncSession, customer_id: int, amount: Decimal) -> OpenInvoices:
    """One statement: the running sum picks the invoices, the window over all of them the total."""
    rows = (await session.execute(_RUNNING_SUMS, {"customer_id": customer_id, "amount": amount})).all()
    # Any open invoice at all puts the oldest one in reach (amounts are positive): no rows, no balance.
    return OpenInvoices(
        total=rows[0].total if rows else ZERO, reached=[(row.id, row.invoice_no, row.open) for row in rows]
    )


@dataclass(frozen=True)
class Applied:
    """Money applied to one invoice (or taken off it): how much, and what is open on it now."""

    invoice_no: str
    amount: Decimal
    remaining: Decimal


def split(amount: Decimal, invoices: Iterable[tuple[int, str, Decimal]]) -> list[tuple[int, Applied]]:
    """``amount`` over open invoices in the order given: (receivable id, what each gets)."""
    left = amount
    lines: list[tuple[int, Applied]] = []
    for receivable_id, invoice_no, open_ in invoices:
        if left <= 0:
            break
        applied = min(open_, left)
        lines.append((receivable_id, Applied(invoice_no, applied, open_ - applied)))
        left -= applied
    return lines


# -- credit ------------------------------------------------------------------------------------------


async def credit_of(session: AsyncSession, customer_id: int) -> Decimal:
    """The customer's unapplied credit now (read from the database, not a loaded object)."""
    return await session.scalar(select(Customer.credit).where(Customer.id == customer_id)) or ZERO


@dataclass(frozen=True)
class CreditSource:
    """A collection or credit note with money it has not applied yet."""

    collection_id: int | None
    credit_note_id: int | None
    at: datetime
    unapplied: Decimal


async def credit_sources(session: AsyncSession, customer_id: int) -> list[CreditSource]:
    """The customer's collections and credit notes holding unapplied money, oldest first.

    A reversed collection and its reversal are one source (the original's id): together they hold
    nothing, as the reversal takes back all the original gave, its allocations included.
    """
    original = func.coalesce(Collection.reverses_id, Collection.id)
    allocated = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.collection_id == Collection.id)
        .scalar_subquery()
    )
    left = type_coerce(func.sum(Collection.amount - allocated), Money())
    collections = await session.execute(
        select(original, func.min(Collection.received_at), left)
        .where(Collection.customer_id == customer_id)
        .group_by(original)
        .having(left > 0)
    )
    noted = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.credit_note_id == CreditNote.id)
        .scalar_subquery()
    )
    note_left = type_coerce(CreditNote.amount - noted, Money())
    notes = await session.execute(
        select(CreditNote.id, CreditNote.issued_at, note_left).where(
            CreditNote.customer_id == customer_id, note_left > 0
        )
    )
    sources = [CreditSource(id_, None, at, amount) for id_, at, amount in collections]
    sources += [CreditSource(None, id_, at, amount) for id_, at, amount in notes]
    return sorted(sources, key=lambda s: (s.at, s.collection_id or 0, s.credit_note_id or 0))


async def _locked_credit(session: AsyncSession, customer_id: int) -> Decimal:
    """The customer's credit, their row locked: nobody applies or adds credit for them meanwhile."""
    return (
        await session.scalar(select(Customer.credit).where(Customer.id == customer_id).with_for_update())
        or ZERO
    )


async def apply_credit(
    session: AsyncSession, customer_id: int, *, actor_id: int | None, now: datetime, why: str
) -> tuple[Applied, ...]:
    """Settle the customer's open invoices (oldest first) with their unapplied credit (oldest first).

    What was applied, per invoice (nothing when they hold no credit or owe nothing). Written as
    allocations marked ``from_credit`` of the collections and credit notes the credit came from,
    with one audit entry (``why``: what made the invoice open, e.g. ``order``).
    """
    credit = await _locked_credit(session, customer_id)
    if credit <= 0:
        return ()
    invoices = await oldest_open_first(session, customer_id, credit)
    if not invoices.reached:
        return ()
    sources = await credit_sources(session, customer_id)
    lines = split(min(credit, sum((s.unapplied for s in sources), ZERO)), invoices.reached)
    rows: list[dict[str, Any]] = []
    opened = {receivable_id: applied.amount for receivable_id, applied in lines}
    order = [receivable_id for receivable_id, _ in lines]
    for source in sources:
        left = source.unapplied
        while left > 0 and order:
            receivable_id = order[0]
            take = min(left, opened[receivable_id])
            rows.append(
                {
                    "collection_id": source.collection_id,
                    "credit_note_id": source.credit_note_id,
                    "receivable_id": receivable_id,
                    "amount": take,
                    "from_credit": True,
                }
            )
            left -= take
            opened[receivable_id] -= take
            if opened[receivable_id] == 0:
                order.pop(0)
    if not rows:
        return ()
    await session.execute(insert(Allocation), rows)
    applied = tuple(line for _, line in lines)
    total = sum((line.amount for line in applied), ZERO)
    audit.record(
        session,
        actor_id=actor_id,
        action="credit.apply",
        entity="customer",
        entity_id=customer_id,
        at=now,
        before={"credit": str(credit), "customer_open": str(invoices.total)},
        after={
            "credit": str(credit - total),
            "customer_open": str(invoices.total - total),
            "why": why,
            "applied": [{"invoice_no": line.invoice_no, "amount": str(line.amount)} for line in applied],
            "sources": [
                {
                    "collection_id": row["collection_id"],
                    "credit_note_id": row["credit_note_id"],
                    "amount": str(row["amount"]),
                }
                for row in rows
            ],
        },
    )
    return applied


def applied_total(lines: Iterable[Applied]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


# -- voiding ---------------------------------------------------------------------------------------

#: ``void_reason`` of an order undone by whoever placed it, and of one rejected over the limit.
UNDONE = "undone by whoever placed the order"
REJECTED = "rejected over the credit limit"


def standing() -> ColumnElement[bool]:
    """Receivables that stand, i.e. are not voided (a voided one keeps its row, as 0)."""
    return Receivable.voided_at.is_(None)


def _collected() -> ColumnElement[bool]:
    """Allocations of money collected against an invoice as it was recorded (not credit applied later)."""
    return Allocation.collection_id.is_not(None) & ~Allocation.from_credit


async def applied_collections(session: AsyncSession, receivable_id: int) -> list[int]:
    """The collections whose money was collected against a receivable and still is: a collection
    and its reversal (whose allocations mirror it, negative) net out. Credit applied to it later
    (``from_credit``) and credit notes are left out: a void gives those back to the customer."""
    original = func.coalesce(Collection.reverses_id, Collection.id)
    return list(
        await session.scalars(
            select(original)
            .select_from(Allocation)
            .join(Collection, Collection.id == Allocation.collection_id)
            .where(Allocation.receivable_id == receivable_id, _collected())
            .group_by(original)
            .having(func.sum(Allocation.amount) != 0)
            .order_by(original)
        )
    )


@dataclass(frozen=True)
class Voided:
    """What :func:`void` did: whether this call voided it, the credit it gave back to the customer,
    and where that credit was used at once (their other open invoices)."""

    done: bool
    released: Decimal = ZERO
    reapplied: tuple[Applied, ...] = ()


async def void(
    session: AsyncSession, receivable: Receivable, *, by: int, reason: str, now: datetime
) -> Voided:
    """Void ``receivable`` (``done`` False if it was void already).

    The customer's row is locked first, as a collection locks it before settling invoices, so no
    money can be applied to the receivable between the check and the void. Raises
    :class:`Conflict` naming the collections if money collected against it still stands. Credit
    applied to it (overpayments, credit notes) goes back to the customer, and is used at once on
    their other open invoices, oldest first.
    """
    await session.execute(select(Customer.id).where(Customer.id == receivable.customer_id).with_for_update())
    applied = await applied_collections(session, receivable.id)
    if applied:
        raise Conflict(
            N_(
                "Money is already applied to invoice {invoice} (collection {collections}): "
                "that collection must be undone or reversed first."
            ),
            invoice=receivable.invoice_no,
            collections=", ".join(f"#{n}" for n in applied),
        )
    done = await session.execute(
        update(Receivable)
        .where(Receivable.id == receivable.id, Receivable.voided_at.is_(None))
        .values(voided_at=now, voided_by=by, void_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return Voided(done=False)
    released = await _release_credit(session, receivable, by=by, now=now)
    reapplied = (
        await apply_credit(session, receivable.customer_id, actor_id=by, now=now, why="void")
        if released
        else ()
    )
    return Voided(done=True, released=released, reapplied=reapplied)


async def _release_credit(
    session: AsyncSession, receivable: Receivable, *, by: int, now: datetime
) -> Decimal:
    """Give back the credit applied to a voided receivable: a negative allocation per source."""
    given = (Allocation.credit_note_id.is_not(None)) | Allocation.from_credit
    # A collection and its reversal are one source: credit the reversal already took back is not given.
    original = func.coalesce(Collection.reverses_id, Allocation.collection_id)
    rows = (
        await session.execute(
            select(
                original,
                Allocation.credit_note_id,
                Allocation.from_credit,
                type_coerce(func.sum(Allocation.amount), Money()),
            )
            .select_from(Allocation)
            .outerjoin(Collection, Collection.id == Allocation.collection_id)
            .where(Allocation.receivable_id == receivable.id, given)
            .group_by(original, Allocation.credit_note_id, Allocation.from_credit)
            .having(func.sum(Allocation.amount) != 0)
        )
    ).all()
    if not rows:
        return ZERO
    await session.execute(
        insert(Allocation),
        [
            {
                "collection_id": collection_id,
                "credit_note_id": credit_note_id,
                "receivable_id": receivable.id,
                "amount": -amount,
                "from_credit": from_credit,
            }
            for collection_id, credit_note_id, from_credit, amount in rows
        ],
    )
    released = sum((row[3] for row in rows), ZERO)
    audit.record(
        session,
        actor_id=by,
        action="credit.release",
        entity="receivable",
        entity_id=receivable.id,
        at=now,
        before={"invoice_no": receivable.invoice_no, "credit_applied": str(released)},
        after={
            "credit_applied": "0.00",
            "released": [
                {"collection_id": collection_id, "credit_note_id": credit_note_id, "amount": str(amount)}
                for collection_id, credit_note_id, _from_credit, amount in rows
            ],
        },
    )
    return released


# -- reading credit for lists ------------------------------------------------------------------------


def holds_credit() -> ColumnElement[bool]:
    """Customers holding unapplied credit (a literal zero, as :func:`is_open`)."""
    return Customer.credit > literal_column("0")


def credit_totals(scope: ColumnElement[bool]) -> Select[int, Decimal]:
    """(customers, total) of the unapplied credit of the customers in ``scope``."""
    return select(
        func.count().label("customers"),
        type_coerce(func.coalesce(func.sum(Customer.credit), 0), Money()).label("total"),
    ).where(scope, holds_credit())
