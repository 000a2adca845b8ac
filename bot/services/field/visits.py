"""Visits (客戶訪問): recording them, undoing them, and who is due for one today.

A visit is keyed by the update that saved it (``source_key``), so a redelivered
update or a double tap returns the visit already saved instead of a second
one. ``customer.last_visit_at`` is kept in step on save and on undo, because
"who is due" reads only that column. A visit logged more than 1 km from the
customer's known location is flagged, never refused: reps phone customers and
GPS drifts, the manager decides what it means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.i18n import N_
from bot.services import audit, policy
from bot.services.errors import AccessDenied, Conflict, Invalid, NotFound
from bot.services.field import customers, geo, trust, units
from bot.services.field.customers import CustomerRef, Lead, Resolution
from bot.services.people.access import Caller, Permission, require
from bot.services.reporting import dates
from models import (
    AuditLog,
    Customer,
    CustomerStatus,
    Feedback,
    FeedbackTopic,
    StockLine,
    Visit,
    VisitKind,
    VisitPhoto,
)
from models.base import column_values

FAR_AWAY_M = 1000
UNDO_WINDOW = timedelta(minutes=10)
#: How far back a redelivered update is checked against undone visits (redeliveries come fast).
UNDONE_MEMORY = timedelta(days=2)
MAX_PHOTOS = 10
#: Longest Telegram ``file_unique_id`` kept (they are about 16 characters).
PHOTO_KEY_CHARS = 64
MAX_STOCK_LINES = 50
MAX_PRODUCT_CHARS = 120
MAX_QUANTITY = 1_000_000_000
MAX_FOLLOW_UP_AHEAD = timedelta(days=366)
DUE_BUTTONS = 8

ACTION_RECORD = "visit.record"
ACTION_UNDO = "visit.undo"


@dataclass(frozen=True)
class StockEntry:
    product: str
    quantity: int
    #: bot/services/field/units.py: a canonical key (``box``), a word as typed, or None (a count).
    unit: str | None = None


@dataclass(frozen=True)
class FeedbackEntry:
    topic: FeedbackTopic
    text: str


@dataclass(frozen=True)
class VisitDraft:
    """Everything a rep tells about one visit, before it is saved."""

    customer_id: int
    kind: VisitKind
    notes: str
    location: tuple[float, float] | None = None
    photo_file_ids: tuple[str, ...] = ()
    stock: tuple[StockEntry, ...] = ()
    feedback: tuple[FeedbackEntry, ...] = ()
    next_follow_up: date | None = None
    #: Telegram's ``file_unique_id`` of each photo: finds a photo already used (bot/services/field/trust.py).
    photo_unique_ids: tuple[str, ...] = ()
    #: A photo came in a forwarded message.
    photos_forwarded: bool = False
    #: When Telegram received the earliest message the visit is made of (None: only buttons).
    sent_at: datetime | None = None


@dataclass(frozen=True)
class SavedVisit:
    """A saved visit as the confirmation shows it."""

    id: int
    customer: CustomerRef
    kind: VisitKind
    notes: str
    located: bool
    distance_m: int | None
    far_away: bool
    photos: int
    stock_lines: int
    feedback: int
    next_follow_up: date | None
    next_due: date
    #: True when this update had saved it before (a redelivery or a second tap).
    already_saved: bool = False


@dataclass(frozen=True)
class QuickVisit:
    """A one-liner's result: the saved visit, or the candidates to choose from."""

    saved: SavedVisit | None = None
    candidates: tuple[CustomerRef, ...] = ()
    near: bool = False  # the candidates are one edit away from what was typed ("did you mean")


@dataclass(frozen=True)
class Undone:
    customer: CustomerRef


@dataclass(frozen=True)
class DueCustomer:
    customer: CustomerRef
    never_visited: bool
    follow_up: bool
    #: Days past the due date (0 = due today).
    overdue_days: int


@dataclass(frozen=True)
class DuePlan:
    customers: tuple[DueCustomer, ...]
    total: int


# -- choosing the customer ---------------------------------------------------------------------


async def find_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """The customer the caller typed, among those they may log visits for."""
    require(caller, Permission.LOG_VISIT)
    return await customers.resolve_one(session, caller, text)


async def find_leading(session: AsyncSession, caller: Caller, text: str) -> Lead:
    """``/visit E06 checked shelf``: the customer the first words name, and the notes after them."""
    require(caller, Permission.LOG_VISIT)
    return await customers.resolve_leading(session, caller, text)


async def choose_customer(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """A customer id from a button, re-checked against the presser's scope."""
    require(caller, Permission.LOG_VISIT)
    return CustomerRef.of(await customers.get_in_scope(session, caller, customer_id))


async def due_today(
    session: AsyncSession, caller: Caller, *, today: date, zone: ZoneInfo, limit: int = DUE_BUTTONS
) -> DuePlan:
    """The caller's customers due for a visit today: never visited first, then longest overdue.

    A follow-up dated today makes a customer due as well, unless they were already seen today.
    One query per grade (four at most) keeps "longest overdue" exact across grades, whose
    visit intervals differ, without date arithmetic in SQL.
    """
    require(caller, Permission.LOG_VISIT)
    rules = await policy.grade_rules(session)
    scope = and_(customers.in_scope(caller), Customer.status != CustomerStatus.INACTIVE)
    follow_up_today = and_(
        exists().where(Visit.customer_id == Customer.id, Visit.next_follow_up == today),
        or_(Customer.last_visit_at.is_(None), Customer.last_visit_at < policy.start_of_day(today, zone)),
    )
    grade_due = policy.due_for_visit(rules, zone, today)
    total = (
        await session.scalar(
            select(func.count()).select_from(Customer).where(scope, or_(grade_due, follow_up_today))
        )
        or 0
    )
    found: dict[int, Customer] = {}
    queries = [
        select(Customer)
        .where(scope, Customer.last_visit_at.is_(None))
        .order_by(Customer.created_at, Customer.name)
    ]
    queries += [
        select(Customer).where(scope, grade_due, Customer.grade == grade).order_by(Customer.last_visit_at)
        for grade in rules
    ]
    queries.append(select(Customer).where(scope, follow_up_today).order_by(Customer.name))
    for query in queries:
        for row in await session.scalars(query.limit(limit)):
            found.setdefault(row.id, row)
    follow_up_ids = set(
        await session.scalars(select(Customer.id).where(Customer.id.in_(found), follow_up_today))
    )

    def due_on(row: Customer) -> date:
        due = policy.next_visit_due(row.last_visit_at, row.grade, rules, zone, today)
        return min(due, today) if row.id in follow_up_ids else due

    ordered = sorted(found.values(), key=lambda row: (row.last_visit_at is not None, due_on(row), row.name))
    return DuePlan(
        tuple(
            DueCustomer(
                CustomerRef.of(row),
                row.last_visit_at is None,
                row.id in follow_up_ids,
                max(0, (today - due_on(row)).days),
            )
            for row in ordered[:limit]
        ),
        total,
    )


# -- recording -----------------------------------------------------------------------------------


async def record(
    session: AsyncSession,
    caller: Caller,
    draft: VisitDraft,
    *,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
) -> SavedVisit:
    """Save a visit (or return the one already saved by the same update)."""
    require(caller, Permission.LOG_VISIT)
    existing = await _existing(session, caller, source_key, now, zone)
    if existing is not None:
        return existing
    return await _create(session, caller, draft, source_key=source_key, now=now, zone=zone)


async def _create(
    session: AsyncSession,
    caller: Caller,
    draft: VisitDraft,
    *,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
) -> SavedVisit:
    customer = await customers.get_in_scope(session, caller, draft.customer_id)
    photo_keys = [key for key in draft.photo_unique_ids if 0 < len(key) <= PHOTO_KEY_CHARS]
    reused = await trust.photo_used_before(session, photo_keys)  # before this visit's own are kept
    visit = _new_visit(caller, customer, draft, source_key=source_key, now=now, photo_reused=reused)
    new_id = await _insert_once(session, visit)
    if new_id is None:  # the same update, racing in another process, got there first
        saved = await _existing(session, caller, source_key, now, zone)
        if saved is None:
            raise RuntimeError(f"visit {source_key} neither inserted nor found")
        return saved
    visit.id = new_id
    await trust.keep_photos(session, visit.id, photo_keys)
    if draft.stock or draft.feedback:
        session.add_all(
            [
                StockLine(visit_id=visit.id, product=line.product, quantity=line.quantity, unit=line.unit)
                for line in draft.stock
            ]
        )
        session.add_all(
            [Feedback(visit_id=visit.id, topic=item.topic, text=item.text) for item in draft.feedback]
        )
    before = customer.last_visit_at
    if before is None or before < now:  # Core, and the loaded customer kept clean: no unit of work
        await session.execute(_TOUCH_CUSTOMER, {"customer_id": customer.id, "at": now})
        set_committed_value(customer, "last_visit_at", now)
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_RECORD,
        entity="visit",
        entity_id=visit.id,
        at=now,
        after=_snapshot(visit, draft.stock, draft.feedback, last_visit_before=before),
    )
    rules = await policy.grade_rules(session)
    return _saved(visit, customer, len(draft.stock), len(draft.feedback), rules, zone)


async def _insert_once(session: AsyncSession, visit: Visit) -> int | None:
    """Insert ``visit`` unless its source key is taken; its new id, or None.

    One Core statement (``ON CONFLICT DO NOTHING``) instead of a savepoint around an ORM flush.
    """
    statement = _INSERT_ONCE[session.get_bind().dialect.name]
    new_id: int | None = await session.scalar(statement, column_values(visit))  # visits.id: an int
    return new_id


async def quick_visit(
    session: AsyncSession,
    caller: Caller,
    customer_text: str,
    notes: str,
    *,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
    sent_at: datetime | None = None,
) -> QuickVisit:
    """``/visit <customer>: <notes>``: an on-site visit at once, or the candidates to pick from."""
    require(caller, Permission.LOG_VISIT)
    existing = await _existing(session, caller, source_key, now, zone)
    if existing is not None:
        return QuickVisit(saved=existing)
    resolution = await customers.resolve_one(session, caller, customer_text)
    if resolution.customer is None:
        return QuickVisit(candidates=resolution.candidates, near=resolution.near)
    draft = VisitDraft(resolution.customer.id, VisitKind.VISIT, clean_notes(notes), sent_at=sent_at)
    return QuickVisit(saved=await _create(session, caller, draft, source_key=source_key, now=now, zone=zone))


def clean_notes(text: str) -> str:
    notes = text.strip()
    if not notes:
        raise Invalid(N_("Write what came of the visit: the notes cannot be empty."))
    return notes


def _new_visit(
    caller: Caller,
    customer: Customer,
    draft: VisitDraft,
    *,
    source_key: str,
    now: datetime,
    photo_reused: bool = False,
) -> Visit:
    if len(draft.photo_file_ids) > MAX_PHOTOS:
        raise Invalid(N_("At most {count} photos per visit."), count=MAX_PHOTOS)
    latitude = longitude = None
    distance: int | None = None
    if draft.location is not None:
        latitude, longitude = draft.location
        if not geo.is_valid_point(latitude, longitude):
            raise Invalid(N_("That location is not a valid place on Earth."))
        if customer.latitude is not None and customer.longitude is not None:
            distance = round(geo.distance_m(latitude, longitude, customer.latitude, customer.longitude))
    return Visit(
        rep_id=caller.id,
        customer_id=customer.id,
        visited_at=now,
        kind=draft.kind,
        notes=clean_notes(draft.notes),
        latitude=latitude,
        longitude=longitude,
        distance_m=distance,
        far_away=distance is not None and distance > FAR_AWAY_M,
        photo_file_ids=list(draft.photo_file_ids),
        next_follow_up=draft.next_follow_up,
        source_key=source_key,
        created_at=now,
        no_location=trust.no_location(draft.kind, draft.location),
        photo_reused=photo_reused,
        photo_forwarded=draft.photos_forwarded and bool(draft.photo_file_ids),
        late_entry=trust.logged_late(draft.sent_at, now),
        sent_at=draft.sent_at,
    )


def _saved_or_undone() -> Select[int | None, bool]:
    """The visit ``:source_key`` saved (its id), and whether one it saved was undone ``:since``."""
    audit_log, visits = AuditLog.__table__, Visit.__table__
    undone = (
        select(audit_log.c.id)
        .where(
            audit_log.c.action == ACTION_UNDO,
            audit_log.c.at >= bindparam("since"),
            audit_log.c.before["source_key"].as_string() == bindparam("source_key"),
        )
        .limit(1)
        .exists()
    )
    return select(
        select(visits.c.id).where(visits.c.source_key == bindparam("source_key")).scalar_subquery(), undone
    )


#: Every new visit runs these: built once (building a statement per call cost more than running it).
_SAVED_OR_UNDONE = _saved_or_undone()
_TOUCH_CUSTOMER = (
    update(Customer.__table__)
    .where(Customer.__table__.c.id == bindparam("customer_id"))
    .values(last_visit_at=bindparam("at"))
)
_INSERT_ONCE = {
    name: insert(Visit.__table__)
    .on_conflict_do_nothing(index_elements=["source_key"])
    .returning(Visit.__table__.c.id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


async def _existing(
    session: AsyncSession, caller: Caller, source_key: str, now: datetime, zone: ZoneInfo
) -> SavedVisit | None:
    """The visit this update already saved; refuse to bring back one that was undone.

    Both questions in one statement: on the usual path (a new update) it is the only one.
    """
    saved_id, was_undone = (
        await session.execute(_SAVED_OR_UNDONE, {"source_key": source_key, "since": now - UNDONE_MEMORY})
    ).one()
    if saved_id is None:
        if was_undone:
            raise Conflict(N_("This visit was undone, so it was not saved again."))
        return None
    visit = await session.get_one(Visit, saved_id)
    if visit.rep_id != caller.id:
        raise AccessDenied(N_("That visit is not one of yours."))
    customer = await customers.get_in_scope(session, caller, visit.customer_id)
    stock = await session.scalar(select(func.count()).where(StockLine.visit_id == visit.id)) or 0
    feedback = await session.scalar(select(func.count()).where(Feedback.visit_id == visit.id)) or 0
    saved = _saved(visit, customer, stock, feedback, await policy.grade_rules(session), zone)
    return replace(saved, already_saved=True)


def _saved(
    visit: Visit,
    customer: Customer,
    stock_lines: int,
    feedback: int,
    rules: dict[str, policy.GradeRule],
    zone: ZoneInfo,
) -> SavedVisit:
    today = policy.local_date(visit.visited_at, zone)
    return SavedVisit(
        id=visit.id,
        customer=CustomerRef.of(customer),
        kind=visit.kind,
        notes=visit.notes,
        located=visit.latitude is not None,
        distance_m=visit.distance_m,
        far_away=visit.far_away,
        photos=len(visit.photo_file_ids or []),
        stock_lines=stock_lines,
        feedback=feedback,
        next_follow_up=visit.next_follow_up,
        next_due=policy.next_visit_due(customer.last_visit_at, customer.grade, rules, zone, today),
    )


def _snapshot(
    visit: Visit,
    stock: tuple[StockEntry, ...] | list[StockEntry],
    feedback: tuple[FeedbackEntry, ...] | list[FeedbackEntry],
    *,
    last_visit_before: datetime | None,
) -> dict[str, Any]:
    """The visit as plain JSON, for the audit log."""
    return {
        "customer_id": visit.customer_id,
        "rep_id": visit.rep_id,
        "kind": str(visit.kind),
        "visited_at": visit.visited_at.isoformat(),
        "notes": visit.notes,
        "latitude": visit.latitude,
        "longitude": visit.longitude,
        "distance_m": visit.distance_m,
        "far_away": visit.far_away,
        "photo_file_ids": list(visit.photo_file_ids or []),
        "flags": [str(flag) for flag in trust.flags_of([getattr(visit, c.key) for c in trust.COLUMNS])],
        "sent_at": visit.sent_at.isoformat() if visit.sent_at else None,
        "stock": [[line.product, line.quantity, *([line.unit] if line.unit else [])] for line in stock],
        "feedback": [[str(item.topic), item.text] for item in feedback],
        "next_follow_up": visit.next_follow_up.isoformat() if visit.next_follow_up else None,
        "source_key": visit.source_key,
        "customer_last_visit_before": last_visit_before.isoformat() if last_visit_before else None,
    }


# -- undo ----------------------------------------------------------------------------------------


async def undo(session: AsyncSession, caller: Caller, visit_id: int, *, now: datetime) -> Undone:
    """Delete a visit its rep saved less than 10 minutes ago, and put last_visit_at back."""
    require(caller, Permission.LOG_VISIT)
    visit = await session.scalar(select(Visit).where(Visit.id == visit_id))
    if visit is None:
        undone_by = await session.scalar(
            select(AuditLog.actor_id)
            .where(AuditLog.action == ACTION_UNDO, AuditLog.entity == "visit", AuditLog.entity_id == visit_id)
            .limit(1)
        )
        if undone_by == caller.id:
            raise Conflict(N_("This visit is already undone."))
        raise NotFound(N_("That visit does not exist."))
    if visit.rep_id != caller.id:
        raise AccessDenied(N_("Only the rep who logged a visit can undo it."))
    if now - visit.created_at > UNDO_WINDOW:
        raise Conflict(
            N_(
                "Too late to undo: a visit can be undone within {minutes} minutes of saving. "
                "It stays on record."
            ),
            minutes=int(UNDO_WINDOW.total_seconds() // 60),
        )
    customer = await session.get_one(Customer, visit.customer_id)
    stock = list(
        await session.scalars(select(StockLine).where(StockLine.visit_id == visit.id).order_by(StockLine.id))
    )
    feedback = list(
        await session.scalars(select(Feedback).where(Feedback.visit_id == visit.id).order_by(Feedback.id))
    )
    before = _snapshot(
        visit,
        [StockEntry(s.product, s.quantity, s.unit) for s in stock],
        [FeedbackEntry(f.topic, f.text) for f in feedback],
        last_visit_before=customer.last_visit_at,
    )
    await session.execute(delete(StockLine).where(StockLine.visit_id == visit.id))
    await session.execute(delete(VisitPhoto).where(VisitPhoto.visit_id == visit.id))
    await session.execute(delete(Feedback).where(Feedback.visit_id == visit.id))
    await session.execute(delete(Visit).where(Visit.id == visit.id))
    await session.execute(
        update(Customer)
        .where(Customer.id == customer.id)
        .values(
            last_visit_at=select(func.max(Visit.visited_at))
            .where(Visit.customer_id == customer.id)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(customer, ["last_visit_at"])
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_UNDO,
        entity="visit",
        entity_id=visit_id,
        at=now,
        before=before,
    )
    return Undone(CustomerRef.of(customer))


# -- parsing what reps type ---------------------------------------------------------------------

#: ``Product A 12``, ``产品B：5``, ``胶水：10箱``, ``Glue 10 boxes``, ``胶水10箱``: the product, then the
#: quantity and an optional one-word unit. Between product and quantity a colon or a space, or
#: nothing after a character that is not ASCII (Chinese runs on: ``胶水10箱``).
_STOCK_LINE = re.compile(
    r"(?P<product>.*?\S)(?:\s*[:：]\s*|\s+|(?<=[^\x00-\x7f]))"
    r"(?P<quantity>[-+]?\d+(?:[.,]\d+)?)\s*(?P<unit>[^\d\s:：.,+-][^\d\s:：]{0,19})?"  # units.MAX_UNIT_CHARS
)
#: ``10箱胶水``, ``3 boxes glue``: a quantity and a known unit first, then the product.
_UNIT_FIRST = re.compile(r"(?P<quantity>\d+)\s*(?P<rest>\S.*)")


def _stock_parts(line: str) -> tuple[str, str, str | None] | None:
    """(product, quantity as typed, unit as typed or None) of one stock line, or None.

    A unit the bot does not know is taken only when a space sets it apart (``5 widgets``):
    ``Cola 330ml`` is a product without a quantity, not 330 "ml" of Cola.
    """
    match = _STOCK_LINE.fullmatch(line)
    if match is not None:
        unit = match["unit"]
        attached = unit is not None and match.start("unit") == match.end("quantity")
        if not (attached and units.known_unit(unit) is None):
            return match["product"].strip(" :："), match["quantity"], unit
    first = _UNIT_FIRST.fullmatch(line)
    if first is not None:
        rest = first["rest"]
        for cut in range(min(len(rest), units.MAX_UNIT_CHARS), 0, -1):  # the longest known unit
            product = rest[cut:].strip(" :：")
            mid_word = rest[cut - 1 : cut + 1].isascii() and rest[cut - 1 : cut + 1].isalnum()
            if product and not mid_word and units.known_unit(rest[:cut]) is not None:
                return product, first["quantity"], rest[:cut]
    return None


def parse_stock_lines(text: str) -> tuple[StockEntry, ...]:
    """One product per line with its quantity and, if given, its unit (bot/services/field/units.py):
    ``Product A 12``, ``产品A：12``, ``胶水：10箱``, ``Glue 10 boxes``, ``10箱胶水``, ``3 boxes glue``.
    Quantities are whole numbers ≥ 0."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise Invalid(N_("Send one product per line with its quantity, e.g. Product A 12 or 胶水：10箱"))
    if len(lines) > MAX_STOCK_LINES:
        raise Invalid(N_("At most {count} stock lines at a time."), count=MAX_STOCK_LINES)
    entries = []
    for number, line in enumerate(lines, start=1):
        parts = _stock_parts(line)
        if parts is None or not parts[0]:
            raise Invalid(
                N_("Line {line} ({text}): write the product, then the quantity, e.g. Product A 12"),
                line=number,
                text=line,
            )
        product, quantity, unit = parts
        if not quantity.lstrip("+-").isdecimal() or quantity.startswith("-"):
            raise Invalid(
                N_("Line {line} ({text}): the quantity must be a whole number, 0 or more."),
                line=number,
                text=line,
            )
        count = int(quantity) if len(quantity) <= 12 else MAX_QUANTITY + 1  # int() refuses 4,300+ digits
        if count > MAX_QUANTITY:
            raise Invalid(N_("Line {line} ({text}): that quantity is too large."), line=number, text=line)
        if len(product) > MAX_PRODUCT_CHARS:
            raise Invalid(
                N_("Line {line}: the product name is longer than {count} characters."),
                line=number,
                count=MAX_PRODUCT_CHARS,
            )
        entries.append(StockEntry(product, count, units.normalise_unit(unit)))
    return tuple(entries)


def parse_follow_up(text: str, today: date) -> date:
    """A follow-up date from what a rep typed, today or later, at most a year ahead.

    Every form of :mod:`bot.services.reporting.dates`: ``2026-12-01``, ``12/1``, ``12月1日``,
    ``15号``, ``friday``, ``周五``, ``下周五``, ``tomorrow``, ``明天``, ``后天``, ``next week``, ``下周``.
    """
    day = dates.parse_date(text, today)
    if day < today:
        raise Invalid(N_("{date} is in the past: pick today or a later day."), date=f"{day:%Y-%m-%d}")
    if day - today > MAX_FOLLOW_UP_AHEAD:
        raise Invalid(N_("{date} is more than a year ahead: pick a nearer day."), date=f"{day:%Y-%m-%d}")
    return day
