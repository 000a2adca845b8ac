"""Returns of goods (銷售退貨證明單, regulations part 4 art. 22 and art. 8 (8)).

A rep (or a manager, the director, an admin: whoever may take orders) asks for a return:
``/return CUSTOMER: AMOUNT [INVOICE] [REASON]`` or step by step with products and quantities.
:func:`request_return` writes a :class:`~models.SalesReturn` and its pending ``approvals`` row
(kind ``return``) and queues the approvers' push with Approve / Reject buttons, as a discount
request does (``bot/services/people/approvals.py``: the customer's team's managers, else the directors).

Nothing in the ledger moves while it waits. Approved (one tap), the approval's transaction issues
the return certificate: a numbered credit note that settles the named invoice first, then the
oldest (``bot/services/money/credit_notes.py``), with what is left kept as the customer's credit; the rep
hears the certificate number through the outbox. Rejected, nothing changes and the rep is told.

Rules decided here:

* **Who and whose.** Requesting needs ``REQUEST_RETURN`` and the customer in the caller's scope. A
  certificate is shown to whoever may see the customer (finance sees all) and to whoever asked.
* **The invoice.** After the amount, a word that is one of the customer's invoice numbers (case
  aside) is the invoice; a word that looks like an invoice number (letters and digits, such as
  ``INV-9``) but is none of theirs is refused, so a mistyped number is never taken for the reason;
  any other words are the reason. A voided invoice cannot be named.
* **Products and quantities** are optional: ``Cement 42.5: 10 bags, Tiles 20`` — each part a product
  and a quantity (a number, then an optional unit), at most :data:`MAX_ITEMS`.
* **Amounts** as everywhere (``500``, ``1.5万``); the return may exceed what the customer owes: the
  rest is credit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import AccessDenied, Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.money import ledger
from bot.services.money.amounts import parse_amount
from bot.services.money.ledger import ZERO, Applied
from bot.services.people import approvals
from bot.services.people.access import Caller, Permission, require
from bot.services.people.approvals import ApprovalView
from bot.services.policy import local_date
from models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    CreditNote,
    Customer,
    CustomerStatus,
    Receivable,
    SalesReturn,
    User,
)

MAX_REASON = 300
MAX_ITEMS = 20
MAX_PRODUCT = 100
MAX_QUANTITY = 30
#: Invoices offered as buttons in the guided flow (the newest first).
INVOICE_CHOICES = 6
COLON = re.compile(r"[:：]")
#: A word that looks like an invoice number: letters or CJK-free symbols with at least one digit
#: and one letter (``INV-9``, ``SO-20261123-001``); ``20`` or ``3箱`` do not.
_INVOICE_LIKE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_./#-]*$")
#: A product and its quantity: ``Cement 42.5: 10 bags``, ``水泥 10袋``, ``Tiles x20``.
_ITEM = re.compile(r"^(?P<product>.+?)\s*(?:[:：×xX*]\s*|\s+)(?P<quantity>\d+(?:[.,]\d+)?\s*\S{0,10})$")
_ITEM_SEPARATORS = re.compile(r"[\n，;；、]+|,(?!\d)")
_QUANTITY = re.compile(r"^(\d+(?:[.,]\d+)?)")
_CURRENCY_WORDS = {"¥", "rmb", "cny"}
_UNIT_WORDS = {"元", "万", "千", "k", "w", "rmb", "cny", "yuan"}
#: A certificate number as typed: ``RT-2026-0001``.
CERTIFICATE_NO = re.compile(r"^RT-\d{4}-\d{4,}$", re.IGNORECASE)

VOIDED_INVOICE = N_("Invoice {invoice} was voided: name another one, or none.")
USAGE = N_(
    "Record goods a customer returns like this:\n"
    "/return CUSTOMER: AMOUNT [INVOICE] [REASON]\n"
    "For example: /return Acme: 500 INV-9 damaged in transport\n"
    "/return alone asks step by step (products and quantities too). "
    "Your manager approves it; then the return certificate is issued and the amount "
    "credited to the customer."
)


@dataclass(frozen=True)
class ReturnItem:
    product: str
    quantity: str

    def payload(self) -> dict[str, str]:
        return {"product": self.product, "quantity": self.quantity}


@dataclass(frozen=True)
class InvoiceChoice:
    id: int
    invoice_no: str
    issued_on: str
    amount: Decimal
    open: Decimal


@dataclass(frozen=True)
class ReturnRequest:
    return_id: int
    view: ApprovalView
    repeated: bool  # this update had already made the request (a redelivery, a second tap)
    #: Whoever will decide it, or () while nobody can be reached (it waits; the sweep tells them later).
    approvers: int = 0


@dataclass(frozen=True)
class Certificate:
    """A return as its certificate shows it (the number once approved)."""

    return_id: int
    status: ApprovalStatus
    number: str | None
    customer: CustomerRef
    rep: str | None  # the customer's rep when it was asked for
    requested_by: str
    requested_at: datetime
    invoice_no: str | None
    items: tuple[ReturnItem, ...]
    amount: Decimal
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    #: What the credit note settled as it was issued, and what it kept as credit.
    settled: tuple[Applied, ...] = ()
    kept: Decimal = ZERO


# -- reading what was typed -----------------------------------------------------------------------


def split_line(text: str) -> tuple[str, str | None]:
    """``"Acme: 500 INV-9 damaged"`` → ``("Acme", "500 INV-9 damaged")``; no colon → ``(text, None)``."""
    parts = COLON.split(text, maxsplit=1)
    if len(parts) == 1:
        return text.strip(), None
    return parts[0].strip(), parts[1].strip()


def read_amount(text: str) -> tuple[Decimal, list[str]]:
    """The amount at the start of ``text`` (a currency word before it or a unit after it allowed),
    and the words after it."""
    words = unicodedata.normalize("NFKC", text).split()
    if not words:
        raise Invalid(N_("Write the amount after the colon, e.g. /return Acme: 500 damaged"))
    taken = [words.pop(0)]
    if taken[0].lower() in _CURRENCY_WORDS and words:
        taken.append(words.pop(0))
    if words and words[0].lower() in _UNIT_WORDS:
        taken.append(words.pop(0))
    return parse_amount(" ".join(taken)), words


def clean_reason(text: str | None) -> str | None:
    reason = " ".join((text or "").split())
    if len(reason) > MAX_REASON:
        raise Invalid(N_("Keep the reason under {limit} characters."), limit=MAX_REASON)
    return reason or None


def read_items(text: str) -> tuple[ReturnItem, ...]:
    """``Cement 42.5: 10 bags, Tiles 20`` → the products and their quantities, or :class:`Invalid`."""
    parts = [" ".join(part.split()) for part in _ITEM_SEPARATORS.split(unicodedata.normalize("NFKC", text))]
    parts = [part for part in parts if part]
    if not parts:
        raise Invalid(N_("Write each product with its quantity, e.g. Cement 42.5: 10 bags, Tiles: 20"))
    if len(parts) > MAX_ITEMS:
        raise Invalid(N_("At most {limit} products on one return."), limit=MAX_ITEMS)
    items = []
    for part in parts:
        match = _ITEM.match(part)
        if match is None or not match["product"].strip(" :：") or len(match["product"]) > MAX_PRODUCT:
            raise Invalid(
                N_("I can't read {text} as a product and its quantity. Write e.g. Cement 42.5: 10 bags"),
                text=part[:60],
            )
        quantity = " ".join(match["quantity"].split())
        number = _QUANTITY.match(quantity)
        if len(quantity) > MAX_QUANTITY or number is None or Decimal(number[1].replace(",", ".")) <= 0:
            raise Invalid(N_("The quantity of {product} must be more than 0."), product=match["product"][:60])
        items.append(ReturnItem(match["product"].strip(" :："), quantity))
    return tuple(items)


def items_text(items: tuple[ReturnItem, ...] | list[dict[str, str]]) -> str:
    """``Cement 42.5 × 10 bags; Tiles × 20`` (plain text)."""
    pairs = [
        (item.product, item.quantity)
        if isinstance(item, ReturnItem)
        else (str(item.get("product", "")), str(item.get("quantity", "")))
        for item in items
    ]
    return "; ".join(f"{product} × {quantity}" for product, quantity in pairs)


# -- customers and invoices -----------------------------------------------------------------------


def check_may_request(caller: Caller) -> None:
    require(caller, Permission.REQUEST_RETURN)


async def resolve_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """The customer a return is for, among the caller's."""
    check_may_request(caller)
    return await customers.resolve_one(session, caller, text)


async def customer_for_return(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """A customer id from a button, re-checked against the caller's scope."""
    check_may_request(caller)
    customer = await customers.get_in_scope(session, caller, customer_id)
    if customer.status == CustomerStatus.PROSPECT:
        raise Invalid(
            N_("{customer} has not bought anything yet: there is nothing to return."), customer=customer.name
        )
    return CustomerRef.of(customer)


async def invoice_choices(
    session: AsyncSession, caller: Caller, customer_id: int, limit: int = INVOICE_CHOICES
) -> list[InvoiceChoice]:
    """The customer's newest invoices that stand (open or settled): the goods came from one of them."""
    await customer_for_return(session, caller, customer_id)
    rows = await session.execute(
        select(
            Receivable.id,
            Receivable.invoice_no,
            Receivable.issued_on,
            Receivable.amount,
            Receivable.open_amount,
        )
        .where(Receivable.customer_id == customer_id, ledger.standing())
        .order_by(Receivable.issued_on.desc(), Receivable.id.desc())
        .limit(limit)
    )
    return [
        InvoiceChoice(id_, number, issued.isoformat(), amount, open_)
        for id_, number, issued, amount, open_ in rows
    ]


async def find_invoice(session: AsyncSession, customer_id: int, text: str) -> Receivable | None:
    """One of the customer's invoices by its number (exactly, or case aside)."""
    number = text.strip()
    if not number:
        return None
    return await session.scalar(
        select(Receivable)
        .where(
            Receivable.customer_id == customer_id,
            or_(Receivable.invoice_no == number, func.lower(Receivable.invoice_no) == number.lower()),
        )
        .order_by((Receivable.invoice_no == number).desc(), Receivable.id)
        .limit(1)
    )


async def invoice_of(session: AsyncSession, caller: Caller, customer_id: int, text: str) -> Receivable:
    """An invoice typed for a return: the customer's, standing, or :class:`Invalid` saying why not."""
    await customer_for_return(session, caller, customer_id)
    found = await find_invoice(session, customer_id, text)
    if found is None:
        raise Invalid(
            N_(
                "{invoice} is not one of this customer's invoices. Check the number, or leave "
                "the invoice out."
            ),
            invoice=text.strip()[:60],
        )
    if found.voided_at is not None:
        raise Invalid(VOIDED_INVOICE, invoice=found.invoice_no)
    return found


async def read_terms(
    session: AsyncSession, caller: Caller, customer_id: int, words: list[str]
) -> tuple[Receivable | None, str | None]:
    """The invoice and reason after the amount of a one-line ``/return`` (see the module doc)."""
    if not words:
        return None, None
    found = await find_invoice(session, customer_id, words[0])
    if found is not None:
        if found.voided_at is not None:
            raise Invalid(VOIDED_INVOICE, invoice=found.invoice_no)
        return found, clean_reason(" ".join(words[1:]))
    if _INVOICE_LIKE.match(words[0]):
        raise Invalid(
            N_(
                "{invoice} is not one of this customer's invoices. Check the number, or leave "
                "the invoice out."
            ),
            invoice=words[0][:60],
        )
    return None, clean_reason(" ".join(words))


# -- asking ---------------------------------------------------------------------------------------


async def request_return(
    session: AsyncSession,
    caller: Caller,
    customer_id: int,
    *,
    amount: Decimal,
    receivable_id: int | None,
    reason: str | None,
    items: tuple[ReturnItem, ...],
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> ReturnRequest:
    """Write the return and its approval request, queue the approvers' push; the same ``source_key``
    again writes nothing."""
    check_may_request(caller)
    earlier = await _requested(session, caller, source_key)
    if earlier is not None:
        return earlier
    customer = await customers.get_in_scope(session, caller, customer_id)
    await customer_for_return(session, caller, customer.id)
    amount = parse_amount(str(amount))
    reason = clean_reason(reason)
    receivable = None
    if receivable_id is not None:
        receivable = await session.scalar(
            select(Receivable).where(Receivable.id == receivable_id, Receivable.customer_id == customer.id)
        )
        if receivable is None or receivable.voided_at is not None:
            raise Invalid(N_("That invoice is not one of this customer's standing invoices."))
    open_before = await ledger.balance(session, customer.id, local_date(now, zone))
    credit = await ledger.credit_of(session, customer.id)
    sales_return = SalesReturn(
        customer_id=customer.id,
        rep_id=customer.rep_id,
        requested_by=caller.id,
        receivable_id=receivable.id if receivable else None,
        amount=amount,
        reason=reason,
        items=[item.payload() for item in items],
        requested_at=now,
        source_key=source_key,
    )
    try:
        async with session.begin_nested():
            session.add(sales_return)
            await session.flush()
    except IntegrityError:  # a concurrent delivery of the same update wrote it first
        found = await _requested(session, caller, source_key)
        if found is None:
            raise
        return found
    payload: dict[str, Any] = {
        "return_id": sales_return.id,
        "amount": str(amount),
        "invoice_no": receivable.invoice_no if receivable else None,
        "reason": reason,
        "items": [item.payload() for item in items],
        "open_before": str(open_before.open),
        "credit_before": str(credit),
    }
    approval = Approval(
        kind=ApprovalKind.RETURN,
        requested_by=caller.id,
        customer_id=customer.id,
        payload=payload,
        status=ApprovalStatus.PENDING,
        created_at=now,
        source_key=source_key,
    )
    session.add(approval)
    await session.flush()
    sales_return.approval_id = approval.id
    audit.record(
        session,
        actor_id=caller.id,
        action="return.request",
        entity="return",
        entity_id=sales_return.id,
        at=now,
        after={"customer_id": customer.id, "approval_id": approval.id, **payload},
    )
    queued = await approvals.notify_approvers(session, approval.id, now, zone)
    return ReturnRequest(
        sales_return.id, await approvals.load(session, approval.id), repeated=False, approvers=queued
    )


async def _requested(session: AsyncSession, caller: Caller, source_key: str) -> ReturnRequest | None:
    row = (
        await session.execute(
            select(SalesReturn.id, SalesReturn.approval_id).where(
                SalesReturn.source_key == source_key, SalesReturn.requested_by == caller.id
            )
        )
    ).one_or_none()
    if row is None or row.approval_id is None:
        return None
    return ReturnRequest(row.id, await approvals.load(session, row.approval_id), repeated=True)


# -- the certificate ------------------------------------------------------------------------------


def parse_reference(text: str) -> int | str | None:
    """``12``/``#12`` (a return's id) or ``RT-2026-0001`` (a certificate number); None for anything else."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lstrip("#")
    if cleaned.isdigit() and len(cleaned) <= 12:
        return int(cleaned)
    if CERTIFICATE_NO.match(cleaned):
        return cleaned.upper()
    return None


async def certificate(session: AsyncSession, caller: Caller, reference: int | str) -> Certificate:
    """A return by id or certificate number, for whoever may see its customer or asked for it.

    One that is not theirs is answered as one that does not exist: numbers must not be probed.
    """
    require(caller, Permission.VIEW_CUSTOMERS)
    rep, asker, decider = aliased(User), aliased(User), aliased(User)
    query = (
        select(
            SalesReturn,
            Customer,
            rep.name,
            asker.name,
            Receivable.invoice_no,
            Approval.status,
            Approval.payload,
            decider.name,
            Approval.decided_at,
            CreditNote.number,
        )
        .join(Customer, Customer.id == SalesReturn.customer_id)
        .join(asker, asker.id == SalesReturn.requested_by)
        .outerjoin(rep, rep.id == SalesReturn.rep_id)
        .outerjoin(Receivable, Receivable.id == SalesReturn.receivable_id)
        .outerjoin(Approval, Approval.id == SalesReturn.approval_id)
        .outerjoin(decider, decider.id == Approval.decided_by)
        .outerjoin(CreditNote, CreditNote.return_id == SalesReturn.id)
    )
    query = query.where(
        SalesReturn.id == reference if isinstance(reference, int) else CreditNote.number == reference
    )
    row = (await session.execute(query)).one_or_none()
    if row is None or not (customers.is_in_scope(caller, row[1]) or row[0].requested_by == caller.id):
        raise NotFound(
            N_("There is no return {reference}."),
            reference=f"#{reference}" if isinstance(reference, int) else reference,
        )
    (
        sales_return,
        customer,
        rep_name,
        asker_name,
        invoice_no,
        status,
        payload,
        decided_by,
        decided_at,
        number,
    ) = row
    payload = dict(payload or {})
    settled = tuple(
        Applied(str(line.get("invoice_no", "")), Decimal(str(line.get("amount", "0"))), ZERO)
        for line in payload.get("settled", [])
    )
    return Certificate(
        return_id=sales_return.id,
        status=status or ApprovalStatus.PENDING,
        number=number,
        customer=CustomerRef.of(customer),
        rep=rep_name,
        requested_by=asker_name,
        requested_at=sales_return.requested_at,
        invoice_no=invoice_no,
        items=tuple(
            ReturnItem(str(i.get("product", "")), str(i.get("quantity", "")))
            for i in sales_return.items or []
        ),
        amount=sales_return.amount,
        reason=sales_return.reason,
        decided_by=decided_by if status != ApprovalStatus.PENDING else None,
        decided_at=decided_at,
        settled=settled,
        kept=Decimal(str(payload.get("kept", "0"))),
    )


async def printable(session: AsyncSession, caller: Caller, return_id: int) -> Certificate:
    """A certificate to print (the Print button): approved ones only."""
    found = await certificate(session, caller, return_id)
    if found.number is None:
        raise AccessDenied(
            N_("Return #{id} has no certificate: it was not approved.")
            if found.status != ApprovalStatus.PENDING
            else N_("Return #{id} is waiting for approval: the certificate comes once it is approved."),
            id=return_id,
        )
    return found
