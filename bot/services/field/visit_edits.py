"""Fixing what was logged: a rep changes their own visit's notes and extras until the day ends.

Rules (issue 21, "Fix what was logged"):

* **Who.** Only the rep who logged the visit; anyone else is refused without learning anything
  about it (a forged button names someone else's visit).
* **Until when.** Until the end of the company-local day the visit was logged on: a day's record
  is what the rep's daily report and the manager's evening figures saw, so after that it stays as
  logged and a correction is the manager's business. After midnight the edit is refused and the
  rep told so.
* **What.** The notes (replaced), the stock counts (the lines replaced by the ones sent), the
  market feedback on one topic (replaced by the text sent), the follow-up date (set or removed).
  The customer, the kind, the time, the location and the photos are what the rep did and stay.
* **Kept.** Every change writes an audit entry (``visit.edit``) with the editable part of the
  visit before and after, and sets ``visits.edited_at``: the manager sees "edited" in /rep, the
  summary's drill-down and the export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit, policy
from bot.services.errors import AccessDenied, Conflict, Invalid, NotFound
from bot.services.field import visits
from bot.services.field.customers import CustomerRef
from bot.services.field.visits import FeedbackEntry, StockEntry
from bot.services.people.access import Caller, Permission, require
from models import Customer, Feedback, FeedbackTopic, StockLine, Visit, VisitKind

ACTION_EDIT = "visit.edit"


@dataclass(frozen=True)
class EditableVisit:
    """A visit as the edit screen shows it."""

    id: int
    customer: CustomerRef
    kind: VisitKind
    visited_at: datetime  # UTC
    notes: str
    stock: tuple[StockEntry, ...]
    feedback: tuple[FeedbackEntry, ...]
    follow_up: date | None
    edited_at: datetime | None  # UTC


@dataclass(frozen=True)
class Change:
    """One edit: the part given replaces what the visit had (None: left as it is)."""

    notes: str | None = None
    stock: tuple[StockEntry, ...] | None = None
    feedback: FeedbackEntry | None = None  # replaces the feedback on its topic
    follow_up: date | None = None
    clear_follow_up: bool = False


async def _own_visit(
    session: AsyncSession, caller: Caller, visit_id: int, *, now: datetime, zone: ZoneInfo, lock: bool
) -> Visit:
    """The caller's own visit, logged today (company time): refused otherwise."""
    require(caller, Permission.LOG_VISIT)
    statement = select(Visit).where(Visit.id == visit_id)
    if lock and session.get_bind().dialect.name == "postgresql":  # two edits at once: one after the other
        statement = statement.with_for_update()
    visit = await session.scalar(statement)
    if visit is None:
        raise NotFound(N_("That visit does not exist."))
    if visit.rep_id != caller.id:
        raise AccessDenied(N_("Only the rep who logged a visit can change it."))
    logged_on = policy.local_date(visit.visited_at, zone)
    if logged_on != policy.local_date(now, zone):
        raise Conflict(
            N_(
                "This visit was logged on {date}: a visit can be changed only until the end of the day "
                "it was logged. It stays as logged; tell your manager if something in it is wrong."
            ),
            date=logged_on.isoformat(),
        )
    return visit


async def _read(session: AsyncSession, visit: Visit) -> EditableVisit:
    customer = await session.get_one(Customer, visit.customer_id)
    stock = await session.execute(
        select(StockLine.product, StockLine.quantity, StockLine.unit)
        .where(StockLine.visit_id == visit.id)
        .order_by(StockLine.id)
    )
    feedback = await session.execute(
        select(Feedback.topic, Feedback.text).where(Feedback.visit_id == visit.id).order_by(Feedback.id)
    )
    return EditableVisit(
        id=visit.id,
        customer=CustomerRef.of(customer),
        kind=visit.kind,
        visited_at=visit.visited_at,
        notes=visit.notes,
        stock=tuple(StockEntry(product, quantity, unit) for product, quantity, unit in stock),
        feedback=tuple(FeedbackEntry(FeedbackTopic(topic), text) for topic, text in feedback),
        follow_up=visit.next_follow_up,
        edited_at=visit.edited_at,
    )


def _snapshot(visit: EditableVisit) -> dict[str, Any]:
    """The editable part of a visit as plain JSON, for the audit log."""
    return {
        "notes": visit.notes,
        "stock": [[line.product, line.quantity, *([line.unit] if line.unit else [])] for line in visit.stock],
        "feedback": [[str(item.topic), item.text] for item in visit.feedback],
        "next_follow_up": visit.follow_up.isoformat() if visit.follow_up else None,
    }


async def open_for_edit(
    session: AsyncSession, caller: Caller, visit_id: int, *, now: datetime, zone: ZoneInfo
) -> EditableVisit:
    """The ✏️ Edit button: the visit as it stands, if the caller may still change it."""
    visit = await _own_visit(session, caller, visit_id, now=now, zone=zone, lock=False)
    return await _read(session, visit)


async def edit(
    session: AsyncSession,
    caller: Caller,
    visit_id: int,
    change: Change,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> EditableVisit:
    """Apply ``change`` to the caller's visit of today, with an audit entry of before and after."""
    visit = await _own_visit(session, caller, visit_id, now=now, zone=zone, lock=True)
    before = await _read(session, visit)
    if change.notes is not None:
        visit.notes = visits.clean_notes(change.notes)
    if change.stock is not None:
        await session.execute(delete(StockLine).where(StockLine.visit_id == visit.id))
        session.add_all(
            [
                StockLine(visit_id=visit.id, product=line.product, quantity=line.quantity, unit=line.unit)
                for line in change.stock
            ]
        )
    if change.feedback is not None:
        if not change.feedback.text.strip():
            raise Invalid(N_("Type the feedback: it cannot be empty."))
        await session.execute(
            delete(Feedback).where(Feedback.visit_id == visit.id, Feedback.topic == change.feedback.topic)
        )
        session.add(Feedback(visit_id=visit.id, topic=change.feedback.topic, text=change.feedback.text))
    if change.clear_follow_up:
        visit.next_follow_up = None
    elif change.follow_up is not None:
        visit.next_follow_up = change.follow_up
    visit.edited_at = now
    await session.flush()
    after = await _read(session, visit)
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_EDIT,
        entity="visit",
        entity_id=visit.id,
        at=now,
        before=_snapshot(before),
        after=_snapshot(after),
    )
    return after
