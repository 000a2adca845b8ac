"""Finance's reports (regulations part 4, art. 27-28): the day's collections, and what is unpaid.

* **The daily collections report (收款日報表)** lists a local day's collections by the person who
  received them and by method, with what has reached finance (handed in) and what the reps still
  hold, and totals per method and overall. Only money that stands counts: a reversal is never a
  collection, and a collection reversed (the same day or later) is shown apart as reversed, never
  in a total. A collection from an earlier day reversed on this one is shown among the reversed too,
  so finance hears of every correction to a figure they were sent. "Handed in" is read from the
  collection (``handed_in_at``), whatever its method: a transfer, or any method that needs no
  hand-in, is stored handed in.
* **The outstanding-payments report (未收款項報告表)** lists open receivables by customer and age
  bucket (``bot/services/money/aging.py``), largest customers first, with the totals of the whole scope.

Scope: finance, the director and admins see everyone; a manager sees their team (the collections of
the team's people, the receivables of the team's customers); reps are refused (the regulations send
these reports to finance and the managers; ``/summary`` shows a rep their own collections).
Every figure is an aggregate computed by the database, a row per rep and method or per customer and
bucket, never a row per collection or invoice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, exists, false, func, select, true, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_
from bot.services.errors import AccessDenied
from bot.services.field.customers import CustomerRef
from bot.services.money.aging import Aging, aging_total, bucket_of
from bot.services.money.ledger import is_open
from bot.services.people.access import Caller
from bot.services.policy import start_of_day
from models import Collection, Customer, Money, PaymentMethod, Receivable, Role, Team, User

ZERO = Decimal("0.00")
#: Who may ask for the reports; a manager sees their own team only.
READERS = frozenset({Role.FINANCE, Role.DIRECTOR, Role.ADMIN, Role.MANAGER})
NOT_FOR_REPS = N_(
    "The collections and outstanding-payments reports are only for finance, managers and "
    "the director. /summary shows your own collections."
)
#: Reversed collections listed one by one (the rest are counted).
REVERSED_SHOWN = 10
#: Customers listed one by one in the outstanding-payments report (the rest are counted).
CUSTOMERS_SHOWN = 30


# -- scope ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    """Everyone, one team, or nobody (a manager without a team)."""

    team_id: int | None = None
    nobody: bool = False
    #: The team's name, for titles (None: everyone).
    name: str | None = None

    def people(self) -> ColumnElement[bool]:
        """Collections of people in scope (the query must join ``User`` as the collector)."""
        if self.nobody:
            return false()
        return true() if self.team_id is None else User.team_id == self.team_id

    def customers(self) -> ColumnElement[bool] | None:
        """Customers in scope, or None for every customer."""
        if self.nobody:
            return false()
        return None if self.team_id is None else Customer.team_id == self.team_id


EVERYONE = ReportScope()


async def scope_of(session: AsyncSession, caller: Caller) -> ReportScope:
    """The scope ``caller`` reads the reports in; reps (and anyone else) are refused."""
    if caller.role not in READERS:
        raise AccessDenied(NOT_FOR_REPS)
    if caller.role != Role.MANAGER:
        return EVERYONE
    return await team_scope(session, caller.team_id)


async def team_scope(session: AsyncSession, team_id: int | None) -> ReportScope:
    if team_id is None:
        return ReportScope(nobody=True)
    name = await session.scalar(select(Team.name).where(Team.id == team_id))
    return ReportScope(team_id=team_id, name=name)


# -- the daily collections report -----------------------------------------------------------------


@dataclass(frozen=True)
class RepCollections:
    """One person's standing collections of the day."""

    rep_id: int
    name: str
    team: str | None
    #: Amount per method, in the enum's order; methods not used are left out.
    by_method: tuple[tuple[PaymentMethod, Decimal], ...]
    count: int
    total: Decimal
    #: Not handed in to finance yet (cash, cheques).
    held: Decimal

    @property
    def handed_in(self) -> Decimal:
        return self.total - self.held


@dataclass(frozen=True)
class MethodTotal:
    method: PaymentMethod
    count: int
    amount: Decimal
    held: Decimal


@dataclass(frozen=True)
class ReversedCollection:
    """A collection taken back: received on the report's day, or reversed on it."""

    id: int
    rep: str
    customer: str
    amount: Decimal  # what was collected (positive)
    method: PaymentMethod
    received_on: date
    reversed_on: date
    reason: str


@dataclass(frozen=True)
class DailyCollections:
    day: date
    scope: ReportScope
    #: Largest total first.
    reps: tuple[RepCollections, ...]
    #: Every method of the enum, in its order, with what was collected that way (zero if nothing).
    methods: tuple[MethodTotal, ...]
    reversed: tuple[ReversedCollection, ...]  # the first REVERSED_SHOWN, in the order they happened
    reversed_count: int
    reversed_amount: Decimal

    @property
    def count(self) -> int:
        return sum(rep.count for rep in self.reps)

    @property
    def total(self) -> Decimal:
        return sum((rep.total for rep in self.reps), ZERO)

    @property
    def held(self) -> Decimal:
        return sum((rep.held for rep in self.reps), ZERO)

    @property
    def handed_in(self) -> Decimal:
        return self.total - self.held


def standing() -> ColumnElement[bool]:
    """Collections that count: not a reversal, and not reversed (so far)."""
    reversal = aliased(Collection, name="reversal")
    return Collection.reverses_id.is_(None) & ~exists().where(reversal.reverses_id == Collection.id)


async def daily_collections(
    session: AsyncSession, scope: ReportScope, day: date, zone: ZoneInfo
) -> DailyCollections:
    """The local ``day``'s collections in ``scope``, as they stand now."""
    start, end = start_of_day(day, zone), start_of_day(day + timedelta(days=1), zone)
    rows = await session.execute(
        select(
            Collection.rep_id,
            User.name,
            Team.name,
            Collection.method,
            func.count(),
            type_coerce(func.sum(Collection.amount), Money()),
            type_coerce(
                func.sum(case((Collection.handed_in_at.is_(None), Collection.amount), else_=0)), Money()
            ),
        )
        .join(User, User.id == Collection.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(Collection.received_at >= start, Collection.received_at < end, standing(), scope.people())
        .group_by(Collection.rep_id, User.name, Team.name, Collection.method)
    )
    per_rep: dict[int, dict[PaymentMethod, tuple[int, Decimal, Decimal]]] = defaultdict(dict)
    people: dict[int, tuple[str, str | None]] = {}
    for rep_id, name, team, method, count, amount, held in rows:
        per_rep[rep_id][method] = (count, amount or ZERO, held or ZERO)
        people[rep_id] = (name, team)
    reps = [
        RepCollections(
            rep_id,
            *people[rep_id],
            by_method=tuple((m, sums[m][1]) for m in PaymentMethod if m in sums),
            count=sum(c for c, _, _ in sums.values()),
            total=sum((a for _, a, _ in sums.values()), ZERO),
            held=sum((h for _, _, h in sums.values()), ZERO),
        )
        for rep_id, sums in per_rep.items()
    ]
    reps.sort(key=lambda rep: (-rep.total, rep.name, rep.rep_id))
    methods = tuple(
        MethodTotal(
            method,
            sum(sums[method][0] for sums in per_rep.values() if method in sums),
            sum((sums[method][1] for sums in per_rep.values() if method in sums), ZERO),
            sum((sums[method][2] for sums in per_rep.values() if method in sums), ZERO),
        )
        for method in PaymentMethod
    )
    shown, count, amount = await _reversed(session, scope, start, end, zone)
    return DailyCollections(day, scope, tuple(reps), methods, shown, count, amount)


async def _reversed(
    session: AsyncSession, scope: ReportScope, start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[tuple[ReversedCollection, ...], int, Decimal]:
    """Collections received in [start, end) and reversed since, or reversed in [start, end)."""
    reversal = aliased(Collection, name="reversal")
    in_day = ((Collection.received_at >= start) & (Collection.received_at < end)) | (
        (reversal.received_at >= start) & (reversal.received_at < end)
    )
    rows = (
        await session.execute(
            select(
                Collection.id,
                User.name,
                Customer.name,
                Collection.amount,
                Collection.method,
                Collection.received_at,
                reversal.received_at,
                reversal.reason,
                func.count().over(),
                type_coerce(func.sum(Collection.amount).over(), Money()),
            )
            .join(reversal, reversal.reverses_id == Collection.id)
            .join(User, User.id == Collection.rep_id)
            .join(Customer, Customer.id == Collection.customer_id)
            .where(Collection.reverses_id.is_(None), in_day, scope.people())
            .order_by(reversal.received_at, Collection.id)
            .limit(REVERSED_SHOWN)
        )
    ).all()
    if not rows:
        return (), 0, ZERO
    shown = tuple(
        ReversedCollection(
            id_,
            rep,
            customer,
            amount,
            method,
            received.astimezone(zone).date(),
            reversed_at.astimezone(zone).date(),
            reason or "",
        )
        for id_, rep, customer, amount, method, received, reversed_at, reason, _n, _sum in rows
    )
    return shown, int(rows[0][-2]), rows[0][-1] or ZERO


# -- the outstanding-payments report --------------------------------------------------------------


@dataclass(frozen=True)
class CustomerAging:
    customer: CustomerRef
    rep: str | None  # the customer's rep
    aging: Aging


@dataclass(frozen=True)
class Outstanding:
    day: date
    scope: ReportScope
    total: Aging  # every open receivable in scope
    customers: int  # customers with money open
    top: tuple[CustomerAging, ...] = field(default=())  # largest open amount first

    @property
    def more(self) -> int:
        """Customers with money open that are not listed."""
        return self.customers - len(self.top)


async def outstanding(
    session: AsyncSession, scope: ReportScope, today: date, *, shown: int = CUSTOMERS_SHOWN
) -> Outstanding:
    """Open receivables in ``scope`` by age, and the ``shown`` customers owing most, by age."""
    customers = scope.customers()
    total = await aging_total(session, today, customers)
    per_customer = (
        select(Receivable.customer_id.label("customer_id"), func.sum(Receivable.open_amount).label("open"))
        .where(is_open())
        .group_by(Receivable.customer_id)
    )
    if customers is not None:
        per_customer = per_customer.join(Customer, Customer.id == Receivable.customer_id).where(customers)
    sums = per_customer.cte("per_customer")
    count = await session.scalar(select(func.count()).select_from(sums)) or 0
    top = (
        select(sums.c.customer_id, sums.c.open)
        .order_by(sums.c.open.desc(), sums.c.customer_id)
        .limit(shown)
        .subquery("top")
    )
    rep = aliased(User, name="rep")
    bucket = bucket_of(today)
    rows = await session.execute(
        select(
            Customer.id,
            Customer.code,
            Customer.name,
            Customer.grade,
            rep.name,
            top.c.open,
            bucket,
            func.count(),
            type_coerce(func.sum(Receivable.open_amount), Money()),
        )
        .select_from(top)
        .join(Customer, Customer.id == top.c.customer_id)
        .join(Receivable, Receivable.customer_id == top.c.customer_id)
        .outerjoin(rep, rep.id == Customer.rep_id)
        .where(is_open())
        .group_by(Customer.id, Customer.code, Customer.name, Customer.grade, rep.name, top.c.open, bucket)
        .order_by(top.c.open.desc(), Customer.id)
    )
    listed: dict[int, CustomerAging] = {}
    for id_, code, name, grade, rep_name, _open, bucket_name, invoices, amount in rows:
        entry = listed.setdefault(id_, CustomerAging(CustomerRef(id_, code, name, grade), rep_name, Aging()))
        entry.aging.buckets[bucket_name] = amount or ZERO
        entry.aging.invoices += invoices
    return Outstanding(today, scope, total, count, tuple(listed.values()))
