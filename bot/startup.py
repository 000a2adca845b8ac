"""Getting ready to run: wait for the database, and make sure only one bot uses an SQLite file.

A database that is down at start (a server still booting, a network blip) is
retried with backoff and a clear log line per attempt, not a traceback loop.
SQLite is embedded: two bot processes on one file would both poll Telegram and
both run the schedule, so a second process refuses to start. (On PostgreSQL a
second process is a standby instead: see bot/leadership.py.)
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from bot.backup import sqlite_path
from bot.db import is_sqlite, make_engine, upgrade

log = logging.getLogger("fieldbot")


class StartupError(Exception):
    """The bot cannot start; the message says why, for the operator."""


def wait_and_migrate(url: str, max_wait: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Apply migrations, retrying while the database is unreachable, for up to ``max_wait`` seconds."""
    _retry_while_unreachable(lambda: upgrade(url), max_wait, sleep)


def wait_for_database(url: str, max_wait: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once the database answers a query, retrying like :func:`wait_and_migrate`."""
    _retry_while_unreachable(lambda: asyncio.run(_ping(url)), max_wait, sleep)


async def _ping(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def _retry_while_unreachable(
    action: Callable[[], None], max_wait: float, sleep: Callable[[float], None]
) -> None:
    deadline = time.monotonic() + max_wait
    delay, attempt = 1.0, 1
    while True:
        try:
            action()
            return
        except (OperationalError, DBAPIError, OSError) as error:
            reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
            if time.monotonic() + delay > deadline:
                raise StartupError(
                    f"the database is unreachable ({reason}); gave up after {attempt} attempts"
                ) from error
            log.warning("database unreachable (attempt %d: %s); retrying in %.0f s", attempt, reason, delay)
            sleep(delay)
            delay, attempt = min(delay * 2, 30.0), attempt + 1


#: What a lock file says after the pid when ``fieldbot jobs run`` holds it (see :func:`lock_sqlite`).
JOBS_RUN = "jobs run"


def lock_sqlite(url: str, *, holder: str = "", wait_for_jobs_run: float = 0.0) -> IO[str] | None:
    """Hold an exclusive lock next to the SQLite file while the bot runs (None for PostgreSQL).

    ``holder`` is written after the pid (``fieldbot jobs run`` writes :data:`JOBS_RUN`). A bot
    that finds the lock held by a ``jobs run`` waits up to ``wait_for_jobs_run`` seconds for the
    command to finish sending, rather than refusing to start because of a short-lived command;
    a lock held by another bot is refused at once.
    """
    if not is_sqlite(url):
        return None
    path = sqlite_path(url)
    lock_path = Path(f"{path}.lock")
    deadline = time.monotonic() + wait_for_jobs_run
    announced = False
    while True:
        handle = lock_path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            handle.seek(0)
            held_by = handle.read().strip() or "another process"
            handle.close()
        if held_by.endswith(JOBS_RUN) and time.monotonic() < deadline:
            if not announced:
                log.info(
                    "waiting for `fieldbot %s` (pid %s) to finish sending before starting",
                    JOBS_RUN,
                    held_by.split()[0],
                )
                announced = True
            time.sleep(0.5)
            continue
        raise StartupError(
            f"another fieldbot is already running on {path} (pid {held_by}); SQLite allows one bot "
            f"per database file — stop it first, or use PostgreSQL for a standby"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {holder}".strip())
    handle.flush()
    return handle
