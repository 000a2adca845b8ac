"""The SQLite adapter runs each statement in one trip to aiosqlite's thread (or, in a short writing
transaction, on the event loop's thread) and behaves as the stock one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot import sqlite_driver
from bot.db import Database, make_engine


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INT)"))
    yield engine
    await engine.dispose()


def test_the_engine_uses_the_one_trip_adapter(engine: Any) -> None:
    assert isinstance(engine.sync_engine.dialect.dbapi, sqlite_driver.OneTripDBAPI)


async def test_rows_rowcounts_ids_and_errors_are_those_sqlite_gives(engine: Any) -> None:
    async with engine.begin() as connection:
        inserted = await connection.execute(
            text("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2) RETURNING id, name")
        )
        assert [tuple(row) for row in inserted] == [(1, "a"), (2, "b")]
        single = await connection.execute(text("INSERT INTO t (name, n) VALUES ('c', 3)"))
        assert single.lastrowid == 3
        many = await connection.execute(
            text("INSERT INTO t (name, n) VALUES (:name, :n)"), [{"name": "d", "n": 4}, {"name": "e", "n": 5}]
        )
        assert many.rowcount == 2
        updated = await connection.execute(text("UPDATE t SET n = n * 10 WHERE n >= 3"))
        assert updated.rowcount == 3
        rows = await connection.execute(text("SELECT name, n FROM t ORDER BY id"))
        assert rows.all() == [("a", 1), ("b", 2), ("c", 30), ("d", 40), ("e", 50)]
        assert (await connection.execute(text("SELECT n FROM t WHERE name = 'zz'"))).first() is None
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 9)"))
    async with engine.connect() as connection:  # the failed transaction was rolled back
        assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 5


async def test_a_statement_is_one_trip_to_the_connection_thread(engine: Any, monkeypatch: Any) -> None:
    trips = 0
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, *args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return await execute(self, *args, **kwargs)

    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the connection's own set-up, out of the count
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        for n in range(5):
            assert (await connection.execute(text("SELECT :n"), {"n": n})).scalar() == n
        assert trips == 5  # the stock adapter makes four: cursor, execute, fetchall, close


INSERT = text("INSERT INTO t (name, n) VALUES (:name, :n)")


@pytest.fixture
def trips(monkeypatch: Any) -> list[str]:
    """What each trip to a connection's thread ran (the function's name), as they happen."""
    made: list[str] = []
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}", pool_size=1, max_overflow=0)
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INT)"))
    yield database
    await database.dispose()


async def test_an_inline_transaction_goes_to_the_thread_only_to_begin(
    database: Database, trips: list[str]
) -> None:
    async with database.transaction(inline=True) as session:
        for n in range(5):
            await session.execute(INSERT, {"name": f"r{n}", "n": n})
        assert (await session.execute(text("SELECT sum(n) FROM t"))).scalar() == 10
    assert trips == ["_run"]  # BEGIN IMMEDIATE, which may wait for another process's lock
    async with database.reading() as session:  # committed, and read through the thread again
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 5
    assert len(trips) > 1


async def test_an_inline_transaction_that_fails_is_rolled_back_and_the_connection_is_threaded_again(
    database: Database, trips: list[str]
) -> None:
    async with database.transaction(inline=True) as session:
        await session.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
    with pytest.raises(IntegrityError):
        async with database.transaction(inline=True) as session:
            await session.execute(text("INSERT INTO t (name, n) VALUES ('b', 2)"))
            await session.execute(text("INSERT INTO t (name, n) VALUES ('a', 3)"))
    assert trips == ["_run", "_run"]
    trips.clear()
    async with database.transaction() as session:  # the same (only) connection, not inline any more
        assert (await session.execute(text("SELECT name FROM t"))).scalars().all() == ["a"]
    assert trips.count("_run") == 2  # BEGIN IMMEDIATE and the SELECT; then the commit's own trip
    assert len(trips) == 3


async def test_inline_and_threaded_writers_of_one_process_take_turns(database: Database) -> None:
    async def write(inline: bool, n: int) -> None:
        async with database.transaction(inline=inline) as session:
            await session.execute(INSERT, {"name": f"w{n}", "n": n})
            await asyncio.sleep(0)  # a turn of the event loop inside the transaction

    await asyncio.gather(*(write(n % 2 == 0, n) for n in range(20)))
    async with database.reading() as session:
        assert (await session.execute(text("SELECT count(*), sum(n) FROM t"))).one() == (20, 190)
