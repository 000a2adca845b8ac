"""Running a job once for a day: the run's record and its pushes commit together, or not at all."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update

from bot import metrics
from bot.db import Database, insert_for, is_sqlite
from bot.services import company
from jobs.catalogue import JOBS
from jobs.context import JobContext
from models import JobRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    job: str
    ran_for: str
    ran: bool  # False: not a day for it, or it already ran for that day
    pushes: int = 0
    reason: str = ""


async def run_job(
    db: Database, name: str, at: datetime, zone: ZoneInfo, *, again: bool = False
) -> JobOutcome:
    """Run job ``name`` as of ``at`` (UTC). Once per local day unless ``again`` (re-runs are safe:
    the outbox keys make every push unique)."""
    spec = JOBS[name]
    local_day = at.astimezone(zone).date()
    ran_for = local_day.isoformat()
    async with db.transaction() as session:
        settings = await company.load(session)
        if not spec.runs_on(local_day, settings):
            return JobOutcome(name, ran_for, False, reason="not a working day")
        claimed = await session.execute(
            insert_for(session, JobRun)
            .values(job=name, ran_for=ran_for, started_at=at, pushes=0)
            .on_conflict_do_nothing(index_elements=["job", "ran_for"])
        )
        if not claimed.rowcount and not again:  # type: ignore[attr-defined]
            return JobOutcome(name, ran_for, False, reason="already ran")
        ctx = JobContext(name, session, at, zone, settings)
        try:
            await spec.function()(ctx)
            await ctx.flush()
        except Exception:
            metrics.JOB_RUNS.labels(name, "failed").inc()
            raise
        await session.execute(
            update(JobRun)
            .where(JobRun.job == name, JobRun.ran_for == ran_for)
            .values(finished_at=at, pushes=JobRun.pushes + ctx.queued)
        )
    metrics.JOB_RUNS.labels(name, "ok").inc()
    if ctx.queued >= ANALYZE_AFTER_PUSHES and not is_sqlite(db.url):
        await _analyze_outbox(db)
    return JobOutcome(name, ran_for, True, ctx.queued)


#: A run that queued this many pushes refreshes PostgreSQL's statistics of the outbox at once.
ANALYZE_AFTER_PUSHES = 500


async def _analyze_outbox(db: Database) -> None:
    """Refresh PostgreSQL's statistics of the outbox after a wave was queued (~15 ms for 10,000 rows).

    Until autovacuum gets to it, the planner believes the few unsent rows it last counted, and plans
    the sender's claim query (``jobs/outbox.py`` ``_claimable``) as a nested loop over every unsent
    row for each unsent row: with 10,000 morning plans queued each batch of 200 took 9.8 s instead
    of 14 ms, and the wave's first thousand (the most urgent) 50 s instead of 35 (docs/PERFORMANCE.md,
    "Morning wave")."""
    try:
        async with db.transaction() as session:
            await session.execute(text("ANALYZE outbox"))
    except Exception as error:  # the pushes are queued: autovacuum will analyse the table later
        log.warning("could not ANALYZE outbox after a wave was queued: %s", error)


async def last_runs(db: Database) -> dict[str, JobRun]:
    async with db.reading() as session:
        rows = await session.scalars(select(JobRun).order_by(JobRun.ran_for, JobRun.id))
        return {row.job: row for row in rows}
