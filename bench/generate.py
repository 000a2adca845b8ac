"""A company at benchmark scale, written straight into a freshly migrated database.

Full size (``scale=1``): 1,000 reps in 100 teams, 100,000 customers, 1,000,000 visits over half a
year, 300,000 receivables (about a third open, many overdue), the collections and allocations that
settled the rest, and the last month's daily reports. Rows are built from one seeded generator and
written with Core ``INSERT``s in batches (``executemany``), never ORM objects one by one, with
explicit ids so the tables can be linked without ``RETURNING``.

The followed-up level of each overdue receivable is the one it had reached yesterday: the company is
in its steady state, so ``overdue_followup`` finds today's escalations, as it would on any morning.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db import Database, upgrade_async
from bot.services.company import DEFAULT_FOLLOWUP_LEVELS
from bot.services.money import overdue_rollup
from bot.services.people import activity
from bot.services.reporting import visit_months
from models import (
    DEFAULT_GRADE_POLICY,
    Allocation,
    Collection,
    Customer,
    CustomerStatus,
    DailyReport,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Role,
    Team,
    User,
    Visit,
    VisitKind,
)

SEED = 20261123
ZONE = ZoneInfo("Asia/Shanghai")
#: The benchmark's "now": Monday 2026-11-23 09:00 in Shanghai (the tests' clock).
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE).astimezone(UTC)
TODAY = NOW.astimezone(ZONE).date()
HISTORY_DAYS = 180
REPORT_DAYS = 35
BATCH = 10_000

REPS_PER_TEAM = 10
CUSTOMERS_PER_REP = 100
VISITS_PER_REP = 1_000
RECEIVABLES_PER_REP = 300

GRADE_WEIGHTS = (("A", 10), ("B", 25), ("C", 40), ("D", 25))
#: How much more often a rep sees a customer of each grade.
VISIT_WEIGHT = {"A": 8, "B": 4, "C": 2, "D": 1}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"
CITIES = (
    "华东",
    "华南",
    "鑫源",
    "恒通",
    "金桥",
    "联华",
    "宏达",
    "永丰",
    "东方",
    "百佳",
    "顺发",
    "汇丰",
    "万家",
    "盛世",
    "广源",
    "岭南",
    "富力",
    "兴隆",
    "白云",
    "鹏程",
)
TRADES = ("五金店", "建材", "商行", "贸易", "超市", "批发", "日用品", "机电", "家居", "电器")
FIRST = (
    "Pacific",
    "Harbor",
    "Golden",
    "City",
    "Riverside",
    "Summit",
    "Orient",
    "Maple",
    "Lotus",
    "Northstar",
    "Blue Ocean",
    "Sunrise",
    "Pearl River",
    "Jade",
    "Evergreen",
    "Coral Bay",
    "Delta",
    "Horizon",
    "Union",
    "Metro",
)
LAST = (
    "Hardware",
    "Supplies",
    "Trading",
    "Store",
    "Builders",
    "Mart",
    "Depot",
    "Tools",
    "Electric",
    "Traders",
)
NOTES = (
    "店主说下月加单",
    "Checked the shelf, stock is fine",
    "竞品降价 5%，客户在观望",
    "Owner asked for the new price list",
    "陈列位置调整到入口",
    "Promised payment by Friday",
)


@dataclass(frozen=True)
class Size:
    reps: int
    customers: int
    visits: int
    receivables: int

    @classmethod
    def at(cls, scale: float) -> Size:
        reps = max(2, round(1_000 * scale))
        return cls(reps, reps * CUSTOMERS_PER_REP, reps * VISITS_PER_REP, reps * RECEIVABLES_PER_REP)


@dataclass
class Generated:
    """What was written, who to act as, and how long each table took (seconds)."""

    size: Size
    director_id: int
    manager_id: int
    team_id: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


LEDGER_TABLES = ("receivables", "allocations", "collections")


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    def __init__(self, connection: AsyncConnection, generated: Generated) -> None:
        self.connection, self.generated = connection, generated
        #: PostgreSQL: receivables are written with their final open amounts while the ledger's
        #: triggers (migration 0009) are off, as a bulk restore does; a row trigger per allocation
        #: there costs about a minute and leaves 225,000 dead row versions behind. SQLite's row
        #: triggers are cheap: receivables start fully open and the allocations settle them.
        self.bulk_ledger = connection.dialect.name == "postgresql"

    @asynccontextmanager
    async def triggers_off(self, tables: tuple[str, ...] = LEDGER_TABLES) -> AsyncIterator[None]:
        if not self.bulk_ledger:
            yield
            return
        for table in tables:
            await self.connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield
        for table in tables:
            await self.connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

    @asynccontextmanager
    async def visit_triggers_off(self) -> AsyncIterator[None]:
        """The triggers on ``visits`` (migration 0012: each visit updates its customer's
        ``visit_count`` and ``prev_visit_at``) are off while the visits are loaded; the loader writes
        those columns itself. A million customer updates cost 40 s on SQLite, and on PostgreSQL as
        many row versions in one transaction (the customers table six times its size). SQLite cannot
        disable a trigger: they are dropped and created again from their own SQL."""
        if self.bulk_ledger:
            async with self.triggers_off(("visits",)):
                yield
            return
        triggers = (
            await self.connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'visits'")
            )
        ).all()
        for name, _sql in triggers:
            await self.connection.execute(text(f'DROP TRIGGER "{name}"'))
        yield
        for _name, sql in triggers:
            await self.connection.execute(text(sql))

    @asynccontextmanager
    async def credit_triggers_off(self) -> AsyncIterator[None]:
        """SQLite: the triggers keeping ``customers.credit`` (migration 0024) are off while the ledger
        is loaded (on PostgreSQL :meth:`triggers_off` disables them with the ledger's). Every generated
        collection is fully allocated, so each customer's credit stays the 0 it was written with; a
        customer update per collection and per allocation would only cost time."""
        if self.bulk_ledger:
            yield
            return
        triggers = (
            await self.connection.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%credit_on_%'"
                )
            )
        ).all()
        for name, _sql in triggers:
            await self.connection.execute(text(f'DROP TRIGGER "{name}"'))
        yield
        for _name, sql in triggers:
            await self.connection.execute(text(sql))

    async def write(self, table: Table, rows: Iterator[dict[str, Any]]) -> None:
        started = time.perf_counter()
        count = 0
        for batch in _batches(rows):
            await self.connection.execute(insert(table), batch)
            count += len(batch)
        # Added up: the ledger's tables are written in slices (``_money``).
        written, seconds = self.generated.rows, self.generated.seconds
        written[table.name] = written.get(table.name, 0) + count
        seconds[table.name] = seconds.get(table.name, 0.0) + time.perf_counter() - started


def _local(day: date, seconds: int) -> datetime:
    """``seconds`` after local midnight of ``day``, as a UTC instant."""
    return (datetime(day.year, day.month, day.day, tzinfo=ZONE) + timedelta(seconds=seconds)).astimezone(UTC)


def customer_name(rng: random.Random, n: int) -> str:
    if n % 2:
        return f"{rng.choice(CITIES)}{rng.choice(TRADES)}{n}"
    return f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}"


FIRST_MANAGER = 100


def described(scale: float) -> Generated:
    """Who to act as in a company generated at ``scale`` earlier (its row counts are not known)."""
    return Generated(Size.at(scale), director_id=2, manager_id=FIRST_MANAGER + 1, team_id=1)


async def generate(url: str, scale: float, *, seed: int = SEED, migrate: bool = True) -> Generated:
    """Migrate ``url`` and fill it with a company of ``scale`` × full size."""
    if migrate:
        await upgrade_async(url)
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            generated = await _fill(connection, Size.at(scale), random.Random(seed))
        if db.engine.dialect.name == "postgresql":
            started = time.perf_counter()
            await _vacuum(db)
            generated.rows["vacuum"], generated.seconds["vacuum"] = 0, time.perf_counter() - started
        return generated
    finally:
        await db.dispose()


async def vacuum(url: str) -> None:
    """:func:`_vacuum` on ``url`` (PostgreSQL; nothing on SQLite): for a kept company just migrated."""
    db = Database(url)
    try:
        if db.engine.dialect.name == "postgresql":
            await _vacuum(db)
    finally:
        await db.dispose()


async def _vacuum(db: Database) -> None:
    """PostgreSQL: the state autovacuum keeps a live database in, before anything is measured.

    Freshly loaded tables have no visibility map yet, so every index-only scan (the open
    receivables' indexes, the visits' (customer, time) index) would read the table rows too —
    until autovacuum passes, at a moment no benchmark controls.
    """
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))


async def _fill(connection: AsyncConnection, size: Size, rng: random.Random) -> Generated:
    teams = (size.reps + REPS_PER_TEAM - 1) // REPS_PER_TEAM
    joined = NOW - timedelta(days=HISTORY_DAYS + 30)
    first_manager = FIRST_MANAGER
    # Reps' ids follow the managers' (1,000 at full size; past 900 teams, at ten times, 100,000).
    first_rep = 1_000 if first_manager + teams < 1_000 else 100_000
    generated = Generated(size, director_id=2, manager_id=FIRST_MANAGER + 1, team_id=1)
    writer = _Writer(connection, generated)

    await writer.write(
        Team.__table__,
        ({"id": t, "name": f"Team {t:03d}", "created_at": joined} for t in range(1, teams + 1)),
    )

    def person(id_: int, telegram_id: int, name: str, role: Role, team: int | None) -> dict[str, Any]:
        return {
            "id": id_,
            "telegram_id": telegram_id,
            "name": name,
            "role": role,
            "team_id": team,
            "language": "zh" if id_ % 2 else "en",
            "active": True,
            "created_at": joined,
            "first_seen_at": joined,
        }

    def people() -> Iterator[dict[str, Any]]:
        yield person(1, 90_000_001, "Ada Admin", Role.ADMIN, None)
        yield person(2, 90_000_002, "周敏", Role.DIRECTOR, None)
        yield person(3, 90_000_003, "Fay Finance", Role.FINANCE, None)
        for t in range(1, teams + 1):
            yield person(first_manager + t, 80_000_000 + t, f"经理{t}", Role.MANAGER, t)
        for r in range(size.reps):
            name = f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{r}" if r % 2 else f"Rep {r}"
            yield person(first_rep + r, 10_000_000 + r, name, Role.REP, 1 + r // REPS_PER_TEAM)

    await writer.write(User.__table__, people())
    await connection.execute(text("UPDATE teams SET manager_id = id + :offset"), {"offset": first_manager})

    grades = rng.choices([g for g, _ in GRADE_WEIGHTS], [w for _, w in GRADE_WEIGHTS], k=size.customers)
    rep_of = [first_rep + n // CUSTOMERS_PER_REP for n in range(size.customers)]
    last_visit: list[datetime | None] = [None] * size.customers
    prev_visit: list[datetime | None] = [None] * size.customers  # the second-latest (migration 0012)
    visit_count = [0] * size.customers

    # Visits are drawn after the customers are written; each customer's last_visit_at follows.
    never = {n for n in range(size.customers) if rng.random() < 0.03}
    weights = [0 if n in never else VISIT_WEIGHT[grades[n]] for n in range(size.customers)]
    per_rep: list[list[int]] = [[] for _ in range(size.reps)]
    cumulative: list[list[int]] = [[] for _ in range(size.reps)]
    for n in range(size.customers):
        r = n // CUSTOMERS_PER_REP
        per_rep[r].append(n)
        cumulative[r].append((cumulative[r][-1] if cumulative[r] else 0) + weights[n])
    first_day = TODAY - timedelta(days=HISTORY_DAYS)

    def visits() -> Iterator[dict[str, Any]]:
        id_ = 0
        for r in range(size.reps):
            for n in rng.choices(per_rep[r], cum_weights=cumulative[r], k=VISITS_PER_REP):
                id_ += 1
                day = first_day + timedelta(days=rng.randrange(HISTORY_DAYS))
                if day.weekday() == 6:
                    day -= timedelta(days=1)
                at = _local(day, 9 * 3600 + rng.randrange(9 * 3600))
                if last_visit[n] is None or last_visit[n] < at:  # type: ignore[operator]
                    prev_visit[n], last_visit[n] = last_visit[n], at
                elif prev_visit[n] is None or prev_visit[n] < at:  # type: ignore[operator]
                    prev_visit[n] = at
                visit_count[n] += 1
                yield {
                    "id": id_,
                    "rep_id": rep_of[n],
                    "customer_id": n + 1,
                    "visited_at": at,
                    "kind": VisitKind.VISIT if id_ % 5 else VisitKind.CALL,
                    "notes": NOTES[id_ % len(NOTES)],
                    "latitude": None,
                    "longitude": None,
                    "distance_m": None,
                    "far_away": False,
                    "photo_file_ids": [],
                    "next_follow_up": TODAY if id_ % 97 == 0 else None,
                    "source_key": f"bench:visit:{id_}",
                    "created_at": at,
                }

    def customers() -> Iterator[dict[str, Any]]:
        for n in range(size.customers):
            roll = rng.random()
            status = (
                CustomerStatus.PROSPECT
                if roll < 0.02
                else CustomerStatus.INACTIVE
                if roll < 0.05
                else CustomerStatus.ACTIVE
            )
            yield {
                "id": n + 1,
                "code": f"C{n + 1:07d}",
                "name": customer_name(rng, n + 1),
                "grade": grades[n],
                "rep_id": rep_of[n],
                "team_id": 1 + (n // CUSTOMERS_PER_REP) // REPS_PER_TEAM,
                "status": status,
                "phone": f"138{rng.randrange(10**8):08d}",
                "address": None,
                "latitude": None,
                "longitude": None,
                "credit_days": None,
                "credit_limit": None,
                "created_at": joined,
                "last_visit_at": last_visit[n],
                "source_key": None,
            }

    await writer.write(Customer.__table__, customers())
    async with writer.visit_triggers_off():  # the customers' visit columns are written below
        await writer.write(Visit.__table__, visits())
    started = time.perf_counter()
    seen = Customer.__table__
    for batch in _batches(
        {"n": n + 1, "last": at, "prev": prev_visit[n], "count": visit_count[n]}
        for n, at in enumerate(last_visit)
        if at is not None
    ):
        await connection.execute(
            update(seen)
            .where(seen.c.id == bindparam("n"))
            .values(
                last_visit_at=bindparam("last"),
                prev_visit_at=bindparam("prev"),
                visit_count=bindparam("count"),
            ),
            batch,
        )
    generated.seconds["customers"] += time.perf_counter() - started
    started = time.perf_counter()
    await visit_months.build(connection, ZONE)  # the visits were written with their triggers off
    generated.seconds["visits"] += time.perf_counter() - started

    await _money(writer, rng, size, grades, rep_of)
    started = time.perf_counter()
    await overdue_rollup.rebuild(connection, TODAY)  # the ledger was written with its triggers off
    generated.seconds["receivables"] += time.perf_counter() - started
    await writer.write(DailyReport.__table__, _reports(rng, size, first_rep))
    started = time.perf_counter()
    await activity.refill(connection)  # visits and the ledger were written with their triggers off
    generated.seconds["users"] += time.perf_counter() - started
    await _after_explicit_ids(connection)
    return generated


async def _money(
    writer: _Writer, rng: random.Random, size: Size, grades: list[str], rep_of: list[int]
) -> None:
    """Receivables issued over the history; the older ones mostly paid (one collection each).

    Written in slices of BATCH invoices with their collections and allocations: at ten times the
    company (3,000,000 invoices) the whole ledger held as rows would take gigabytes."""
    terms = {grade: policy[1] for grade, policy in DEFAULT_GRADE_POLICY.items()}
    collection_id = 0
    async with writer.triggers_off(), writer.credit_triggers_off():
        for first in range(1, size.receivables + 1, BATCH):
            receivables: list[dict[str, Any]] = []
            collections: list[dict[str, Any]] = []
            allocations: list[dict[str, Any]] = []
            for id_ in range(first, min(first + BATCH, size.receivables + 1)):
                n = rng.randrange(size.customers)
                receivable, paid = _invoice(rng, id_, n, terms[grades[n]], rep_of[n], writer.bulk_ledger)
                receivables.append(receivable)
                if paid:
                    collection_id += 1
                    collections.append(_collection(rng, collection_id, receivable, paid))
                    allocation = {"id": collection_id, "collection_id": collection_id, "receivable_id": id_}
                    allocations.append({**allocation, "amount": paid})
            await writer.write(Receivable.__table__, iter(receivables))
            await writer.write(Collection.__table__, iter(collections))
            await writer.write(Allocation.__table__, iter(allocations))


def _invoice(
    rng: random.Random, id_: int, n: int, term_days: int, rep_id: int, final_open: bool
) -> tuple[dict[str, Any], Decimal]:
    """Invoice ``id_`` of customer ``n`` (0-based) and how much of it was paid."""
    issued = TODAY - timedelta(days=rng.randrange(1, HISTORY_DAYS))
    due = issued + timedelta(days=term_days)
    amount = Decimal(rng.randrange(10, 500) * 100)
    age = (TODAY - issued).days
    paid = Decimal(0)
    roll = rng.random()
    if roll < min(0.9, age / 90):
        paid = amount
    elif roll < min(0.95, age / 80):
        paid = (amount / 2).quantize(Decimal("1"))
    open_ = amount - paid
    days_yesterday = (TODAY - timedelta(days=1) - due).days
    reached = (lvl.level for lvl in DEFAULT_FOLLOWUP_LEVELS if days_yesterday >= lvl.days_overdue)
    receivable = {
        "id": id_,
        "invoice_no": f"B-{id_:07d}",
        "customer_id": n + 1,
        "rep_id": rep_id,
        "amount": amount,
        "open_amount": open_ if final_open else amount,
        "issued_on": issued,
        "due_on": due,
        "source": ReceivableSource.ORDER if id_ % 3 == 0 else ReceivableSource.IMPORT,
        "disputed": id_ % 101 == 0,
        "promise_date": None,
        "promise_amount": None,
        "followup_level": max(reached, default=0) if open_ > 0 else 0,
        "over_limit": False,
        "created_at": _local(issued, 10 * 3600),
        "source_key": None,
    }
    return receivable, paid


def _collection(rng: random.Random, id_: int, receivable: dict[str, Any], paid: Decimal) -> dict[str, Any]:
    """The collection that paid ``paid`` of ``receivable``, a few days before it fell due."""
    issued, due = receivable["issued_on"], receivable["due_on"]
    received = _local(
        min(due, TODAY - timedelta(days=1)) - timedelta(days=rng.randrange(0, 5)),
        11 * 3600 + rng.randrange(6 * 3600),
    )
    received = max(received, _local(issued, 12 * 3600))
    method = (PaymentMethod.TRANSFER, PaymentMethod.CASH, PaymentMethod.CHEQUE)[receivable["id"] % 3]
    # A transfer needs no hand-in (stored handed in when received, as the bot does); one cash or
    # cheque collection in fifty is still held by the rep.
    transfer = method == PaymentMethod.TRANSFER
    handed = received if transfer else None if receivable["id"] % 50 == 0 else received + timedelta(hours=6)
    return {
        "id": id_,
        "rep_id": receivable["rep_id"],
        "customer_id": receivable["customer_id"],
        "amount": paid,
        "method": method,
        "receipt_no": f"R-{id_}",
        "received_at": received,
        "handed_in_at": handed,
        "confirmed_by": 3 if handed and not transfer else None,
        "reverses_id": None,
        "reason": None,
        "recorded_by": receivable["rep_id"],
        "source_key": f"bench:collect:{id_}",
        "created_at": received,
    }


def _reports(rng: random.Random, size: Size, first_rep: int) -> Iterator[dict[str, Any]]:
    """Most working days' reports of the last five weeks; about one in twelve missing."""
    id_ = 0
    for back in range(REPORT_DAYS, 0, -1):
        day = TODAY - timedelta(days=back)
        if day.weekday() == 6:
            continue
        for r in range(size.reps):
            if rng.random() < 0.08:
                continue
            id_ += 1
            submitted = _local(day, 18 * 3600 + rng.randrange(90 * 60))
            yield {
                "id": id_,
                "rep_id": first_rep + r,
                "day": day,
                "summary": "",
                "problems": "无",
                "market_info": "",
                "plan_tomorrow": "拜访新客户",
                "submitted_at": submitted,
                "late": submitted.astimezone(ZONE).hour >= 19,
                "source_key": f"bench:report:{id_}",
            }


async def _after_explicit_ids(connection: AsyncConnection) -> None:
    """PostgreSQL: move the id sequences past the ids written here; both: refresh statistics."""
    if connection.dialect.name == "postgresql":
        for table in (
            "teams",
            "users",
            "customers",
            "visits",
            "receivables",
            "collections",
            "allocations",
            "daily_reports",
        ):
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
            )
        await connection.execute(text("ANALYZE"))
    else:
        await connection.execute(text("ANALYZE"))


def main() -> None:  # pragma: no cover - a convenience for generating a database by hand
    import argparse

    parser = argparse.ArgumentParser(description="Generate a benchmark company into a database")
    parser.add_argument("url")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    result = asyncio.run(generate(args.url, args.scale))
    for table, seconds in result.seconds.items():
        print(f"{table:15} {result.rows[table]:>10,} rows {seconds:7.1f} s")
    print(f"{'total':15} {sum(result.rows.values()):>10,} rows {result.total_seconds:7.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
