"""``users.last_activity_at`` (migration 0036) always equals the person's latest visit, order or
collection they recorded themselves, or daily report: whatever is written, undone or moved, by
whoever (the triggers are whoever-writes; the steps below write by hand)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, func, select, update

from bench.generate import generate
from bot.db import Database, alembic_config, upgrade_async
from models import (
    Collection,
    DailyReport,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    User,
    Visit,
    VisitKind,
)
from tests import factories
from tests.conftest import MONDAY_MORNING, PG_URL

_numbers = count(1)
PEOPLE = 3

hours = st.integers(-200, 200).map(lambda n: MONDAY_MORNING + timedelta(hours=n))
who = st.integers(0, PEOPLE - 1)
visit = st.tuples(st.just("visit"), who, who, hours)
order = st.tuples(st.just("order"), who, who, hours)
imported = st.tuples(st.just("import"), who, who, hours)
collect = st.tuples(st.just("collect"), who, who, hours)
report = st.tuples(st.just("report"), who, who, hours)
undo = st.tuples(st.just("undo"), st.integers(0, 30), who, hours)
moved = st.tuples(st.just("move"), st.integers(0, 30), who, hours)
steps = st.lists(st.one_of(visit, order, imported, collect, report, undo, moved), min_size=1, max_size=14)


async def stale(db: Database) -> dict[int, tuple[datetime | None, datetime | None]]:
    """{person: (stored, latest)} wherever ``last_activity_at`` differs from the rows (Python)."""
    async with db.reading() as session:
        latest: dict[int, datetime] = {}

        def seen(person: int | None, moment: datetime) -> None:
            if person is not None and (person not in latest or latest[person] < moment):
                latest[person] = moment

        for rep_id, at in await session.execute(select(Visit.rep_id, Visit.visited_at)):
            seen(rep_id, at)
        for rep_id, at, source, recorder in await session.execute(
            select(Receivable.rep_id, Receivable.created_at, Receivable.source, Receivable.recorded_by)
        ):
            if source == ReceivableSource.ORDER and recorder == rep_id:
                seen(rep_id, at)
        for rep_id, at, recorder in await session.execute(
            select(Collection.rep_id, Collection.received_at, Collection.recorded_by)
        ):
            if recorder == rep_id:
                seen(rep_id, at)
        for rep_id, at in await session.execute(select(DailyReport.rep_id, DailyReport.submitted_at)):
            seen(rep_id, at)
        stored = dict((await session.execute(select(User.id, User.last_activity_at))).all())
    return {
        person: (stored[person], latest.get(person))
        for person in stored
        if stored[person] != latest.get(person)
    }


class Activity:
    def __init__(self, db: Database, people: list[int], customer: int) -> None:
        self.db, self.people, self.customer = db, people, customer
        self.rows: list[tuple[type, int]] = []

    async def run(self, step: tuple[str, int, int, datetime]) -> None:
        what, which, by, moment = step
        person, recorder = self.people[which % PEOPLE], self.people[by]
        key = f"act:{next(_numbers)}"
        async with self.db.transaction() as session:
            row: object
            if what == "visit":
                row = Visit(
                    rep_id=person,
                    customer_id=self.customer,
                    visited_at=moment,
                    kind=VisitKind.VISIT,
                    source_key=key,
                    created_at=moment,
                )
            elif what in ("order", "import"):
                row = Receivable(
                    invoice_no=key,
                    customer_id=self.customer,
                    rep_id=person,
                    amount=Decimal("10.00"),
                    issued_on=moment.date(),
                    due_on=moment.date() + timedelta(days=30),
                    source=ReceivableSource.ORDER if what == "order" else ReceivableSource.IMPORT,
                    recorded_by=recorder if what == "order" else None,
                    created_at=moment,
                )
            elif what == "collect":
                row = Collection(
                    rep_id=person,
                    customer_id=self.customer,
                    amount=Decimal("5.00"),
                    method=PaymentMethod.TRANSFER,
                    received_at=moment,
                    recorded_by=recorder,
                    source_key=key,
                    created_at=moment,
                )
            elif what == "report":
                row = DailyReport(
                    rep_id=person,
                    day=date(2020, 1, 1) + timedelta(days=next(_numbers)),  # one per day and person
                    submitted_at=moment,
                    late=False,
                    source_key=key,
                )
            elif not self.rows:
                return
            else:
                model, id_ = self.rows[which % len(self.rows)]
                if what == "undo":
                    await session.execute(delete(model).where(model.id == id_))
                    self.rows.remove((model, id_))
                else:
                    moments = {Visit: "visited_at", Receivable: "created_at", Collection: "received_at"}
                    column = moments.get(model, "submitted_at")
                    await session.execute(
                        update(model).where(model.id == id_).values({column: moment, "rep_id": recorder})
                    )
                return
            session.add(row)
            await session.flush()
            self.rows.append((type(row), row.id))  # type: ignore[attr-defined]


@pytest.fixture
async def activity(db: Database) -> Activity:
    people = await factories.company(db, MONDAY_MORNING)
    shop = await factories.customer(db, MONDAY_MORNING, name="Shop", rep=people.rep)
    return Activity(db, [people.rep.id, people.other_rep.id, people.manager.id], shop.id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
async def test_last_activity_follows_every_write(
    activity: Activity, plan: list[tuple[str, int, int, datetime]]
) -> None:
    for step in plan:
        await activity.run(step)
        assert await stale(activity.db) == {}, step


async def test_the_bench_company_has_everyone_s_last_activity(db: Database, database_url: str) -> None:
    """The bench's loader writes with the triggers off, then fills the column."""
    await generate(database_url, 0.002, migrate=False)
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).where(User.last_activity_at.is_not(None))) > 0
    assert await stale(db) == {}


@pytest.mark.skipif(PG_URL is not None, reason="migrates a SQLite file of its own")
async def test_the_migration_fills_everyone_s_last_activity(tmp_path: Path) -> None:
    """Rows written, the migration undone (column and triggers gone) and applied again: it fills the
    column from what is recorded."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade_async(url)
    db = Database(url)
    try:
        people = await factories.company(db, MONDAY_MORNING)
        shop = await factories.customer(db, MONDAY_MORNING, name="Shop", rep=people.rep)
        activity = Activity(db, [people.rep.id, people.other_rep.id, people.manager.id], shop.id)
        for step in (
            ("visit", 0, 0, MONDAY_MORNING),
            ("order", 1, 1, MONDAY_MORNING + timedelta(hours=2)),
            ("order", 0, 2, MONDAY_MORNING + timedelta(hours=3)),  # recorded by the manager: not Li's
            ("collect", 2, 2, MONDAY_MORNING - timedelta(hours=1)),
        ):
            await activity.run(step)
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0035")
        await upgrade_async(url)
        assert await stale(db) == {}
        async with db.reading() as session:
            filled = dict((await session.execute(select(User.id, User.last_activity_at))).all())
        assert filled[people.rep.id] == MONDAY_MORNING
        assert filled[people.director.id] is None
    finally:
        await db.dispose()
