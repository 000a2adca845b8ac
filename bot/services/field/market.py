"""Market intelligence (regulations part 4, art. 8 (4)): what reps hear of the market, reported up.

Reps record market feedback on a visit under one of five topics (``FeedbackTopic``): competitors,
price, quality, demand, new products. This module reads it back grouped by topic, for ``/market``
and the weekly digest (``jobs/market_digest.py``): per topic the number of notes, the customers and
the reps behind them (most notes first) and the newest texts.

* **Scope.** A rep reads the feedback they recorded; a manager their team's (visits logged by the
  team's people, as ``/summary`` counts visits); the director, admins and marketing everyone's.
  Finance is refused: market information is not theirs to act on.
* **Words.** A topic may be typed in English or Chinese (:data:`ALIASES`), before or after the
  period: ``/market week price``, ``/market 价格 本周``, ``/market 本周价格``.
* **SQL does the grouping and counting**, a row per topic, per topic and customer, per topic and
  rep; only the few names and texts shown are read (``row_number()`` per topic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, distinct, false, func, null, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.errors import Invalid
from bot.services.people.access import Caller, Permission, require
from bot.services.reporting.periods import UNKNOWN, Period, parse_period
from bot.text import search_key
from models import Customer, Feedback, FeedbackTopic, Role, Team, User, Visit

COMPETITOR, PRICE, QUALITY = FeedbackTopic.COMPETITOR, FeedbackTopic.PRICE, FeedbackTopic.QUALITY
DEMAND, NEW_PRODUCT = FeedbackTopic.DEMAND, FeedbackTopic.NEW_PRODUCT

#: The order topics are shown in (the regulations' list: competitors, price, quality, demand, new).
TOPICS: tuple[FeedbackTopic, ...] = (COMPETITOR, PRICE, QUALITY, DEMAND, NEW_PRODUCT)

#: A topic's name as a heading (the same words as the visit's feedback buttons).
LABELS: MappingProxyType[FeedbackTopic, str] = MappingProxyType(
    {
        COMPETITOR: N_("Competitor"),
        PRICE: N_("Price"),
        QUALITY: N_("Quality"),
        DEMAND: N_("Demand"),
        NEW_PRODUCT: N_("New product"),
    }
)
#: The word a reply suggests typing after ``/market`` for a topic (one of its :data:`ALIASES`).
WORDS: MappingProxyType[FeedbackTopic, str] = MappingProxyType(
    {
        COMPETITOR: N_("competitor"),
        PRICE: N_("price"),
        QUALITY: N_("quality"),
        DEMAND: N_("demand"),
        NEW_PRODUCT: N_("new product"),
    }
)
#: What people type for each topic, English and Chinese (simplified and traditional). Looked up by
#: :func:`topic_key`, so case, width, spaces, hyphens and underscores do not matter.
ALIASES: MappingProxyType[FeedbackTopic, tuple[str, ...]] = MappingProxyType(
    {
        COMPETITOR: (
            "competitor",
            "competitors",
            "competition",
            "rival",
            "rivals",
            "竞品",
            "競品",
            "竞争",
            "競爭",
            "竞争对手",
            "競爭對手",
            "对手",
            "對手",
            "竞品信息",
            "競品信息",
        ),
        PRICE: ("price", "prices", "pricing", "价格", "價格", "价钱", "價錢", "报价", "報價", "售价", "售價"),
        QUALITY: ("quality", "质量", "質量", "品质", "品質", "质量问题", "質量問題"),
        DEMAND: ("demand", "需求", "需求量", "销量", "銷量"),
        NEW_PRODUCT: ("new product", "new products", "new", "newproduct", "新品", "新产品", "新產品"),
    }
)

USAGE = N_(
    "/market [period] [topic]: a period such as week, month, 2026-11 or 2026-11-01..2026-11-15 "
    "(nothing: the last 7 days), and a topic: competitor, price, quality, demand or new product."
)
#: With no period typed: the last seven days, today included.
DEFAULT_DAYS = 7

_IGNORED = re.compile(r"[\s._\-/·・]+")


def topic_key(text: str) -> str:
    """The lookup form of a topic word: :func:`bot.text.search_key`, without spaces or joiners."""
    return _IGNORED.sub("", search_key(text))


_TOPIC_OF: MappingProxyType[str, FeedbackTopic] = MappingProxyType(
    {topic_key(alias): topic for topic, aliases in ALIASES.items() for alias in aliases}
)
#: Chinese aliases, longest first: typed without a space next to the period (``本周价格``).
_JOINED = tuple(
    sorted(
        (
            (search_key(alias), topic)
            for topic, aliases in ALIASES.items()
            for alias in aliases
            if not alias.isascii()
        ),
        key=lambda item: -len(item[0]),
    )
)


def parse_topic(text: str) -> FeedbackTopic | None:
    """The topic ``text`` names, or None."""
    return _TOPIC_OF.get(topic_key(text)) if text.strip() else None


def _split_topic(cleaned: str) -> tuple[FeedbackTopic | None, str]:
    """(topic, the rest) of what was typed after /market: the topic is its first or last word(s)."""
    words = cleaned.split(" ")
    for size in (2, 1):  # "new product" before "product"
        if len(words) >= size:
            if (topic := parse_topic(" ".join(words[-size:]))) is not None:
                return topic, " ".join(words[:-size])
            if (topic := parse_topic(" ".join(words[:size]))) is not None:
                return topic, " ".join(words[size:])
    for alias, topic in _JOINED:
        if cleaned.endswith(alias):
            return topic, cleaned.removesuffix(alias).strip()
        if cleaned.startswith(alias):
            return topic, cleaned.removeprefix(alias).strip()
    return None, cleaned


def last_days(today: date, days: int = DEFAULT_DAYS) -> Period:
    """The ``days`` days up to and including ``today``."""
    return parse_period(f"{today - timedelta(days=days - 1)}..{today}", today)


def last_full_week(today: date) -> Period:
    """Monday to Sunday of the week before ``today``'s (the weekly digest's)."""
    monday = today - timedelta(days=today.weekday() + 7)
    return parse_period(f"{monday}..{monday + timedelta(days=6)}", today)


def parse_query(text: str, today: date) -> tuple[Period, FeedbackTopic | None]:
    """The period and topic typed after ``/market``, in either order; both may be left out."""
    cleaned = search_key(text)
    topic, rest = _split_topic(cleaned) if cleaned else (None, "")
    if not rest:
        return last_days(today), topic
    try:
        return parse_period(rest, today), topic
    except Invalid as error:
        if error.message == UNKNOWN:
            raise Invalid(USAGE) from None
        raise  # a real period that is wrong (in the future, too long): says so


# -- scope ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketScope:
    """Whose feedback: everyone's, one team's, one rep's, or nobody's (a manager without a team)."""

    team_id: int | None = None
    rep_id: int | None = None
    nobody: bool = False
    #: The team's name, for titles.
    name: str | None = None

    @property
    def everyone(self) -> bool:
        return not self.nobody and self.team_id is None and self.rep_id is None

    def visits(self) -> ColumnElement[bool]:
        """Visits logged by someone in scope."""
        if self.nobody:
            return false()
        if self.rep_id is not None:
            return Visit.rep_id == self.rep_id
        if self.team_id is not None:
            return Visit.rep_id.in_(select(User.id).where(User.team_id == self.team_id))
        return true()


EVERYONE = MarketScope()
#: Read everyone's feedback.
WHOLE_COMPANY = frozenset({Role.DIRECTOR, Role.ADMIN, Role.MARKETING})


async def team_scope(session: AsyncSession, team_id: int | None) -> MarketScope:
    if team_id is None:
        return MarketScope(nobody=True)
    name = await session.scalar(select(Team.name).where(Team.id == team_id))
    return MarketScope(team_id=team_id, name=name)


async def scope_of(session: AsyncSession, caller: Caller) -> MarketScope:
    """The feedback ``caller`` may read (see the module doc); anyone else is refused."""
    require(caller, Permission.VIEW_MARKET)
    if caller.role in WHOLE_COMPANY:
        return EVERYONE
    if caller.role == Role.MANAGER:
        return await team_scope(session, caller.team_id)
    return MarketScope(rep_id=caller.id, name=caller.name)


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """A customer or rep behind some notes of a topic."""

    name: str
    notes: int
    team: str | None = None


@dataclass(frozen=True)
class Note:
    day: date
    customer: str
    rep: str
    text: str


@dataclass(frozen=True)
class TopicFeedback:
    topic: FeedbackTopic
    notes: int
    customers: int
    reps: int
    #: The customers and reps with most notes on the topic (up to the ``names`` asked for).
    top_customers: tuple[Named, ...]
    top_reps: tuple[Named, ...]
    #: The newest notes (up to the ``texts`` asked for).
    latest: tuple[Note, ...]


@dataclass(frozen=True)
class MarketFeedback:
    period: Period
    scope: MarketScope
    #: The one topic asked for, if any.
    topic: FeedbackTopic | None
    notes: int
    customers: int
    reps: int
    #: Topics with notes, in :data:`TOPICS` order.
    topics: tuple[TopicFeedback, ...]


_Ts = TypeVarTuple("_Ts")


def _in(
    scope: MarketScope, start: datetime, end: datetime, topic: FeedbackTopic | None, query: Select[*_Ts]
) -> Select[*_Ts]:
    """``query`` over the feedback of the period and scope (joined to its visit)."""
    query = (
        query.select_from(Feedback)
        .join(Visit, Visit.id == Feedback.visit_id)
        .where(Visit.visited_at >= start, Visit.visited_at < end, scope.visits())
    )
    return query if topic is None else query.where(Feedback.topic == topic)


async def feedback(
    session: AsyncSession,
    scope: MarketScope,
    period: Period,
    zone: ZoneInfo,
    *,
    topic: FeedbackTopic | None = None,
    names: int = 5,
    texts: int = 5,
) -> MarketFeedback:
    """The feedback of ``scope`` in ``period`` (one ``topic``, or all), grouped by topic."""
    start, end = period.bounds(zone)
    totals = (
        await session.execute(
            _in(
                scope,
                start,
                end,
                topic,
                select(
                    func.count(), func.count(distinct(Visit.customer_id)), func.count(distinct(Visit.rep_id))
                ),
            )
        )
    ).one()
    if not totals[0]:
        return MarketFeedback(period, scope, topic, 0, 0, 0, ())
    counts = {
        row[0]: row[1:]
        for row in await session.execute(
            _in(
                scope,
                start,
                end,
                topic,
                select(
                    Feedback.topic,
                    func.count(),
                    func.count(distinct(Visit.customer_id)),
                    func.count(distinct(Visit.rep_id)),
                ),
            ).group_by(Feedback.topic)
        )
    }
    customers = await _top(session, scope, start, end, topic, names, reps=False)
    reps = await _top(session, scope, start, end, topic, names, reps=True)
    latest = await _latest(session, scope, start, end, topic, texts, zone)
    topics = tuple(
        TopicFeedback(
            kind,
            *counts[kind],
            top_customers=tuple(customers.get(kind, ())),
            top_reps=tuple(reps.get(kind, ())),
            latest=tuple(latest.get(kind, ())),
        )
        for kind in TOPICS
        if kind in counts
    )
    return MarketFeedback(period, scope, topic, *totals, topics=topics)


async def _top(
    session: AsyncSession,
    scope: MarketScope,
    start: datetime,
    end: datetime,
    topic: FeedbackTopic | None,
    limit: int,
    *,
    reps: bool,
) -> dict[FeedbackTopic, list[Named]]:
    """Per topic, the ``limit`` customers (or ``reps``) with most notes; ties by id."""
    who = Visit.rep_id if reps else Visit.customer_id
    ranked = (
        _in(
            scope,
            start,
            end,
            topic,
            select(
                Feedback.topic.label("topic"),
                who.label("who"),
                func.count().label("notes"),
                func.row_number()
                .over(partition_by=Feedback.topic, order_by=(func.count().desc(), who))
                .label("rank"),
            ),
        )
        .group_by(Feedback.topic, who)
        .subquery()
    )
    if reps:
        query = (
            select(ranked.c.topic, User.name, ranked.c.notes, Team.name)
            .join(User, User.id == ranked.c.who)
            .outerjoin(Team, Team.id == User.team_id)
        )
    else:
        query = select(ranked.c.topic, Customer.name, ranked.c.notes, null()).join(
            Customer, Customer.id == ranked.c.who
        )
    result: dict[FeedbackTopic, list[Named]] = {}
    for kind, name, notes, team in await session.execute(
        query.where(ranked.c.rank <= limit).order_by(ranked.c.topic, ranked.c.rank)
    ):
        result.setdefault(FeedbackTopic(kind), []).append(Named(name, notes, team))
    return result


async def _latest(
    session: AsyncSession,
    scope: MarketScope,
    start: datetime,
    end: datetime,
    topic: FeedbackTopic | None,
    limit: int,
    zone: ZoneInfo,
) -> dict[FeedbackTopic, list[Note]]:
    """Per topic, the ``limit`` newest notes."""
    ranked = _in(
        scope,
        start,
        end,
        topic,
        select(
            Feedback.topic.label("topic"),
            Feedback.text.label("text"),
            Visit.visited_at.label("at"),
            Visit.customer_id.label("customer_id"),
            Visit.rep_id.label("rep_id"),
            func.row_number()
            .over(partition_by=Feedback.topic, order_by=(Visit.visited_at.desc(), Feedback.id.desc()))
            .label("rank"),
        ),
    ).subquery()
    query = (
        select(ranked.c.topic, ranked.c.at, Customer.name, User.name, ranked.c.text)
        .join(Customer, Customer.id == ranked.c.customer_id)
        .join(User, User.id == ranked.c.rep_id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.topic, ranked.c.rank)
    )
    result: dict[FeedbackTopic, list[Note]] = {}
    for kind, at, customer, rep, text in await session.execute(query):
        result.setdefault(FeedbackTopic(kind), []).append(Note(_local_day(at, zone), customer, rep, text))
    return result


def _local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()
