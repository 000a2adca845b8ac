"""The SQLite adapter runs each statement in one trip to aiosqlite's thread and behaves as the stock one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot import sqlite_driver
from bot.db import make_engine


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
            text("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2) RETURNING id, name"))
        assert [tuple(row) for row in inserted] == [(1, "a"), (2, "b")]
        single = await connection.execute(text("INSERT INTO t (name, n) VALUES ('c', 3)"))
        assert single.lastrowid == 3
        many = await connection.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"),
                                        [{"name": "d", "n": 4}, {"name": "e", "n": 5}])
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
