"""Engine and session setup, and applying migrations.

SQLite gets WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for
writing transactions: a deferred transaction that later tries to write can
fail at once with "database is locked", whatever the busy timeout says.
Read-only sessions (:meth:`Database.reading`) begin deferred so long reports
never hold the write lock.

SQLite has one writer at a time. Its busy handler makes a waiting writer sleep
and poll (1, 2, 5 … 100 ms), which under load wastes most of the time the lock is
free; so writers of this process queue on an asyncio lock instead and reach
``BEGIN IMMEDIATE`` one at a time (the busy timeout still covers other processes,
such as a ``fieldbot import`` running beside the bot). Short writing transactions
(:meth:`Database.transaction` with ``inline=True``) then run their statements on
the event loop's own thread (:mod:`bot.sqlite_driver`), so the lock is held only
while they execute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    TimeoutError as PoolTimeout,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot import sqlite_driver

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_MS = 15_000
_READ_ONLY = "fieldbot_read_only"
_INLINE = "fieldbot_inline"
_PLAN_EACH = "fieldbot_plan_each"


#: Values a statement naming many ids (``column.in_(ids)``) sends at a time: every value is a bound
#: parameter, and asyncpg refuses a statement with more than 32,767 (SQLite builds allow 32,766 to
#: 250,000). At ten times the bench company a morning names 80,000 due customers (bench/).
IDS_PER_STATEMENT = 10_000

_Item = TypeVar("_Item")


def slices(items: Sequence[_Item], size: int = IDS_PER_STATEMENT) -> Iterator[Sequence[_Item]]:
    """``items`` in consecutive slices of at most ``size``, for one statement each."""
    for first in range(0, len(items), size):
        yield items[first : first + size]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def insert_for(session: AsyncSession | AsyncConnection, target: Any) -> Any:
    """``INSERT`` into ``target`` in the session's (or connection's) dialect, so it can say
    ``ON CONFLICT …``."""
    dialect = session.dialect if isinstance(session, AsyncConnection) else session.get_bind().dialect
    # Imported here: a command that never writes (``fieldbot jobs list``) never loads PostgreSQL's.
    if dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(target)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(target)


#: PostgreSQL connections the bot keeps open; a transaction beyond them waits for one to come back.
#: SQLAlchemy's default (5, and 10 more opened at a peak and closed on return) meant, under load,
#: a new connection every sixth update (595 in 20 s): a server process forked, its caches warmed and
#: the driver set up each time — 3.9 ms of the server's CPU and 2 of the bot's per update. No
#: transaction takes a second connection while it holds one, so waiting cannot deadlock: the test
#: suite runs the bot on PostgreSQL with a pool of one to keep it so (tests/conftest.py).
POSTGRESQL_POOL_SIZE = 20


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if not is_sqlite(url):
        # JIT compiling the summary's aggregates costs more than it saves (413 of 571 ms measured).
        kwargs.setdefault("connect_args", {"server_settings": {"jit": "off"}})
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", POSTGRESQL_POOL_SIZE)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(url, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            _ping_idle_connections(engine)

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin_postgresql(connection: Any) -> None:
            # Statements are prepared once per pooled connection. After five runs PostgreSQL may
            # settle on a generic plan, blind to the parameters: a summary's visits per rep then
            # took 61-107 ms instead of 28. Reports are planned for their parameters every time;
            # everything else keeps the cheap cached plans (replanning each row of a bulk
            # INSERT doubled the time to load a million visits).
            if connection.get_execution_options().get(_PLAN_EACH, False):
                connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

        return engine
    module = sqlite_driver.dbapi_module()
    if module is not None:
        kwargs.setdefault("module", module)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so "begin" below decides how to begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        connection.exec_driver_sql("BEGIN" if options.get(_READ_ONLY, False) else "BEGIN IMMEDIATE")
        if options.get(_INLINE, False):
            sqlite_driver.run_inline(connection.connection.dbapi_connection)

    return engine


#: A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 2.0
_IDLE_SINCE = "fieldbot_idle_since"


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only if it sat idle (after an outage, a restart).

    SQLAlchemy's ``pool_pre_ping`` checks every checkout, and asyncpg's ping is three round trips
    (BEGIN, an empty query, ROLLBACK): under load that was a quarter of a ``/visit``'s trips. A
    connection in steady use needs none; if the server goes away under it, the failing statement
    invalidates the whole pool, so the next transactions reconnect.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool drops this connection and hands out a new one
            raise DisconnectionError(f"idle connection failed its ping: {error}") from error


#: Driver exceptions (asyncpg, OS) that mean the server is gone, whatever wraps them.
_CONNECTION_LOST = {
    "PostgresConnectionError",
    "CannotConnectNowError",
    "AdminShutdownError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CrashShutdownError",
}


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` means the database cannot be reached (not a bug in a query)."""
    if type(error).__module__.startswith("telegram"):
        return False  # its causes are the network's to Telegram, not the database's
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout | OSError):
            return True  # OSError: refused, reset, timed out (asyncpg raises them unwrapped)
        if _CONNECTION_LOST & {kind.__name__ for kind in type(error).__mro__}:
            return True
        error = error.__cause__ or error.__context__
    return False


async def read_only(session: AsyncSession) -> bool:
    """Whether ``session`` is a :meth:`Database.reading` transaction (it must not write)."""
    options = (await session.connection()).sync_connection.get_execution_options()  # type: ignore[union-attr]
    return bool(options.get(_READ_ONLY, False))


#: PostgreSQL's lock_not_available (a lock timeout) and deadlock_detected: this transaction gave way.
GAVE_WAY = frozenset({"55P03", "40P01"})


async def with_writes_held(
    session: AsyncSession, table: str, work: Callable[[AsyncConnection], Awaitable[None]], *, timeout_ms: int
) -> bool:
    """Run ``work`` while ``table`` takes no writes from other transactions, until this one ends.

    For a derived table rebuilt from ``table`` while triggers keep it: a write committed before the
    lock is in what ``work`` reads, one after it runs its trigger against what ``work`` wrote. On
    PostgreSQL ``LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE`` (it waits for the writers in flight, and
    excludes another holder) in a savepoint, waiting at most ``timeout_ms`` for any lock: False, the
    savepoint undone and the transaction going on, if a lock was not had in time or a deadlock chose
    this transaction to give way. On SQLite ``work`` runs at once: a writing transaction is the
    only writer.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await work(connection)
        return True
    set_timeout = text("SELECT set_config('lock_timeout', :value, true)")  # for this transaction
    try:
        async with session.begin_nested():
            previous = await session.scalar(text("SELECT current_setting('lock_timeout')"))
            await session.execute(set_timeout, {"value": f"{timeout_ms}ms"})
            await session.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            await work(await session.connection())
            await session.execute(set_timeout, {"value": previous})
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) not in GAVE_WAY:
            raise
        return False
    return True


class Database:
    """One engine and its session factories; create one per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._writer: asyncio.Lock | None = asyncio.Lock() if is_sqlite(url) else None

        def sessions(**options: bool) -> async_sessionmaker[AsyncSession]:
            return async_sessionmaker(self.engine.execution_options(**options), expire_on_commit=False)

        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._inline_sessions = sessions(**{_INLINE: True})
        self._heavy_sessions = sessions(**{_PLAN_EACH: True})
        self._read_sessions = sessions(**{_READ_ONLY: True, _PLAN_EACH: True})

    @asynccontextmanager
    async def transaction(self, *, inline: bool = False, report: bool = False) -> AsyncIterator[AsyncSession]:
        """One writing transaction: committed on success, rolled back on any error.

        ``inline``: a short transaction (a few indexed statements, as a handler's action): on SQLite
        its statements run on the event loop's thread once it has the write lock, instead of one
        hand-off to the connection's thread each. Never for one that reads or writes in bulk (a
        sweep, an import): it would stall every other update while it runs.

        ``report``: it runs a report's aggregates (a company summary), which PostgreSQL plans for
        their parameters every time, as in :meth:`reading` (see :func:`make_engine`).
        """
        if inline and report:
            raise ValueError("a report is not a short transaction")
        sessions = self._inline_sessions if inline else self._heavy_sessions if report else self._sessions
        async with self._writer_turn(), sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        """SQLite: wait for this process's other writers in the event loop, not in SQLite's busy handler."""
        if self._writer is None:
            yield
            return
        try:
            await asyncio.wait_for(self._writer.acquire(), SQLITE_BUSY_TIMEOUT_MS / 1000)
        except TimeoutError:
            # What SQLite itself says when its busy timeout runs out (a writer stuck, or nested).
            raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked")) from None
        try:
            yield
        finally:
            self._writer.release()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction that never takes SQLite's write lock."""
        async with self._read_sessions() as session, session.begin():
            yield session

    def with_own_pool(self, connections: int) -> Database:
        """The same database through a few connections of its own, for short writes others wait on.

        PostgreSQL only: under load the handlers' transactions hold the shared pool, and a write
        queued behind them holds up whoever waits for it. On SQLite this very object (its writers
        take turns here, and there is one writer at a time anyway).
        """
        if self._writer is not None:
            return self
        return Database(self.url, pool_size=connections, max_overflow=0)

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # here: commands that never migrate skip importing Alembic

    config = Config()
    config.set_main_option("script_location", str(files("bot") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations (blocking; call outside a running event loop or via :func:`upgrade_async`)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "heads") -> None:
    await asyncio.to_thread(upgrade, url, revision)


def new_revision(url: str, message: str) -> None:
    """Autogenerate a dated migration from the difference between the models and ``url``."""
    config = alembic_config(url)
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    from alembic import command

    command.revision(config, message=message, autogenerate=True)
