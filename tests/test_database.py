"""Migrations, money, time and concurrency on the real databases (SQLite, and PostgreSQL in CI)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings, strategies as st
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

import bot.db
import models
from bot.db import Database, database_unavailable, is_sqlite
from models import GradePolicy, Team


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_migrations_match_the_models(db: Database) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, models.Base.metadata)

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_grade_policy_is_seeded(db: Database) -> None:
    async with db.reading() as session:
        policies = {p.grade: p for p in await session.scalars(select(GradePolicy))}
    assert [policies[g].visit_every_days for g in "ABCD"] == [3, 7, 7, 14]  # art. 16: weekly at least
    assert policies["A"].credit_limit == Decimal("200000.00")


async def test_sqlite_runs_in_wal_with_a_busy_timeout(db: Database) -> None:
    if not is_sqlite(db.url):
        pytest.skip("SQLite only")
    async with db.reading() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_concurrent_writers_never_see_database_locked(db: Database) -> None:
    now = datetime.now(UTC)

    async def write(n: int) -> None:
        async with db.transaction() as session:
            count = await session.scalar(select(func.count()).select_from(Team))
            session.add(Team(name=f"Team {n} after {count}", created_at=now))
            await asyncio.sleep(0)

    await asyncio.gather(*(write(n) for n in range(40)))
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Team)) == 40


async def test_money_is_exact_and_sums_exactly(db: Database) -> None:
    amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("99999999.99"), Decimal("-0.30")]
    async with db.transaction() as session:
        for n, amount in enumerate(amounts):
            session.add(GradePolicy(grade=str(n), visit_every_days=1, credit_days=1, credit_limit=amount))
    async with db.reading() as session:
        stored = list(
            await session.scalars(
                select(GradePolicy.credit_limit)
                .where(GradePolicy.grade.in_(["0", "1", "2", "3"]))
                .order_by(GradePolicy.grade)
            )
        )
        total = await session.scalar(
            select(func.sum(GradePolicy.credit_limit)).where(GradePolicy.grade.in_(["0", "1", "2", "3"]))
        )
    assert stored == amounts and all(isinstance(a, Decimal) for a in stored)
    assert total == Decimal("99999999.99")


@settings(max_examples=50, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("-999999999999.99"),
        max_value=Decimal("999999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_money_round_trips_on_both_dialects(amount: Decimal) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    money = models.Money()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = money.process_bind_param(amount, dialect)
        assert money.process_result_value(stored, dialect) == amount
        if dialect.name == "sqlite":
            assert isinstance(stored, int)


async def test_timestamps_are_utc_and_naive_ones_refused(db: Database) -> None:
    local = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
    async with db.transaction() as session:
        session.add(Team(name="North", created_at=local))
    async with db.reading() as session:
        stored = await session.scalar(select(Team.created_at))
    assert stored == local and stored is not None and stored.tzinfo == UTC and stored.hour == 1
    with pytest.raises(Exception, match="naive datetime"):
        async with db.transaction() as session:
            session.add(Team(name="South", created_at=datetime(2026, 11, 23, 9, 0)))


async def test_the_inbox_has_connections_of_its_own_on_postgresql_only(db: Database) -> None:
    """Recording a fetched batch must not queue behind the handlers for a pooled connection; on
    SQLite it stays on the same object, whose writers take turns (one writer per process)."""
    own = db.with_own_pool(2)
    if is_sqlite(db.url):
        assert own is db
        return
    try:
        assert own is not db and own.engine.pool.size() == 2  # type: ignore[attr-defined]
        async with own.transaction() as session:
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await own.dispose()


async def test_on_postgresql_reports_are_planned_for_their_parameters(db: Database) -> None:
    if is_sqlite(db.url):
        pytest.skip("PostgreSQL's plan cache")
    show = text("SHOW plan_cache_mode")
    async with db.transaction(report=True) as session:  # a company summary
        assert await session.scalar(show) == "force_custom_plan"
    async with db.reading() as session:  # an export
        assert await session.scalar(show) == "force_custom_plan"
    async with db.transaction(inline=True) as session:  # a handler's few look-ups: cached plans
        assert await session.scalar(show) == "auto"  # (SET LOCAL: gone with its transaction)
    async with db.transaction() as session:  # a sweep, an import: each row of a bulk INSERT is not replanned
        assert await session.scalar(show) == "auto"
    with pytest.raises(ValueError):
        async with db.transaction(inline=True, report=True):
            pass


async def _killed_backend(db: Database) -> None:
    """Use one pooled connection, then have the server end its session (as a restart would)."""
    async with db.reading() as session:
        backend = await session.scalar(text("SELECT pg_backend_pid()"))
    other = Database(db.url)
    try:
        async with other.reading() as session:
            assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    finally:
        await other.dispose()
    await asyncio.sleep(0.2)


async def test_on_postgresql_an_idle_connection_is_checked_and_a_busy_one_is_not(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg's ping is three round trips: only a connection that sat idle is pinged before use.

    A connection in steady use that the server dropped fails its next statement, which invalidates
    the pool: the transaction after it reconnects.
    """
    if is_sqlite(db.url):
        pytest.skip("PostgreSQL's connection pool")
    monkeypatch.setattr(bot.db, "PING_AFTER_IDLE_SECONDS", 0.1)
    await _killed_backend(db)
    async with db.reading() as session:  # idle for 0.2 s: pinged, replaced, and this works
        assert await session.scalar(text("SELECT 1")) == 1

    monkeypatch.setattr(bot.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    await _killed_backend(db)
    with pytest.raises(DBAPIError) as error:  # not pinged: the statement finds the session gone
        async with db.reading() as session:
            await session.scalar(text("SELECT 1"))
    assert database_unavailable(error.value)
    async with db.reading() as session:  # the pool was invalidated: a new connection
        assert await session.scalar(text("SELECT 1")) == 1


async def test_on_postgresql_a_busy_bot_reuses_its_connections(db: Database) -> None:
    """More transactions at once than the pool holds wait their turn; none opens a connection of its own.

    Opening one per transaction beyond the pool (SQLAlchemy's overflow) cost the server a process
    and the bot a driver set-up every few updates under load.
    """
    if is_sqlite(db.url):
        pytest.skip("PostgreSQL's connection pool")
    busy = Database(db.url)
    opened = 0

    def connected(*_args: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(busy.engine.sync_engine, "connect", connected)

    async def one_update(n: int) -> int:
        async with busy.transaction(inline=True) as session:
            await asyncio.sleep(0.01)  # holding its connection, as a handler awaiting a statement does
            return int(await session.scalar(text("SELECT CAST(:n AS INTEGER)"), {"n": n}))

    try:
        for _ in range(3):
            answers = await asyncio.gather(*(one_update(n) for n in range(3 * bot.db.POSTGRESQL_POOL_SIZE)))
            assert answers == list(range(3 * bot.db.POSTGRESQL_POOL_SIZE))
        assert opened == bot.db.POSTGRESQL_POOL_SIZE
    finally:
        await busy.dispose()
