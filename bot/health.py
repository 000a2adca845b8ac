"""Health checks and metrics over HTTP: ``/healthz``, ``/readyz`` and ``/metrics``.

The server runs in its own thread, with its own event loop and its own one-connection database
pool, from before the process stands by or migrates until it exits: a standby answers too
(``role: standby``), and a bot whose event loop is stuck in a long handler still says it is alive
and what it knows. ``fieldbot status`` prints the same report (:func:`report`), asking the running
process first and the database itself when no process answers.

* ``/healthz``: 200 while the process runs.
* ``/readyz``: 200 when the database answers and this process leads (it polls or takes the
  webhook, runs the schedule and sends pushes), else 503 — what a load balancer in front of a
  webhook, or a monitor, should look at. In polling mode a leader that has had no answer to
  getUpdates for :data:`POLL_STALE_SECONDS` is not ready either.
* ``/metrics``: Prometheus' text format (bot/metrics.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text

from bot import metrics
from bot.db import Database, is_sqlite
from models import Outbox

log = logging.getLogger(__name__)

#: A polling leader with no getUpdates answer for this long is not ready (long polls last 10 s).
POLL_STALE_SECONDS = 120.0
DEFAULT_ADDRESS = "127.0.0.1:9464"


@dataclass
class Role:
    """What this process is doing; written by ``fieldbot run``, read by the health thread."""

    name: str = "starting"  # starting → standby → leader → stopping
    mode: str = "polling"  # or "webhook"
    #: Unix time this process began to lead (its first long poll may take a while to answer).
    leading_since: float | None = None

    def set(self, name: str) -> None:
        self.name = name
        self.leading_since = time.time() if name == "leader" else None
        metrics.LEADER.set(1 if name == "leader" else 0)

    def polling_stale(self, since_fetch: float | None) -> bool:
        """A polling leader that has heard nothing from getUpdates for too long."""
        if self.mode != "polling" or self.leading_since is None:
            return False
        quiet = since_fetch if since_fetch is not None else time.time() - self.leading_since
        return quiet > POLL_STALE_SECONDS


@dataclass(frozen=True)
class Report:
    ready: bool
    role: str
    mode: str
    database: str  # "ok" or the error, in one line
    seconds_since_last_update_fetch: float | None
    outbox_backlog: int | None
    oldest_unsent_seconds: float | None

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) → (host, port); ValueError if it is not one."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


async def report(db: Database, role: Role, now: datetime | None = None) -> Report:
    """The readiness report: one short query for the database and the outbox."""
    now = now or datetime.now(UTC)
    since = metrics.seconds_since_last_fetch()
    try:
        async with db.reading() as session:
            await session.execute(text("SELECT 1"))
            unfinished = Outbox.sent_at.is_(None) & Outbox.dropped_at.is_(None)
            backlog, oldest_due = (
                await session.execute(
                    select(
                        func.count(),
                        func.min(Outbox.not_before).filter(Outbox.not_before <= now),
                    ).where(unfinished)
                )
            ).one()
    except Exception as error:
        first = str(error).strip().splitlines()
        database = f"{type(error).__name__}: {first[0] if first else ''}"[:200]
        metrics.DATABASE_ERRORS.inc()
        backlog, oldest = None, None
    else:
        assert backlog is not None  # read in the try (mypy does not narrow it into the else)
        database = "ok"
        if oldest_due is not None and oldest_due.tzinfo is None:
            oldest_due = oldest_due.replace(tzinfo=UTC)
        oldest = max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0
        metrics.OUTBOX_BACKLOG.set(backlog)
        metrics.OUTBOX_OLDEST_SECONDS.set(oldest)
    ready = database == "ok" and role.name == "leader" and not role.polling_stale(since)
    return Report(ready, role.name, role.mode, database, since, backlog, oldest)


class HealthServer:
    """Serves the checks on ``address`` from a daemon thread until :meth:`stop`."""

    def __init__(self, database_url: str, address: str, role: Role) -> None:
        self.database_url = database_url
        self.host, self.port = parse_address(address)
        self.role = role
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="fieldbot-health", daemon=True)

    def start(self) -> None:
        """Start serving; OSError (address in use…) is raised here, in the caller's thread."""
        self._thread.start()
        self._started.wait(10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported by start()
            self._error = error
            self._started.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        url = self.database_url
        db = Database(url) if is_sqlite(url) else Database(url, pool_size=1, max_overflow=0)
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", lambda request: self._readyz(db))
        app.router.add_get("/metrics", lambda request: self._metrics(db))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            log.info("health checks and metrics on http://%s:%d/", self.host, self.port)
            self._started.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await db.dispose()

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"alive": True, "role": self.role.name})

    async def _readyz(self, db: Database) -> web.Response:
        found = await report(db, self.role)
        return web.Response(
            text=found.as_json(), status=200 if found.ready else 503, content_type="application/json"
        )

    async def _metrics(self, db: Database) -> web.Response:
        await report(db, self.role)  # the outbox gauges are read from the database when scraped
        return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")


def _as_report(body: bytes) -> dict[str, Any] | None:
    """A ``/readyz`` answer as a report: a JSON object, or None (something else answers there)."""
    found = json.loads(body)
    return found if isinstance(found, dict) else None


def fetch_report(address: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """``/readyz`` of the process serving ``address``; None if nothing answers there."""
    import urllib.error
    import urllib.request

    host, port = parse_address(address)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/readyz"
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return _as_report(answer.read())
    except urllib.error.HTTPError as error:  # 503: not ready, still a report
        return _as_report(error.read())
    except (OSError, ValueError):
        log.debug("no health report at %s after %.1f s", url, time.monotonic() - started)
        return None
