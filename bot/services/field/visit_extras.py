"""What visits bring back besides the notes, read again: market feedback by topic, and photos.

Reps gather market information on their visits (regulations part 4, art. 8 (4): customers' views
on quality and price, demand, competitors, new products) and may add photos. The customer's card
and the rep drill-down of /rep and /summary show them again (stock levels: bot/services/field/stock.py).

No scope is checked here: the caller (bot/services/field/customers.py,
bot/services/reporting/summaries.py) has already checked the customer or the person, and passes
the visits to read as a condition.
Each figure is one statement, whatever the number of visits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from models import Customer, Feedback, FeedbackTopic, User, Visit

#: Telegram takes 2 to 10 photos in one album (sendMediaGroup).
ALBUM_SIZE = 10

TOPIC_LABELS = {
    FeedbackTopic.QUALITY: N_("Quality"),
    FeedbackTopic.PRICE: N_("Price"),
    FeedbackTopic.DEMAND: N_("Demand"),
    FeedbackTopic.COMPETITOR: N_("Competitor"),
    FeedbackTopic.NEW_PRODUCT: N_("New product"),
}
_TOPIC_ORDER = {topic: number for number, topic in enumerate(TOPIC_LABELS)}


@dataclass(frozen=True)
class TopicFeedback:
    """The latest feedback on one topic, and how many there are on it."""

    topic: FeedbackTopic
    count: int
    text: str
    at: datetime  # UTC
    rep_name: str
    customer_name: str


@dataclass(frozen=True)
class Photo:
    file_id: str
    at: datetime  # UTC, the visit's
    rep_name: str
    customer_name: str


@dataclass(frozen=True)
class Album:
    """The latest photos (at most :data:`ALBUM_SIZE`) of a customer or a rep, newest first."""

    title: str  # the customer's label, or the rep's name
    photos: tuple[Photo, ...]
    total: int  # photos there are in all


def _photo_count() -> ColumnElement[int]:
    return func.coalesce(func.json_array_length(Visit.photo_file_ids), 0)


async def latest_feedback(session: AsyncSession, visits: ColumnElement[bool]) -> tuple[TopicFeedback, ...]:
    """Per topic, the latest feedback of the visits ``visits`` selects and how many there are;
    topics in the order reps choose them."""
    latest_first = (Visit.visited_at.desc(), Feedback.id.desc())
    ranked = (
        select(
            Feedback.topic,
            Feedback.text,
            Visit.visited_at,
            User.name.label("rep_name"),
            Customer.name.label("customer_name"),
            func.row_number().over(partition_by=Feedback.topic, order_by=latest_first).label("n"),
            func.count().over(partition_by=Feedback.topic).label("count"),
        )
        .join(Visit, Visit.id == Feedback.visit_id)
        .join(User, User.id == Visit.rep_id)
        .join(Customer, Customer.id == Visit.customer_id)
        .where(visits)
        .subquery("ranked")
    )
    rows = await session.execute(select(ranked).where(ranked.c.n == 1))
    found = [
        TopicFeedback(
            FeedbackTopic(row.topic),
            row._mapping["count"],  # to a type checker ``row.count`` is the tuple method
            row.text,
            row.visited_at,
            row.rep_name,
            row.customer_name,
        )
        for row in rows
    ]
    return tuple(sorted(found, key=lambda item: _TOPIC_ORDER[item.topic]))


async def photo_count(session: AsyncSession, visits: ColumnElement[bool]) -> int:
    """How many photos the visits ``visits`` selects carry."""
    return int(await session.scalar(select(func.coalesce(func.sum(_photo_count()), 0)).where(visits)) or 0)


async def latest_photos(session: AsyncSession, visits: ColumnElement[bool], title: str) -> Album:
    """The latest :data:`ALBUM_SIZE` photos of the visits ``visits`` selects, and how many in all.

    A visit has at most 10 photos, so the latest 10 visits with any hold the latest 10 photos.
    """
    with_photos = (visits, _photo_count() > 0)
    total = await photo_count(session, visits)
    rows = await session.execute(
        select(Visit.photo_file_ids, Visit.visited_at, User.name, Customer.name)
        .join(User, User.id == Visit.rep_id)
        .join(Customer, Customer.id == Visit.customer_id)
        .where(*with_photos)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(ALBUM_SIZE)
    )
    photos = [
        Photo(str(file_id), at, rep, customer)
        for file_ids, at, rep, customer in rows
        for file_id in file_ids or []
    ]
    return Album(title, tuple(photos[:ALBUM_SIZE]), total)
