"""Customer letters and complaints (用戶函電, regulations part 3 art. 16–18) and their clocks.

A rep, a manager, the director or an admin logs a customer's enquiry, letter or complaint for a
customer in their scope (as /visit resolves customers), with a kind and a tag. Each is keyed by
the update that logged it (``source_key``): a redelivered update records nothing twice.

**The clocks** (art. 16: "用戶函電詢問，三天內必答，如質量問題需派人處理，五天內……派人前往"):

* every item is answered within three days of being logged: ``answer_due`` = the local day it
  was logged + 3;
* a quality problem (tag *quality* on a complaint or a letter; an enquiry about quality is a
  question, not a problem) also gets someone on site within five: ``onsite_due`` = that day + 5.

The article counts days (三天, 五天), not working days (工作日), so these are **calendar days**
in the company's time zone; a due date that falls on a day off stays where it is, and the
reminder comes on the last working day before it (jobs/complaint_clock.py).

**Owner.** The customer's rep answers for the item; when the customer has no rep, whoever logged
it. Read when needed, never stored: a customer moved to another rep moves its open items too.

**Met.** The answer clock stops when an answer is recorded (a resolution recorded first counts as
the answer). The on-site clock stops at the first on-site visit (``VisitKind.VISIT``) logged to
that customer after the item was logged, whoever made it, found by :func:`match_visits` when the
clock job runs and whenever the item is shown, and the visit is recorded on the item; or when
someone records by hand that the customer was visited (the quality department went, say). A
visit undone afterwards no longer counts (the foreign key is cleared). Resolving closes the item
and stops both clocks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db import insert_for
from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Conflict, Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import local_date
from bot.services.reporting.periods import Period
from models import Complaint, ComplaintKind, ComplaintTag, Customer, Outbox, User, Visit, VisitKind

ANSWER_DAYS = 3
ONSITE_DAYS = 5
MAX_TEXT = 2000
#: Items shown in one /complaints reply (with buttons for the open ones).
SHOWN = 10

ACTION_LOG = "complaint.log"
ACTION_ANSWER = "complaint.answer"
ACTION_ONSITE = "complaint.onsite"
ACTION_RESOLVE = "complaint.resolve"

KIND_LABELS = {
    ComplaintKind.ENQUIRY: N_("Enquiry"),
    ComplaintKind.LETTER: N_("Letter"),
    ComplaintKind.COMPLAINT: N_("Complaint"),
}
TAG_LABELS = {
    ComplaintTag.QUALITY: N_("Quality"),
    ComplaintTag.DELIVERY: N_("Delivery"),
    ComplaintTag.PRICE: N_("Price"),
    ComplaintTag.SERVICE: N_("Service"),
    ComplaintTag.OTHER: N_("Other"),
}
#: Words a kind or a tag may be typed as, before the text (``/complaint Shop: complaint quality …``).
KIND_WORDS: dict[str, ComplaintKind] = {
    "enquiry": ComplaintKind.ENQUIRY,
    "inquiry": ComplaintKind.ENQUIRY,
    "询问": ComplaintKind.ENQUIRY,
    "詢問": ComplaintKind.ENQUIRY,
    "咨询": ComplaintKind.ENQUIRY,
    "諮詢": ComplaintKind.ENQUIRY,
    "letter": ComplaintKind.LETTER,
    "来信": ComplaintKind.LETTER,
    "來信": ComplaintKind.LETTER,
    "函电": ComplaintKind.LETTER,
    "函電": ComplaintKind.LETTER,
    "信函": ComplaintKind.LETTER,
    "complaint": ComplaintKind.COMPLAINT,
    "投诉": ComplaintKind.COMPLAINT,
    "投訴": ComplaintKind.COMPLAINT,
}
TAG_WORDS: dict[str, ComplaintTag] = {
    "quality": ComplaintTag.QUALITY,
    "质量": ComplaintTag.QUALITY,
    "質量": ComplaintTag.QUALITY,
    "品质": ComplaintTag.QUALITY,
    "品質": ComplaintTag.QUALITY,
    "delivery": ComplaintTag.DELIVERY,
    "交货": ComplaintTag.DELIVERY,
    "交貨": ComplaintTag.DELIVERY,
    "送货": ComplaintTag.DELIVERY,
    "送貨": ComplaintTag.DELIVERY,
    "发货": ComplaintTag.DELIVERY,
    "發貨": ComplaintTag.DELIVERY,
    "配送": ComplaintTag.DELIVERY,
    "price": ComplaintTag.PRICE,
    "价格": ComplaintTag.PRICE,
    "價格": ComplaintTag.PRICE,
    "service": ComplaintTag.SERVICE,
    "服务": ComplaintTag.SERVICE,
    "服務": ComplaintTag.SERVICE,
    "other": ComplaintTag.OTHER,
    "其他": ComplaintTag.OTHER,
    "其它": ComplaintTag.OTHER,
}
_LEADING_WORD = re.compile(r"\s*([^\s,，:：;；]+)[\s,，:：;；]*")


def needs_onsite(kind: ComplaintKind, tag: ComplaintTag) -> bool:
    """A quality problem reported (a complaint or a letter) needs someone on site (art. 16)."""
    return tag == ComplaintTag.QUALITY and kind != ComplaintKind.ENQUIRY


def split_words(text: str) -> tuple[ComplaintKind | None, ComplaintTag | None, str]:
    """The kind and tag typed before the text, in either order, and the text that is left.

    ``complaint quality caps leak`` → (complaint, quality, "caps leak"); ``投诉，质量：瓶盖漏液`` too.
    """
    kind: ComplaintKind | None = None
    tag: ComplaintTag | None = None
    rest = text.strip()
    for _ in range(2):
        match = _LEADING_WORD.match(rest)
        if match is None:
            break
        word = unicodedata.normalize("NFKC", match.group(1)).lower()
        if kind is None and word in KIND_WORDS:
            kind = KIND_WORDS[word]
        elif tag is None and word in TAG_WORDS:
            tag = TAG_WORDS[word]
        else:
            break
        rest = rest[match.end() :]
    return kind, tag, rest.strip()


def clean_text(text: str, empty: str = N_("Write what the customer said: the text cannot be empty.")) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise Invalid(empty)
    if len(cleaned) > MAX_TEXT:
        raise Invalid(N_("At most {count} characters, please."), count=MAX_TEXT)
    return cleaned


# -- what callers see ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintView:
    id: int
    customer: CustomerRef
    owner_id: int
    owner: str
    logged_by: str
    kind: ComplaintKind
    tag: ComplaintTag
    text: str
    opened_at: datetime
    answer_due: date
    onsite_due: date | None
    answered_at: datetime | None
    answer: str | None
    onsite_at: datetime | None
    onsite_visit_id: int | None
    onsite_note: str | None
    resolved_at: datetime | None
    resolution: str | None
    #: True when this update had logged it before (a redelivery or a second tap).
    already_saved: bool = False

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def onsite_needed(self) -> bool:
        return self.onsite_due is not None

    @property
    def onsite_met(self) -> bool:
        return self.onsite_visit_id is not None or self.onsite_note is not None

    def answer_on_time(self, zone: ZoneInfo, today: date) -> bool | None:
        """True or False once known (answered, or the due day passed unanswered); None while pending."""
        return _on_time(self.answered_at, self.answer_due, zone, today, self.resolved_at)

    def onsite_on_time(self, zone: ZoneInfo, today: date) -> bool | None:
        if self.onsite_due is None:
            return None
        at = self.onsite_at if self.onsite_met else None
        return _on_time(at, self.onsite_due, zone, today, self.resolved_at)

    def overdue(self, zone: ZoneInfo, today: date) -> bool:
        """Open, and a clock ran out before it was met."""
        return self.open and (
            (not self.answered and today > self.answer_due)
            or (self.onsite_due is not None and not self.onsite_met and today > self.onsite_due)
        )


def _on_time(
    met_at: datetime | None, due: date, zone: ZoneInfo, today: date, closed_at: datetime | None
) -> bool | None:
    if met_at is not None:
        return local_date(met_at, zone) <= due
    if closed_at is not None and local_date(closed_at, zone) <= due:
        return None  # closed in time without it: nothing was missed, nothing met
    return False if today > due or closed_at is not None else None


_LOGGER = aliased(User)
_REP = aliased(User)


def _owner() -> ColumnElement[int]:
    return func.coalesce(Customer.rep_id, Complaint.logged_by)


def _views() -> Select[Complaint, Customer, str, str]:
    """Each item, its customer, who logged it and the customer's rep (None with no rep: an outer
    join, which SQLAlchemy's column types do not show; :func:`_view` takes it as optional)."""
    return (
        select(Complaint, Customer, _LOGGER.name, _REP.name)
        .join(Customer, Customer.id == Complaint.customer_id)
        .join(_LOGGER, _LOGGER.id == Complaint.logged_by)
        .outerjoin(_REP, _REP.id == Customer.rep_id)
    )


def _view(row: tuple[Complaint, Customer, str, str | None], *, already_saved: bool = False) -> ComplaintView:
    item, customer, logger, rep = row
    return ComplaintView(
        id=item.id,
        customer=CustomerRef.of(customer),
        owner_id=customer.rep_id or item.logged_by,
        owner=rep or logger,
        logged_by=logger,
        kind=item.kind,
        tag=item.tag,
        text=item.text,
        opened_at=item.opened_at,
        answer_due=item.answer_due,
        onsite_due=item.onsite_due,
        answered_at=item.answered_at,
        answer=item.answer,
        onsite_at=item.onsite_at,
        onsite_visit_id=item.onsite_visit_id,
        onsite_note=item.onsite_note,
        resolved_at=item.resolved_at,
        resolution=item.resolution,
        already_saved=already_saved,
    )


def check_may_log(caller: Caller) -> None:
    """Refuse a role that may not log or close items (finance reads the register only)."""
    require(caller, Permission.LOG_COMPLAINT)


def may_close(caller: Caller) -> bool:
    """Whether to offer Answer / On site / Resolve: the services check again on each press."""
    return caller.can(Permission.LOG_COMPLAINT)


def visible_to(caller: Caller) -> ColumnElement[bool]:
    """The items a caller sees: those of the customers in their scope (a rep their own customers',
    a manager the team's, the director, finance and admins every one)."""
    return customers.in_scope(caller)


# -- logging ------------------------------------------------------------------------------------------


async def find_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """The customer the caller typed, among those they may act for (as /visit resolves them)."""
    require(caller, Permission.LOG_COMPLAINT)
    return await customers.resolve_one(session, caller, text)


async def choose_customer(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """A customer id from a button, re-checked against the presser's scope."""
    require(caller, Permission.LOG_COMPLAINT)
    return CustomerRef.of(await customers.get_in_scope(session, caller, customer_id))


async def log(
    session: AsyncSession,
    caller: Caller,
    customer_id: int,
    kind: ComplaintKind,
    tag: ComplaintTag,
    text: str,
    *,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
) -> ComplaintView:
    """Log an item (or return the one this update logged already) and start its clocks."""
    require(caller, Permission.LOG_COMPLAINT)
    existing = await session.scalar(select(Complaint.id).where(Complaint.source_key == source_key))
    if existing is not None:
        return await _one(session, caller, existing, already_saved=True)
    customer = await customers.get_in_scope(session, caller, customer_id)
    body = clean_text(text)
    day = local_date(now, zone)
    values = {
        "customer_id": customer.id,
        "logged_by": caller.id,
        "kind": kind,
        "tag": tag,
        "text": body,
        "opened_at": now,
        "answer_due": day + timedelta(days=ANSWER_DAYS),
        "onsite_due": day + timedelta(days=ONSITE_DAYS) if needs_onsite(kind, tag) else None,
        "source_key": source_key,
    }
    new_id = await session.scalar(
        insert_for(session, Complaint)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(Complaint.id)
    )
    if new_id is None:  # the same update, handled in another process, got there first
        found = await session.scalar(select(Complaint.id).where(Complaint.source_key == source_key))
        assert found is not None
        return await _one(session, caller, found, already_saved=True)
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_LOG,
        entity="complaint",
        entity_id=new_id,
        at=now,
        after={
            **{key: str(value) for key, value in values.items() if key not in ("opened_at",)},
            "opened_at": now.isoformat(),
        },
    )
    return await _one(session, caller, new_id)


async def _one(
    session: AsyncSession, caller: Caller, complaint_id: int, *, already_saved: bool = False
) -> ComplaintView:
    row = (await session.execute(_views().where(Complaint.id == complaint_id, visible_to(caller)))).first()
    if row is None:  # another scope's item reads as one that does not exist: no probing
        raise NotFound(N_("There is no such item."))
    return _view(row, already_saved=already_saved)


# -- the on-site requirement met by a visit -------------------------------------------------------------


def _first_onsite_visit() -> Select[int]:
    return (
        select(Visit.id)
        .where(
            Visit.customer_id == Complaint.customer_id,
            Visit.kind == VisitKind.VISIT,
            Visit.visited_at >= Complaint.opened_at,
        )
        .order_by(Visit.visited_at, Visit.id)
        .limit(1)
    )


def _waiting_for_onsite() -> ColumnElement[bool]:
    return and_(
        Complaint.resolved_at.is_(None),
        Complaint.onsite_due.is_not(None),
        Complaint.onsite_visit_id.is_(None),
        Complaint.onsite_note.is_(None),
    )


async def match_visits(session: AsyncSession, now: datetime, complaint_ids: list[int] | None = None) -> int:
    """Record on each open quality item still waiting for someone on site the first on-site visit
    to its customer logged after it, if there is one; how many were met. ``None``: every item."""
    waiting = _waiting_for_onsite()
    if complaint_ids is not None:
        if not complaint_ids:
            return 0
        waiting = and_(waiting, Complaint.id.in_(complaint_ids))
    first = _first_onsite_visit().scalar_subquery()
    found = list(
        (await session.execute(select(Complaint.id, first).where(waiting, first.is_not(None)))).all()
    )
    for complaint_id, visit_id in found:
        visit = await session.get_one(Visit, visit_id)
        await session.execute(
            update(Complaint)
            .where(Complaint.id == complaint_id, _waiting_for_onsite())
            .values(onsite_visit_id=visit.id, onsite_at=visit.visited_at, onsite_by=visit.rep_id)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            actor_id=visit.rep_id,
            action=ACTION_ONSITE,
            entity="complaint",
            entity_id=complaint_id,
            at=visit.visited_at,
            after={"onsite_visit_id": visit.id, "onsite_at": visit.visited_at.isoformat()},
        )
        await _drop_queued(session, complaint_id, ("onsite",), now)
    return len(found)


# -- reading: one item, the caller's open items, the register --------------------------------------------


async def get(session: AsyncSession, caller: Caller, complaint_id: int, *, now: datetime) -> ComplaintView:
    """One item in the caller's scope, with an on-site visit found since recorded on it."""
    require(caller, Permission.VIEW_COMPLAINTS)
    await _one(session, caller, complaint_id)  # scope first: nothing is written for a forged id
    await match_visits(session, now, [complaint_id])
    return await _one(session, caller, complaint_id)


@dataclass(frozen=True)
class Register:
    items: tuple[ComplaintView, ...]
    total: int
    open: int
    overdue: int
    #: "open", "all", or None for a period.
    which: str | None
    period: Period | None = None


async def register(
    session: AsyncSession,
    caller: Caller,
    *,
    which: str | None,
    period: Period | None,
    zone: ZoneInfo,
    today: date,
    now: datetime,
    limit: int = SHOWN,
) -> Register:
    """``/complaints``: the open items (``which="open"``), every item (``"all"``), or those logged in
    ``period``; quality problems first, then oldest first. Counts cover them all, ``items`` the
    first ``limit``."""
    require(caller, Permission.VIEW_COMPLAINTS)
    open_ids = list(
        await session.scalars(
            select(Complaint.id)
            .join(Customer, Customer.id == Complaint.customer_id)
            .where(visible_to(caller), Complaint.resolved_at.is_(None))
        )
    )
    await match_visits(session, now, open_ids)
    query = _views().where(visible_to(caller))
    if which == "open":
        query = query.where(Complaint.resolved_at.is_(None))
    elif period is not None:
        start, end = period.bounds(zone)
        query = query.where(Complaint.opened_at >= start, Complaint.opened_at < end)
    quality_first = (Complaint.tag != ComplaintTag.QUALITY).label("not_quality")
    rows = await session.execute(
        query.add_columns(quality_first)
        .order_by("not_quality", Complaint.opened_at, Complaint.id)
        .limit(limit)
    )
    counted = query.with_only_columns(
        func.count(),
        func.count().filter(Complaint.resolved_at.is_(None)),
        func.count().filter(Complaint.resolved_at.is_(None), _overdue(today)),
    ).order_by(None)
    total, still_open, overdue = (await session.execute(counted)).one()
    return Register(
        items=tuple(_view(row[:4]) for row in rows),
        total=total,
        open=still_open,
        overdue=overdue,
        which=which,
        period=period,
    )


def open_counts(scope: ColumnElement[bool], today: date) -> tuple[Any, Any]:
    """Scalar subqueries: open items of the customers in ``scope``, and those overdue on ``today``
    (for /summary, which asks them alongside its other counts in one statement)."""
    base = (
        select(func.count())
        .select_from(Complaint)
        .join(Customer, Customer.id == Complaint.customer_id)
        .where(scope, Complaint.resolved_at.is_(None))
    )
    return base.scalar_subquery(), base.where(_overdue(today)).scalar_subquery()


def _overdue(today: date) -> ColumnElement[bool]:
    """A clock ran out on ``today`` before it was met (:meth:`ComplaintView.overdue`, in SQL)."""
    return or_(
        and_(Complaint.answered_at.is_(None), Complaint.answer_due < today),
        and_(
            Complaint.onsite_due.is_not(None),
            Complaint.onsite_due < today,
            Complaint.onsite_visit_id.is_(None),
            Complaint.onsite_note.is_(None),
        ),
    )


# -- closing ------------------------------------------------------------------------------------------------

#: The clock job's outbox keys: ``complaint_clock:<recipient>:<item>:<clock>:<stage>``
#: (jobs/complaint_clock.py).
CLOCK_JOB = "complaint_clock"


async def _drop_queued(
    session: AsyncSession, complaint_id: int, clocks: tuple[str, ...], now: datetime
) -> None:
    """A clock met or the item closed: its reminders and escalations still waiting to go out (queued
    on a day off, or in quiet hours) are dropped, so nobody is chased about what is done."""
    for clock in clocks:
        await session.execute(
            update(Outbox)
            .where(
                Outbox.job == CLOCK_JOB,
                Outbox.dedup_key.like(f"{CLOCK_JOB}:%:{complaint_id}:{clock}:%"),
                Outbox.sent_at.is_(None),
                Outbox.dropped_at.is_(None),
            )
            .values(dropped_at=now, last_error="closed before it was sent")
            .execution_options(synchronize_session=False)
        )


async def _closable(session: AsyncSession, caller: Caller, complaint_id: int) -> Complaint:
    require(caller, Permission.LOG_COMPLAINT)
    await _one(session, caller, complaint_id)
    # Locked (PostgreSQL; SQLite's writing transaction holds the whole database): two people closing
    # one item at once take turns, and the second is told it is done.
    item = await session.get_one(Complaint, complaint_id, with_for_update=True, populate_existing=True)
    if item.resolved_at is not None:
        raise Conflict(N_("Item #{number} is already resolved."), number=complaint_id)
    return item


async def record_answer(
    session: AsyncSession, caller: Caller, complaint_id: int, text: str, *, now: datetime
) -> ComplaintView:
    """Record the answer given to the customer: the three-day clock stops."""
    item = await _closable(session, caller, complaint_id)
    if item.answered_at is not None:
        raise Conflict(N_("Item #{number} is already answered."), number=complaint_id)
    item.answer = clean_text(text, N_("Write the answer given to the customer: it cannot be empty."))
    item.answered_at, item.answered_by = now, caller.id
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_ANSWER,
        entity="complaint",
        entity_id=item.id,
        at=now,
        after={"answer": item.answer},
    )
    await _drop_queued(session, item.id, ("answer",), now)
    await session.flush()
    return await _one(session, caller, complaint_id)


async def record_onsite(
    session: AsyncSession, caller: Caller, complaint_id: int, note: str, *, now: datetime
) -> ComplaintView:
    """Record by hand that someone was on site (no visit of theirs is logged): the five-day clock stops."""
    item = await _closable(session, caller, complaint_id)
    if item.onsite_due is None:
        raise Invalid(N_("Item #{number} needs nobody on site: it is not a quality problem."), number=item.id)
    await match_visits(session, now, [item.id])
    await session.refresh(item)
    if item.onsite_visit_id is not None or item.onsite_note is not None:
        raise Conflict(N_("Someone was already on site for item #{number}."), number=complaint_id)
    item.onsite_note = clean_text(note, N_("Write who went and what they found: it cannot be empty."))
    item.onsite_at, item.onsite_by = now, caller.id
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_ONSITE,
        entity="complaint",
        entity_id=item.id,
        at=now,
        after={"onsite_note": item.onsite_note},
    )
    await _drop_queued(session, item.id, ("onsite",), now)
    await session.flush()
    return await _one(session, caller, complaint_id)


async def resolve(
    session: AsyncSession, caller: Caller, complaint_id: int, text: str, *, now: datetime
) -> ComplaintView:
    """Close the item with its resolution; every clock stops. Unanswered, the resolution is the answer."""
    item = await _closable(session, caller, complaint_id)
    await match_visits(session, now, [item.id])
    await session.refresh(item)
    item.resolution = clean_text(text, N_("Write how it was resolved: it cannot be empty."))
    item.resolved_at, item.resolved_by = now, caller.id
    if item.answered_at is None:
        item.answer, item.answered_at, item.answered_by = item.resolution, now, caller.id
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_RESOLVE,
        entity="complaint",
        entity_id=item.id,
        at=now,
        after={"resolution": item.resolution, "answered_at": item.answered_at.isoformat()},
    )
    await _drop_queued(session, item.id, ("answer", "onsite"), now)
    await session.flush()
    return await _one(session, caller, complaint_id)


# -- for the clock job ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clocked:
    """An open item as the clock job reads it."""

    view: ComplaintView
    team_id: int | None


async def open_items(session: AsyncSession, now: datetime) -> list[Clocked]:
    """Every open item, after recording the on-site visits found since (the job's view: no scope)."""
    await match_visits(session, now)
    rows = await session.execute(_views().where(Complaint.resolved_at.is_(None)).order_by(Complaint.id))
    return [Clocked(_view(row), row[1].team_id) for row in rows]
