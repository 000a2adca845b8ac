"""The vehicle log (行車記錄表, regulations part 4 art. 31–32): trips by car, their kilometres and fuel.

Rules (the issue left them open):

* **Who.** Whoever logs visits (reps, managers, the director, admins) logs their own trips; the list
  (``/trips``) is the caller's figures scope: a rep their own, a manager the team's, the director,
  finance and admins everyone's.
* **Readings.** A trip starts at a reading no lower than the rep's last one (their latest trip's end,
  or its start while it is open) and ends at one no lower than its start: an odometer only goes up.
  At most one trip per rep is open (a partial unique index, whoever writes).
* **Kilometres** are end − start of the ended trips, counted in the month (or period) the trip
  *started* in, company time: the log's row is dated by its start.
* **Customers** are prefilled from the visits the rep logged between the start and the end (in the
  order first visited); the rep confirms, removes or adds customers in their scope.
* **Fuel.** A fuel receipt is an expense (``models/expenses.py``, category ``fuel``) the rep claimed
  while the trip was open. It is linked to the trip (``expenses.trip_id``) when the trip ends and
  whenever a trip is shown; its cost counts unless it was rejected or withdrawn. ``/expense`` itself
  knows nothing of trips.
* **Once.** A trip is keyed by the update that started it and by the one that ended it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Conflict, Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.people.access import Caller, Permission, require
from bot.services.reporting.periods import Period
from bot.text import strip_bidi_controls
from models import (
    Customer,
    Expense,
    ExpenseCategory,
    ExpenseStatus,
    Money,
    Role,
    Team,
    Trip,
    TripCustomer,
    User,
    Visit,
)

ZERO = Decimal("0.00")
#: The highest reading accepted: a car's odometer has seven digits at most.
MAX_READING = 9_999_999
PURPOSE_CHARS = 300
#: Customers on one trip, at most (each is a button while the rep confirms them).
MAX_CUSTOMERS = 20
#: Trips one /trips message lists, newest first.
LISTED = 30
#: Fuel receipts that cost money: not rejected, not withdrawn.
COUNTED = (ExpenseStatus.PENDING, ExpenseStatus.APPROVED)

USAGE = N_(
    "Start a trip with <code>/trip start 12345</code> (the odometer in km; a photo of the dashboard "
    "may come with it), end it with <code>/trip end 12410</code>. <code>/trip</code> shows the open one."
)
BAD_READING = N_("{text} is not an odometer reading. Type the kilometres the dashboard shows, like 12345.")
_READING = re.compile(r"(\d{1,3}(?:[,\s]\d{3})+|\d+)(?:\s*(?:km|公里))?", re.IGNORECASE)


# -- what the services return ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fuel:
    expense_id: int
    amount: Decimal
    status: ExpenseStatus
    note: str | None
    claimed_at: datetime


@dataclass(frozen=True)
class TripView:
    id: int
    rep_id: int
    rep: str
    team: str | None
    started_at: datetime
    odometer_start: int
    has_photo: bool
    ended_at: datetime | None
    odometer_end: int | None
    purpose: str | None
    customers: tuple[CustomerRef, ...]
    fuel: tuple[Fuel, ...]

    @property
    def km(self) -> int | None:
        return None if self.odometer_end is None else self.odometer_end - self.odometer_start

    @property
    def fuel_cost(self) -> Decimal:
        return sum((f.amount for f in self.fuel if f.status in COUNTED), ZERO)


@dataclass(frozen=True)
class Started:
    trip: TripView
    repeated: bool  # the same update again: nothing new was written
    #: The reading the new one was checked against (None: the rep's first trip).
    last_reading: int | None


@dataclass(frozen=True)
class Ended:
    trip: TripView
    repeated: bool


@dataclass(frozen=True)
class TripList:
    period: Period
    scope: str | None  # None: the caller's own
    trips: tuple[TripView, ...]
    total: int  # trips in the period (more than listed, if over LISTED)
    km: int
    fuel_cost: Decimal


# -- parsing --------------------------------------------------------------------------------------


def parse_reading(text: str) -> int:
    """An odometer reading: ``12345``, ``12,345``, ``12 345 km``, full-width digits."""
    cleaned = unicodedata.normalize("NFKC", strip_bidi_controls(text)).strip()
    match = _READING.fullmatch(cleaned)
    if not match:
        raise Invalid(BAD_READING, text=cleaned[:30] or "—")
    reading = int(re.sub(r"[,\s]", "", match.group(1)))
    if reading > MAX_READING:
        raise Invalid(BAD_READING, text=cleaned[:30])
    return reading


def clean_purpose(text: str) -> str:
    purpose = " ".join(strip_bidi_controls(text).split())
    if not purpose:
        raise Invalid(N_("Type the purpose of the trip in a few words."))
    if len(purpose) > PURPOSE_CHARS:
        raise Invalid(N_("The purpose may be {count} characters at most."), count=PURPOSE_CHARS)
    return purpose


# -- reading trips --------------------------------------------------------------------------------


async def _views(
    session: AsyncSession, where: ColumnElement[bool], *, limit: int | None = None
) -> list[TripView]:
    """Trips matching ``where``, newest first, with their customers and fuel: three statements."""
    query = (
        select(Trip, User.name, Team.name)
        .join(User, User.id == Trip.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(where)
        .order_by(Trip.started_at.desc(), Trip.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    rows = list(await session.execute(query))
    ids = [trip.id for trip, _, _ in rows]
    visited: dict[int, list[CustomerRef]] = defaultdict(list)
    fuel: dict[int, list[Fuel]] = defaultdict(list)
    if ids:
        for trip_id, customer in await session.execute(
            select(TripCustomer.trip_id, Customer)
            .join(Customer, Customer.id == TripCustomer.customer_id)
            .where(TripCustomer.trip_id.in_(ids))
            .order_by(TripCustomer.trip_id, TripCustomer.position)
        ):
            visited[trip_id].append(CustomerRef.of(customer))
        for expense in await session.scalars(
            select(Expense).where(Expense.trip_id.in_(ids)).order_by(Expense.claimed_at, Expense.id)
        ):
            assert expense.trip_id is not None
            fuel[expense.trip_id].append(
                Fuel(expense.id, expense.amount, expense.status, expense.note, expense.claimed_at)
            )
    return [
        TripView(
            id=trip.id,
            rep_id=trip.rep_id,
            rep=rep,
            team=team,
            started_at=trip.started_at,
            odometer_start=trip.odometer_start,
            has_photo=trip.start_photo_file_id is not None,
            ended_at=trip.ended_at,
            odometer_end=trip.odometer_end,
            purpose=trip.purpose,
            customers=tuple(visited[trip.id]),
            fuel=tuple(fuel[trip.id]),
        )
        for trip, rep, team in rows
    ]


async def _view(session: AsyncSession, trip_id: int) -> TripView:
    [view] = await _views(session, Trip.id == trip_id)
    return view


async def link_fuel(session: AsyncSession, reps: ColumnElement[bool], now: datetime) -> int:
    """Link the fuel receipts of the reps matched by ``reps`` (on ``Expense.rep_id``) to the trip each
    was claimed in; one set-based UPDATE. Returns how many were linked."""
    during = and_(
        Trip.rep_id == Expense.rep_id,
        Trip.started_at <= Expense.claimed_at,
        or_(Trip.ended_at.is_(None), Trip.ended_at >= Expense.claimed_at),
    )
    trip = select(Trip.id).where(during).order_by(Trip.started_at.desc()).limit(1).scalar_subquery()
    result = await session.execute(
        update(Expense)
        .where(
            Expense.trip_id.is_(None),
            Expense.category == ExpenseCategory.FUEL,
            Expense.claimed_at <= now,
            reps,
            exists().where(during),
        )
        .values(trip_id=trip)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]  # a CursorResult at run time, typed Result


async def open_trip(session: AsyncSession, caller: Caller, now: datetime) -> TripView | None:
    """The caller's trip under way, its fuel receipts so far linked."""
    require(caller, Permission.LOG_VISIT)
    await link_fuel(session, Expense.rep_id == caller.id, now)
    views = await _views(session, (Trip.rep_id == caller.id) & Trip.ended_at.is_(None))
    return views[0] if views else None


async def last_reading(session: AsyncSession, rep_id: int) -> int | None:
    """The rep's latest reading: their newest trip's end, or its start while it is open."""
    row = (
        await session.execute(
            select(Trip.odometer_start, Trip.odometer_end)
            .where(Trip.rep_id == rep_id)
            .order_by(Trip.started_at.desc(), Trip.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    start, end = row
    return start if end is None else end


def _lower_than_last(reading: int, last: int) -> Invalid:
    return Invalid(
        N_(
            "{reading} km is lower than your last reading, {last} km. An odometer only goes up: "
            "check the dashboard and send the reading again."
        ),
        reading=f"{reading:,}",
        last=f"{last:,}",
    )


# -- starting and ending --------------------------------------------------------------------------


async def start(
    session: AsyncSession,
    caller: Caller,
    reading: int,
    *,
    now: datetime,
    source_key: str,
    photo_file_id: str | None = None,
) -> Started:
    """Start a trip at ``reading`` (see the module doc)."""
    require(caller, Permission.LOG_VISIT)
    existing = await session.scalar(select(Trip.id).where(Trip.source_key == source_key))
    if existing is not None:
        return Started(await _view(session, existing), repeated=True, last_reading=None)
    under_way = await session.scalar(
        select(Trip).where(Trip.rep_id == caller.id, Trip.ended_at.is_(None)).limit(1)
    )
    if under_way is not None:
        raise Conflict(
            N_(
                "Your trip from {odometer} km is still open: end it first with <code>/trip end</code> "
                "and the reading."
            ),
            odometer=f"{under_way.odometer_start:,}",
        )
    last = await last_reading(session, caller.id)
    if last is not None and reading < last:
        raise _lower_than_last(reading, last)
    trip = Trip(
        rep_id=caller.id,
        started_at=now,
        odometer_start=reading,
        start_photo_file_id=photo_file_id,
        source_key=source_key,
    )
    try:
        async with session.begin_nested():
            session.add(trip)
    except IntegrityError:  # the same update delivered twice at once, or two starts racing
        again = await session.scalar(select(Trip.id).where(Trip.source_key == source_key))
        if again is None:
            raise Conflict(N_("You already have a trip open: /trip shows it.")) from None
        return Started(await _view(session, again), repeated=True, last_reading=None)
    audit.record(
        session,
        actor_id=caller.id,
        action="trip.start",
        entity="trip",
        entity_id=trip.id,
        at=now,
        after={"odometer_start": reading, "photo": photo_file_id is not None},
    )
    return Started(await _view(session, trip.id), repeated=False, last_reading=last)


async def add_photo(session: AsyncSession, caller: Caller, trip_id: int, file_id: str, now: datetime) -> None:
    """The dashboard's photo, sent after the trip started (while it is open)."""
    require(caller, Permission.LOG_VISIT)
    trip = await session.get(Trip, trip_id)
    if trip is None or trip.rep_id != caller.id or trip.ended_at is not None:
        raise NotFound(N_("That trip is not open any more."))
    trip.start_photo_file_id = file_id
    audit.record(session, actor_id=caller.id, action="trip.photo", entity="trip", entity_id=trip.id, at=now)


def require_field(caller: Caller) -> None:
    """Trips are logged by whoever logs visits."""
    require(caller, Permission.LOG_VISIT)


async def check_end_reading(
    session: AsyncSession, caller: Caller, reading: int, *, check: bool = True
) -> TripView:
    """The caller's open trip, and (``check``) ``reading`` refused when below its start."""
    require(caller, Permission.LOG_VISIT)
    views = await _views(session, (Trip.rep_id == caller.id) & Trip.ended_at.is_(None))
    if not views:
        raise NotFound(N_("You have no trip open. Start one with <code>/trip start</code> and the reading."))
    if check and reading < views[0].odometer_start:
        raise _lower_than_last(reading, views[0].odometer_start)
    return views[0]


async def visited_during(
    session: AsyncSession, caller: Caller, trip: TripView, now: datetime
) -> list[CustomerRef]:
    """The customers the rep logged visits at since the trip started, in the order first visited."""
    first = func.min(Visit.visited_at)
    rows = await session.execute(
        select(Customer, first)
        .join(Visit, Visit.customer_id == Customer.id)
        .where(Visit.rep_id == caller.id, Visit.visited_at >= trip.started_at, Visit.visited_at <= now)
        .group_by(Customer.id)
        .order_by(first, Customer.id)
        .limit(MAX_CUSTOMERS)
    )
    return [CustomerRef.of(customer) for customer, _ in rows]


async def find_customer(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """A customer the rep adds to the trip's list by name or code, in their scope."""
    require(caller, Permission.LOG_VISIT)
    return await customers.resolve_one(session, caller, text)


async def customer(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """A customer from a button, re-checked against the presser's scope."""
    require(caller, Permission.LOG_VISIT)
    return CustomerRef.of(await customers.get_in_scope(session, caller, customer_id))


async def end(
    session: AsyncSession,
    caller: Caller,
    trip_id: int,
    reading: int,
    *,
    purpose: str,
    customer_ids: list[int],
    now: datetime,
    end_key: str,
) -> Ended:
    """End the caller's open trip ``trip_id``: reading, purpose, customers; fuel linked."""
    require(caller, Permission.LOG_VISIT)
    done = await session.scalar(select(Trip.id).where(Trip.end_key == end_key))
    if done is not None:
        return Ended(await _view(session, done), repeated=True)
    trip = await session.get(Trip, trip_id)
    if trip is None or trip.rep_id != caller.id or trip.ended_at is not None:
        raise NotFound(N_("That trip is not open any more."))
    if reading < trip.odometer_start:
        raise _lower_than_last(reading, trip.odometer_start)
    if len(customer_ids) > MAX_CUSTOMERS:
        raise Invalid(N_("A trip lists {count} customers at most."), count=MAX_CUSTOMERS)
    for customer_id in customer_ids:  # ids came through the draft: in scope still?
        await customers.get_in_scope(session, caller, customer_id)
    trip.ended_at, trip.odometer_end, trip.end_key = now, reading, end_key
    trip.purpose = clean_purpose(purpose)
    session.add_all(
        TripCustomer(trip_id=trip.id, customer_id=customer_id, position=position)
        for position, customer_id in enumerate(dict.fromkeys(customer_ids))
    )
    await session.flush()
    await link_fuel(session, Expense.rep_id == caller.id, now)
    audit.record(
        session,
        actor_id=caller.id,
        action="trip.end",
        entity="trip",
        entity_id=trip.id,
        at=now,
        after={"odometer_end": reading, "km": reading - trip.odometer_start, "customers": customer_ids},
    )
    return Ended(await _view(session, trip.id), repeated=False)


# -- lists and figures ----------------------------------------------------------------------------


def _people(caller: Caller) -> tuple[ColumnElement[bool], bool]:
    """Whose trips the caller sees (on ``Trip.rep_id``), and whether that is only their own."""
    require(caller, Permission.VIEW_FIGURES)
    if caller.role == Role.REP:
        return Trip.rep_id == caller.id, True
    if caller.role == Role.MANAGER:
        member = aliased(User)
        team = select(member.id).where(member.team_id == caller.team_id)
        return (Trip.rep_id.in_(team) if caller.team_id is not None else false()), False
    return true(), False


async def list_trips(
    session: AsyncSession, caller: Caller, period: Period, zone: ZoneInfo, now: datetime
) -> TripList:
    """/trips: the trips started in ``period`` in the caller's scope, newest first, with totals."""
    people, own = _people(caller)
    start, end_ = period.bounds(zone)
    where = people & (Trip.started_at >= start) & (Trip.started_at < end_)
    riders = select(Trip.rep_id).where(where)
    await link_fuel(session, Expense.rep_id.in_(riders), now)
    total, km = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Trip.odometer_end - Trip.odometer_start), 0)).where(
                where
            )
        )
    ).one()
    fuel = await session.scalar(
        select(type_coerce(func.sum(Expense.amount), Money())).where(
            Expense.trip_id.in_(select(Trip.id).where(where)), Expense.status.in_(COUNTED)
        )
    )
    scope: str | None = None  # the caller's own
    if not own:
        scope = ""  # everyone
        if caller.role == Role.MANAGER and caller.team_id is not None:
            scope = await session.scalar(select(Team.name).where(Team.id == caller.team_id)) or ""
    return TripList(
        period=period,
        scope=scope,
        trips=tuple(await _views(session, where, limit=LISTED)),
        total=total,
        km=int(km or 0),
        fuel_cost=fuel or ZERO,
    )


def month_of(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date().replace(day=1)


async def km_by_month(
    session: AsyncSession, rep_id: int, start: datetime, end_: datetime, zone: ZoneInfo
) -> list[tuple[date, int, int]]:
    """(month, km, trips) of one person's ended trips started in [start, end), month by month.

    Months are the company's: trips are read (a person's month is a few dozen rows) and bucketed
    here, since SQLite and PostgreSQL share no function for a local month.
    """
    months: dict[date, list[int]] = {}
    for started_at, km in await session.execute(
        select(Trip.started_at, Trip.odometer_end - Trip.odometer_start).where(
            Trip.rep_id == rep_id,
            Trip.started_at >= start,
            Trip.started_at < end_,
            Trip.odometer_end.is_not(None),
        )
    ):
        assert km is not None  # ended trips only (odometer_end IS NOT NULL)
        bucket = months.setdefault(month_of(started_at, zone), [0, 0])
        bucket[0] += km
        bucket[1] += 1
    return [(month, km, count) for month, (km, count) in sorted(months.items())]
