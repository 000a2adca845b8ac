"""Orders: a sale becomes a receivable (應收賬款) due after the customer's credit days.

An order that would take the customer's open balance past their credit limit
is not written at once: the caller first sees the figures and confirms; a
confirmed over-limit order is flagged and waits for the manager's approval.

Writes are keyed on ``source_key`` (the Telegram message that placed the
order), so a redelivered update or a double-tapped Confirm writes once and
answers as the first time did.

Whoever placed an order may undo it for ``UNDO_WINDOW`` (the Undo button, as
for visits and collections). Undoing voids the receivable
(:func:`bot.services.money.ledger.void`: the row stays, its open amount becomes 0),
withdraws its pending over-limit request and writes an audit entry; it is
refused once money is collected against the invoice (that collection must be undone
or reversed first: the money would otherwise move silently). An order undone
is never written again by a redelivery of the message that placed it.

A customer holding unapplied credit (an overpayment, a return beyond what they owed) has it
applied to the new invoice at once, in the order's transaction
(:func:`bot.services.money.ledger.apply_credit`), and the reply says how much.
The credit check counts that credit: an order the credit covers
adds nothing to the balance. The customer's row is locked first, as a collection locks it, so a
collection recorded at the same moment cannot leave credit beside the new open invoice. Undoing
the order gives the credit back to the customer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit, policy
from bot.services.errors import AccessDenied, Conflict, Invalid
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Lead, Resolution
from bot.services.money import ledger
from bot.services.money.amounts import parse_amount
from bot.services.people import approvals
from bot.services.people.access import Caller, Permission, require
from models import (
    Allocation,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Customer,
    CustomerStatus,
    Money,
    Receivable,
    ReceivableSource,
    User,
)

MAX_INVOICE_NO = 60  # the column's width
ZERO = Decimal("0.00")
INVOICE_NO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./#-]*$")
GENERATED_PREFIX = "SO"
#: Attempts at a generated invoice number when a concurrent order took the one we computed.
GENERATE_ATTEMPTS = 10
#: How long whoever placed an order may undo it (as for visits and collections).
UNDO_WINDOW = timedelta(minutes=10)

_CURRENCY_WORDS = {"¥", "rmb", "cny"}
_UNIT_WORDS = {"元", "万", "千", "k", "w", "rmb", "cny", "yuan"}


@dataclass(frozen=True)
class OrderDetails:
    """What follows the customer in ``/order CUSTOMER: AMOUNT [INVOICE NO]``."""

    amount: Decimal
    invoice_no: str | None = None


@dataclass(frozen=True)
class CreditCheck:
    open: Decimal
    limit: Decimal
    after: Decimal  # open balance once this order is added


@dataclass(frozen=True)
class NeedsConfirmation:
    """The order would pass the credit limit: nothing written; ask the caller first."""

    customer: CustomerRef
    details: OrderDetails
    credit: CreditCheck


@dataclass(frozen=True)
class RecordedOrder:
    customer: CustomerRef
    receivable_id: int
    invoice_no: str
    amount: Decimal
    issued_on: date
    due_on: date
    open_balance: Decimal  # the customer's open balance now, this order included
    over_limit: bool
    #: Written earlier by the same message (a redelivery, a second tap): nothing new happened.
    repeated: bool = False
    #: Until when whoever placed it may undo it.
    undo_until: datetime | None = None
    #: Voided since (undone, or rejected over the credit limit): it no longer counts.
    voided: bool = False
    #: The customer's unapplied credit applied to this invoice as it was recorded.
    credit_applied: Decimal = ZERO


@dataclass(frozen=True)
class UndoneOrder:
    customer: CustomerRef
    invoice_no: str
    amount: Decimal
    open_balance: Decimal  # the customer's open balance now, without this order
    #: The pending over-limit request this undo withdrew, if there was one.
    withdrawn_approval: int | None
    #: Undone earlier (a second tap): nothing new happened.
    already: bool = False
    #: Credit that had been applied to the order, given back to the customer by the undo.
    credit_released: Decimal = ZERO
    #: The customer's credit now (what was given back and not used on other invoices).
    credit: Decimal = ZERO


OrderOutcome = RecordedOrder | NeedsConfirmation


def read_details(text: str) -> OrderDetails:
    """Amount and optional invoice number from ``5000``, ``¥ 1.5万 INV-7``, ``5,000.50 2026118``.

    The amount is one token, optionally with a currency word before it or a unit
    after it (``RMB 5000``, ``5000 元``, ``1.5 万``); one more token is the invoice
    number. Raises :class:`Invalid` with the reason for anything else.
    """
    tokens = unicodedata.normalize("NFKC", text).split()
    if not tokens:
        raise Invalid(N_("Write the amount after the colon, e.g. /order Acme: 5000"))
    amount_tokens = [tokens.pop(0)]
    if amount_tokens[0].lower() in _CURRENCY_WORDS and tokens:
        amount_tokens.append(tokens.pop(0))
    if tokens and tokens[0].lower() in _UNIT_WORDS:
        amount_tokens.append(tokens.pop(0))
    if len(tokens) > 1:
        raise Invalid(
            N_("After the amount I expect at most an invoice number, not {rest}."), rest=" ".join(tokens)[:60]
        )
    amount = parse_amount(" ".join(amount_tokens))
    invoice_no = tokens[0] if tokens else None
    if invoice_no is None:
        return OrderDetails(amount)
    if re.fullmatch(r"\d{1,3}", amount_tokens[-1]) and re.fullmatch(r"\d{3}", invoice_no):
        # "5 000" is a thousands group, not amount 5 with invoice 000: make the rep say which
        raise Invalid(N_("Write the amount without spaces (5000 or 5,000), then the invoice number."))
    return OrderDetails(amount, check_invoice_no(invoice_no))


def check_invoice_no(text: str) -> str:
    """An invoice number as typed, or :class:`Invalid` if it cannot be one."""
    if len(text) > MAX_INVOICE_NO or not INVOICE_NO.match(text):
        raise Invalid(
            N_("{invoice} is not an invoice number: use letters, digits and - _ / . # (at most 60)."),
            invoice=text[:MAX_INVOICE_NO],
        )
    return text


async def resolve_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """The customer named in an order, among those the caller may order for."""
    require(caller, Permission.RECORD_ORDER)
    return await customers.resolve_one(session, caller, text)


async def resolve_leading(session: AsyncSession, caller: Caller, text: str) -> Lead:
    """``/order 鑫源建材 5000 INV-1``: the customer the first words name, and the rest of the line."""
    require(caller, Permission.RECORD_ORDER)
    return await customers.resolve_leading(session, caller, text)


async def customer_for_order(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """A customer from a button, re-checked: in the caller's scope and still a customer."""
    return CustomerRef.of(await _orderable(session, caller, customer_id))


async def _orderable(
    session: AsyncSession, caller: Caller, customer_id: int, *, for_update: bool = False
) -> Customer:
    require(caller, Permission.RECORD_ORDER)
    customer = await customers.get_in_scope(session, caller, customer_id, for_update=for_update)
    if customer.status == CustomerStatus.INACTIVE:
        raise Invalid(N_("{customer} is inactive: no new orders."), customer=customer.name)
    return customer


async def record_order(
    session: AsyncSession,
    caller: Caller,
    customer_id: int,
    details: OrderDetails,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
    confirmed: bool = False,
) -> OrderOutcome:
    """Write the order as a receivable, or say it needs confirmation (see the module doc)."""
    require(caller, Permission.RECORD_ORDER)
    today = policy.local_date(now, zone)
    earlier = await find_recorded(session, caller, source_key, now=now, zone=zone)
    if earlier is not None:
        if earlier.voided:
            raise Conflict(
                N_("Order {invoice} was voided, so it was not recorded again."), invoice=earlier.invoice_no
            )
        return earlier
    # Locked (PostgreSQL), as a collection locks it: the credit read here is the credit applied below.
    customer = await _orderable(session, caller, customer_id, for_update=True)
    ref = CustomerRef.of(customer)
    if details.invoice_no is not None:
        await _refuse_taken(session, details.invoice_no)
    days, limit = policy.credit_terms(customer, await policy.grade_rules(session))
    open_before = (await ledger.balance(session, customer.id, today)).open
    # The customer's unapplied credit settles the new invoice at once: only the rest adds to the balance.
    covered = min(customer.credit, details.amount) if customer.credit > 0 else ZERO
    credit = CreditCheck(open_before, limit, open_before + details.amount - covered)
    over_limit = credit.after > credit.limit
    if over_limit and not confirmed:
        return NeedsConfirmation(ref, details, credit)
    receivable = await _write(
        session,
        caller,
        customer,
        details,
        credit,
        over_limit,
        issued_on=today,
        due_on=today + timedelta(days=days),
        now=now,
        zone=zone,
        source_key=source_key,
    )
    if receivable is None:  # a concurrent delivery of the same update won the race
        found = await find_recorded(session, caller, source_key, now=now, zone=zone)
        assert found is not None
        return found
    used: tuple[ledger.Applied, ...] = ()
    if customer.credit > 0:
        used = await ledger.apply_credit(session, customer.id, actor_id=caller.id, now=now, why="order")
    here = ledger.applied_total(line for line in used if line.invoice_no == receivable.invoice_no)
    return RecordedOrder(
        ref,
        receivable.id,
        receivable.invoice_no,
        receivable.amount,
        receivable.issued_on,
        receivable.due_on,
        open_before + receivable.amount - ledger.applied_total(used),
        over_limit,
        undo_until=receivable.created_at + UNDO_WINDOW,
        credit_applied=here,
    )


async def find_recorded(
    session: AsyncSession, caller: Caller, source_key: str, *, now: datetime, zone: ZoneInfo
) -> RecordedOrder | None:
    """The order already written for ``source_key`` (the caller's own message), balance as of now."""
    require(caller, Permission.RECORD_ORDER)
    found = (
        await session.execute(
            select(Receivable, Customer)
            .join(Customer, Customer.id == Receivable.customer_id)
            .where(Receivable.source_key == source_key)
        )
    ).one_or_none()
    if found is None:
        return None
    receivable, customer = found
    open_now = (await ledger.balance(session, customer.id, policy.local_date(now, zone))).open
    return RecordedOrder(
        CustomerRef.of(customer),
        receivable.id,
        receivable.invoice_no,
        receivable.amount,
        receivable.issued_on,
        receivable.due_on,
        open_now,
        receivable.over_limit,
        repeated=True,
        undo_until=receivable.created_at + UNDO_WINDOW,
        voided=receivable.voided_at is not None,
        credit_applied=await _credit_applied(session, receivable.id),
    )


async def _credit_applied(session: AsyncSession, receivable_id: int) -> Decimal:
    """The customer's credit applied to a receivable as it was recorded (net of any given back)."""
    return (
        await session.scalar(
            select(type_coerce(func.coalesce(func.sum(Allocation.amount), 0), Money())).where(
                Allocation.receivable_id == receivable_id, Allocation.from_credit
            )
        )
        or ZERO
    )


async def _refuse_taken(session: AsyncSession, invoice_no: str) -> None:
    if await session.scalar(select(Receivable.id).where(Receivable.invoice_no == invoice_no)):
        raise Conflict(
            N_(
                "Invoice {invoice} is already recorded. Check the number, or leave it out "
                "and I will number the order."
            ),
            invoice=invoice_no,
        )


async def _write(
    session: AsyncSession,
    caller: Caller,
    customer: Customer,
    details: OrderDetails,
    credit: CreditCheck,
    over_limit: bool,
    *,
    issued_on: date,
    due_on: date,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> Receivable | None:
    """Insert the receivable (and its approval) in a savepoint; None if ``source_key`` was taken.

    A generated invoice number is the day's highest ``SO-YYYYMMDD-nnn`` plus one.
    The unique index on ``invoice_no`` is what guarantees uniqueness: if a
    concurrent order took the number first, the savepoint rolls back and a
    higher number is tried.
    """
    taken: str | None = None
    for _attempt in range(GENERATE_ATTEMPTS):
        invoice_no = details.invoice_no or await _next_invoice_no(session, issued_on, taken)
        receivable = Receivable(
            invoice_no=invoice_no,
            customer_id=customer.id,
            rep_id=customer.rep_id or caller.id,
            amount=details.amount,
            issued_on=issued_on,
            due_on=due_on,
            source=ReceivableSource.ORDER,
            over_limit=over_limit,
            created_at=now,
            source_key=source_key,
            recorded_by=caller.id,
        )
        try:
            async with session.begin_nested():
                session.add(receivable)
                await session.flush()
        except IntegrityError:
            if await session.scalar(select(Receivable.id).where(Receivable.source_key == source_key)):
                return None
            if details.invoice_no is not None:
                await _refuse_taken(session, details.invoice_no)
                raise
            taken = invoice_no
            continue
        approval = _approval(caller, customer, receivable, credit, now, source_key) if over_limit else None
        if approval is not None:
            session.add(approval)
            await session.flush()
            # The approvers' push is queued with the approval: both commit, or neither.
            await approvals.notify_approvers(session, approval.id, now, zone)
        audit.record(
            session,
            actor_id=caller.id,
            action="record_order",
            entity="receivable",
            entity_id=receivable.id,
            at=now,
            after={
                "invoice_no": receivable.invoice_no,
                "customer_id": customer.id,
                "amount": str(receivable.amount),
                "issued_on": issued_on.isoformat(),
                "due_on": due_on.isoformat(),
                "over_limit": over_limit,
                "approval_id": approval.id if approval else None,
            },
        )
        return receivable
    raise Conflict(N_("Too many orders at once: I could not number this one. Please send it again."))


def _approval(
    caller: Caller,
    customer: Customer,
    receivable: Receivable,
    credit: CreditCheck,
    now: datetime,
    source_key: str,
) -> Approval:
    return Approval(
        kind=ApprovalKind.OVER_LIMIT,
        requested_by=caller.id,
        customer_id=customer.id,
        receivable_id=receivable.id,
        status=ApprovalStatus.PENDING,
        created_at=now,
        source_key=source_key,
        payload={
            "invoice_no": receivable.invoice_no,
            "amount": str(receivable.amount),
            "open_before": str(credit.open),
            "credit_limit": str(credit.limit),
            "open_after": str(credit.after),
        },
    )


async def _next_invoice_no(session: AsyncSession, day: date, taken: str | None = None) -> str:
    """``SO-20261123-001``: one more than the day's highest number, and than ``taken`` if given."""
    prefix = f"{GENERATED_PREFIX}-{day:%Y%m%d}-"
    numbers = list(
        await session.scalars(
            select(Receivable.invoice_no)
            .where(Receivable.invoice_no.startswith(prefix, autoescape=True))
            .order_by(func.length(Receivable.invoice_no).desc(), Receivable.invoice_no.desc())
            .limit(20)
        )
    )
    if taken is not None:
        numbers.append(taken)
    highest = max(
        (int(n.removeprefix(prefix)) for n in numbers if n.removeprefix(prefix).isdigit()), default=0
    )
    return f"{prefix}{highest + 1:03d}"


# -- undo ------------------------------------------------------------------------------------------


async def undo(
    session: AsyncSession, caller: Caller, receivable_id: int, *, now: datetime, zone: ZoneInfo
) -> UndoneOrder:
    """The Undo button: whoever placed the order voids it within ``UNDO_WINDOW`` (see the module doc).

    A second tap answers ``already``; the void itself is a conditional UPDATE, so of two taps
    racing one voids and writes the audit entry.
    """
    require(caller, Permission.RECORD_ORDER)
    found = (
        await session.execute(
            select(Receivable, Customer)
            .join(Customer, Customer.id == Receivable.customer_id)
            .where(Receivable.id == receivable_id)
        )
    ).one_or_none()
    if found is None or found[0].source != ReceivableSource.ORDER or found[0].recorded_by != caller.id:
        raise AccessDenied(N_("That order is not yours to undo."))
    receivable, customer = found
    today = policy.local_date(now, zone)
    if receivable.voided_at is None and now - receivable.created_at > UNDO_WINDOW:
        raise Conflict(
            N_(
                "The 10 minutes to undo order {invoice} have passed: it stands. "
                "Talk to your manager if it is wrong."
            ),
            invoice=receivable.invoice_no,
        )
    if receivable.voided_at is not None:
        return await _voided_earlier(session, caller, receivable_id, customer, today)
    open_before = (await ledger.balance(session, customer.id, today)).open
    # The request first, then the void: the order in which a rejection takes the two locks.
    withdrawn = await approvals.withdraw(session, receivable.id, by=caller.id, now=now)
    voided = await ledger.void(session, receivable, by=caller.id, reason=ledger.UNDONE, now=now)
    if not voided.done:
        return await _voided_earlier(session, caller, receivable_id, customer, today)  # a tap racing us
    open_now = (await ledger.balance(session, customer.id, today)).open
    credit_now = await ledger.credit_of(session, customer.id)
    audit.record(
        session,
        actor_id=caller.id,
        action="order.undo",
        entity="receivable",
        entity_id=receivable.id,
        at=now,
        before={
            "invoice_no": receivable.invoice_no,
            "amount": str(receivable.amount),
            "voided": False,
            "customer_open": str(open_before),
        },
        after={
            "voided": True,
            "reason": ledger.UNDONE,
            "customer_open": str(open_now),
            "withdrawn_approval_id": withdrawn,
            "credit_released": str(voided.released),
            "customer_credit": str(credit_now),
        },
    )
    return UndoneOrder(
        CustomerRef.of(customer),
        receivable.invoice_no,
        receivable.amount,
        open_now,
        withdrawn,
        credit_released=voided.released,
        credit=credit_now,
    )


async def _voided_earlier(
    session: AsyncSession, caller: Caller, receivable_id: int, customer: Customer, today: date
) -> UndoneOrder:
    """The answer to an Undo of an order already void: a second tap, or someone else voided it."""
    row = (
        await session.execute(
            select(
                Receivable.invoice_no,
                Receivable.amount,
                Receivable.voided_by,
                Receivable.void_reason,
                User.name,
            )
            .outerjoin(User, User.id == Receivable.voided_by)
            .where(Receivable.id == receivable_id)
        )
    ).one()
    invoice_no, amount, voided_by, reason, name = row
    if voided_by != caller.id or reason != ledger.UNDONE:
        raise Conflict(
            N_("Order {invoice} was already voided by {name}."), invoice=invoice_no, name=name or "—"
        )
    open_now = (await ledger.balance(session, customer.id, today)).open
    return UndoneOrder(CustomerRef.of(customer), invoice_no, amount, open_now, None, already=True)
