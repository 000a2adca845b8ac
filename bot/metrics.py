"""Prometheus metrics of one bot process, served at ``/metrics`` beside the health checks (bot/health.py).

Counters and histograms are updated where the thing happens (the update processor, the rate
limiter, the outbox, the job runner, the error handler); gauges that describe the database (the
outbox backlog) are read when scraped. Everything lives in :data:`REGISTRY`, not prometheus-client's
global one, so a test's process can build many bots without metrics registered twice.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter(
    "fieldbot_updates",
    "Telegram updates handled, by kind (message, callback_query, …) and outcome (ok, error, dropped).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
HANDLING_SECONDS = Histogram(
    "fieldbot_update_handling_seconds",
    "Time from an update's turn to its reply being sent and its changes committed.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SENT = Counter(
    "fieldbot_messages_sent",
    "Messages sent to Telegram, by traffic (reply: an answer to a user; push: from the outbox).",
    ["traffic"],
    registry=REGISTRY,
)
FLOOD_WAITS = Counter(
    "fieldbot_flood_waits",
    "429 Too Many Requests answers from Telegram (each is waited out and the request retried).",
    registry=REGISTRY,
)
RETRIES = Counter(
    "fieldbot_request_retries",
    "Bot API requests sent again after a 429.",
    registry=REGISTRY,
)
PUSHES = Counter(
    "fieldbot_pushes",
    "Outbox pushes, by outcome (sent, failed: given up or refused by Telegram).",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "fieldbot_outbox_backlog",
    "Pushes waiting in the outbox (read from the database when scraped).",
    registry=REGISTRY,
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "fieldbot_outbox_oldest_unsent_seconds",
    "Age of the oldest push that is due and not yet sent (0 when none is).",
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "fieldbot_job_runs",
    "Scheduled job runs, by job and outcome (ok, failed).",
    ["job", "outcome"],
    registry=REGISTRY,
)
DATABASE_ERRORS = Counter(
    "fieldbot_database_errors",
    "Database errors met while handling an update, running a job or sending pushes.",
    registry=REGISTRY,
)
LEADER = Gauge(
    "fieldbot_leader",
    "1 while this process leads (polls, runs the schedule, sends pushes); 0 while it stands by.",
    registry=REGISTRY,
)
LAST_UPDATE_FETCH = Gauge(
    "fieldbot_last_update_fetch_timestamp_seconds",
    "Unix time of the last successful getUpdates answer or webhook call.",
    registry=REGISTRY,
)

#: Set by the error handler inside an update's handling: the update's outcome is "error".
_failed: contextvars.ContextVar[bool] = contextvars.ContextVar("fieldbot_update_failed", default=False)


def update_kind(update: object) -> str:
    """The update's kind as Telegram names it (``message``, ``callback_query``…), or ``other``."""
    from telegram import Update  # here: `fieldbot jobs list` counts job runs without importing telegram

    if isinstance(update, Update):
        for kind in Update.ALL_TYPES:
            if getattr(update, kind, None) is not None:
                return kind
    return "other"


def mark_failed() -> None:
    """The update being handled ended in the error handler."""
    _failed.set(True)


@contextmanager
def handling(update: object) -> Iterator[None]:
    """Count and time one update's handling, within its own context (see :func:`mark_failed`)."""
    token = _failed.set(False)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        UPDATES.labels(update_kind(update), "error").inc()
        raise
    else:
        UPDATES.labels(update_kind(update), "error" if _failed.get() else "ok").inc()
    finally:
        HANDLING_SECONDS.observe(time.perf_counter() - started)
        _failed.reset(token)


def dropped(update: object) -> None:
    UPDATES.labels(update_kind(update), "dropped").inc()


_last_fetch: float | None = None


def fetched_updates() -> None:
    """Telegram answered getUpdates, or called the webhook: the bot is in touch."""
    global _last_fetch
    _last_fetch = time.time()
    LAST_UPDATE_FETCH.set(_last_fetch)


def seconds_since_last_fetch() -> float | None:
    return None if _last_fetch is None else max(0.0, time.time() - _last_fetch)


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
