"""The visits' monthly counts (``rep_months``, ``rep_customer_months``, migration 0035) always equal
the visits counted by the company's months, whatever is written, undone or moved, and in whichever
zone they are built; the summary reads the same figures from them as from the visits.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, func, select, update

from bench.generate import ZONE as BENCH_ZONE, generate
from bot.db import Database, alembic_config, upgrade_async
from bot.services.field.trust import COLUMNS
from bot.services.people.access import Caller
from bot.services.reporting import visit_months
from bot.services.reporting.periods import MONTH, relative
from bot.services.reporting.summaries import summary
from models import RepCustomerMonth, RepMonth, Visit, VisitKind
from tests import factories
from tests.conftest import MONDAY_MORNING, PG_URL, ZONE
from tests.harness import Harness
from tests.test_summaries import TODAY, setup

_numbers = count(1)
#: A zone with summer time: the month starts at 23:00 UTC in winter, 22:00 in summer.
BERLIN = ZoneInfo("Europe/Berlin")
FLAG_NAMES = [column.key for column in COLUMNS]
#: Around the turn of October into November in Berlin (summer time ends on 25 October 2026).
BOUNDARY = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)

moments = st.integers(-40 * 60, 40 * 60).map(lambda minutes: BOUNDARY + timedelta(minutes=minutes))
flags = st.lists(st.booleans(), min_size=len(FLAG_NAMES), max_size=len(FLAG_NAMES))
add = st.tuples(st.just("add"), st.integers(0, 1), st.integers(0, 2), moments, flags)
undo = st.tuples(st.just("undo"), st.integers(0, 30), st.just(0), moments, flags)
move = st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 2), moments, flags)
rep = st.tuples(st.just("rep"), st.integers(0, 30), st.integers(0, 1), moments, flags)
flag = st.tuples(st.just("flag"), st.integers(0, 30), st.just(0), moments, flags)
build = st.tuples(st.sampled_from(["berlin", "shanghai"]), st.just(0), st.just(0), moments, flags)
steps = st.lists(st.one_of(add, undo, move, rep, flag, build), min_size=1, max_size=14)

Counts = dict[tuple[date, int], tuple[int, ...]]


async def mismatches(db: Database) -> tuple[Counts, Counts]:
    """(stored, counted) ``rep_months`` where they differ, counted from the visits by the built zone;
    ``rep_customer_months`` compared too (any difference is reported under month 1900-01-01)."""
    async with db.reading() as session:
        zone_name = await visit_months.built_for(session)
        visits = (
            await session.execute(select(Visit.rep_id, Visit.customer_id, Visit.visited_at, *COLUMNS))
        ).all()
        stored_months = {
            (row.month, row.rep_id): (
                row.visits,
                row.customers,
                row.flagged,
                *(getattr(row, f) for f in FLAG_NAMES),
            )
            for row in await session.scalars(select(RepMonth))
        }
        stored_pairs = {
            (row.month, row.rep_id, row.customer_id): row.visits
            for row in await session.scalars(select(RepCustomerMonth))
        }
    pairs: dict[tuple[date, int, int], int] = defaultdict(int)
    per_rep: dict[tuple[date, int], list[int]] = defaultdict(lambda: [0] * (3 + len(FLAG_NAMES)))
    if zone_name is not None:
        zone = ZoneInfo(zone_name)
        for rep_id, customer_id, visited_at, *flagged in visits:
            month = visited_at.astimezone(zone).date().replace(day=1)
            pairs[(month, rep_id, customer_id)] += 1
            figures = per_rep[(month, rep_id)]
            figures[0] += 1
            figures[2] += any(flagged)
            for index, value in enumerate(flagged):
                figures[3 + index] += value
        for month, rep_id, _customer in pairs:
            per_rep[(month, rep_id)][1] += 1
    counted = {key: tuple(values) for key, values in per_rep.items()}
    stored = {key: values for key, values in stored_months.items() if values[0] or key in counted}
    if stored_pairs != dict(pairs):
        stored[(date(1900, 1, 1), 0)] = (len(stored_pairs),)
    differ = {key for key in stored.keys() | counted.keys() if stored.get(key) != counted.get(key)}
    return {key: stored[key] for key in differ if key in stored}, {
        key: counted[key] for key in differ if key in counted
    }


class Visits:
    def __init__(self, db: Database, reps: list[int], customers: list[int]) -> None:
        self.db, self.reps, self.customers = db, reps, customers
        self.ids: list[int] = []

    async def run(self, step: tuple[str, int, int, datetime, list[bool]]) -> None:
        what, which, other, moment, flagged = step
        values = dict(zip(FLAG_NAMES, flagged, strict=True))
        async with self.db.transaction() as session:
            if what in ("berlin", "shanghai"):
                zone = BERLIN if what == "berlin" else ZoneInfo("Asia/Shanghai")
                await visit_months.build(await session.connection(), zone)
            elif what == "add":
                visit = Visit(
                    rep_id=self.reps[which],
                    customer_id=self.customers[other],
                    visited_at=moment,
                    kind=VisitKind.VISIT,
                    source_key=f"vm:{next(_numbers)}",
                    created_at=moment,
                    **values,
                )
                session.add(visit)
                await session.flush()
                self.ids.append(visit.id)
            elif not self.ids:
                return
            elif what == "undo":
                gone = self.ids.pop(which % len(self.ids))
                await session.execute(delete(Visit).where(Visit.id == gone))
            else:
                changes: dict[str, object] = {
                    "move": {
                        "visited_at": moment,
                        "customer_id": self.customers[other % len(self.customers)],
                    },
                    "rep": {"rep_id": self.reps[other % len(self.reps)]},
                    "flag": values,
                }[what]
                chosen = self.ids[which % len(self.ids)]
                await session.execute(update(Visit).where(Visit.id == chosen).values(**changes))


@pytest.fixture
async def visits(db: Database) -> Visits:
    people = await factories.company(db, MONDAY_MORNING)
    return Visits(db, [people.rep.id, people.other_rep.id], [])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
async def test_monthly_counts_follow_every_visit_saved_undone_or_moved(
    visits: Visits, plan: list[tuple[str, int, int, datetime, list[bool]]]
) -> None:
    visits.customers, visits.ids = [], []
    for _ in range(3):
        shop = await factories.customer(visits.db, MONDAY_MORNING, name="Shop", rep=None)
        visits.customers.append(shop.id)
    async with visits.db.transaction() as session:
        await session.execute(delete(Visit))  # examples share the database: start from no visits
        await visit_months.build(await session.connection(), BERLIN)
    for step in plan:
        await visits.run(step)
        assert await mismatches(visits.db) == ({}, {}), step


async def test_the_summary_reads_the_same_month_from_the_counts_as_from_the_visits(harness: Harness) -> None:
    """Counts built for another zone (FIELDBOT_TIMEZONE changed) are not read: a read-only summary
    counts the visits, and the director's next /summary month builds them again for the company's
    zone; the figures (visits, customers, flags, per person) are the same either way."""
    world = await setup(harness, seed=5)
    zone = ZONE
    async with harness.db.transaction() as session:
        await visit_months.build(await session.connection(), BERLIN)
    director = Caller.of(world.people.director, "en")
    month = relative(MONTH, TODAY)
    async with harness.db.reading() as session:
        assert await visit_months.built_for(session) == BERLIN.key
        counted = await summary(session, director, month, zone, TODAY)
    async with harness.db.transaction(report=True) as session:
        read = await summary(session, director, month, zone, TODAY)
        assert await visit_months.built_for(session) == zone.key
    assert counted.visits > 0 and any(line.flags.flagged for line in counted.reps)
    assert read == counted
    assert await mismatches(harness.db) == ({}, {})
    text = await harness.person(7001, "Dee").says("/summary month")  # through the front door
    assert "This month, 2026-11-01 – 2026-11-26" in text
    async with harness.db.reading() as session:
        assert await visit_months.built_for(session) == zone.key


@pytest.mark.skipif(PG_URL is not None, reason="migrates a SQLite file of its own")
async def test_the_migration_counts_the_visits_already_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDBOT_TIMEZONE", "Europe/Berlin")
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade_async(url)
    db = Database(url)
    try:
        people = await factories.company(db, MONDAY_MORNING)
        shop = await factories.customer(db, MONDAY_MORNING, name="Shop", rep=people.rep)
        async with db.transaction() as session:
            for minutes, far in ((-90, True), (-30, False), (30, False), (90, True)):  # around 1 Nov, Berlin
                moment = BOUNDARY + timedelta(minutes=minutes)
                session.add(
                    Visit(
                        rep_id=people.rep.id,
                        customer_id=shop.id,
                        visited_at=moment,
                        kind=VisitKind.VISIT,
                        source_key=f"old:{minutes}",
                        created_at=moment,
                        far_away=far,
                    )
                )
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0034")  # as before 0035
        await upgrade_async(url)
        assert await mismatches(db) == ({}, {})
        async with db.reading() as session:
            assert await visit_months.built_for(session) == "Europe/Berlin"
            rows = (await session.execute(select(RepMonth.month, RepMonth.visits, RepMonth.far_away))).all()
        assert sorted(rows) == [(date(2026, 10, 1), 2, 1), (date(2026, 11, 1), 2, 1)]
    finally:
        await db.dispose()


@pytest.mark.skipif(PG_URL is None, reason="PostgreSQL's concurrency: set FIELDBOT_TEST_DATABASE_URL")
async def test_two_visits_to_one_customer_written_at_once_count_one_customer(
    db: Database, database_url: str
) -> None:
    people = await factories.company(db, MONDAY_MORNING)
    shop = await factories.customer(db, MONDAY_MORNING, name="Shop", rep=people.rep)
    async with db.transaction() as session:
        await visit_months.build(await session.connection(), BERLIN)

    def visit(key: str) -> Visit:
        return Visit(
            rep_id=people.rep.id,
            customer_id=shop.id,
            visited_at=MONDAY_MORNING,
            kind=VisitKind.VISIT,
            source_key=key,
            created_at=MONDAY_MORNING,
        )

    other = Database(database_url)
    first = other.transaction()
    session = await first.__aenter__()
    try:
        session.add(visit("two:1"))
        await session.flush()

        async def second() -> None:
            async with db.transaction() as writer:
                writer.add(visit("two:2"))

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held on the (rep, customer, month) row the first one wrote
    finally:
        await first.__aexit__(None, None, None)
        await other.dispose()
    await waiting
    async with db.reading() as reading:
        row = await reading.scalar(select(RepMonth))
    assert row is not None and (row.visits, row.customers) == (2, 1)
    assert await mismatches(db) == ({}, {})


async def test_the_bench_company_has_its_monthly_counts(db: Database, database_url: str) -> None:
    """The bench's loader writes visits with their triggers off, then builds the counts."""
    await generate(database_url, 0.002, migrate=False)
    async with db.reading() as session:
        assert await visit_months.built_for(session) == BENCH_ZONE.key
        assert await session.scalar(select(func.count()).select_from(RepMonth)) > 0
    assert await mismatches(db) == ({}, {})
