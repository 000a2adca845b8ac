"""SQLite through aiosqlite in one trip to its thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips to the connection's thread for
every statement (open a cursor, execute, fetch the rows, close the cursor), and
each trip is a thread hand-off and an event-loop wake-up. Under load that
hand-off, not SQLite, was most of a statement's cost, and on SQLite every trip a
writer makes is made while holding the database's one write lock. Here the
cursor is opened, executed, read to the end and closed in a single function run
in aiosqlite's thread; what SQLAlchemy reads afterwards (description, rowcount,
lastrowid, rows) is kept on the adapter.

A connection can also be switched to run *inline* for the rest of its transaction
(:func:`run_inline`): its statements, COMMIT and ROLLBACK then run on the event
loop's own thread, with no hand-off at all. That is for short writing
transactions only (a handler's action, recording a batch of updates): the
writer then holds SQLite's one write lock for the time its statements take, not
for as many event-loop turns as it has statements, while every other update's
work runs in between. A long statement run inline would stall the event loop,
so reports, sweeps and imports keep the thread. ``BEGIN IMMEDIATE``, the one
statement that may wait for another process's lock, is always run in the
thread before the switch.

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


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
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
        _adapt_connection: OneTripConnection  # its _cursor_cls

        def _make_new_cursor(self, connection: Any) -> Any:
            return _Ran()

        def _aenter_cursor(self, cursor: Any) -> Any:
            return cursor

        async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            if self._adapt_connection.inline:
                description, rowcount, lastrowid, rows = _run(connection._conn, operation, parameters, many)
            else:
                async with self._adapt_connection._execute_mutex:
                    # aiosqlite leaves its (private) _execute unannotated.
                    description, rowcount, lastrowid, rows = await connection._execute(  # type: ignore[no-untyped-call]
                        _run, connection._conn, operation, parameters, many
                    )
            # SQLAlchemy types _cursor as an async DBAPI cursor; here it is _make_new_cursor's _Ran.
            ran: _Ran = self._cursor  # type: ignore[assignment]
            ran.description, ran.rowcount, ran.lastrowid = description, rowcount, lastrowid
            if rows is not None:
                self._rows = collections.deque(rows)

        async def _execute_async(self, operation: Any, parameters: Any) -> Any:
            await self._trip(operation, parameters, many=False)

        async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
            await self._trip(operation, seq_of_parameters, many=True)

    class OneTripConnection(AsyncAdapt_aiosqlite_connection):
        __slots__ = ("inline",)
        _cursor_cls = OneTripCursor

        def __init__(self, dbapi: Any, connection: Any) -> None:
            super().__init__(dbapi, connection)
            self.inline = False  # statements run on the event loop's thread until the transaction ends

        def commit(self) -> None:
            self._end("commit")

        def rollback(self) -> None:
            self._end("rollback")

        def _end(self, how: str) -> None:
            """COMMIT or ROLLBACK: inline, or in the thread, or not at all outside a transaction (the
            pool's rollback of every connection it takes back would be a trip for nothing)."""
            raw: sqlite3.Connection | None = self._connection._connection
            inline, self.inline = self.inline, False
            if raw is None or not raw.in_transaction:
                return
            if not inline:
                getattr(super(), how)()
                return
            try:
                getattr(raw, how)()
            except Exception as error:
                self._handle_exception(error)

    class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
        def connect(self, *args: Any, **kwargs: Any) -> Any:
            # The thread that opened a connection is not the only one to use it (inline transactions),
            # but it is used by one at a time: each statement is awaited before the next is sent.
            kwargs["check_same_thread"] = False
            stock = super().connect(*args, **kwargs)
            return OneTripConnection(self, stock._connection)


def run_inline(dbapi_connection: Any) -> bool:
    """Run the rest of this connection's transaction on the event loop's thread (see the module doc).

    False, and nothing changes, for a connection of another adapter.
    """
    if AsyncAdapt_aiosqlite_cursor is None or not isinstance(dbapi_connection, OneTripConnection):
        return False
    dbapi_connection.inline = True
    return True


def dbapi_module() -> Any | None:
    """The DBAPI module to hand ``create_async_engine(module=...)``, or None for the stock one."""
    if AsyncAdapt_aiosqlite_cursor is None:
        log.info("SQLAlchemy's aiosqlite adapter has another shape: using it as it is")
        return None
    return OneTripDBAPI(aiosqlite, sqlite3)
