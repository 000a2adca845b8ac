"""Dealer stock (regulations part 4, art. 19): each product's latest count, its change, shortfalls.

Reps count a dealer's stock on a visit (``stock_lines``); "if stock is short, find out why and
put it right in time". The rules, which the issue left open:

* **A product** is what reps type on a stock line, compared by its search key
  (``stock_lines.product_key``): ``Cola 330ml``, ``cola 330ML`` and ``Ｃｏｌａ ３３０ml`` are one
  product. Two lines of one product in one visit are added up (the shelf and the store room).
* **The level** of a product at a customer is its count at the latest visit that counted it;
  **the change** is the difference from the count before that (none for a first count).
* **The customer's usual level** of a product is the average of the product's previous
  :data:`USUAL_COUNTS` counts at that customer, the latest left out (fewer while it has been
  counted fewer times; none for a first count). Each dealer has its own: a big dealer's usual 200
  and a kiosk's usual 6 are both normal.
* **A shortfall** is a level at zero; or below the product's minimum, when an admin set one
  (``/settings stock PRODUCT MIN``, for every dealer: it then replaces the usual level); or, with
  no minimum, below half the usual level. Half, because a count a little under the usual one is
  the ordinary ebb between two deliveries, not something to chase; half is a clear drop.
* **It stays open** until a later count of the product at that customer is at or above the
  threshold (and above zero): a product nobody counted again is still short. Nothing is stored
  about it: it is read from the counts, so a restock, an Undo or a new minimum shows at once.
* **Whose it is**: the customer's rep now (the morning plan) and the customer's team (the
  manager's digest); an inactive customer has none.

Every figure is one statement with window functions over the counts, whatever their number.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Row,
    Select,
    Subquery,
    and_,
    case,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Invalid
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import start_of_day
from bot.text import one_line, search_key
from models import Customer, CustomerStatus, StockLine, StockMinimum, User, Visit
from models.visits import PRODUCT_CHARS

#: How many earlier counts make a product's usual level at a customer.
USUAL_COUNTS = 3
#: Most products on a customer's card (shortfalls first); the rest are counted.
CARD_PRODUCTS = 10
#: The largest minimum (as the largest count a stock line takes, bot/services/field/visits.py).
MAX_MINIMUM = 1_000_000_000


# -- what the services return ---------------------------------------------------------------------


@dataclass(frozen=True)
class StockLevel:
    """A product's latest count at one customer."""

    product: str
    quantity: int
    previous: int | None  # the count before (None: the first count)
    usual: int | None  # the usual level before this count, rounded (None: the first count)
    minimum: int | None  # the product's minimum, if an admin set one
    short: bool
    checked_at: datetime  # UTC
    customer_id: int
    customer_name: str
    #: The unit of the latest count (bot/services/field/units.py), None for a plain count.
    unit: str | None = None

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.quantity - self.previous


@dataclass(frozen=True)
class StockLevels:
    levels: tuple[StockLevel, ...]
    total: int  # products counted at the customer (or by the rep), of which ``levels`` are shown
    short: int  # how many of those are short


NO_STOCK = StockLevels((), 0, 0)


@dataclass(frozen=True)
class Shortfall:
    """An open shortfall: a product's latest count at a customer is short (see the module doc)."""

    customer_id: int
    customer_code: str
    customer_name: str
    rep_id: int | None
    rep_name: str | None
    product: str
    quantity: int
    usual: int | None
    minimum: int | None
    checked_at: datetime  # UTC, the count that is short
    unit: str | None = None  # the count's unit (bot/services/field/units.py)


@dataclass(frozen=True)
class Shortfalls:
    items: tuple[Shortfall, ...]
    total: int  # open shortfalls in all, of which ``items`` are shown


NO_SHORTFALLS = Shortfalls((), 0)


@dataclass(frozen=True)
class Minimum:
    product: str
    minimum: int | None  # None: removed


# -- the counts, in SQL ---------------------------------------------------------------------------


def _history(where: ColumnElement[bool]) -> Subquery:
    """Every count of a product at a customer (visits matching ``where``), one row per visit and
    product, with its rank from the latest (``n`` = 1), the count before it (``previous``) and the
    sum and number of the :data:`USUAL_COUNTS` counts before it (``usual_sum``, ``usual_n``)."""
    counts = (
        select(
            Visit.customer_id,
            Visit.id.label("visit_id"),
            Visit.visited_at,
            Visit.rep_id,
            StockLine.product_key,
            func.min(StockLine.product).label("product"),
            func.sum(StockLine.quantity).label("quantity"),
            # Two lines of one product in one visit are added up; the unit is one of theirs.
            func.max(StockLine.unit).label("unit"),
        )
        .join(Visit, Visit.id == StockLine.visit_id)
        .where(where)
        .group_by(Visit.id, Visit.customer_id, Visit.visited_at, Visit.rep_id, StockLine.product_key)
        .subquery("counts")
    )
    partition = (counts.c.customer_id, counts.c.product_key)
    latest_first = (counts.c.visited_at.desc(), counts.c.visit_id.desc())
    return select(
        *counts.c,
        func.row_number().over(partition_by=partition, order_by=latest_first).label("n"),
        func.lead(counts.c.quantity).over(partition_by=partition, order_by=latest_first).label("previous"),
        func.sum(counts.c.quantity)
        .over(partition_by=partition, order_by=latest_first, rows=(1, USUAL_COUNTS))
        .label("usual_sum"),
        func.count(counts.c.quantity)
        .over(partition_by=partition, order_by=latest_first, rows=(1, USUAL_COUNTS))
        .label("usual_n"),
    ).subquery("history")


def _short(history: Subquery) -> ColumnElement[bool]:
    """SQL: the count of this row is short (the joined :class:`StockMinimum` may be NULL)."""
    quantity = history.c.quantity
    return type_coerce(
        case(
            (quantity <= 0, true()),
            (StockMinimum.minimum.is_not(None), quantity < StockMinimum.minimum),
            # Below half the average of the earlier counts, in whole numbers: q < (sum / n) / 2.
            (history.c.usual_n > 0, quantity * 2 * history.c.usual_n < history.c.usual_sum),
            else_=False,
        ),
        Boolean(),
    )


def _usual(total: int | None, counts: int | None) -> int | None:
    """The usual level, rounded, from the sum and number of the earlier counts (None: no count)."""
    if not counts or total is None:
        return None
    return int((Decimal(int(total)) / int(counts)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _scoped_customers(customers: ColumnElement[bool]) -> ColumnElement[bool]:
    """Visits at the customers ``customers`` selects, inactive ones left out."""
    return Visit.customer_id.in_(
        select(Customer.id).where(customers, Customer.status != CustomerStatus.INACTIVE)
    )


def _latest_of(history: Subquery) -> Select[tuple[object, ...]]:
    """The latest count of each product, with the product's minimum and whether it is short."""
    return (
        select(
            history.c.customer_id,
            history.c.product,
            history.c.quantity,
            history.c.previous,
            history.c.usual_sum,
            history.c.usual_n,
            StockMinimum.minimum.label("minimum"),
            _short(history).label("short"),
            history.c.visited_at,
            history.c.product_key,
            history.c.rep_id,
            history.c.unit,
        )
        .outerjoin(StockMinimum, StockMinimum.product_key == history.c.product_key)
        .where(history.c.n == 1)
    )


# -- a customer's card, a rep's drill-down ------------------------------------------------------------


async def levels_at(session: AsyncSession, customer_id: int, *, limit: int = CARD_PRODUCTS) -> StockLevels:
    """The latest level of every product counted at a customer, shortfalls first, then by name.

    One statement. The caller has checked that the customer is in scope.
    """
    history = _history(Visit.customer_id == customer_id)
    latest = _latest_of(history).subquery("latest")
    rows = await session.execute(
        select(
            latest,
            func.count().over().label("total"),
            func.sum(case((latest.c.short, 1), else_=0)).over().label("short_total"),
        )
        .order_by(latest.c.short.desc(), latest.c.product_key)
        .limit(limit)
    )
    levels, total, short = [], 0, 0
    for row in rows:
        levels.append(
            StockLevel(
                row.product,
                int(row.quantity),
                _int(row.previous),
                _usual(row.usual_sum, row.usual_n),
                row.minimum,
                bool(row.short),
                row.visited_at,
                customer_id,
                "",
                row.unit,
            )
        )
        total, short = row.total, int(row.short_total or 0)
    return StockLevels(tuple(levels), total, short)


async def latest_counts_by(session: AsyncSession, rep_id: int, *, until: datetime, limit: int) -> StockLevels:
    """The latest count a rep made of each product at each customer before ``until``, newest first,
    with the change from the count before it (anyone's) and whether it was short then."""
    counted_by_rep = select(Visit.customer_id).where(Visit.rep_id == rep_id, Visit.visited_at < until)
    history = _history(and_(Visit.customer_id.in_(counted_by_rep), Visit.visited_at < until))
    mine = (
        select(
            history.c.customer_id,
            history.c.product,
            history.c.quantity,
            history.c.previous,
            history.c.usual_sum,
            history.c.usual_n,
            StockMinimum.minimum.label("minimum"),
            _short(history).label("short"),
            history.c.visited_at,
            history.c.product_key,
            history.c.unit,
            func.row_number()
            .over(
                partition_by=(history.c.customer_id, history.c.product_key),
                order_by=(history.c.visited_at.desc(), history.c.visit_id.desc()),
            )
            .label("m"),
        )
        .outerjoin(StockMinimum, StockMinimum.product_key == history.c.product_key)
        .where(history.c.rep_id == rep_id)
        .subquery("mine")
    )
    rows = await session.execute(
        select(
            mine,
            Customer.name.label("customer_name"),
            func.count().over().label("total"),
            func.sum(case((mine.c.short, 1), else_=0)).over().label("short_total"),
        )
        .join(Customer, Customer.id == mine.c.customer_id)
        .where(mine.c.m == 1)
        .order_by(mine.c.visited_at.desc(), mine.c.customer_id, mine.c.product_key)
        .limit(limit)
    )
    levels, total, short = [], 0, 0
    for row in rows:
        levels.append(
            StockLevel(
                row.product,
                int(row.quantity),
                _int(row.previous),
                _usual(row.usual_sum, row.usual_n),
                row.minimum,
                bool(row.short),
                row.visited_at,
                row.customer_id,
                row.customer_name,
                row.unit,
            )
        )
        total, short = row.total, int(row.short_total or 0)
    return StockLevels(tuple(levels), total, short)


def _int(value: int | None) -> int | None:
    return None if value is None else int(value)


# -- open shortfalls: the morning plan, the manager's digest ------------------------------------------


def _open_shortfalls(customers: ColumnElement[bool], until: datetime | None) -> Subquery:
    """Open shortfalls at the customers ``customers`` selects, as the counts stood before ``until``."""
    where = _scoped_customers(customers)
    if until is not None:
        where = and_(where, Visit.visited_at < until)
    latest = _latest_of(_history(where)).subquery("latest")
    return (
        select(
            latest.c.customer_id,
            Customer.code,
            Customer.name.label("customer_name"),
            Customer.rep_id.label("owner_id"),
            Customer.team_id,
            User.name.label("rep_name"),
            latest.c.product,
            latest.c.product_key,
            latest.c.quantity,
            latest.c.usual_sum,
            latest.c.usual_n,
            latest.c.minimum,
            latest.c.visited_at,
            latest.c.unit,
        )
        .join(Customer, Customer.id == latest.c.customer_id)
        .outerjoin(User, User.id == Customer.rep_id)
        .where(latest.c.short)
        .subquery("open")
    )


def _shortfall(row: Row[Any]) -> Shortfall:
    return Shortfall(
        row.customer_id,
        row.code,
        row.customer_name,
        row.owner_id,
        row.rep_name,
        row.product,
        int(row.quantity),
        _usual(row.usual_sum, row.usual_n),
        row.minimum,
        row.visited_at,
        row.unit,
    )


async def _grouped(
    session: AsyncSession,
    open_: Subquery,
    group: str,
    order: tuple[ColumnElement[object], ...],
    shown: int | None,
) -> dict[int, Shortfalls]:
    """``open_``'s shortfalls by the column ``group`` (a rep, a team): the first ``shown`` of each
    in ``order`` (all when None), and how many each has in all. One statement."""
    key = open_.c[group]
    ranked = select(
        open_,
        func.row_number().over(partition_by=key, order_by=order).label("k"),
        func.count().over(partition_by=key).label("total"),
    ).subquery("ranked")
    query = select(ranked).where(ranked.c[group].is_not(None)).order_by(ranked.c[group], ranked.c.k)
    found: dict[int, list[Shortfall]] = defaultdict(list)
    totals: dict[int, int] = {}
    for row in await session.execute(query if shown is None else query.where(ranked.c.k <= shown)):
        owner = getattr(row, group)
        found[owner].append(_shortfall(row))
        totals[owner] = row.total
    return {owner: Shortfalls(tuple(items), totals[owner]) for owner, items in found.items()}


async def shortfalls_for_reps(
    session: AsyncSession, rep_ids: list[int], *, shown: int, until: datetime | None = None
) -> dict[int, Shortfalls]:
    """Each rep's open shortfalls at their customers: the ``shown`` oldest, and how many in all.

    One statement for every rep (the morning plan). Oldest first: the longest unanswered.
    """
    if not rep_ids:
        return {}
    open_ = _open_shortfalls(Customer.rep_id.in_(rep_ids), until)
    return await _grouped(
        session, open_, "owner_id", (open_.c.visited_at, open_.c.customer_name, open_.c.product_key), shown
    )


def _team_order(open_: Subquery) -> tuple[ColumnElement[object], ...]:
    return (
        func.coalesce(open_.c.rep_name, ""),
        open_.c.customer_name,
        open_.c.customer_id,
        open_.c.product_key,
    )


async def shortfalls_by_team(
    session: AsyncSession, day: date, zone: ZoneInfo, *, shown: int | None = None
) -> dict[int, Shortfalls]:
    """Every team's open shortfalls as the counts stood at the end of ``day`` (teams with none are
    left out): by rep, then customer, then product; the first ``shown`` of each (all when None),
    and how many in all. For the managers' digest of ``day``: one statement for every team."""
    open_ = _open_shortfalls(true(), start_of_day(day + timedelta(days=1), zone))
    return await _grouped(session, open_, "team_id", _team_order(open_), shown)


async def shortfalls_for_team(
    session: AsyncSession, team_id: int, day: date, zone: ZoneInfo, *, limit: int | None = None
) -> Shortfalls:
    """One team's open shortfalls as the counts stood at the end of ``day``, as
    :func:`shortfalls_by_team` gives them: at most ``limit`` (all when None), and the total."""
    open_ = _open_shortfalls(Customer.team_id == team_id, start_of_day(day + timedelta(days=1), zone))
    return (await _grouped(session, open_, "team_id", _team_order(open_), limit)).get(team_id, NO_SHORTFALLS)


# -- minimums (/settings stock) ---------------------------------------------------------------------


async def minimums(session: AsyncSession) -> list[Minimum]:
    """Every minimum set, by product."""
    rows = await session.execute(
        select(StockMinimum.product, StockMinimum.minimum).order_by(StockMinimum.product_key)
    )
    return [Minimum(product, minimum) for product, minimum in rows]


STOCK_USAGE = N_(
    "Write the product, then its minimum stock at any dealer, or off, "
    "e.g. /settings stock Cola 330ml 24 or /settings stock Cola 330ml off."
)
OFF_WORDS = frozenset({"off", "none", "关", "關", "取消"})


async def set_minimum(session: AsyncSession, caller: Caller, words: list[str], now: datetime) -> Minimum:
    """``/settings stock PRODUCT MIN|off`` (admins): a product's minimum at every dealer, audited.

    ``words`` are what follows ``stock``; the last one is the minimum (a whole number, 1 or
    more) or ``off``, the ones before it the product as reps write it.
    """
    require(caller, Permission.MANAGE_SETTINGS)
    if len(words) < 2:
        raise Invalid(STOCK_USAGE)
    product, value = one_line(" ".join(words[:-1])), words[-1].strip().lower()
    key = search_key(product)
    if not key or len(product) > PRODUCT_CHARS:
        raise Invalid(N_("A product's name has 1 to {count} characters."), count=PRODUCT_CHARS)
    minimum = None if value in OFF_WORDS else _minimum(value)
    row = await session.get(StockMinimum, key)
    before = {"product": row.product, "minimum": row.minimum} if row is not None else None
    if minimum is None:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(
            StockMinimum(
                product_key=key, product=product, minimum=minimum, updated_at=now, updated_by=caller.id
            )
        )
    else:
        row.product, row.minimum, row.updated_at, row.updated_by = product, minimum, now, caller.id
    audit.record(
        session,
        actor_id=caller.id,
        action="setting",
        entity="stock_minimum",
        entity_id=None,
        at=now,
        before=before,
        after={"product": product, "minimum": minimum},
    )
    return Minimum(product, minimum)


def _minimum(word: str) -> int:
    """A minimum as typed: ASCII or full-width digits, 1 to :data:`MAX_MINIMUM`."""
    digits = unicodedata.normalize("NFKC", word)
    if not (
        digits.isascii() and digits.isdecimal() and len(digits) <= 12 and 1 <= int(digits) <= MAX_MINIMUM
    ):
        raise Invalid(
            N_("A minimum is a whole number of 1 or more, or off: {text} is neither."), text=word[:20]
        )
    return int(digits)
