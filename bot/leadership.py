"""Leadership: which of several ``fieldbot run`` processes on one PostgreSQL database does the work.

Run two processes with the same ``FIELDBOT_DATABASE_URL`` and one of them leads:
it polls Telegram (or serves the webhook), runs the schedule and drains the
outbox. The other logs "standing by" and waits. Leading means holding a
PostgreSQL *session-level advisory lock* with the fixed key :data:`LEADER_LOCK_KEY`
on a dedicated connection (``application_name`` "fieldbot leader lock", in
``pg_locks`` as classid/objid :data:`LOCK_CLASSID`/:data:`LOCK_OBJID`, objsubid 1).
Advisory locks are per database, so bots on other databases of the same server
do not interfere.

- **Standing by.** The standby tries ``pg_try_advisory_lock`` every
  :data:`STANDBY_RETRY_SECONDS`. It makes no Telegram call and does not migrate
  the database (a new version waiting during a deploy must not change the
  schema under the old leader). If its own connection drops it reconnects with
  backoff and keeps waiting.
- **Taking over.** When the leader dies, even by ``kill -9``, the server closes its
  session and releases the lock; the standby's next try gets it. It then waits
  :data:`TAKEOVER_GRACE_SECONDS` before polling or pushing (migrating and building
  the bot meanwhile): a leader that is still alive but lost its lock connection
  has stopped by then (see below), so two leaders never overlap.
- **Leading.** A watchdog thread, with its own event loop so a busy bot cannot
  delay it, checks every :data:`HEARTBEAT_SECONDS` that this connection still holds
  the lock. If the check fails or finds the lock gone (database restart,
  ``pg_terminate_backend``), or stays unanswered for :data:`MAX_MISSED_CHECKS` checks
  in a row (a network loss; one slow answer on a busy machine is not a loss: while
  the session lives the server keeps the lock, so nobody else can lead), the
  process can no longer prove it is alone: it logs why and exits at once
  with status :data:`EXIT_LEADERSHIP_LOST`, without a graceful stop that could send
  more pushes. That is the same as a ``kill -9``, which the bot is built to
  survive (handlers are idempotent by update, the outbox marks each push as it
  goes). The supervisor restarts it, and it comes back as the standby.
- **Stopping.** On SIGTERM the bot stops gracefully and then releases the lock,
  so the standby takes over without waiting for a timeout.

A 409 Conflict from ``getUpdates`` means another program polls with the same
token (a second bot on another database or machine, or a webhook): logged as
one clear line rather than a traceback per retry (:func:`explain_conflicts`).

SQLite needs none of this: a second process on the same file refuses to start
(:func:`bot.startup.lock_sqlite`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool
from telegram.error import Conflict

from bot.db import is_sqlite, make_engine
from bot.startup import StartupError, wait_for_database

log = logging.getLogger("fieldbot.leadership")

#: The advisory lock key: the bytes of "fieldbot" as a signed 64-bit integer.
LEADER_LOCK_KEY = int.from_bytes(b"fieldbot", "big")
#: How ``pg_locks`` shows :data:`LEADER_LOCK_KEY` (high and low 32 bits).
LOCK_CLASSID, LOCK_OBJID = LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF
APPLICATION_NAME = "fieldbot leader lock"

STANDBY_RETRY_SECONDS = 1.0
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TIMEOUT_SECONDS = 2.0
#: Unanswered checks in a row that mean the lock connection is lost (about 9 s). The server
#: drops a silent client no sooner: the lock session asks it to probe after 5 s idle, twice,
#: 2 s apart (and to give up on unacknowledged data after 9 s), and a standby then still
#: waits out the grace below, so the old leader has exited before the new one polls.
MAX_MISSED_CHECKS = 3
_SERVER_KEEPALIVE = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2;"
    " SET tcp_keepalives_count = 2; SET tcp_user_timeout = 9000"
)
#: Longest a leader that lost its lock may keep working before its watchdog stops it.
TAKEOVER_GRACE_SECONDS = HEARTBEAT_SECONDS + HEARTBEAT_TIMEOUT_SECONDS
MAX_RECONNECT_SECONDS = 30.0
#: Exit status of a leader that lost its lock; any supervisor restart policy should restart it.
EXIT_LEADERSHIP_LOST = 3

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
_STILL_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = :classid AND objid = :objid AND objsubid = 1)"
)


class StandbyStopped(Exception):
    """The process was asked to stop (SIGTERM, Ctrl-C) while standing by."""


def lost_exit(reason: str) -> None:
    """What a leader does when its lock is gone: say why, then exit at once."""
    log.critical(
        "leadership lost (%s): stopping now so that no two processes poll Telegram or send pushes; "
        "exiting with status %d, restart this process and it will stand by",
        reason,
        EXIT_LEADERSHIP_LOST,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_LEADERSHIP_LOST)


def _reason(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).splitlines() or [""])[0][:200] or type(cause).__name__


class Leadership:
    """Holds (or waits for) the leader lock on its own connection, in a watchdog thread."""

    def __init__(self, url: str, *, on_lost: Callable[[str], None] = lost_exit) -> None:
        self.url = url
        self.on_lost = on_lost
        self.acquired_at: float | None = None
        self._leading = threading.Event()
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, name="fieldbot-leadership", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # -- called from the main thread ---------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    def wait_until_leader(self) -> None:
        """Block until this process leads; :class:`StandbyStopped` on SIGTERM/SIGINT meanwhile."""
        if not self._wait(self._leading.is_set):
            log.info("stopped while standing by")
            raise StandbyStopped

    def wait_out_grace(self) -> bool:
        """Sleep until a leader that might have lost this lock a moment ago has surely stopped.

        False if SIGTERM/SIGINT came meanwhile (the lock is then released).
        """
        assert self.acquired_at is not None, "not the leader"
        ready_at = self.acquired_at + TAKEOVER_GRACE_SECONDS
        if not self._wait(lambda: time.monotonic() >= ready_at):
            log.info("stopped before starting to lead")
            return False
        log.info("leading: polling Telegram, running the schedule and sending pushes")
        return True

    def _wait(self, done: Callable[[], bool], poll: float = 0.1) -> bool:
        """Wait for ``done``; False (and the lock released) if asked to stop by a signal first."""
        stop_signal = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            stop_signal.set()

        in_main = threading.current_thread() is threading.main_thread()
        previous = (
            {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
        )
        try:
            while not done():
                if stop_signal.is_set():
                    self.release()
                    return False
                if not self._thread.is_alive():
                    raise StartupError("the leadership thread ended before taking the lock (see the log)")
                time.sleep(poll)
            return True
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def release(self, timeout: float = 5.0) -> None:
        """Give the lock back (after the bot stopped) so a standby takes over at once."""
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the thread's loop already closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the watchdog thread ---------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:  # the watchdog must never die quietly while leading
            if self.leading:
                self.on_lost(f"the leadership watchdog failed: {_reason(error)}")
            else:
                log.exception("the leadership thread failed")

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():
            return
        engine = make_engine(self.url, poolclass=NullPool)
        try:
            connection = await self._acquire(engine)
            if connection is None:
                return
            self.acquired_at = time.monotonic()
            self._leading.set()
            log.info(
                "this process now leads (PostgreSQL advisory lock %d); it starts polling within "
                "%.0f s, once a previous leader has surely stopped",
                LEADER_LOCK_KEY,
                TAKEOVER_GRACE_SECONDS,
            )
            reason = await self._watch(connection)
            if reason is not None:
                self.on_lost(reason)
        finally:
            await engine.dispose()

    async def _stopped_within(self, seconds: float) -> bool:
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _connect(self, engine: AsyncEngine) -> AsyncConnection:
        connection = await asyncio.wait_for(engine.connect(), HEARTBEAT_TIMEOUT_SECONDS * 5)
        # Autocommit: the lock belongs to the session, and an idle open transaction could be
        # ended by idle_in_transaction_session_timeout.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f"SET application_name = '{APPLICATION_NAME}'"))
        for setting in _SERVER_KEEPALIVE.split(";"):
            await connection.execute(text(setting))
        return connection

    async def _acquire(self, engine: AsyncEngine) -> AsyncConnection | None:
        """Try the lock until it is ours (the connection holding it) or a stop is requested (None)."""
        announced, delay = False, STANDBY_RETRY_SECONDS
        connection: AsyncConnection | None = None
        while not self._stop_requested.is_set():
            try:
                if connection is None:
                    connection = await self._connect(engine)
                got = await asyncio.wait_for(
                    connection.scalar(_TRY_LOCK, {"key": LEADER_LOCK_KEY}), HEARTBEAT_TIMEOUT_SECONDS
                )
                if got:
                    return connection
                if not announced:
                    log.info(
                        "standing by: another fieldbot process leads on this database; taking over "
                        "when it stops (checking every %.0f s)",
                        STANDBY_RETRY_SECONDS,
                    )
                    announced = True
                delay = STANDBY_RETRY_SECONDS
            except Exception as error:  # any failure of the standby's connection: reconnect and wait
                log.warning(
                    "standby: database connection failed (%s); retrying in %.0f s", _reason(error), delay
                )
                await self._close_quietly(connection)
                connection = None
                if await self._stopped_within(delay):
                    break
                delay = min(delay * 2, MAX_RECONNECT_SECONDS)
                continue
            if await self._stopped_within(STANDBY_RETRY_SECONDS):
                break
        await self._close_quietly(connection)
        return None

    async def _watch(self, connection: AsyncConnection) -> str | None:
        """Check the lock until it is lost (the reason) or released on request (None)."""
        params = {"classid": LOCK_CLASSID, "objid": LOCK_OBJID}
        # A slow check is waited for, not cancelled: cancelling a query mid-flight can leave the
        # connection unusable, which would turn a slow moment into a lost lock.
        check: asyncio.Future[bool | None] | None = None
        missed = 0
        while not await self._stopped_within(HEARTBEAT_SECONDS):
            if check is None:
                check = asyncio.ensure_future(connection.scalar(_STILL_HELD, params))
            done, _ = await asyncio.wait({check}, timeout=HEARTBEAT_TIMEOUT_SECONDS)
            if not done:
                missed += 1
                if missed >= MAX_MISSED_CHECKS:
                    return (
                        f"the lock connection did not answer {missed} checks in a row "
                        f"({HEARTBEAT_TIMEOUT_SECONDS:.0f} s each)"
                    )
                log.warning("the leadership check is slow (%d unanswered); still leading", missed)
                continue
            finished, check, missed = check, None, 0
            try:
                held = finished.result()
            except Exception as error:  # connection closed, server restarted, backend terminated…
                return f"the lock connection failed: {_reason(error)}"
            if not held:
                return "the advisory lock is no longer held by this process"
        if check is not None:
            await asyncio.wait({check}, timeout=HEARTBEAT_TIMEOUT_SECONDS)
        try:
            await asyncio.wait_for(
                connection.scalar(_UNLOCK, {"key": LEADER_LOCK_KEY}), HEARTBEAT_TIMEOUT_SECONDS
            )
            log.info("leadership released")
        except Exception as error:  # closing the connection below releases it anyway
            log.warning("could not release the leadership lock cleanly (%s)", _reason(error))
        await self._close_quietly(connection)
        return None

    @staticmethod
    async def _close_quietly(connection: AsyncConnection | None) -> None:
        if connection is None:
            return
        try:
            await asyncio.wait_for(connection.close(), HEARTBEAT_TIMEOUT_SECONDS)
        except Exception:  # a dead connection cannot be closed cleanly; it is gone either way
            log.debug("closing a broken leadership connection failed", exc_info=True)


def lead(url: str, max_wait: float) -> Leadership | None:
    """Block until this process leads on ``url`` (None on SQLite, where one process is the rule).

    ``max_wait`` bounds the wait for an unreachable database at start, as for migrations.
    """
    if is_sqlite(url):
        return None
    wait_for_database(url, max_wait)
    leadership = Leadership(url)
    leadership.start()
    leadership.wait_until_leader()
    return leadership


class ExplainConflict(logging.Filter):
    """Turn the traceback logged for a 409 from ``getUpdates`` into one clear line a minute."""

    INTERVAL_SECONDS = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._last_logged: float | None = None
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, Conflict):
            return True
        now = time.monotonic()
        if self._last_logged is not None and now - self._last_logged < self.INTERVAL_SECONDS:
            self.suppressed += 1
            return False
        self._last_logged = now
        record.msg = (
            "Telegram refused getUpdates with 409 Conflict (%s): another program receives "
            "updates for this bot token, such as a second fieldbot on another database or "
            "machine, or a webhook. Only one may; stop the other one. Retrying "
            "(this is logged once a minute at most)."
        )
        record.args = (error.message,)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.ERROR, "ERROR"
        return True


def explain_conflicts() -> None:
    """Install :class:`ExplainConflict` on the root log handlers.

    On the handlers, not on one logger: python-telegram-bot hands polling errors to
    the application's error handlers, which log them under their own names.
    """
    explain = ExplainConflict()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ExplainConflict) for f in handler.filters):
            handler.addFilter(explain)
