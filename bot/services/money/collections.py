"""Collections (收款): recording money, settling invoices oldest first, reversals and hand-ins.

Rules kept here:

* A collection settles the customer's open receivables oldest first (due date, then issue
  date, then id), one ``Allocation`` per receivable; what is left over stays on the
  collection as unapplied credit (amount − allocations), never lost: it is the customer's
  ``customers.credit`` (kept by the database) and settles their next invoice
  (:func:`bot.services.money.ledger.apply_credit`, allocations of this collection marked
  ``from_credit``).
* More than the customer owes (anything, when they owe nothing) is not recorded unless the
  caller confirms it: :func:`record` answers :class:`OverCollection` (what they owe, what would
  be kept as credit) and writes nothing; the same call with ``confirmed`` records it, keyed by
  the same update, so a second Confirm records nothing more.
* Collections are never edited or deleted. A correction is a new collection of the negative
  amount that ``reverses`` the original, with negative allocations mirroring *all* the
  original's (kind by kind: what it settled as recorded and its credit applied later), so every
  invoice it settled is open again and its credit is gone; the customer's other credit, if
  any, then settles what reopened, in the same transaction. A collection is reversed at most once.
* The rep may undo their own collection for ``UNDO_WINDOW``; afterwards a manager (own
  team), the director, finance or an admin reverses it, with a reason: ``/reverse`` first
  shows what would be reversed (:func:`preview_reversal`, nothing written), and the press of
  Confirm checks it all again and writes (:func:`reverse`). Whoever recorded the collection
  is told, through the outbox, by whom and why.
* Cash and cheques are held by the rep (``handed_in_at`` empty) until finance confirms the
  hand-in. An electronic payment (bank transfer, WeChat Pay, Alipay, card) reaches the
  company's account directly: it is stored with ``handed_in_at = received_at`` and no
  ``confirmed_by`` (handed in automatically; the audit entry says so). A reversal is stored
  the same way: there is nothing to hand in for it, and a reversed collection no longer
  counts as held. The partial index of money not handed in therefore holds cash and cheques
  only (``payment_methods``).
* A payment method is a word of ``payment_methods.ALIASES``. A word the bot does not know is
  never taken for cash: the line is read with no method, and the handler asks which one.
* Every write is keyed by the Telegram update that caused it (``source_key``): the same
  update twice, or a second press of a button, finds the first result instead of writing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Row,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, Translator
from bot.services import audit, company, outbox
from bot.services.calendar import next_allowed
from bot.services.errors import AccessDenied, Conflict, Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Lead, Resolution
from bot.services.money import ledger, payment_methods
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.money.ledger import Applied, OpenInvoices, oldest_open_first
from bot.services.people.access import Caller, Permission, require
from bot.text import search_key
from models import Allocation, Collection, Customer, Money, PaymentMethod, Receivable, Role, User
from models.base import column_values

UNDO_WINDOW = timedelta(minutes=10)
UNDO_REASON = "undone by the rep"
#: The outbox job of the push telling a rep their collection was reversed.
NOTICE_JOB = "corrections"
HELD_METHODS = payment_methods.HELD_METHODS
MAX_RECEIPT = 60
MAX_REASON = 300
ZERO = Decimal("0.00")

USAGE = N_(
    "Write it like this: /collect CUSTOMER: AMOUNT [METHOD] [RECEIPT NO]\n"
    "Methods: cash, transfer, cheque, wechat, alipay, card (or 现金, 转账, 支票, 微信, 支付宝, 刷卡); "
    "none given means cash.\n"
    "Example: /collect Acme: 5,000 cash R-1024"
)
_CURRENCY_PREFIXES = frozenset({"¥", "rmb", "cny"})
_AMOUNT_SUFFIXES = frozenset({"万", "千", "元", "块", "块钱", "yuan", "rmb", "cny"})
_DIGIT_GROUP = re.compile(r"\d{3}")


# -- reading what the rep typed ------------------------------------------------------------------


def parse_method(text: str) -> PaymentMethod | None:
    """A payment method's word in English or Chinese (``payment_methods.ALIASES``), else None."""
    return payment_methods.parse_method(text)


def clean_receipt(text: str | None) -> str | None:
    receipt = " ".join((text or "").split())
    if len(receipt) > MAX_RECEIPT:
        raise Invalid(N_("A receipt number has at most {limit} characters."), limit=MAX_RECEIPT)
    return receipt or None


@dataclass(frozen=True)
class CollectionLine:
    """``/collect CUSTOMER: AMOUNT [METHOD] [RECEIPT]``, read.

    ``method`` is None when the rep named a method the bot does not know (``unknown_method``,
    the word as typed): it must be asked for, never assumed.
    """

    customer: str
    amount: Decimal
    method: PaymentMethod | None
    receipt_no: str | None
    unknown_method: str | None = None


def split_customer(text: str) -> tuple[str, str] | None:
    """(customer, rest) split at the first ``:`` or ``：``; None when there is no colon."""
    match = re.search(r"[:：]", text)
    if match is None:
        return None
    return text[: match.start()].strip(), text[match.end() :].strip()


def parse_collection_line(text: str) -> CollectionLine:
    """Read a one-line collection, or :class:`Invalid` saying what is wrong.

    After the colon: the amount first (``¥ 5000`` and ``1.5 万`` count as one amount), then,
    in any order, at most one payment method and at most one receipt number (one word). Three
    digits right after a plain number (``5 000``) are refused as ambiguous rather than read as a
    receipt number. How the words after the amount are told apart:

    * a known method word (``payment_methods.ALIASES``, also written in two words such as
      ``bank transfer`` or ``微信 支付``) is the method; with one, any other word is the receipt;
    * with no known method word, a word with a digit in it (``R-1029``, ``1029``) is the receipt
      and the method is cash, the usual case (the reply says "cash");
    * with no known method word, a word without any digit (``paypal``, ``网付``) is a method the
      bot does not know: the line is read with ``method=None`` so that the rep is asked. It is
      never cash, and never a receipt number.
    """
    parts = split_customer(text)
    if parts is None or not parts[0]:
        raise Invalid(USAGE)
    customer, rest = parts
    words = rest.split()
    if not words:
        raise Invalid(N_("Write the amount after the colon.\n{usage}"), usage=USAGE)
    taken = 1
    amount_text = words[0]
    if _fold(amount_text) in _CURRENCY_PREFIXES and len(words) > 1:
        amount_text, taken = amount_text + words[1], 2
    while taken < len(words) and _fold(words[taken]) in _AMOUNT_SUFFIXES:
        amount_text, taken = amount_text + words[taken], taken + 1
    amount = parse_amount(amount_text)
    extras = words[taken:]
    if extras and _DIGIT_GROUP.fullmatch(_fold(extras[0])) and _fold(amount_text).isdigit():
        raise Invalid(
            N_("Is {text} one amount? Write amounts without spaces, like 5000 or 5,000."),
            text=f"{amount_text} {extras[0]}",
        )
    # A "word" of invisible characters only (a zero-width space pasted along) is no word at all.
    method, others = _methods_and_others([word for word in extras if search_key(word)])
    if method is not None:
        if len(others) > 1:
            raise _not_understood(others[1])
        return CollectionLine(customer, amount, method, clean_receipt(others[0] if others else None))
    receipts = [word for word in others if _has_digit(word)]
    unknown = [word for word in others if not _has_digit(word)]
    surplus = receipts[1:] + unknown[1:]
    if surplus:
        raise _not_understood(surplus[0])
    receipt = clean_receipt(receipts[0] if receipts else None)
    if unknown:
        return CollectionLine(customer, amount, None, receipt, unknown_method=unknown[0])
    return CollectionLine(customer, amount, PaymentMethod.CASH, receipt)


def _methods_and_others(words: list[str]) -> tuple[PaymentMethod | None, list[str]]:
    """The one method the words name (None if none), and the words that are not a method's."""
    method: PaymentMethod | None = None
    others: list[str] = []
    at = 0
    while at < len(words):
        found = payment_methods.method_at(words, at)
        if found is None:
            others.append(words[at])
            at += 1
            continue
        if method is not None:
            raise _not_understood(" ".join(words[at : at + found[1]]))
        method, at = found[0], at + found[1]
    return method, others


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in unicodedata.normalize("NFKC", word))


def _not_understood(word: str) -> Invalid:
    return Invalid(
        N_(
            "I don't understand {word} after the amount: give at most one payment "
            "method and one receipt number.\n{usage}"
        ),
        word=word,
        usage=USAGE,
    )


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKC", word).lower()


# -- what the services return --------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """One invoice a collection (or its reversal) touched: how much, and what is open now."""

    invoice_no: str
    applied: Decimal
    remaining: Decimal


@dataclass(frozen=True)
class Recorded:
    id: int
    customer: CustomerRef
    amount: Decimal
    method: PaymentMethod
    receipt_no: str | None
    settled: tuple[Settled, ...]
    unapplied: Decimal
    #: Cash or a cheque the rep holds until finance confirms the hand-in.
    held: bool
    undo_until: datetime
    #: True when this update had already recorded it (a redelivery): nothing new was written.
    already: bool = False
    #: The customer's unapplied credit now, this collection's excess included.
    credit: Decimal = ZERO


@dataclass(frozen=True)
class OverCollection:
    """Nothing written: the amount is more than the customer owes (or they owe nothing), so the
    excess would be kept as credit. The caller is asked first; confirmed, it is recorded."""

    customer: CustomerRef
    amount: Decimal
    method: PaymentMethod
    receipt_no: str | None
    owed: Decimal  # the customer's open balance
    excess: Decimal  # what would be kept as credit
    credit: Decimal  # the credit the customer holds already


@dataclass(frozen=True)
class Reversed:
    id: int
    original_id: int
    customer: CustomerRef
    amount: Decimal  # the original amount, positive
    reason: str
    reopened: tuple[Settled, ...]
    already: bool = False
    #: The name of whoever recorded the collection, when a push tells them of the reversal.
    told: str | None = None
    #: The customer's other credit, used at once on the invoices the reversal reopened.
    credit_applied: tuple[Applied, ...] = ()


@dataclass(frozen=True)
class ReversalPreview:
    """What ``/reverse`` would reverse, shown before anything is written."""

    id: int
    customer: CustomerRef
    amount: Decimal
    method: PaymentMethod
    receipt_no: str | None
    rep: str  # the name of the rep whose collection it is
    received_at: datetime
    #: What it settled, per invoice, with each invoice's open amount now.
    settled: tuple[Settled, ...]
    unapplied: Decimal
    reason: str
    #: Who will be told once it is reversed (whoever recorded it), or None.
    told: str | None = None


# -- recording -----------------------------------------------------------------------------------


def check_may_collect(caller: Caller) -> None:
    require(caller, Permission.RECORD_COLLECTION)


async def resolve_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """The customer a collector typed: one, a few candidates, or "no customer matches"."""
    check_may_collect(caller)
    return await customers.resolve_one(session, caller, text)


async def resolve_leading(session: AsyncSession, caller: Caller, text: str) -> Lead:
    """``/collect 鑫源建材 500``: the customer the first words name, and the rest of the line."""
    check_may_collect(caller)
    return await customers.resolve_leading(session, caller, text)


async def customer_for_collection(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """A customer id from a button, re-authorised: only the caller's own (or team's) customers."""
    check_may_collect(caller)
    return CustomerRef.of(await customers.get_in_scope(session, caller, customer_id))


async def _open_total(session: AsyncSession, customer_id: int) -> Decimal:
    total = await session.scalar(
        select(type_coerce(func.sum(Receivable.open_amount), Money())).where(
            Receivable.customer_id == customer_id, ledger.is_open()
        )
    )
    return total or ZERO


#: Statements every collection runs, built once (building one per call cost more than running it).
_COLLECTIONS = Collection.__table__
_BY_KEY = select(_COLLECTIONS.c.id).where(_COLLECTIONS.c.source_key == bindparam("source_key"))
_INSERT_COLLECTION = insert(_COLLECTIONS).returning(_COLLECTIONS.c.id)
_INSERT_ALLOCATIONS = insert(Allocation.__table__)


async def _oldest_open_first(session: AsyncSession, customer_id: int, amount: Decimal) -> OpenInvoices:
    return await oldest_open_first(session, customer_id, amount)


async def _settled(session: AsyncSession, collection_id: int) -> tuple[Settled, ...]:
    """What a collection applied to each invoice, with each invoice's open amount now.

    Per invoice, net: as it was recorded, and its credit applied later to new invoices (less any
    given back by a void), so a reversal's preview lists every invoice it will reopen.
    """
    applied = type_coerce(func.sum(Allocation.amount), Money())
    rows = await session.execute(
        select(Receivable.invoice_no, applied, Receivable.open_amount)
        .join(Receivable, Allocation.receivable_id == Receivable.id)
        .where(Allocation.collection_id == collection_id)
        .group_by(
            Receivable.id,
            Receivable.invoice_no,
            Receivable.open_amount,
            Receivable.due_on,
            Receivable.issued_on,
        )
        .having(func.sum(Allocation.amount) != 0)
        .order_by(Receivable.due_on, Receivable.issued_on, Receivable.id)
    )
    return tuple(Settled(invoice_no, abs(amount), remaining) for invoice_no, amount, remaining in rows)


async def _recorded(session: AsyncSession, collection: Collection, *, already: bool) -> Recorded:
    customer = await session.get_one(Customer, collection.customer_id)
    settled = await _settled(session, collection.id)
    return Recorded(
        id=collection.id,
        customer=CustomerRef.of(customer),
        amount=collection.amount,
        method=collection.method,
        receipt_no=collection.receipt_no,
        settled=settled,
        unapplied=collection.amount - sum((s.applied for s in settled), ZERO),
        held=collection.handed_in_at is None,
        undo_until=collection.created_at + UNDO_WINDOW,
        already=already,
        credit=await ledger.credit_of(session, customer.id),
    )


async def _by_key(session: AsyncSession, source_key: str) -> Collection | None:
    """The collection ``source_key`` recorded, if any (its id first: on the usual path there is none)."""
    found = await session.scalar(_BY_KEY, {"source_key": source_key})
    return None if found is None else await session.get_one(Collection, found)


async def record(
    session: AsyncSession,
    caller: Caller,
    *,
    customer_id: int,
    amount: Decimal,
    method: PaymentMethod,
    receipt_no: str | None,
    source_key: str,
    now: datetime,
    confirmed: bool = False,
) -> Recorded | OverCollection:
    """Record money the caller received and settle the customer's oldest open invoices with it.

    More than the customer owes (or anything from a customer who owes nothing) is not written
    unless ``confirmed``: :class:`OverCollection` says what would be kept as credit, to ask first.
    """
    check_may_collect(caller)
    existing = await _by_key(session, source_key)
    if existing is not None:
        return await _recorded(session, existing, already=True)
    # Locking the customer's row serialises their collections: two at once must not settle one invoice.
    customer = await customers.get_in_scope(session, caller, customer_id, for_update=True)
    amount = parse_amount(str(amount))  # the same rules, whoever calls
    receipt_no = clean_receipt(receipt_no)
    invoices = await _oldest_open_first(session, customer.id, amount)
    # Read under the lock, in this transaction's first load of the row: current.
    credit_before = customer.credit
    if amount > invoices.total and not confirmed:
        return OverCollection(
            CustomerRef.of(customer),
            amount,
            method,
            receipt_no,
            owed=invoices.total,
            excess=amount - invoices.total,
            credit=credit_before,
        )
    # An electronic payment is handed in as it is recorded (by nobody: confirmed_by stays NULL).
    rep_holds = payment_methods.is_held(method)
    collection = Collection(
        rep_id=caller.id,
        customer_id=customer.id,
        amount=amount,
        method=method,
        receipt_no=receipt_no,
        received_at=now,
        handed_in_at=None if rep_holds else now,
        confirmed_by=None,
        recorded_by=caller.id,
        source_key=source_key,
        created_at=now,
    )
    collection.id = await session.scalar(_INSERT_COLLECTION, column_values(collection))  # no unit of work
    left = amount
    settled: list[Settled] = []
    for _receivable_id, invoice_no, open_ in invoices.reached:
        applied = min(open_, left)
        settled.append(Settled(invoice_no, applied, open_ - applied))
        left -= applied
    if settled:  # one INSERT, however many invoices it settles
        await session.execute(
            _INSERT_ALLOCATIONS,
            [
                {"collection_id": collection.id, "receivable_id": receivable_id, "amount": line.applied}
                for (receivable_id, _, _), line in zip(invoices.reached, settled, strict=True)
            ],
        )
    result = Recorded(
        id=collection.id,
        customer=CustomerRef.of(customer),
        amount=amount,
        method=method,
        receipt_no=receipt_no,
        settled=tuple(settled),
        unapplied=left,
        held=collection.handed_in_at is None,
        undo_until=collection.created_at + UNDO_WINDOW,
        already=False,
        credit=credit_before + left,
    )
    audit.record(
        session,
        actor_id=caller.id,
        action="collection.record",
        entity="collection",
        entity_id=collection.id,
        at=now,
        before={"customer_id": customer.id, "customer_open": str(invoices.total)},
        after={
            "customer_id": customer.id,
            "amount": str(amount),
            "method": method.value,
            "receipt_no": receipt_no,
            "customer_open": str(invoices.total - (amount - left)),
            "settled": [{"invoice_no": s.invoice_no, "amount": str(s.applied)} for s in result.settled],
            "unapplied": str(left),
            "customer_credit": str(credit_before + left),
            "held": result.held,
            # Electronic: in the company's account already, no one confirmed a hand-in.
            "handed_in_at": None if rep_holds else now.isoformat(),
            "handed_in": None if rep_holds else "automatic: electronic payment",
        },
    )
    return result


# -- reversing -----------------------------------------------------------------------------------


async def _original_for_update(session: AsyncSession, collection_id: int, *, lock: bool = True) -> Collection:
    query = select(Collection).where(Collection.id == collection_id)
    original = await session.scalar(query.with_for_update() if lock else query)
    if original is None:
        raise NotFound(N_("There is no collection #{id}."), id=collection_id)
    return original


async def _reversal_of(session: AsyncSession, collection_id: int) -> Collection | None:
    return await session.scalar(select(Collection).where(Collection.reverses_id == collection_id))


async def _reversed(session: AsyncSession, reversal: Collection, *, already: bool) -> Reversed:
    assert reversal.reverses_id is not None
    customer = await session.get_one(Customer, reversal.customer_id)
    return Reversed(
        id=reversal.id,
        original_id=reversal.reverses_id,
        customer=CustomerRef.of(customer),
        amount=-reversal.amount,
        reason=reversal.reason or "",
        reopened=await _settled(session, reversal.id),
        already=already,
    )


async def undo(
    session: AsyncSession, caller: Caller, collection_id: int, *, source_key: str, now: datetime
) -> Reversed:
    """The rep takes back their own collection within ``UNDO_WINDOW`` (the Undo button)."""
    check_may_collect(caller)
    original = await _original_for_update(session, collection_id)
    if original.rep_id != caller.id or original.reverses_id is not None:
        raise AccessDenied(N_("That collection is not yours to undo."))
    done = await _by_key(session, source_key) or await _reversal_of(session, original.id)
    if done is not None:
        return await _reversed(session, done, already=True)
    if now - original.created_at > UNDO_WINDOW:
        raise Conflict(
            N_(
                "The 10 minutes to undo collection #{id} have passed. Ask your manager or "
                "finance to reverse it."
            ),
            id=original.id,
        )
    if original.confirmed_by is not None:
        raise Conflict(
            N_("Finance has already confirmed the hand-in of collection #{id}: ask finance to reverse it."),
            id=original.id,
        )
    return await _write_reversal(session, caller, original, UNDO_REASON, source_key, now)


def clean_reason(reason: str) -> str:
    """A reversal's reason on one line, or :class:`Invalid` when missing or too long."""
    reason = " ".join(reason.split())
    if not reason:
        raise Invalid(N_("Give the reason: /reverse ID REASON"))
    if len(reason) > MAX_REASON:
        raise Invalid(N_("The reason has at most {limit} characters."), limit=MAX_REASON)
    return reason


async def _reversible(session: AsyncSession, caller: Caller, collection_id: int, *, lock: bool) -> Collection:
    """The collection ``caller`` may reverse now: in their scope, not a reversal, not reversed yet."""
    original = await _original_for_update(session, collection_id, lock=lock)
    if caller.role == Role.MANAGER:
        team_id = await session.scalar(select(User.team_id).where(User.id == original.rep_id))
        if team_id is None or team_id != caller.team_id:
            # Answered as for an id that does not exist: another team's ids must not be probed.
            raise NotFound(N_("There is no collection #{id}."), id=collection_id)
    if original.reverses_id is not None:
        raise Invalid(N_("#{id} is itself a reversal and cannot be reversed."), id=original.id)
    earlier = await _reversal_of(session, original.id)
    if earlier is not None:
        raise Conflict(
            N_("Collection #{id} was already reversed (#{reversal})."), id=original.id, reversal=earlier.id
        )
    return original


async def preview_reversal(
    session: AsyncSession, caller: Caller, collection_id: int, reason: str
) -> ReversalPreview:
    """``/reverse ID REASON``: what would be reversed, checked as the reversal itself is; writes nothing."""
    require(caller, Permission.REVERSE_COLLECTION)
    reason = clean_reason(reason)
    original = await _reversible(session, caller, collection_id, lock=False)
    customer = await session.get_one(Customer, original.customer_id)
    settled = await _settled(session, original.id)
    recorder = await _recorder_to_tell(session, caller, original)
    return ReversalPreview(
        id=original.id,
        customer=CustomerRef.of(customer),
        amount=original.amount,
        method=original.method,
        receipt_no=original.receipt_no,
        rep=await _rep_name(session, original.rep_id),
        received_at=original.received_at,
        settled=settled,
        unapplied=original.amount - sum((line.applied for line in settled), ZERO),
        reason=reason,
        told=recorder.name if recorder is not None else None,
    )


async def reverse(
    session: AsyncSession,
    caller: Caller,
    collection_id: int,
    reason: str,
    *,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
) -> Reversed:
    """Confirming ``/reverse``: a manager (own team's reps), the director, finance or an admin.

    Everything the preview checked is checked again as the button is pressed (the caller's
    scope, and that nobody reversed it meanwhile). The rep who recorded the collection is told,
    through the outbox, once.
    """
    require(caller, Permission.REVERSE_COLLECTION)
    reason = clean_reason(reason)
    done = await _by_key(session, source_key)
    if done is not None and done.reverses_id is not None:
        return await _reversed(session, done, already=True)
    original = await _reversible(session, caller, collection_id, lock=True)
    result = await _write_reversal(session, caller, original, reason, source_key, now)
    told = await _tell_recorder(session, caller, original, result, now, zone)
    return replace(result, told=told)


async def _tell_recorder(
    session: AsyncSession,
    caller: Caller,
    original: Collection,
    result: Reversed,
    now: datetime,
    zone: ZoneInfo,
) -> str | None:
    """Queue the push telling whoever recorded ``original`` that it was reversed, why and by whom.

    Their name, or None when nobody is told (they reversed it themselves, or were deactivated).
    """
    recorder = await _recorder_to_tell(session, caller, original)
    if recorder is None:
        return None
    t = Translator(recorder.language or "en")
    await outbox.enqueue(
        session,
        recipient_id=original.recorded_by,
        job=NOTICE_JOB,
        dedup_key=f"reversal:{result.id}",
        text=render_reversal_notice(t, original, result, caller.name, zone),
        now=now,
        not_before=next_allowed(now, await company.load(session), zone),
    )
    return str(recorder.name)


async def _recorder_to_tell(
    session: AsyncSession, caller: Caller, original: Collection
) -> Row[str, str | None] | None:
    """Whoever recorded ``original`` (name, language), unless it is the caller or they are deactivated."""
    if original.recorded_by == caller.id:
        return None
    return (
        await session.execute(
            select(User.name, User.language).where(User.id == original.recorded_by, User.active)
        )
    ).one_or_none()


def render_reversal_notice(
    t: Translator, original: Collection, result: Reversed, by: str, zone: ZoneInfo
) -> str:
    """The push to the rep whose collection was reversed (composed where it is queued)."""
    lines = [
        t(
            N_(
                "↩ Your collection #{id} ({amount}, {method}) from {customer}, received {day}, was "
                "reversed by {name}."
            ),
            id=original.id,
            amount=format_amount(original.amount),
            method=t.gettext(payment_methods.LABELS[original.method]),
            customer=result.customer.label,
            day=original.received_at.astimezone(zone).date().isoformat(),
            name=by,
        ),
        t(N_("Reason: {reason}"), reason=result.reason),
    ]
    if result.reopened:
        lines.append(t(N_("The invoices it settled are open again.")))
    return "\n".join(lines)


async def _write_reversal(
    session: AsyncSession, caller: Caller, original: Collection, reason: str, source_key: str, now: datetime
) -> Reversed:
    await session.execute(select(Customer.id).where(Customer.id == original.customer_id).with_for_update())
    open_before = await _open_total(session, original.customer_id)
    was_held = original.method in HELD_METHODS and original.handed_in_at is None
    reversal = Collection(
        rep_id=original.rep_id,
        customer_id=original.customer_id,
        amount=-original.amount,
        method=original.method,
        receipt_no=original.receipt_no,
        received_at=now,
        handed_in_at=now,
        confirmed_by=None,
        reverses_id=original.id,
        reason=reason,
        recorded_by=caller.id,
        source_key=source_key,
        created_at=now,
    )
    session.add(reversal)
    await session.flush()
    # Everything the original applied is taken back, kind by kind: what it settled as it was
    # recorded, and its credit applied later to other invoices (which reopen too).
    await session.execute(
        insert(Allocation).from_select(
            ["collection_id", "receivable_id", "from_credit", "amount"],
            select(
                literal(reversal.id),
                Allocation.receivable_id,
                Allocation.from_credit,
                -func.sum(Allocation.amount),
            )
            .where(Allocation.collection_id == original.id)
            .group_by(Allocation.receivable_id, Allocation.from_credit)
            .having(func.sum(Allocation.amount) != 0),
        )
    )
    result = await _reversed(session, reversal, already=False)
    # The customer's other credit, if any, settles what just reopened.
    used = await ledger.apply_credit(
        session, original.customer_id, actor_id=caller.id, now=now, why="reversal"
    )
    if used:
        result = replace(result, credit_applied=used, reopened=await _settled(session, reversal.id))
    audit.record(
        session,
        actor_id=caller.id,
        action="collection.reverse",
        entity="collection",
        entity_id=original.id,
        at=now,
        before={
            "amount": str(original.amount),
            "reversed": False,
            "held": was_held,
            "customer_open": str(open_before),
        },
        after={
            "reversed": True,
            "reversal_id": reversal.id,
            "amount": str(reversal.amount),
            "reason": reason,
            "held": False,
            "customer_open": str(
                open_before
                + sum((s.applied for s in result.reopened), ZERO)
                - ledger.applied_total(result.credit_applied)
            ),
            "reopened": [{"invoice_no": s.invoice_no, "amount": str(s.applied)} for s in result.reopened],
        },
    )
    return result


# -- hand-ins (deposits) -------------------------------------------------------------------------


def held() -> ColumnElement[bool]:
    """Cash or a cheque the rep still holds: not handed in, not a reversal, not reversed."""
    reversal = aliased(Collection)
    return (
        Collection.method.in_(HELD_METHODS)
        & Collection.handed_in_at.is_(None)
        & Collection.reverses_id.is_(None)
        & ~exists().where(reversal.reverses_id == Collection.id)
    )


@dataclass(frozen=True)
class RepHolding:
    rep_id: int
    name: str
    count: int
    total: Decimal
    #: The newest held collection: "confirm all" confirms up to this one, i.e. what was shown.
    last_id: int


@dataclass(frozen=True)
class HeldCollection:
    id: int
    rep_id: int
    customer: str
    amount: Decimal
    method: PaymentMethod
    receipt_no: str | None
    received_at: datetime


@dataclass(frozen=True)
class Holdings:
    reps: list[RepHolding]
    items: list[HeldCollection]  # this page's
    page: int
    pages: int

    @property
    def count(self) -> int:
        return sum(rep.count for rep in self.reps)

    @property
    def total(self) -> Decimal:
        return sum((rep.total for rep in self.reps), ZERO)


async def holdings(session: AsyncSession, caller: Caller, *, page: int = 1, per_page: int = 8) -> Holdings:
    """Cash and cheques waiting for hand-in: totals per rep, and one page of the collections."""
    require(caller, Permission.CONFIRM_DEPOSITS)
    per_rep = await session.execute(
        select(
            Collection.rep_id,
            User.name,
            func.count(Collection.id),
            type_coerce(func.sum(Collection.amount), Money()),
            func.max(Collection.id),
        )
        .join(User, User.id == Collection.rep_id)
        .where(held())
        .group_by(Collection.rep_id, User.name)
        .order_by(User.name, Collection.rep_id)
    )
    reps = [
        RepHolding(rep_id, name, count, total, last_id) for rep_id, name, count, total, last_id in per_rep
    ]
    count = sum(rep.count for rep in reps)
    pages = max(1, -(-count // per_page))
    page = min(max(page, 1), pages)
    rows = await session.execute(
        select(Collection, Customer.name)
        .join(Customer, Customer.id == Collection.customer_id)
        .join(User, User.id == Collection.rep_id)
        .where(held())
        .order_by(User.name, Collection.rep_id, Collection.received_at, Collection.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        HeldCollection(c.id, c.rep_id, name, c.amount, c.method, c.receipt_no, c.received_at)
        for c, name in rows
    ]
    return Holdings(reps, items, page, pages)


@dataclass(frozen=True)
class Confirmed:
    rep_name: str
    count: int
    total: Decimal
    #: Nothing was waiting any more (a double tap, or someone else confirmed first).
    already: bool


async def _rep_name(session: AsyncSession, rep_id: int) -> str:
    return await session.scalar(select(User.name).where(User.id == rep_id)) or ""


def _confirm(session: AsyncSession, caller: Caller, rows: list[Collection], now: datetime) -> None:
    """Mark ``rows`` handed in, with one audit record each (staged; flushed as one batch)."""
    for row in rows:
        row.handed_in_at, row.confirmed_by = now, caller.id
        audit.record(
            session,
            actor_id=caller.id,
            action="deposit.confirm",
            entity="collection",
            entity_id=row.id,
            at=now,
            before={
                "handed_in_at": None,
                "confirmed_by": None,
                "amount": str(row.amount),
                "rep_id": row.rep_id,
            },
            after={
                "handed_in_at": now.isoformat(),
                "confirmed_by": caller.id,
                "amount": str(row.amount),
                "rep_id": row.rep_id,
            },
        )


async def confirm_one(
    session: AsyncSession, caller: Caller, collection_id: int, *, now: datetime
) -> Confirmed:
    """Finance confirms one collection's cash or cheque reached them; again is a no-op."""
    require(caller, Permission.CONFIRM_DEPOSITS)
    row = await session.scalar(select(Collection).where(Collection.id == collection_id).with_for_update())
    if row is None:
        raise NotFound(N_("There is no collection #{id}."), id=collection_id)
    if row.reverses_id is not None or row.method not in HELD_METHODS:
        raise Invalid(N_("Collection #{id} needs no hand-in."), id=row.id)
    name = await _rep_name(session, row.rep_id)
    if row.handed_in_at is not None:
        return Confirmed(name, 0, ZERO, already=True)
    if await _reversal_of(session, row.id) is not None:
        raise Conflict(N_("Collection #{id} was reversed: there is nothing to hand in."), id=row.id)
    _confirm(session, caller, [row], now)
    return Confirmed(name, 1, row.amount, already=False)


async def confirm_rep(
    session: AsyncSession, caller: Caller, rep_id: int, up_to_id: int, *, now: datetime
) -> Confirmed:
    """Confirm every held collection of one rep up to ``up_to_id`` (what finance was shown).

    A collection the rep records after finance opened the list is left for the next look.
    """
    require(caller, Permission.CONFIRM_DEPOSITS)
    rows = list(
        await session.scalars(
            select(Collection)
            .where(held(), Collection.rep_id == rep_id, Collection.id <= up_to_id)
            .order_by(Collection.id)
            .with_for_update()
        )
    )
    name = await _rep_name(session, rep_id)
    if not rows:
        return Confirmed(name, 0, ZERO, already=True)
    _confirm(session, caller, rows, now)
    return Confirmed(name, len(rows), sum((row.amount for row in rows), ZERO), already=False)
