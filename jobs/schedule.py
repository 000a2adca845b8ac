"""Putting the jobs on python-telegram-bot's JobQueue, and catching up on missed runs at start-up."""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Any

from telegram.ext import Application

from bot.runtime import Context, runtime_of
from bot.services import company
from jobs.catalogue import JOBS, JobSpec
from jobs.runner import last_runs, run_job

log = logging.getLogger(__name__)

#: APScheduler 3 skips a run more than 1 s late by default; a slow start must not lose a day.
MISFIRE_GRACE_SECONDS = 3600


def _callback(spec: JobSpec) -> Any:
    async def run(context: Context) -> None:
        runtime = context.runtime
        outcome = await run_job(runtime.db, spec.name, runtime.clock.now(), runtime.clock.zone)
        log.info("job %s for %s: %s", spec.name, outcome.ran_for,
                 f"{outcome.pushes} pushes" if outcome.ran else outcome.reason)
        if outcome.pushes:
            await runtime.outbox.drain(context.bot)

    run.__name__ = spec.name
    return run


def _add(application: Application, spec: JobSpec, at: time) -> None:  # type: ignore[type-arg]
    assert application.job_queue is not None
    application.job_queue.run_daily(
        _callback(spec), time=at.replace(tzinfo=runtime_of(application).clock.zone), name=spec.name,
        job_kwargs={"id": spec.name, "replace_existing": True, "coalesce": True, "max_instances": 1,
                    "misfire_grace_time": MISFIRE_GRACE_SECONDS})


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
