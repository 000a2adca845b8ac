"""Requests that wait for a manager: discounts (/discount) and orders past the credit limit.

A rep's discount request (the regulations' "preferential sales request", part 4
art. 6) is written here; an over-limit order's request is written by
``bot/services/money/orders.py``. Either way the approvers — the managers of the
customer's team, or the directors when the team has none who can be reached —
get a push with Approve / Reject buttons, queued in the outbox under
``approval:<id>:<approver id>`` so it goes out once whoever queues it:
:func:`notify_approvers` right after a request is written, :func:`notify_pending`
as a sweep for requests written elsewhere.

A pending request is decided once: the decision is a conditional UPDATE on
``status = pending``, so of two approvers pressing at the same moment one
wins and the other is told who did. The requesting rep hears the decision
through the outbox (``approval:<id>:decision``).

A return of goods (``/return``, ``bot/services/money/returns.py``) waits here too (kind ``return``):
approving it issues the numbered return certificate and its credit note in the approval's
transaction (``bot/services/money/credit_notes.py``), whose number and settlement are kept on the request's
payload for the texts below; the requester's notice carries the certificate's print buttons.
Rejecting it changes nothing in the ledger.

Rejecting an over-limit order voids its receivable in the same transaction
(:func:`bot.services.money.ledger.void`: a void, never a delete), so it leaves the
customer's balance, /overdue and the credit checks at once; if money was
already applied to it the rejection is refused until that collection is
reversed. An order undone by whoever placed it closes its pending request as
``withdrawn`` (:func:`withdraw`): nobody is left to decide it, and an
approver who presses a button on the old push is told so.

The texts of these pushes are composed here, where they are queued (as the
scheduled jobs compose theirs), and reused by the handler that edits an
approver's message once the request is decided.

Who may decide a request is one rule, :func:`check_decider`: the Approve /
Reject buttons apply it, and ``/approvals`` (:func:`to_decide`) lists exactly the
pending requests it lets the caller decide, so the list never offers what a
button would refuse. A requester finds their own requests with
:func:`own_requests`: those waiting, and those decided in the last week.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, cast, exists, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, Translator
from bot.services import audit, company, outbox
from bot.services.calendar import next_allowed
from bot.services.errors import AccessDenied, Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.money import credit_notes, ledger
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.outbox import Buttons
from bot.services.people.access import Caller, Permission, require
from models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Customer,
    Outbox,
    Receivable,
    Role,
    SalesReturn,
    User,
)

JOB = "approvals"
MAX_REASON = 300
#: Requests the sweep handles per call; the rest wait for the next one.
SWEEP_BATCH = 50
_PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?$")
_CURRENCY_WORDS = {"¥", "rmb", "cny"}
_UNIT_WORDS = {"元", "万", "千", "k", "w", "rmb", "cny", "yuan"}


# -- what a request is ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscountTerms:
    """A percentage or an amount off, and why."""

    percent: Decimal | None
    amount: Decimal | None
    reason: str

    def payload(self) -> dict[str, str]:
        value = {"percent": str(self.percent)} if self.percent is not None else {"amount": str(self.amount)}
        return {**value, "reason": self.reason}


@dataclass(frozen=True)
class ApprovalView:
    """A request as approvers and the requester see it."""

    id: int
    kind: ApprovalKind
    status: ApprovalStatus
    requested_by: int
    requester: str
    customer: CustomerRef
    team_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


#: What ``/summary`` lists as waiting for the caller.
PendingApproval = ApprovalView


@dataclass(frozen=True)
class DiscountRequest:
    view: ApprovalView
    repeated: bool  # this update had already made the request (a redelivery, a second tap)


@dataclass(frozen=True)
class Decision:
    view: ApprovalView
    decided_now: bool  # False: it had already been decided (a double tap, or another approver first)


# -- reading "/discount Acme: 5% long-time customer" ----------------------------------------------


def read_discount(text: str) -> DiscountTerms:
    """``5% reason``, ``5％ reason``, ``500 reason``, ``¥ 1.5万 reason``: the discount, then why."""
    tokens = unicodedata.normalize("NFKC", text).split()
    if not tokens:
        raise Invalid(
            N_(
                "Write the discount after the colon, then the reason, e.g. "
                "/discount Acme: 5% order of 200 cases"
            )
        )
    first = tokens.pop(0)
    if tokens and tokens[0] == "%":
        first += tokens.pop(0)
    percent: Decimal | None = None
    amount: Decimal | None = None
    if first.endswith("%"):
        percent = parse_percent(first[:-1])
    else:
        words = [first]
        if first.lower() in _CURRENCY_WORDS and tokens:
            words.append(tokens.pop(0))
        if tokens and tokens[0].lower() in _UNIT_WORDS:
            words.append(tokens.pop(0))
        amount = parse_amount(" ".join(words))
    reason = " ".join(tokens)
    if not reason:
        raise Invalid(N_("Add the reason after the discount, e.g. /discount Acme: 5% order of 200 cases"))
    if len(reason) > MAX_REASON:
        raise Invalid(N_("Keep the reason under {limit} characters."), limit=MAX_REASON)
    return DiscountTerms(percent, amount, reason)


def parse_percent(text: str) -> Decimal:
    match = _PERCENT.match(text.strip())
    value = Decimal(f"{match[1]}.{match[2] or '0'}") if match else None
    if value is None or not 0 < value <= 100:
        raise Invalid(
            N_("{text}% is not a discount: give a percentage above 0 and at most 100, e.g. 5%."),
            text=text[:20],
        )
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


def terms_text(payload: dict[str, Any]) -> str:
    """``5%`` or ``500.00``: the discount asked for, as shown to people."""
    if "percent" in payload:
        return f"{payload['percent']}%"
    return format_amount(Decimal(payload.get("amount", "0")))


# -- reading requests ---------------------------------------------------------------------------


def _views() -> Select[*tuple[Any, ...]]:  # more columns than SQLAlchemy types one by one
    requester, decider = aliased(User), aliased(User)
    return (
        select(
            Approval.id,
            Approval.kind,
            Approval.status,
            Approval.requested_by,
            requester.name,
            Customer.id,
            Customer.code,
            Customer.name,
            Customer.grade,
            Customer.team_id,
            Approval.payload,
            Approval.created_at,
            decider.name,
            Approval.decided_at,
        )
        .join(Customer, Customer.id == Approval.customer_id)
        .join(requester, requester.id == Approval.requested_by)
        .outerjoin(decider, decider.id == Approval.decided_by)
    )


def _view(row: Any) -> ApprovalView:
    (
        id_,
        kind,
        status,
        requested_by,
        requester,
        customer_id,
        code,
        name,
        grade,
        team_id,
        payload,
        created_at,
        decided_by,
        decided_at,
    ) = row
    customer = CustomerRef(customer_id, code, name, grade)
    return ApprovalView(
        id_,
        kind,
        status,
        requested_by,
        requester,
        customer,
        team_id,
        dict(payload or {}),
        created_at,
        decided_by,
        decided_at,
    )


async def load(session: AsyncSession, approval_id: int) -> ApprovalView:
    """A request as approvers and the requester see it (``NotFound`` if there is none)."""
    return await _load(session, approval_id)


async def _load(session: AsyncSession, approval_id: int) -> ApprovalView:
    row = (await session.execute(_views().where(Approval.id == approval_id))).one_or_none()
    if row is None:
        raise NotFound(N_("That request no longer exists."))
    return _view(row)


# -- who decides, and the queues ----------------------------------------------------------------


def check_decider(caller: Caller, view: ApprovalView) -> None:
    """Refuse unless ``caller`` may decide ``view``: the one rule for the buttons and for /approvals.

    The director and admins decide any request, a manager their team's (a customer's team is its
    rep's); nobody decides their own. The pushes go to fewer people (:func:`approvers`: the team's
    managers, else the directors, else the admins), but anyone this rule lets decide may.
    """
    require(caller, Permission.APPROVE)
    if not _may_decide(caller, view.team_id):
        raise AccessDenied(N_("This request is for another team's manager to decide."))
    if view.requested_by == caller.id:
        raise AccessDenied(N_("This is your own request: someone above you decides it."))


def may_decide(caller: Caller, view: ApprovalView) -> bool:
    try:
        check_decider(caller, view)
    except AccessDenied:
        return False
    return True


def _may_decide(caller: Caller, team_id: int | None) -> bool:
    if caller.sees_all_teams:
        return True
    return caller.role == Role.MANAGER and caller.team_id is not None and caller.team_id == team_id


#: Requests shown per message batch of /approvals; "More" shows the next ones.
QUEUE_PAGE = 5
#: How long a decided request stays in its requester's /approvals, with the decision.
RECENT_DECISIONS = timedelta(days=7)
#: Who asks for decisions (a discount, an order over the credit limit): they see their own requests.
_ASKING = (Permission.REQUEST_DISCOUNT, Permission.RECORD_ORDER)


@dataclass(frozen=True)
class QueuePage:
    """Part of a queue, oldest first: the requests after a cursor (an approval id), and how many."""

    items: tuple[ApprovalView, ...]
    #: The whole queue, the part of it still pending, and the part after this page.
    total: int
    pending: int
    after_this: int

    @property
    def last_id(self) -> int:
        return self.items[-1].id if self.items else 0


def _page(views: list[ApprovalView], after: int, limit: int) -> QueuePage:
    """The ``limit`` requests after id ``after``. Ids grow in the order requests are written, so a
    cursor (unlike a page number) skips nothing when requests above it are decided meanwhile."""
    later = [view for view in views if view.id > after]
    waiting = sum(1 for view in views if view.status == ApprovalStatus.PENDING)
    return QueuePage(tuple(later[:limit]), len(views), waiting, max(0, len(later) - limit))


async def _to_decide(session: AsyncSession, caller: Caller) -> list[ApprovalView]:
    """Every pending request ``caller`` may decide, oldest first.

    Filtered by :func:`may_decide` itself rather than by an SQL copy of the rule, so the list can
    never offer a request the buttons would refuse, nor hide one they would take (whatever a new
    kind's rule). Pending requests are a short queue (each is decided or withdrawn), so reading
    them all is cheap next to the messages that list them.
    """
    require(caller, Permission.APPROVE)
    rows = await session.execute(
        _views().where(Approval.status == ApprovalStatus.PENDING).order_by(Approval.id)
    )
    return [view for view in map(_view, rows) if may_decide(caller, view)]


async def to_decide(
    session: AsyncSession, caller: Caller, *, after: int = 0, limit: int = QUEUE_PAGE
) -> QueuePage:
    """/approvals: the pending requests waiting for the caller's decision, after ``after``."""
    return _page(await _to_decide(session, caller), after, limit)


def _may_see_queues(caller: Caller) -> bool:
    """Whether /approvals is for ``caller``: someone who decides requests or makes them."""
    return any(caller.can(permission) for permission in (Permission.APPROVE, *_ASKING))


async def own_requests(
    session: AsyncSession, caller: Caller, *, now: datetime, after: int = 0, limit: int = QUEUE_PAGE
) -> QueuePage:
    """The caller's own requests: those waiting, and those decided in the last
    :data:`RECENT_DECISIONS` (the decision's push may have scrolled away), oldest first."""
    if not _may_see_queues(caller):
        raise AccessDenied(N_("Your role does not allow this."))
    recent = (Approval.status == ApprovalStatus.PENDING) | (Approval.decided_at >= now - RECENT_DECISIONS)
    rows = await session.execute(
        _views().where(Approval.requested_by == caller.id, recent).order_by(Approval.id)
    )
    return _page([_view(row) for row in rows], after, limit)


async def pending(session: AsyncSession, caller: Caller, *, limit: int = 20) -> list[PendingApproval]:
    """Requests waiting for the caller's decision, oldest first (managers, the director, admins)."""
    return (await _to_decide(session, caller))[:limit]


async def pending_count(session: AsyncSession, caller: Caller) -> int:
    return len(await _to_decide(session, caller))


# -- asking ---------------------------------------------------------------------------------------


async def resolve_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """The customer a discount is asked for, among the caller's."""
    require(caller, Permission.REQUEST_DISCOUNT)
    return await customers.resolve_one(session, caller, text)


async def request_discount(
    session: AsyncSession,
    caller: Caller,
    customer_id: int,
    terms: DiscountTerms,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> DiscountRequest:
    """Write the request and queue the approvers' pushes; the same ``source_key`` again writes nothing."""
    require(caller, Permission.REQUEST_DISCOUNT)
    earlier = await _requested(session, caller, source_key)
    if earlier is not None:
        return DiscountRequest(earlier, repeated=True)
    customer = await customers.get_in_scope(session, caller, customer_id)
    approval = Approval(
        kind=ApprovalKind.DISCOUNT,
        requested_by=caller.id,
        customer_id=customer.id,
        payload=terms.payload(),
        status=ApprovalStatus.PENDING,
        created_at=now,
        source_key=source_key,
    )
    try:
        async with session.begin_nested():
            session.add(approval)
    except IntegrityError:  # a concurrent delivery of the same update wrote it first
        found = await _requested(session, caller, source_key)
        if found is None:
            raise
        return DiscountRequest(found, repeated=True)
    audit.record(
        session,
        actor_id=caller.id,
        action="request_discount",
        entity="approval",
        entity_id=approval.id,
        at=now,
        after={"customer_id": customer.id, **terms.payload()},
    )
    await notify_approvers(session, approval.id, now, zone)
    return DiscountRequest(await _load(session, approval.id), repeated=False)


async def _requested(session: AsyncSession, caller: Caller, source_key: str) -> ApprovalView | None:
    row = (
        await session.execute(
            _views().where(
                Approval.source_key == source_key,
                Approval.kind == ApprovalKind.DISCOUNT,
                Approval.requested_by == caller.id,
            )
        )
    ).one_or_none()
    return _view(row) if row is not None else None


# -- telling the approvers ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    id: int
    language: str


def _reachable() -> ColumnElement[bool]:
    return User.active & User.blocked_at.is_(None) & User.first_seen_at.is_not(None)


async def approvers(session: AsyncSession, team_id: int | None, requested_by: int) -> list[_Person]:
    """The managers of ``team_id`` who can be reached; else the directors; else the admins.

    Never the requester: a manager's own over-limit order goes to the directors.
    """
    candidates: list[ColumnElement[bool]] = [User.role == Role.DIRECTOR, User.role == Role.ADMIN]
    if team_id is not None:
        candidates.insert(0, (User.role == Role.MANAGER) & (User.team_id == team_id))
    for who in candidates:
        rows = await session.execute(
            select(User.id, User.language).where(who, _reachable(), User.id != requested_by).order_by(User.id)
        )
        found = [_Person(id_, language or "en") for id_, language in rows]
        if found:
            return found
    return []


async def notify_approvers(session: AsyncSession, approval_id: int, now: datetime, zone: ZoneInfo) -> int:
    """Queue the request's push to each approver (once per approver, however often called)."""
    view = await _load(session, approval_id)
    if view.status != ApprovalStatus.PENDING:
        return 0
    not_before = next_allowed(now, await company.load(session), zone)
    queued = 0
    for person in await approvers(session, view.team_id, view.requested_by):
        t = Translator(person.language)
        queued += await outbox.enqueue(
            session,
            recipient_id=person.id,
            job=JOB,
            dedup_key=f"approval:{view.id}:{person.id}",
            text=render_request(t, view),
            buttons=decision_buttons(t, view.id),
            now=now,
            not_before=not_before,
        )
    return queued


async def notify_pending(session: AsyncSession, now: datetime, zone: ZoneInfo) -> int:
    """Queue the pushes of pending requests nobody was told about yet (e.g. over-limit orders).

    Safe to call as often as one likes, from anywhere, after the request was committed.
    """
    told = exists().where(Outbox.dedup_key.like(literal("approval:") + cast(Approval.id, String) + ":%"))
    ids = list(
        await session.scalars(
            select(Approval.id)
            .where(Approval.status == ApprovalStatus.PENDING, ~told)
            .order_by(Approval.id)
            .limit(SWEEP_BATCH)
        )
    )
    return sum([await notify_approvers(session, approval_id, now, zone) for approval_id in ids])


def decision_buttons(t: Translator, approval_id: int) -> Buttons:
    return [
        [
            {"text": t.gettext(N_("✅ Approve")), "callback_data": f"appr:yes:{approval_id}"},
            {"text": t.gettext(N_("❌ Reject")), "callback_data": f"appr:no:{approval_id}"},
        ]
    ]


# -- deciding -------------------------------------------------------------------------------------


async def decide(
    session: AsyncSession,
    caller: Caller,
    approval_id: int,
    approve: bool,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> Decision:
    """Approve or reject a pending request; a decided one is reported as it stands."""
    require(caller, Permission.APPROVE)
    view = await _load(session, approval_id)
    check_decider(caller, view)
    if view.status != ApprovalStatus.PENDING:
        return Decision(view, decided_now=False)
    status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    won = await session.execute(
        update(Approval)
        .where(Approval.id == approval_id, Approval.status == ApprovalStatus.PENDING)
        .values(status=status, decided_by=caller.id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if not won.rowcount:  # type: ignore[attr-defined]  # another approver decided a moment ago
        return Decision(await _load(session, approval_id), decided_now=False)
    voided = None
    if not approve and view.kind == ApprovalKind.OVER_LIMIT:
        voided = await _void_rejected_order(session, caller, approval_id, now)
    certificate = None
    if approve and view.kind == ApprovalKind.RETURN:
        certificate = await _credit_approved_return(session, caller, approval_id, now, zone)
    audit.record(
        session,
        actor_id=caller.id,
        action="approve" if approve else "reject",
        entity="approval",
        entity_id=approval_id,
        at=now,
        before={"status": ApprovalStatus.PENDING.value},
        after={
            "status": status.value,
            "kind": view.kind.value,
            **({"voided_receivable_id": voided} if voided is not None else {}),
            **({"certificate": certificate} if certificate is not None else {}),
        },
    )
    decided = await _load(session, approval_id)
    await _tell_requester(session, decided, now, zone)
    return Decision(decided, decided_now=True)


async def _void_rejected_order(
    session: AsyncSession, caller: Caller, approval_id: int, now: datetime
) -> int | None:
    """Void the receivable of a rejected over-limit order (in the rejection's transaction).

    Its id, or None when there was nothing to void (no receivable, or already void). Money
    already applied to it refuses the rejection (:class:`Conflict`), rolling the decision back.
    """
    receivable = await session.scalar(
        select(Receivable)
        .join(Approval, Approval.receivable_id == Receivable.id)
        .where(Approval.id == approval_id)
    )
    if receivable is None:
        return None
    open_before = await session.scalar(select(Receivable.open_amount).where(Receivable.id == receivable.id))
    if not (await ledger.void(session, receivable, by=caller.id, reason=ledger.REJECTED, now=now)).done:
        return None
    audit.record(
        session,
        actor_id=caller.id,
        action="order.void",
        entity="receivable",
        entity_id=receivable.id,
        at=now,
        before={
            "invoice_no": receivable.invoice_no,
            "amount": str(receivable.amount),
            "open": str(open_before),
            "voided": False,
        },
        after={"voided": True, "open": "0.00", "reason": ledger.REJECTED, "approval_id": approval_id},
    )
    return receivable.id


async def _credit_approved_return(
    session: AsyncSession, caller: Caller, approval_id: int, now: datetime, zone: ZoneInfo
) -> str:
    """Issue an approved return's certificate and credit note (in the approval's transaction), and keep
    its number and what it settled on the request, for the texts below. The certificate's number."""
    sales_return = await session.scalar(select(SalesReturn).where(SalesReturn.approval_id == approval_id))
    if sales_return is None:
        raise NotFound(N_("That request no longer exists."))
    issued = await credit_notes.issue(
        session, sales_return, by=caller.id, now=now, zone=zone, source_key=f"approval:{approval_id}"
    )
    payload = dict(await session.scalar(select(Approval.payload).where(Approval.id == approval_id)) or {})
    payload.update(
        certificate=issued.number,
        kept=str(issued.kept),
        settled=[
            {"invoice_no": line.invoice_no, "amount": str(line.amount), "remaining": str(line.remaining)}
            for line in issued.settled
        ],
    )
    await session.execute(
        update(Approval)
        .where(Approval.id == approval_id)
        .values(payload=payload)
        .execution_options(synchronize_session=False)
    )
    return issued.number


async def withdraw(session: AsyncSession, receivable_id: int, *, by: int, now: datetime) -> int | None:
    """Close the pending over-limit request of an order that was undone: its id, or None."""
    closed = await session.scalar(
        update(Approval)
        .where(Approval.receivable_id == receivable_id, Approval.status == ApprovalStatus.PENDING)
        .values(status=ApprovalStatus.WITHDRAWN, decided_by=by, decided_at=now)
        .returning(Approval.id)
        .execution_options(synchronize_session=False)
    )
    if closed is not None:
        audit.record(
            session,
            actor_id=by,
            action="withdraw",
            entity="approval",
            entity_id=closed,
            at=now,
            before={"status": ApprovalStatus.PENDING.value},
            after={"status": ApprovalStatus.WITHDRAWN.value, "kind": ApprovalKind.OVER_LIMIT.value},
        )
    return closed


async def _tell_requester(session: AsyncSession, view: ApprovalView, now: datetime, zone: ZoneInfo) -> None:
    language = await session.scalar(select(User.language).where(User.id == view.requested_by))
    not_before = next_allowed(now, await company.load(session), zone)
    t = Translator(language or "en")
    await outbox.enqueue(
        session,
        recipient_id=view.requested_by,
        job=JOB,
        dedup_key=f"approval:{view.id}:decision",
        text=render_outcome(t, view),
        buttons=outcome_buttons(t, view),
        now=now,
        not_before=not_before,
    )


def outcome_buttons(t: Translator, view: ApprovalView) -> Buttons | None:
    """An approved return's certificate can be printed from the requester's notice (PDF or image)."""
    if view.kind != ApprovalKind.RETURN or view.status != ApprovalStatus.APPROVED:
        return None
    return_id = view.payload.get("return_id")
    return [
        [
            {"text": t.gettext(N_("🖨 Certificate (PDF)")), "callback_data": f"ret:pdf:{return_id}"},
            {"text": t.gettext(N_("🖼 Certificate (image)")), "callback_data": f"ret:png:{return_id}"},
        ]
    ]


# -- texts ----------------------------------------------------------------------------------------

#: What each kind of request is called, in /approvals and wherever requests are listed.
KIND_LABELS: dict[ApprovalKind, str] = {
    ApprovalKind.DISCOUNT: N_("Discount request"),
    ApprovalKind.OVER_LIMIT: N_("Order over the credit limit"),
    ApprovalKind.RETURN: N_("Return of goods"),
}


def kind_label(t: Translator, kind: ApprovalKind) -> str:
    return t.gettext(KIND_LABELS[kind])


def _return_lines(t: Translator, view: ApprovalView) -> list[str]:
    """A return request as its approvers read it (``bot/services/money/returns.py``)."""
    payload = view.payload
    lines = [
        t(
            N_("↩️ <b>Return of goods</b> #{id} from {rep}"),
            id=payload.get("return_id", "—"),
            rep=view.requester,
        ),
        t(N_("Customer: {customer}"), customer=view.customer.label),
        t(N_("Amount to credit: {amount}"), amount=_money(payload.get("amount"))),
        t(N_("Invoice: {invoice}"), invoice=payload["invoice_no"])
        if payload.get("invoice_no")
        else t(N_("Invoice: none named (the oldest open invoices are credited first)")),
    ]
    items = payload.get("items") or []
    if items:
        lines.append(
            t(
                N_("Products: {items}"),
                items="; ".join(f"{item.get('product', '')} × {item.get('quantity', '')}" for item in items),
            )
        )
    if payload.get("reason"):
        lines.append(t(N_("Reason: {reason}"), reason=payload["reason"]))
    lines.append(t(N_("Open balance when asked: {open}"), open=_money(payload.get("open_before"))))
    return lines


def _certificate_lines(t: Translator, view: ApprovalView) -> list[str]:
    """An approved return: its certificate number, what its credit note settled and what it kept."""
    payload = view.payload
    lines = [t(N_("Return certificate {number} issued."), number=payload.get("certificate", "—"))]
    lines += [
        t(
            N_("• {invoice}: {amount} credited, {remaining} still open"),
            invoice=line.get("invoice_no"),
            amount=_money(line.get("amount")),
            remaining=_money(line.get("remaining")),
        )
        for line in payload.get("settled", [])
    ]
    kept = _decimal(payload.get("kept"))
    if kept > 0:
        lines.append(
            t(
                N_("{amount} is kept as the customer's credit, used on their next invoice."),
                amount=_money(kept),
            )
        )
    return lines


def render_request(t: Translator, view: ApprovalView) -> str:
    """The request as an approver reads it."""
    payload = view.payload
    if view.kind == ApprovalKind.RETURN:
        return "\n".join(_return_lines(t, view))
    if view.kind == ApprovalKind.DISCOUNT:
        return "\n".join(
            [
                t(N_("🏷 <b>Discount request</b> from {rep}"), rep=view.requester),
                t(N_("Customer: {customer}"), customer=view.customer.label),
                t(N_("Discount: {terms}"), terms=terms_text(payload)),
                t(N_("Reason: {reason}"), reason=payload.get("reason", "")),
            ]
        )
    return "\n".join(
        [
            t(N_("⚠️ <b>Order over the credit limit</b> from {rep}"), rep=view.requester),
            t(N_("Customer: {customer}"), customer=view.customer.label),
            t(
                N_("Invoice {invoice}: {amount}"),
                invoice=payload.get("invoice_no", "—"),
                amount=_money(payload.get("amount")),
            ),
            t(
                N_("Open before: {open} · credit limit: {limit} · after this order: {after}"),
                open=_money(payload.get("open_before")),
                limit=_money(payload.get("credit_limit")),
                after=_money(payload.get("open_after")),
            ),
        ]
    )


def render_for_approver(t: Translator, view: ApprovalView, zone: ZoneInfo) -> str:
    """The request, and once decided, by whom and when."""
    text = render_request(t, view)
    if view.status == ApprovalStatus.PENDING or view.decided_at is None:
        return text
    when = view.decided_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if view.status == ApprovalStatus.APPROVED and view.kind == ApprovalKind.RETURN:
        approved = t(N_("✅ Approved by {name}, {when}"), name=view.decided_by or "—", when=when)
        return "\n".join([text, "", approved, *_certificate_lines(t, view)])
    if view.status == ApprovalStatus.APPROVED:
        line = N_("✅ Approved by {name}, {when}")
    elif view.status == ApprovalStatus.WITHDRAWN:
        line = N_("↩ Withdrawn: {name} undid the order, {when}")
    elif view.kind == ApprovalKind.OVER_LIMIT:
        line = N_("❌ Rejected by {name}, {when}: the invoice is voided")
    elif view.kind == ApprovalKind.RETURN:
        line = N_("❌ Rejected by {name}, {when}: nothing is credited")
    else:
        line = N_("❌ Rejected by {name}, {when}")
    return f"{text}\n\n{t(line, name=view.decided_by or '—', when=when)}"


def render_outcome(t: Translator, view: ApprovalView) -> str:
    """The decision as the requesting rep reads it."""
    approved = view.status == ApprovalStatus.APPROVED
    name = view.decided_by or "—"
    if view.kind == ApprovalKind.RETURN:
        values = {
            "id": view.payload.get("return_id", "—"),
            "customer": view.customer.label,
            "amount": _money(view.payload.get("amount")),
            "name": name,
        }
        if not approved:
            return t(
                N_(
                    "❌ Your return request #{id} for {customer} ({amount}) was rejected by {name}. "
                    "Nothing is credited: the customer's balance stays as it was."
                ),
                **values,
            )
        return "\n".join(
            [
                t(
                    N_("✅ Your return request #{id} for {customer} ({amount}) was approved by {name}."),
                    **values,
                ),
                *_certificate_lines(t, view),
            ]
        )
    if view.kind == ApprovalKind.DISCOUNT:
        line = (
            N_("✅ Your discount request for {customer} ({terms}) was approved by {name}.")
            if approved
            else N_("❌ Your discount request for {customer} ({terms}) was rejected by {name}.")
        )
        return t(line, customer=view.customer.label, terms=terms_text(view.payload), name=name)
    line = (
        N_(
            "✅ Your order {invoice} for {customer} ({amount}), over the credit limit, was approved by "
            "{name}."
        )
        if approved
        else N_(
            "❌ Your order {invoice} for {customer} ({amount}), over the credit limit, was rejected "
            "by {name}. The invoice is voided: it no longer counts in the customer's balance. "
            "Talk to them before delivering."
        )
    )
    return t(
        line,
        invoice=view.payload.get("invoice_no", "—"),
        customer=view.customer.label,
        amount=_money(view.payload.get("amount")),
        name=name,
    )


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (ArithmeticError, ValueError):
        return Decimal(0)


def _money(value: Any) -> str:
    try:
        return format_amount(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return "—"
