"""``customers.visit_count`` and ``customers.prev_visit_at`` always say what the visits say.

Database triggers keep them (migration 0012) whoever writes a visit: these tests write visits every
way the bot and its tools do — the services (a visit, its undo), the ORM (inserts, deletes, a visit
moved in time or to another customer), Core bulk inserts (the bench generator) — and compare both
columns with the visits afterwards. The coverage figures that read them are checked against a plain
count over the visits, for periods running and past, the whole company and one team.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from bench.generate import generate
from bot.db import Database, upgrade_async
from bot.services.field import visits
from bot.services.people.access import Caller
from bot.services.policy import start_of_day
from bot.services.reporting import summaries
from bot.services.reporting.periods import MONTH, TODAY, WEEK, Period, parse_period, relative
from models import DEFAULT_GRADE_POLICY, Customer, CustomerStatus, Visit, VisitKind
from tests import factories
from tests.conftest import PG_URL, ZONE

_keys = count(1)
#: Thursday 26 November 2026, 15:00 local.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=ZONE)
EVERY = {grade: every for grade, (every, _days, _limit) in DEFAULT_GRADE_POLICY.items()}


async def mismatches(db: Database) -> list[tuple[int, int, datetime | None, int, datetime | None]]:
    """(customer, stored count, stored visit before the latest, the visits' count, their second-latest)
    wherever the two disagree."""
    async with db.reading() as session:
        times: dict[int, list[datetime]] = defaultdict(list)
        for customer_id, at in await session.execute(select(Visit.customer_id, Visit.visited_at)):
            times[customer_id].append(at)
        rows = await session.execute(select(Customer.id, Customer.visit_count, Customer.prev_visit_at))
        wrong = []
        for customer_id, stored_count, stored_prev in rows:
            ordered = sorted(times[customer_id], reverse=True)
            prev = ordered[1] if len(ordered) > 1 else None
            if (stored_count, stored_prev) != (len(ordered), prev):
                wrong.append((customer_id, stored_count, stored_prev, len(ordered), prev))
        return wrong


def a_visit(rep_id: int, customer_id: int, at: datetime) -> Visit:
    return Visit(
        rep_id=rep_id,
        customer_id=customer_id,
        visited_at=at,
        kind=VisitKind.VISIT,
        source_key=f"keep:{next(_keys)}",
        created_at=at,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_way_of_writing_visits_keeps_both_columns(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    people = await factories.company(db, NOW - timedelta(days=90))
    rep = Caller.of(people.rep, "en")
    shops = [
        await factories.customer(db, NOW - timedelta(days=90), name=f"Shop {n}", rep=people.rep)
        for n in range(4)
    ]
    # A handful of instants, so that visits often share one (the second-latest equals the latest).
    instants = [NOW - timedelta(days=d, hours=h) for d in (0, 1, 3, 40) for h in (0, 2)]
    saved: list[int] = []  # visits the rep saved through the service, undoable for 10 minutes
    for _step in range(30):
        what = rng.choice(["record", "undo", "insert", "bulk", "delete", "move", "retime"])
        shop = rng.choice(shops)
        async with db.transaction() as session:
            ids = list(await session.scalars(select(Visit.id).order_by(Visit.id)))
            if what == "record":
                done = await visits.record(
                    session,
                    rep,
                    visits.VisitDraft(shop.id, VisitKind.CALL, "called"),
                    source_key=f"keep:{next(_keys)}",
                    now=NOW,
                    zone=ZONE,
                )
                saved.append(done.id)
            elif what == "undo" and saved:
                await visits.undo(session, rep, saved.pop(rng.randrange(len(saved))), now=NOW)
            elif what == "insert":
                session.add(a_visit(people.rep.id, shop.id, rng.choice(instants)))
            elif what == "bulk":
                at = rng.choice(instants)
                await session.execute(
                    insert(Visit),
                    [
                        {
                            "rep_id": people.rep.id,
                            "customer_id": rng.choice(shops).id,
                            "visited_at": at,
                            "kind": VisitKind.VISIT,
                            "notes": "",
                            "far_away": False,
                            "photo_file_ids": [],
                            "source_key": f"keep:{next(_keys)}",
                            "created_at": at,
                        }
                        for _ in range(3)
                    ],
                )
            elif what == "delete" and ids:
                gone = rng.choice(ids)
                await session.execute(delete(Visit).where(Visit.id == gone))
                saved = [visit_id for visit_id in saved if visit_id != gone]
            elif what == "move" and ids:
                moved = await session.get_one(Visit, rng.choice(ids))
                moved.customer_id = shop.id
            elif what == "retime" and ids:
                await session.execute(
                    update(Visit).where(Visit.id == rng.choice(ids)).values(visited_at=rng.choice(instants))
                )
        assert await mismatches(db) == [], (seed, _step, what)
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) > 0


@pytest.mark.skipif(PG_URL is None, reason="concurrent writers: PostgreSQL (SQLite has one writer at a time)")
async def test_concurrent_writers_of_one_customer_are_both_counted(db: Database) -> None:
    """Two transactions add a visit to one customer at once: the second's trigger waits for the
    first to commit and then reads both visits (without the lock it would read its own only)."""
    people = await factories.company(db, NOW - timedelta(days=30))
    shop = await factories.customer(db, NOW - timedelta(days=30), name="Shop", rep=people.rep)
    async with db.transaction() as session:
        session.add(a_visit(people.rep.id, shop.id, NOW - timedelta(days=20)))
    first_in = asyncio.Event()

    async def write(at: datetime, hold: float) -> None:
        async with db.transaction() as session:
            session.add(a_visit(people.rep.id, shop.id, at))
            await session.flush()
            first_in.set()
            await asyncio.sleep(hold)

    async def second() -> None:
        await first_in.wait()
        await write(NOW - timedelta(days=1), 0)

    await asyncio.gather(write(NOW - timedelta(days=2), 0.5), second())
    assert await mismatches(db) == []
    async with db.reading() as session:
        assert (
            await session.execute(
                select(Customer.visit_count, Customer.prev_visit_at).where(Customer.id == shop.id)
            )
        ).one() == (3, NOW - timedelta(days=2))


async def test_the_bench_company_keeps_them_too(db: Database, database_url: str) -> None:
    company = await generate(database_url, 0.002, migrate=False)
    assert company.rows["visits"] > 0
    assert await mismatches(db) == []
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).where(Customer.visit_count == 0)) > 0
        assert await session.scalar(select(func.count()).where(Customer.prev_visit_at.is_not(None))) > 0


@pytest.mark.skipif(PG_URL is not None, reason="migrates a SQLite file of its own from revision 0011")
async def test_the_migration_fills_them_for_existing_customers(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url, "0011")
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            INSERT INTO users (id, telegram_id, name, role, active, created_at)
                VALUES (1, 11, 'Rep', 'rep', 1, '2026-11-01 00:00:00.000000');
            INSERT INTO customers (id, code, name, grade, rep_id, status, created_at)
                VALUES (1, 'C1', 'Never', 'C', 1, 'active', '2026-11-01 00:00:00.000000'),
                       (2, 'C2', 'Once', 'C', 1, 'active', '2026-11-01 00:00:00.000000'),
                       (3, 'C3', 'Thrice', 'C', 1, 'active', '2026-11-01 00:00:00.000000');
            INSERT INTO visits (id, rep_id, customer_id, visited_at, kind, notes, far_away, photo_file_ids,
                                source_key, created_at)
                VALUES (1, 1, 2, '2026-11-02 01:00:00.000000', 'visit', '', 0, '[]', 'k1', '2026-11-02'),
                       (2, 1, 3, '2026-11-03 01:00:00.000000', 'visit', '', 0, '[]', 'k2', '2026-11-03'),
                       (3, 1, 3, '2026-11-05 01:00:00.000000', 'visit', '', 0, '[]', 'k3', '2026-11-05'),
                       (4, 1, 3, '2026-11-04 01:00:00.000000', 'visit', '', 0, '[]', 'k4', '2026-11-04');
        """)
    await upgrade_async(url)
    with sqlite3.connect(path) as connection:
        kept = "SELECT id, visit_count, prev_visit_at FROM customers ORDER BY id"
        assert list(connection.execute(kept)) == [
            (1, 0, None),
            (2, 1, None),
            (3, 3, "2026-11-04 01:00:00.000000"),
        ]
        connection.execute("DELETE FROM visits WHERE id = 3")  # the triggers came with the migration
        assert list(connection.execute(kept))[2] == (3, 2, "2026-11-03 01:00:00.000000")


# -- the figures that read them -------------------------------------------------------------------


def _instants(today: date) -> list[datetime]:
    """Visit times around every boundary the figures below look at (period starts and ends, the
    windows before them), a second either side, and a few ordinary ones."""
    days = [
        date(2026, 9, 1),
        date(2026, 9, 27),
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 28),
        date(2026, 10, 31),
        date(2026, 11, 1),
        date(2026, 11, 10),
        date(2026, 11, 20),
        date(2026, 11, 21),
        date(2026, 11, 23),
        today,
    ]
    moments = []
    for day in days:
        midnight = start_of_day(day, ZONE)
        moments += [midnight - timedelta(seconds=1), midnight, midnight + timedelta(hours=3)]
    return [moment for moment in moments if moment < NOW]


def _expected(
    period: Period, today: date, shops: list[Customer], times: dict[int, list[datetime]], everyone: bool
) -> tuple[int, int, int]:
    """(due, due and visited, visited) by the module doc's rules, over the visits themselves."""
    start, end = period.bounds(ZONE)
    until = period.until(today)
    last_end = start_of_day(until + timedelta(days=1), ZONE)
    due = due_visited = 0
    for shop in shops:
        if shop.status == CustomerStatus.INACTIVE or shop.created_at >= last_end:
            continue
        window_start = start_of_day(until - timedelta(days=EVERY[shop.grade] - 1), ZONE)
        if window_start < start and any(window_start <= at < start for at in times[shop.id]):
            continue
        due += 1
        due_visited += any(start <= at < last_end for at in times[shop.id])
    visited = sum(1 for shop in shops if any(start <= at < end for at in times[shop.id])) if everyone else 0
    return due, due_visited, visited


@pytest.mark.parametrize("seed", [5, 6])
async def test_coverage_read_from_the_kept_columns_matches_the_visits(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    today = NOW.astimezone(ZONE).date()
    people = await factories.company(db, NOW - timedelta(days=120))
    instants = _instants(today)
    times: dict[int, list[datetime]] = defaultdict(list)
    shops: list[Customer] = []
    async with db.transaction() as session:
        for n in range(80):
            rep = people.rep if n % 2 else people.other_rep
            created = rng.choice(
                [
                    NOW - timedelta(days=120),
                    NOW - timedelta(days=120),
                    start_of_day(date(2026, 11, 22), ZONE),
                    start_of_day(today, ZONE),
                ]
            )
            status = rng.choice(
                [CustomerStatus.ACTIVE] * 8 + [CustomerStatus.INACTIVE, CustomerStatus.PROSPECT]
            )
            shop = Customer(
                code=f"F{seed}-{n}",
                name=f"Shop {n}",
                grade=rng.choice("ABCD"),
                rep_id=rep.id,
                team_id=rep.team_id,
                status=status,
                created_at=created,
            )
            session.add(shop)
            await session.flush()
            shops.append(shop)
            chosen = [rng.choice(instants) for _ in range(rng.choice([0, 0, 1, 1, 2, 2, 3, 5]))]
            if chosen and rng.random() < 0.2:
                chosen.append(chosen[0])  # two visits at one instant
            for at in chosen:
                session.add(a_visit(rep.id, shop.id, at))
                times[shop.id].append(at)
            # The bot keeps last_visit_at with every visit; some rows (imports, old data) have none.
            if chosen and rng.random() < 0.9:
                shop.last_visit_at = max(chosen)
    assert await mismatches(db) == []
    director = Caller.of(people.director, "en")
    periods = [
        relative(MONTH, today),
        relative(WEEK, today),
        relative(TODAY, today),
        parse_period("2026-10", today),
        parse_period("2026-11-01..2026-11-20", today),
    ]
    async with db.reading() as session:
        for period in periods:
            for team in (None, people.north):
                figures = await summaries.summary(
                    session, director, period, ZONE, today, team_id=team.id if team else None
                )
                in_scope = [shop for shop in shops if team is None or shop.team_id == team.id]
                due, due_visited, visited = _expected(period, today, in_scope, times, everyone=team is None)
                assert (figures.due_customers, figures.due_visited) == (due, due_visited), (period, team)
                if team is None:
                    assert figures.customers_visited == visited, period
