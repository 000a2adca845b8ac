"""SQLite through aiosqlite in one trip to its thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips to the connection's thread for
every statement (open a cursor, execute, fetch the rows, close the cursor), and
each trip is a thread hand-off and an event-loop wake-up. Under load that
hand-off, not SQLite, was most of a statement's cost, and on SQLite every trip a
writer makes is made while holding the database's one write lock. Here the
cursor is opened, executed, read to the end and closed in a single function run
in aiosqlite's thread; what SQLAlchemy reads afterwards (description, rowcount,
lastrowid, rows) is kept on the adapter.

It relies on SQLAlchemy's asyncio adapter classes (2.1); if they change shape,
:func:`dbapi_module` returns None and the stock adapter is used.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

try:
    import aiosqlite
    from sqlalchemy.dialects.sqlite.aiosqlite import (
        AsyncAdapt_aiosqlite_connection,
        AsyncAdapt_aiosqlite_cursor,
        AsyncAdapt_aiosqlite_dbapi,
    )
except ImportError:  # pragma: no cover - another SQLAlchemy layout: the stock adapter is used
    AsyncAdapt_aiosqlite_cursor = None  # type: ignore[assignment,misc]


class _Ran:
    """Stands in for the aiosqlite cursor: what the statement left once it ran in the thread."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def close(self) -> None:
        """The real cursor was closed in the thread already."""


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
         ) -> tuple[Any, int, int | None, list[Any] | None]:
    """In aiosqlite's thread: execute, fetch everything, close; return what SQLAlchemy reads."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


if AsyncAdapt_aiosqlite_cursor is not None:

    class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
        __slots__ = ()

        def _make_new_cursor(self, connection: Any) -> Any:
            return _Ran()

        def _aenter_cursor(self, cursor: Any) -> Any:
            return cursor

        async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            async with self._adapt_connection._execute_mutex:
                description, rowcount, lastrowid, rows = await connection._execute(
                    _run, connection._conn, operation, parameters, many)
            ran = self._cursor
            ran.description, ran.rowcount, ran.lastrowid = description, rowcount, lastrowid
            if rows is not None:
                self._rows = collections.deque(rows)

        async def _execute_async(self, operation: Any, parameters: Any) -> Any:
            await self._trip(operation, parameters, many=False)

        async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
            await self._trip(operation, seq_of_parameters, many=True)

    class OneTripConnection(AsyncAdapt_aiosqlite_connection):
        __slots__ = ()
        _cursor_cls = OneTripCursor

    class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
        def connect(self, *args: Any, **kwargs: Any) -> Any:
            stock = super().connect(*args, **kwargs)
            return OneTripConnection(self, stock._connection)


def dbapi_module() -> Any | None:
    """The DBAPI module to hand ``create_async_engine(module=...)``, or None for the stock one."""
    if AsyncAdapt_aiosqlite_cursor is None:
        log.info("SQLAlchemy's aiosqlite adapter has another shape: using it as it is")
        return None
    return OneTripDBAPI(aiosqlite, sqlite3)
