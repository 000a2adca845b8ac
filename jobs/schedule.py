"""Putting the jobs on python-telegram-bot's JobQueue, and catching up on missed runs at start-up."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

from telegram.ext import Application

from bot import metrics
from bot.db import database_unavailable
from bot.runtime import Context, runtime_of
from bot.services import company
from jobs.catalogue import JOBS, JobSpec
from jobs.runner import JobOutcome, last_runs, run_job

log = logging.getLogger(__name__)
T = TypeVar("T")

#: APScheduler 3 skips a run more than 1 s late by default; a slow start must not lose a day.
MISFIRE_GRACE_SECONDS = 3600


class Outage:
    """Keeps a repeating task from filling the log while something it needs is down.

    The first failure is logged (one line for an unreachable database, a traceback for
    anything else), later ones only at debug level, and the first success after them once.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0

    async def run(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None if it failed (never raises)."""
        try:
            result = await work
        except Exception as error:
            self.failures += 1
            if database_unavailable(error):
                metrics.DATABASE_ERRORS.inc()
            if self.failures > 1:
                log.debug("%s failed again (%d in a row): %s", self.name, self.failures, error)
            elif database_unavailable(error):
                log.warning(
                    "%s: database unavailable, will retry quietly: %s",
                    self.name,
                    str(error).splitlines()[0] if str(error) else type(error).__name__,
                )
            else:
                log.error("%s failed, will retry quietly", self.name, exc_info=error)
            return None
        if self.failures:
            log.warning("%s works again after %d failed runs", self.name, self.failures)
            self.failures = 0
        return result


#: A daily job that failed is tried again after this, doubling up to RETRY_MAX, until catch-up ends.
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(minutes=15)


def _callback(spec: JobSpec) -> Any:
    outage = Outage(f"job {spec.name}")

    async def run(context: Context) -> None:
        outcome = await outage.run(_run_and_send(context, spec))
        if outcome is None:
            _retry_later(context, spec, run, outage.failures)
            return
        log.info(
            "job %s for %s: %s",
            spec.name,
            outcome.ran_for,
            f"{outcome.pushes} pushes" if outcome.ran else outcome.reason,
        )

    run.__name__ = spec.name
    return run


async def _run_and_send(context: Context, spec: JobSpec) -> JobOutcome:
    runtime = context.runtime
    outcome = await run_job(runtime.db, spec.name, runtime.clock.now(), runtime.clock.zone)
    if outcome.pushes:
        await runtime.outbox.drain(context.bot)
    return outcome


def _retry_later(context: Context, spec: JobSpec, run: Any, failures: int) -> None:
    """Try a failed daily job again soon (it is idempotent), while it is still useful today."""
    wait = min(RETRY_FIRST * 2 ** max(failures - 1, 0), RETRY_MAX)
    if context.job_queue is None:
        return
    now = context.runtime.clock.local_now()
    if now + wait >= datetime.combine(now.date(), spec.catch_up_until, now.tzinfo):
        log.warning("job %s not retried today: past %s", spec.name, spec.catch_up_until)
        return
    context.job_queue.run_once(run, when=wait, name=f"{spec.name}:retry")


def _add(application: Application, spec: JobSpec, at: time) -> None:  # type: ignore[type-arg]
    assert application.job_queue is not None
    application.job_queue.run_daily(
        _callback(spec),
        time=at.replace(tzinfo=runtime_of(application).clock.zone),
        name=spec.name,
        job_kwargs={
            "id": spec.name,
            "replace_existing": True,
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )


def reschedule(application: Application, name: str, at: time) -> bool:  # type: ignore[type-arg]
    """Move a scheduled job to a new local time (after an admin changed it); False if not scheduled."""
    if application.job_queue is None or not application.job_queue.get_jobs_by_name(name):
        return False
    for job in application.job_queue.get_jobs_by_name(name):
        job.schedule_removal()
    _add(application, JOBS[name], at)
    return True


async def schedule_jobs(application: Application) -> None:  # type: ignore[type-arg]
    """Register every job daily at its configured local time; run today's missed ones now."""
    runtime = runtime_of(application)
    async with runtime.db.reading() as session:
        settings = await company.load(session)
    for spec in JOBS.values():
        _add(application, spec, settings.job_times[spec.name])
    await catch_up(application, settings)


async def catch_up(application: Application, settings: company.CompanySettings) -> None:  # type: ignore[type-arg]
    """A job whose time passed today while the bot was down runs once now, if still useful."""
    runtime = runtime_of(application)
    now_local: datetime = runtime.clock.local_now()
    ran = await last_runs(runtime.db)
    for spec in JOBS.values():
        scheduled = settings.job_times[spec.name]
        already = spec.name in ran and ran[spec.name].ran_for == now_local.date().isoformat()
        if scheduled <= now_local.time() < spec.catch_up_until and not already:
            outcome = await run_job(runtime.db, spec.name, runtime.clock.now(), runtime.clock.zone)
            log.info("caught up on %s for %s: %s", spec.name, outcome.ran_for, outcome.reason or "ran")
