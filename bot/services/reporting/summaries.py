"""Team figures: /summary, /team, /missing and /rep, each from a fixed handful of aggregate queries.

Nothing here runs a query per rep, customer or visit: every figure is a
``GROUP BY rep`` (or one count) over the period, so a 200-rep company costs
the same dozen statements as a 2-rep one.

Rules (the issue left them open):

* **Scope.** A rep sees their own figures; a manager their team's; the
  director, admins and finance everyone (the director and admins may narrow to
  one team). Activity (visits, orders, collections, reports, approvals) belongs
  to the person who did it, so a team's figures are those of its people;
  customer figures (coverage, new customers, receivables) follow the customers'
  scope, as ``/customers`` does.
* **Visits** are all kinds (on-site, calls, stock checks): each one keeps the
  customer's visit clock, as ``last_visit_at`` does. Unique customers counts
  each customer once, whoever visited.
* **Coverage** = due customers visited / due customers. A customer (not
  inactive, created before the period's last day ends) is *due* in the period
  when its grade's next visit date falls on or before the last day that has
  begun — i.e. its last visit before the period started was at least
  ``visit_every_days`` before that day, or it had none. It is *visited* when
  anyone visited it during the period. Customers are counted, not visit slots.
* **New customers** are customers created in the period that are prospects or
  were registered with /newcustomer (a prospect activated since still counts).
* **Orders** are receivables from /order (``source = order``) issued in the
  period, voided ones (undone, or rejected over the credit limit) left out;
  imported invoices are not orders. **Returns** are the credit notes of returns
  approved in the period (``bot/services/money/credit_notes.py``), counted against the
  customer's rep as the orders are: the figures show sales net of returns.
* **Credit** is the unapplied credit the customers in scope hold now
  (``customers.credit``): money they paid or were credited beyond what they owe.
* **Collections** are received in the period, reversals and reversed ones left
  out; *held* is cash and cheques not yet handed in, now, whenever received.
* **Receivables** are the open ones now, by aging bucket (disputed included).
* **Reports expected** = for each active rep, the working days of the period
  from the day they were added up to today (today included: the figure reads
  "so far"); *submitted* and *late* count those reps' reports on those days.
* **Last activity** is the latest visit, order or collection they recorded themselves, or report,
  ever (``users.last_activity_at``, kept by triggers: migration 0036).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Result,
    Select,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.i18n import N_, Translator
from bot.services import company, outbox
from bot.services.errors import AccessDenied, Conflict, NotFound
from bot.services.field import complaints, stock, trips, trust, visit_extras
from bot.services.field.customers import first_line
from bot.services.field.stock import NO_SHORTFALLS, NO_STOCK, Shortfalls, StockLevels
from bot.services.field.visit_extras import Album, TopicFeedback
from bot.services.money.aging import Aging, aging_total
from bot.services.money.collections import held
from bot.services.money.ledger import credit_totals, standing
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import GradeRule, grade_rules, start_of_day
from bot.services.reporting import visit_months
from bot.services.reporting.periods import TODAY, Period, relative
from bot.services.reporting.reports import NOTE_LINE_LIMIT, ReportHours, VisitLine
from models import (
    Approval,
    ApprovalStatus,
    Collection,
    CreditNote,
    Customer,
    CustomerStatus,
    DailyReport,
    Money,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    RepMonth,
    Role,
    Team,
    Trip,
    User,
    Visit,
)

ZERO = Decimal("0.00")
_ORDERS, _RETURNS = "o", "r"
LATEST_VISITS = 5
#: Lines of the drill-down's stock counts and of its open shortfalls.
LATEST_COUNTS, SHOWN_SHORTFALLS = 6, 5
MAX_CANDIDATES = 8
NOT_FOR_REPS = N_("Team figures are for managers, the director and finance. /summary shows your own.")

# Aliases built once: a fresh ``aliased()`` builds its column proxies again on first use, which
# cost more than the rest of the statement it was for.
_MEMBER = aliased(User)
_REVERSAL = aliased(Collection)
_held = cache(held)  # a constant expression: built once
#: ``rep_months``' flag counts in :func:`trust.count_columns`' order: any flag, then each (its
#: columns are named as the visits' own).
_MONTH_FLAGS = (RepMonth.flagged, *(getattr(RepMonth, column.key) for column in trust.COLUMNS))


# -- what the services return ---------------------------------------------------------------------


@dataclass(frozen=True)
class RepLine:
    """One person's figures for the period."""

    rep_id: int
    name: str
    team: str | None
    active_rep: bool  # an active rep (expected to report); others appear only for their activity
    visits: int = 0
    customers: int = 0  # unique customers visited
    orders: int = 0
    orders_amount: Decimal = ZERO
    collected: Decimal = ZERO
    held: Decimal = ZERO  # cash and cheques not handed in, now
    returns_amount: Decimal = ZERO  # returns approved in the period (credit notes)
    reports: int = 0
    reports_expected: int = 0
    reports_late: int = 0
    last_report_at: datetime | None = None  # UTC, the latest report of the period
    last_activity: datetime | None = None  # UTC
    #: Kilometres of the person's trips by car started in the period, and how many (vehicle log).
    km: int = 0
    trips: int = 0
    #: The period's visits carrying trust flags (bot/services/field/trust.py).
    flags: trust.FlagCounts = trust.NO_FLAGS


@dataclass(frozen=True)
class Summary:
    period: Period
    #: Who the figures are about: None for everyone, else a team's or a person's name.
    scope: str | None
    visits: int
    customers_visited: int
    due_customers: int
    due_visited: int
    new_customers: int
    orders: int
    orders_amount: Decimal
    collected_by_method: tuple[tuple[PaymentMethod, Decimal], ...]
    held: Decimal
    aging: Aging
    reports: int
    reports_expected: int
    reports_late: int
    pending_approvals: int
    reps: tuple[RepLine, ...]
    #: Returns approved in the period: how many, and their credit notes' amount.
    returns: int = 0
    returns_amount: Decimal = ZERO
    #: Unapplied credit the customers in scope hold now, and how many customers hold some.
    credit: Decimal = ZERO
    credit_customers: int = 0
    #: Customer letters and complaints open now, and those past a deadline (bot/services/field/complaints.py).
    complaints_open: int = 0
    complaints_overdue: int = 0
    #: Kilometres driven on the trips started in the period (ended ones), and how many trips.
    km: int = 0
    trips: int = 0

    @property
    def net_sales(self) -> Decimal:
        """Orders less the returns of the period."""
        return self.orders_amount - self.returns_amount

    @property
    def coverage(self) -> Decimal | None:
        """Due customers visited, in percent (one decimal), or None when nobody was due."""
        if not self.due_customers:
            return None
        return (Decimal(100 * self.due_visited) / self.due_customers).quantize(Decimal("0.1"))

    @property
    def collected(self) -> Decimal:
        return sum((amount for _method, amount in self.collected_by_method), ZERO)

    @property
    def receivables_open(self) -> Decimal:
        return self.aging.total

    @property
    def receivables_overdue(self) -> Decimal:
        return self.aging.overdue


@dataclass(frozen=True)
class TeamDay:
    """/team: today at a glance."""

    day: date
    working_day: bool
    reps: tuple[RepLine, ...]


@dataclass(frozen=True)
class MissingRep:
    id: int
    name: str
    team: str | None
    #: Has opened the bot and not blocked it: a push can reach them.
    reachable: bool


@dataclass(frozen=True)
class Missing:
    day: date
    working_day: bool
    reps: tuple[MissingRep, ...]


@dataclass(frozen=True)
class Nudged:
    missing: int  # reps without today's report
    queued: int  # reminders queued by this press
    already: int  # reps nudged earlier today (a second press)
    unreachable: int  # never opened the bot, or blocked it


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    username: str | None
    team: str | None


@dataclass(frozen=True)
class RepFigures:
    rep: PersonRef
    summary: Summary
    latest_visits: tuple[VisitLine, ...]
    #: The latest count the person made of each product at each customer, up to the period's end.
    stock: StockLevels = NO_STOCK
    #: Open shortfalls at the person's customers, now (bot/services/field/stock.py).
    shortfalls: Shortfalls = NO_SHORTFALLS
    #: The person's market feedback of the period: the latest on each topic, and how many.
    feedback: tuple[TopicFeedback, ...] = ()
    #: Photos the person took in the period.
    photos: int = 0
    #: (month, km, trips) of the person's trips started in the period, month by month.
    km_by_month: tuple[tuple[date, int, int], ...] = ()


# -- scope ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose figures: everyone, one team's people, one person, or nobody (a manager without a team)."""

    team_id: int | None = None
    rep_id: int | None = None
    nobody: bool = False
    name: str | None = None

    def people(
        self, column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
    ) -> ColumnElement[bool]:
        """Rows done by someone in scope (``column``: a rep/user id column)."""
        if self.nobody:
            return false()
        if self.rep_id is not None:
            return column == self.rep_id
        if self.team_id is not None:
            return column.in_(select(_MEMBER.id).where(_MEMBER.team_id == self.team_id))
        return true()

    @property
    def everyone(self) -> bool:
        """The whole company: every person and every customer."""
        return not self.nobody and self.rep_id is None and self.team_id is None

    def customers(self) -> ColumnElement[bool]:
        some = self.some_customers()
        return true() if some is None else some

    def some_customers(self) -> ColumnElement[bool] | None:
        """The customers in scope, or None for every customer (no need to read the customers table)."""
        if self.nobody:
            return false()
        if self.rep_id is not None:
            return Customer.rep_id == self.rep_id
        if self.team_id is not None:
            return Customer.team_id == self.team_id
        return None


NO_SUCH_TEAM = N_("There is no such team.")


def _require_team_view(caller: Caller) -> None:
    """/team, /missing and /rep are views over several people: not for reps."""
    require(caller, Permission.VIEW_FIGURES)
    if caller.role == Role.REP:
        raise AccessDenied(NOT_FOR_REPS)


async def _team_name(session: AsyncSession, team_id: int) -> str | None:
    return await session.scalar(select(Team.name).where(Team.id == team_id))


async def _scope(
    session: AsyncSession, caller: Caller, *, team_id: int | None = None, rep_id: int | None = None
) -> Scope:
    """The caller's scope, narrowed to one team or one person they may see."""
    require(caller, Permission.VIEW_FIGURES)
    if caller.role == Role.REP:
        if rep_id not in (None, caller.id) or team_id is not None:
            raise AccessDenied(NOT_FOR_REPS)
        return Scope(rep_id=caller.id, name=caller.name)
    if rep_id is not None:
        person = await _person_in_scope(session, caller, rep_id)
        return Scope(rep_id=person.id, name=person.name)
    if caller.role == Role.MANAGER:
        if team_id is not None and team_id != caller.team_id:
            raise NotFound(NO_SUCH_TEAM)  # as for a team that does not exist: no probing
        if caller.team_id is None:
            return Scope(nobody=True)
        team_id = caller.team_id
    if team_id is None:
        return Scope()
    name = await _team_name(session, team_id)
    if name is None:
        raise NotFound(NO_SUCH_TEAM)
    return Scope(team_id=team_id, name=name)


def _may_see_everyone(caller: Caller) -> bool:
    return caller.sees_all_customers  # admins, the director and finance


async def _person_in_scope(session: AsyncSession, caller: Caller, user_id: int) -> PersonRef:
    """A person by id (e.g. from a button), re-checked against the caller's scope."""
    row = (
        await session.execute(
            select(User.id, User.name, User.username, User.team_id, Team.name)
            .outerjoin(Team, Team.id == User.team_id)
            .where(User.id == user_id)
        )
    ).one_or_none()
    allowed = row is not None and (
        _may_see_everyone(caller)
        or (caller.role == Role.MANAGER and caller.team_id is not None and row.team_id == caller.team_id)
    )
    if not allowed or row is None:
        raise AccessDenied(N_("That person is not in your team."))
    return PersonRef(row.id, row.name, row.username, row[4])


async def find_team(session: AsyncSession, caller: Caller, name: str) -> int:
    """A team by name (case-insensitive), for narrowing /summary; managers only name their own.

    Another team's name is answered as one that does not exist, and a rep is refused before
    any lookup: what a caller may not see must not be told apart from what is not there.
    """
    require(caller, Permission.VIEW_FIGURES)
    if caller.role == Role.REP:
        raise AccessDenied(NOT_FOR_REPS)
    cleaned = " ".join(name.split())
    team_id = await session.scalar(select(Team.id).where(func.lower(Team.name) == cleaned.lower()))
    if team_id is None or (caller.role == Role.MANAGER and team_id != caller.team_id):
        raise NotFound(N_("There is no team called {name}."), name=cleaned)
    return team_id


# -- per-person aggregates ------------------------------------------------------------------------


@dataclass
class _Tally:
    visits: int = 0
    customers: int = 0
    orders: int = 0
    orders_amount: Decimal = ZERO
    collected: Decimal = ZERO
    held: Decimal = ZERO
    returns: int = 0
    returns_amount: Decimal = ZERO
    reports: int = 0
    reports_late: int = 0
    last_report_at: datetime | None = None
    by_method: dict[PaymentMethod, Decimal] = field(default_factory=dict)
    km: int = 0
    trips: int = 0
    flags: trust.FlagCounts = trust.NO_FLAGS


@dataclass(frozen=True)
class _Activity:
    tallies: dict[int | None, _Tally]


_Ts = TypeVarTuple("_Ts")


async def _rows(session: AsyncSession, query: Select[*_Ts] | CompoundSelect[*_Ts]) -> Result[*_Ts]:
    """``query``'s rows through the session's connection (Core): plain rows, without the ORM's
    per-row loading, which cost more than the rows' own types on the thousand-row statements here."""
    return await (await session.connection()).execute(query)


@cache
def _standing_collections() -> ColumnElement[bool]:
    """Neither a reversal nor reversed.

    "Reversed" is a ``NOT IN`` over the few reversals (read once from the ``reverses_id`` unique
    index) rather than a ``NOT EXISTS`` per collection, which PostgreSQL ran as a hash anti-join
    over every collection ever received. Built once (a constant).
    """
    reversed_ids = select(_REVERSAL.reverses_id).where(_REVERSAL.reverses_id.is_not(None))
    return Collection.reverses_id.is_(None) & Collection.id.not_in(reversed_ids)


async def _activity(
    session: AsyncSession, scope: Scope, period: Period, zone: ZoneInfo, working_days: list[date]
) -> _Activity:
    """Visits, orders, collections, held money, kilometres driven and reports per person: six grouped
    queries."""
    start, end = period.bounds(zone)
    tallies: dict[int | None, _Tally] = defaultdict(_Tally)
    # Every visit's rep is a user: naming them for the whole company too lets PostgreSQL read the
    # (rep, time) index one rep after another, already in rep order, instead of sorting the period's
    # visits for the distinct count (which spilled to disk).
    visitors = Visit.rep_id.in_(select(User.id)) if scope.everyone else scope.people(Visit.rep_id)
    in_period = (Visit.visited_at >= start) & (Visit.visited_at < end) & visitors
    rep_id: int | None  # a person's tally; orders and returns also count those of no rep (None)
    # The trust flags' counts ride on the same statement: no query of their own. A month is read
    # from the visits' monthly counts (visit_months.py) rather than counted.
    month = await visit_months.whole_month(session, period, zone)
    per_rep: Select[*tuple[int, ...]] = (
        select(Visit.rep_id, func.count(), func.count(distinct(Visit.customer_id)), *trust.count_columns())
        .where(in_period)
        .group_by(Visit.rep_id)
        if month is None
        else select(RepMonth.rep_id, RepMonth.visits, RepMonth.customers, *_MONTH_FLAGS).where(
            RepMonth.month == month, RepMonth.visits > 0, scope.people(RepMonth.rep_id)
        )
    )
    for rep_id, visits, customers, *flags in await _rows(session, per_rep):
        tallies[rep_id].visits, tallies[rep_id].customers = visits, customers
        tallies[rep_id].flags = trust.FlagCounts.of(flags)

    # Orders and returns in one statement: an arm each.
    orders = (
        select(
            literal(_ORDERS).label("kind"),
            Receivable.rep_id.label("rep_id"),
            func.count(),
            type_coerce(func.sum(Receivable.amount), Money()),
        )
        .where(
            Receivable.source == ReceivableSource.ORDER,
            Receivable.issued_on >= period.start,
            Receivable.issued_on <= period.end,
            standing(),
            scope.people(Receivable.rep_id),
        )
        .group_by(Receivable.rep_id)
    )
    returned = (
        select(
            literal(_RETURNS),
            CreditNote.rep_id,
            func.count(),
            type_coerce(func.sum(CreditNote.amount), Money()),
        )
        .where(CreditNote.issued_at >= start, CreditNote.issued_at < end, scope.people(CreditNote.rep_id))
        .group_by(CreditNote.rep_id)
    )
    for kind, rep_id, count, amount in await _rows(session, union_all(orders, returned)):
        if kind == _ORDERS:
            tallies[rep_id].orders, tallies[rep_id].orders_amount = count, amount or ZERO
        else:
            tallies[rep_id].returns, tallies[rep_id].returns_amount = count, amount or ZERO

    # One row per person, a sum per method (NULL: none received that way), rather than a row per
    # person and method: a third of the rows, and SQLite groups them in its index's rep order.
    methods = tuple(PaymentMethod)
    for rep_id, *amounts in await _rows(
        session,
        select(
            Collection.rep_id,
            *(
                type_coerce(func.sum(case((Collection.method == method, Collection.amount))), Money())
                for method in methods
            ),
        )
        .where(
            Collection.received_at >= start,
            Collection.received_at < end,
            _standing_collections(),
            scope.people(Collection.rep_id),
        )
        .group_by(Collection.rep_id),
    ):
        tally = tallies[rep_id]
        for method, amount in zip(methods, amounts, strict=True):
            if amount is not None:
                tally.by_method[method] = amount
                tally.collected += amount

    for rep_id, amount in await _rows(
        session,
        select(Collection.rep_id, type_coerce(func.sum(Collection.amount), Money()))
        .where(_held(), scope.people(Collection.rep_id))
        .group_by(Collection.rep_id),
    ):
        tallies[rep_id].held = amount or ZERO

    # The vehicle log: kilometres of the ended trips started in the period.
    for rep_id, driven, km in await _rows(
        session,
        select(Trip.rep_id, func.count(), func.sum(Trip.odometer_end - Trip.odometer_start))
        .where(
            Trip.started_at >= start,
            Trip.started_at < end,
            Trip.odometer_end.is_not(None),
            scope.people(Trip.rep_id),
        )
        .group_by(Trip.rep_id),
    ):
        tallies[rep_id].trips, tallies[rep_id].km = driven, int(km or 0)

    if working_days:
        for rep_id, reports, late, last in await _rows(
            session,
            select(
                DailyReport.rep_id,
                func.count(),
                func.coalesce(func.sum(case((DailyReport.late, 1), else_=0)), 0),
                func.max(DailyReport.submitted_at),
            )
            .where(DailyReport.day.in_(working_days), scope.people(DailyReport.rep_id))
            .group_by(DailyReport.rep_id),
        ):
            tally = tallies[rep_id]
            tally.reports, tally.reports_late, tally.last_report_at = reports, int(late), last
    return _Activity(dict(tallies))


async def _rep_lines(
    session: AsyncSession, scope: Scope, activity: _Activity, working_days: list[date], zone: ZoneInfo
) -> tuple[RepLine, ...]:
    """One line per active rep in scope, and per anyone else in scope with activity in the period
    (``working_days`` in ascending order)."""
    tallies = activity.tallies
    query = (
        select(User.id, User.name, Team.name, User.role, User.active, User.created_at, User.last_activity_at)
        .outerjoin(Team, Team.id == User.team_id)
        .where(scope.people(User.id))
        .order_by(Team.name, User.name, User.id)
    )
    if not scope.everyone:  # active reps, and the others busy in the period
        busy = [rep_id for rep_id in tallies if rep_id is not None]
        query = query.where(or_(and_(User.role == Role.REP, User.active), User.id.in_(busy)))
    # For the whole company everyone is read and the others skipped below, rather than sending the
    # ids of a thousand busy people as parameters.
    # A rep is expected to report on each working day that ends after they were added.
    day_ends = [start_of_day(day + timedelta(days=1), zone) for day in working_days]
    lines = []
    empty = _Tally()
    for rep_id, name, team, role, active, created_at, last_activity in await _rows(session, query):
        expected_rep = role == Role.REP and active
        tally = tallies.get(rep_id)
        if tally is None:
            if not expected_rep:
                continue
            tally = empty
        expected = len(day_ends) - bisect_right(day_ends, created_at) if expected_rep else 0
        lines.append(
            RepLine(
                rep_id=rep_id,
                name=name,
                team=team,
                active_rep=expected_rep,
                visits=tally.visits,
                customers=tally.customers,
                orders=tally.orders,
                orders_amount=tally.orders_amount,
                returns_amount=tally.returns_amount,
                collected=tally.collected,
                held=tally.held,
                reports=tally.reports if expected_rep else 0,
                reports_expected=expected,
                reports_late=tally.reports_late if expected_rep else 0,
                last_report_at=tally.last_report_at,
                last_activity=last_activity,
                km=tally.km,
                trips=tally.trips,
                flags=tally.flags,
            )
        )
    return tuple(lines)


# -- customers ------------------------------------------------------------------------------------


def _latest_visit_from(first: datetime, end: datetime) -> ColumnElement[bool]:
    """SQL probe: the customer's latest visit before ``end`` was at or after ``first`` (never NULL).

    One index probe per customer, always: a scalar subquery, which PostgreSQL cannot turn (as it
    may an ``EXISTS``) into a hash of every visit of [first, end) built before reading a customer.
    For the few customers a probe is asked about here (those visited since the window, see
    :func:`_due_in`, or never), that hash cost more than the probes.
    """
    latest = (
        select(Visit.visited_at)
        .where(Visit.customer_id == Customer.id, Visit.visited_at < end)
        .order_by(Visit.visited_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest >= first, false())


def _visited_between(first: datetime, end: datetime, *, probe_each: bool = False) -> ColumnElement[bool]:
    """SQL: the customer was visited in [first, end), i.e. its latest visit before ``end`` is at or
    after ``first``.

    ``last_visit_at`` (the latest visit, kept with every visit) settles it without reading the
    visits when it is before ``end``; when it is at or after ``end``, ``prev_visit_at`` (the visit
    before it, kept by triggers) does the same unless it too is at or after ``end``. Only those
    customers (visited twice since ``end``), and those with no recorded last visit but some visits
    (``visit_count``, kept by the same triggers), are looked up in the visits. The look-up is an
    ``EXISTS`` (PostgreSQL probes per customer or hashes the window's visits, as it judges: for a
    past period most customers were visited after it), or with ``probe_each`` always a probe per
    customer (:func:`_latest_visit_from`).
    """
    last, prev = Customer.last_visit_at, Customer.prev_visit_at
    if probe_each:
        probe = _latest_visit_from(first, end)
    else:
        probe = (
            select(Visit.id)
            .where(Visit.customer_id == Customer.id, Visit.visited_at >= first, Visit.visited_at < end)
            .exists()
        )
    return case(
        (last.is_(None), case((Customer.visit_count == 0, false()), else_=probe)),
        (last < end, last >= first),
        # The latest visit is at or after ``end``: the one before it decides, if there is one.
        (prev.is_(None), false()),
        (prev < end, prev >= first),
        else_=probe,
    )


def _due_in(period: Period, today: date, zone: ZoneInfo, rules: dict[str, GradeRule]) -> ColumnElement[bool]:
    """SQL: the customer fell due for a visit by the period's last begun day (see the module doc)."""
    start = start_of_day(period.start, zone)
    last = period.until(today)
    recently_visited = []
    for grade, rule in rules.items():
        window_start = last - timedelta(days=rule.visit_every_days - 1)
        if window_start < period.start:  # a visit in [window_start, start) keeps it from falling due
            # Asked only about the customers visited since the period began: probed one by one.
            window = _visited_between(start_of_day(window_start, zone), start, probe_each=True)
            recently_visited.append(and_(Customer.grade == grade, window))
    not_due = or_(*recently_visited) if recently_visited else false()
    return and_(
        Customer.status != CustomerStatus.INACTIVE,
        Customer.created_at < start_of_day(last + timedelta(days=1), zone),
        not_(not_due),
    )


def _visited_in(first: datetime, end: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """SQL filters splitting the customers visited in [first, end) (:func:`_visited_between`) in
    two: those ``last_visit_at`` settles (a range of its index), and the few it cannot (no recorded
    last visit, or one after ``end``), settled by ``prev_visit_at`` or looked up in the visits."""
    last = Customer.last_visit_at
    return and_(last >= first, last < end), and_(
        or_(last.is_(None), last >= end), _visited_between(first, end, probe_each=True)
    )


@dataclass(frozen=True)
class _CustomerFigures:
    due: int
    due_visited: int
    new: int
    visited: int | None  # customers visited in the period, by anyone (the whole company only)


_DUE, _NEW, _VISITED = 0, 1, 2


async def _customer_figures(
    session: AsyncSession,
    scope: Scope,
    period: Period,
    today: date,
    zone: ZoneInfo,
    rules: dict[str, GradeRule],
) -> _CustomerFigures:
    """Due (and visited), new and — for the whole company, in a period not over yet — visited
    customers, in one statement.

    Each figure is its own arm of a ``UNION ALL`` with its condition in ``WHERE``: the due test
    (probes of the visits included) runs once per customer instead of once per figure it feeds.
    The company's visited customers are exactly the distinct customers of the period's visits (a
    customer's visits are anyone's): while the period runs they are a range of the ``last_visit_at``
    index, without a pass over those visits. Once it is over most customers were visited after it,
    and counting its visits is cheaper (:func:`_customers_visited`).
    """
    start, end = period.bounds(zone)
    last_end = start_of_day(period.until(today) + timedelta(days=1), zone)
    in_scope = scope.customers()
    new = and_(
        Customer.created_at >= start,
        Customer.created_at < end,
        or_(Customer.status == CustomerStatus.PROSPECT, Customer.source_key.is_not(None)),
        Customer.merged_into_id.is_(None),
    )  # a prospect that was a customer already is not new
    arms = [
        select(
            literal(_DUE),
            func.count(),
            func.coalesce(func.sum(case((_visited_between(start, last_end), 1), else_=0)), 0),
        )
        .select_from(Customer)
        .where(in_scope, _due_in(period, today, zone, rules)),
        select(literal(_NEW), func.count(), literal(0)).select_from(Customer).where(in_scope, new),
    ]
    if scope.everyone and period.end >= today:
        arms += [
            select(literal(_VISITED), func.count(), literal(0)).select_from(Customer).where(visited)
            for visited in _visited_in(start, end)
        ]
    figures: dict[int, list[int]] = {}
    for kind, count, visited in await session.execute(union_all(*arms)):
        sums = figures.setdefault(kind, [0, 0])
        sums[0] += count
        sums[1] += visited
    return _CustomerFigures(
        due=figures[_DUE][0],
        due_visited=figures[_DUE][1],
        new=figures[_NEW][0],
        visited=figures[_VISITED][0] if _VISITED in figures else None,
    )


async def _customers_visited(session: AsyncSession, scope: Scope, period: Period, zone: ZoneInfo) -> int:
    """Distinct customers visited in the period by the people in scope."""
    start, end = period.bounds(zone)
    return (
        await session.scalar(
            select(func.count(distinct(Visit.customer_id))).where(
                Visit.visited_at >= start, Visit.visited_at < end, scope.people(Visit.rep_id)
            )
        )
        or 0
    )


# -- the services ---------------------------------------------------------------------------------


async def _summary(
    session: AsyncSession, scope: Scope, period: Period, zone: ZoneInfo, today: date
) -> Summary:
    rules = await grade_rules(session)
    settings = await company.load(session)
    working_days = [day for day in period.dates(today) if settings.is_working_day(day)]
    activity = await _activity(session, scope, period, zone, working_days)
    reps = await _rep_lines(session, scope, activity, working_days, zone)
    customers = await _customer_figures(session, scope, period, today, zone, rules)
    visited = customers.visited
    if visited is None:
        visited = await _customers_visited(session, scope, period, zone)
    aging = await aging_total(session, today, scope.some_customers())
    credit_customers, credit_total = (await session.execute(credit_totals(scope.customers()))).one()
    # Open customer letters and complaints (now, not of the period) ride on the approvals' statement.
    complaints_open, complaints_overdue = complaints.open_counts(scope.customers(), today)
    pending, open_items, overdue_items = (
        await session.execute(
            select(
                select(func.count())
                .select_from(Approval)
                .where(Approval.status == ApprovalStatus.PENDING, scope.people(Approval.requested_by))
                .scalar_subquery(),
                complaints_open,
                complaints_overdue,
            )
        )
    ).one()
    by_method: dict[PaymentMethod, Decimal] = defaultdict(lambda: ZERO)
    for tally in activity.tallies.values():
        for method, amount in tally.by_method.items():
            by_method[method] += amount
    tallies = activity.tallies.values()
    return Summary(
        period=period,
        scope=scope.name,
        visits=sum(t.visits for t in tallies),
        customers_visited=visited,
        due_customers=customers.due,
        due_visited=customers.due_visited,
        new_customers=customers.new,
        orders=sum(t.orders for t in tallies),
        orders_amount=sum((t.orders_amount for t in tallies), ZERO),
        collected_by_method=tuple((m, by_method[m]) for m in PaymentMethod if m in by_method),
        held=sum((t.held for t in tallies), ZERO),
        aging=aging,
        reports=sum(line.reports for line in reps),
        reports_expected=sum(line.reports_expected for line in reps),
        reports_late=sum(line.reports_late for line in reps),
        pending_approvals=pending,
        reps=reps,
        returns=sum(t.returns for t in tallies),
        returns_amount=sum((t.returns_amount for t in tallies), ZERO),
        credit=credit_total or ZERO,
        credit_customers=credit_customers or 0,
        complaints_open=open_items or 0,
        complaints_overdue=overdue_items or 0,
        km=sum(t.km for t in tallies),
        trips=sum(t.trips for t in tallies),
    )


async def summary(
    session: AsyncSession,
    caller: Caller,
    period: Period,
    zone: ZoneInfo,
    today: date,
    *,
    team_id: int | None = None,
    rep_id: int | None = None,
) -> Summary:
    """The figures of ``period`` in the caller's scope (see the module doc), optionally narrowed
    to one team (director, admins, finance) or one person.

    A constant number of aggregate queries, whatever the number of reps, customers or visits.
    """
    scope = await _scope(session, caller, team_id=team_id, rep_id=rep_id)
    return await _summary(session, scope, period, zone, today)


async def team_today(
    session: AsyncSession, caller: Caller, zone: ZoneInfo, today: date, *, team_id: int | None = None
) -> TeamDay:
    """/team: per person today — visits, collections, report status, last activity."""
    _require_team_view(caller)
    scope = await _scope(session, caller, team_id=team_id)
    period = relative(TODAY, today)
    settings = await company.load(session)
    working_days = [today] if settings.is_working_day(today) else []
    activity = await _activity(session, scope, period, zone, working_days)
    reps = await _rep_lines(session, scope, activity, working_days, zone)
    return TeamDay(today, bool(working_days), reps)


def _reachable() -> ColumnElement[bool]:
    return User.first_seen_at.is_not(None) & User.blocked_at.is_(None)


def _missing_query(scope: Scope, today: date) -> Select[int, str, str | None, bool, str | None]:
    reported = exists().where(DailyReport.rep_id == User.id, DailyReport.day == today)
    return (
        select(User.id, User.name, Team.name, case((_reachable(), True), else_=False), User.language)
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.role == Role.REP, User.active, scope.people(User.id), ~reported)
        .order_by(Team.name, User.name, User.id)
    )


async def missing_reports(session: AsyncSession, caller: Caller, today: date) -> Missing:
    """/missing: active reps in scope without a report today (nobody on a day off)."""
    _require_team_view(caller)
    scope = await _scope(session, caller)
    settings = await company.load(session)
    if not settings.is_working_day(today):
        return Missing(today, False, ())
    rows = await session.execute(_missing_query(scope, today))
    return Missing(
        today,
        True,
        tuple(MissingRep(id_, name, team, bool(reachable)) for id_, name, team, reachable, _language in rows),
    )


REMINDER = N_("{name}, {boss} is waiting for today's work report. It takes a minute:")
REMINDER_BUTTON = N_("Write today's report")


async def nudge(
    session: AsyncSession, caller: Caller, *, today: date, now: datetime, hours: ReportHours
) -> Nudged:
    """Push a reminder to every rep in scope still missing today's report, at most once a day each.

    The outbox key ``nudge:<rep>:<day>`` makes a double tap (or two managers) queue one reminder.
    After the report cut-off nothing can be submitted any more, so nothing is sent.
    """
    require(caller, Permission.NUDGE)
    _require_team_view(caller)
    scope = await _scope(session, caller)
    settings = await company.load(session)
    if not settings.is_working_day(today):
        raise Conflict(N_("Today is not a working day: no report is expected."))
    if now.astimezone(hours.zone).time() >= hours.cutoff:
        raise Conflict(
            N_("Today's reports closed at {cutoff}: it is too late for a reminder."),
            cutoff=f"{hours.cutoff:%H:%M}",
        )
    rows = list(await session.execute(_missing_query(scope, today)))
    queued = already = unreachable = 0
    for rep_id, name, _team, reachable, language in rows:
        if not reachable:
            unreachable += 1
            continue
        t = Translator(language or "en")
        fresh = await outbox.enqueue(
            session,
            recipient_id=rep_id,
            job="nudge",
            dedup_key=f"nudge:{rep_id}:{today.isoformat()}",
            text=t(REMINDER, name=name, boss=caller.name),
            now=now,
            buttons=[[{"text": t.gettext(REMINDER_BUTTON), "callback_data": "report:start"}]],
        )
        queued += int(fresh)
        already += int(not fresh)
    return Nudged(missing=len(rows), queued=queued, already=already, unreachable=unreachable)


async def find_reps(session: AsyncSession, caller: Caller, query: str) -> list[PersonRef]:
    """People in the caller's scope matching @username, Telegram id, or (part of) the name.

    An exact name wins over partial matches; at most :data:`MAX_CANDIDATES` come back.
    """
    _require_team_view(caller)
    cleaned = " ".join(query.split())
    if not cleaned:
        return []
    scope = await _scope(session, caller)
    people = (
        select(User.id, User.name, User.username, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .where(scope.people(User.id), User.role.in_((Role.REP, Role.MANAGER)))
        .order_by(User.active.desc(), User.name, User.id)
        .limit(MAX_CANDIDATES)
    )
    if cleaned.startswith("@"):
        clauses = [func.lower(User.username) == cleaned[1:].lower()]
    elif cleaned.lstrip("-").isdigit() and len(cleaned) <= 18:
        clauses = [User.telegram_id == int(cleaned)]
    else:
        folded = cleaned.lower()
        clauses = [func.lower(User.name) == folded, func.lower(User.name).contains(folded, autoescape=True)]
    for clause in clauses:
        found = [PersonRef(*row) for row in await session.execute(people.where(clause))]
        if found:
            return found
    return []


async def rep_figures(
    session: AsyncSession, caller: Caller, rep_id: int, period: Period, zone: ZoneInfo, today: date
) -> RepFigures:
    """/rep and the summary's drill-down: one person's figures, their latest visits and stock counts
    up to the period's end, their market feedback and photos of the period, and the open stock
    shortfalls at their customers. The person is re-checked against the caller's scope (buttons can
    be forged)."""
    _require_team_view(caller)
    person = await _person_in_scope(session, caller, rep_id)
    figures = await _summary(session, Scope(rep_id=person.id, name=person.name), period, zone, today)
    start, end = period.bounds(zone)
    in_period = (Visit.rep_id == person.id) & (Visit.visited_at >= start) & (Visit.visited_at < end)
    rows = await session.execute(
        select(
            Visit.visited_at,
            Customer.name,
            Visit.kind,
            Visit.notes,
            Visit.edited_at,
            Visit.sent_at,
            *trust.COLUMNS,
        )
        .join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.rep_id == person.id, Visit.visited_at < end)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(LATEST_VISITS)
    )
    visits = tuple(
        VisitLine(
            at.astimezone(zone),
            customer,
            kind,
            first_line(notes or "", NOTE_LINE_LIMIT),
            far,
            flags=trust.flags_of([far, *flags]),
            late_hours=trust.lag_hours(sent_at, at),
            edited=edited_at is not None,
        )
        for at, customer, kind, notes, edited_at, sent_at, far, *flags in rows
    )
    shortfalls = await stock.shortfalls_for_reps(session, [person.id], shown=SHOWN_SHORTFALLS)
    return RepFigures(
        person,
        replace(figures, scope=person.name),
        visits,
        stock=await stock.latest_counts_by(session, person.id, until=end, limit=LATEST_COUNTS),
        shortfalls=shortfalls.get(person.id, NO_SHORTFALLS),
        feedback=await visit_extras.latest_feedback(session, in_period),
        photos=await visit_extras.photo_count(session, in_period),
        km_by_month=tuple(await trips.km_by_month(session, person.id, start, end, zone)),
    )


async def rep_photos(
    session: AsyncSession, caller: Caller, rep_id: int, period: Period, zone: ZoneInfo
) -> Album:
    """The drill-down's "📷 Photos" button: the latest photos the person took in the period,
    re-checked against the presser's scope."""
    _require_team_view(caller)
    person = await _person_in_scope(session, caller, rep_id)
    start, end = period.bounds(zone)
    return await visit_extras.latest_photos(
        session,
        (Visit.rep_id == person.id) & (Visit.visited_at >= start) & (Visit.visited_at < end),
        person.name,
    )
