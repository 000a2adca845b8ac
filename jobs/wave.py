"""The morning wave: how long the pushes of the jobs that run at one time take to reach everyone.

Telegram delivers a bot's broadcast at about 30 messages a second (the outbox sends 29:
``bot/ratelimit.py``), so 10,000 morning plans queued at 08:30 take 345 s and the last rep reads a
plan written for 08:30 at 08:35. A wave is **too long** when it takes more than :data:`WINDOW`
(five minutes, fixed: a push is meant to be read at its job's time, and five minutes late is the
most a rep starting the day should wait). Then the bot says so at start-up (:func:`log_long_waves`)
and ``fieldbot jobs list`` shows it; the cures are ``FIELDBOT_PAID_BROADCAST=1`` (up to 999 a
second, paid in Telegram Stars: README) or jobs at different times (``/settings time``).

The estimate costs one aggregate query (reachable people by role) besides the last runs that
``jobs list`` reads anyway: a job sending one push to each of a role (:data:`ONE_EACH`: the
morning plan to every rep) is expected to send that many; any other job as many as its last run
queued (0 if it never ran). Nothing heavy is imported, not even the ORM models: the reads are Core
statements on table clauses (``fieldbot jobs list`` starts in a fraction of a second: bench/cli.py).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Boolean, DateTime, Integer, String, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.company_settings import CompanySettings
from jobs.catalogue import JOBS

log = logging.getLogger(__name__)

#: A wave taking longer than this is reported: its last push would arrive this late after its job's time.
WINDOW = timedelta(minutes=5)
#: Jobs that send exactly one push to everyone reachable of a role (``models.Role``'s value) when they run.
ONE_EACH: dict[str, str] = {"morning_plan": "rep"}

#: The columns these reads need of ``users`` and ``job_runs`` (models/people.py, models/jobs.py).
_USERS = table(
    "users",
    column("role", String),
    column("active", Boolean),
    column("blocked_at", DateTime),
    column("first_seen_at", DateTime),
)
_JOB_RUNS = table(
    "job_runs",
    column("id", Integer),
    column("job", String),
    column("ran_for", String),
    column("pushes", Integer),
)


@dataclass(frozen=True)
class JobEstimate:
    job: str
    at: time
    pushes: int
    #: Where the figure comes from: "one per rep" or "last run".
    basis: str

    def seconds(self, per_second: int) -> float:
        return self.pushes / per_second


@dataclass(frozen=True)
class Wave:
    """Every push queued at one time of day, sent at ``per_second``."""

    at: time
    pushes: int
    per_second: int
    jobs: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return self.pushes / self.per_second

    @property
    def too_long(self) -> bool:
        return self.seconds > WINDOW.total_seconds()

    @property
    def last_arrives(self) -> time:
        """The local time the wave's last push arrives (to the minute, rounded up)."""
        end = datetime.combine(date(2000, 1, 1), self.at) + timedelta(seconds=self.seconds)
        return (end + timedelta(seconds=59)).replace(second=0, microsecond=0).time()

    def describe(self, *, paid: bool) -> str:
        """The operator's line (logs, ``jobs list``)."""
        took = f"{math.ceil(self.seconds)} s" if self.seconds < 60 else f"{math.ceil(self.seconds / 60)} min"
        line = (
            f"the morning wave: ~{self.pushes:,} pushes at {self.at:%H:%M} take ~{took} at "
            f"{self.per_second}/s; the last arrives ~{self.last_arrives:%H:%M} ({', '.join(self.jobs)})"
        )
        if not self.too_long:
            return line
        late = f"; more than {_window()} late"
        if paid:
            return line + late + " even with paid broadcast: spread the jobs' times (/settings time)"
        return (
            line + late + "; set FIELDBOT_PAID_BROADCAST=1 to send up to 999/s (paid in Telegram "
            "Stars: README, Paid broadcast) or spread the jobs' times (/settings time)"
        )


def _window() -> str:
    return f"{WINDOW.total_seconds() / 60:g} min"


async def reachable_by_role(session: AsyncSession) -> dict[str, int]:
    """People the jobs can push to, by role value: one aggregate query.

    The same people as ``jobs.people.reachable()`` (active, have talked to the bot, not blocked it):
    tests/test_wave.py compares the two."""
    rows = await session.execute(
        select(_USERS.c.role, func.count())
        .where(_USERS.c.active, _USERS.c.blocked_at.is_(None), _USERS.c.first_seen_at.is_not(None))
        .group_by(_USERS.c.role)
    )
    return {role: count for role, count in rows}


@dataclass(frozen=True)
class LastRun:
    ran_for: str  # the local day (or day and hour) it ran for
    pushes: int


async def last_runs(session: AsyncSession) -> dict[str, LastRun]:
    """Each job's latest run."""
    rows = await session.execute(
        select(_JOB_RUNS.c.job, _JOB_RUNS.c.ran_for, _JOB_RUNS.c.pushes).order_by(
            _JOB_RUNS.c.ran_for, _JOB_RUNS.c.id
        )
    )
    return {job: LastRun(ran_for, pushes) for job, ran_for, pushes in rows}


def estimates(
    company: CompanySettings, people: Mapping[str, int], last_pushes: Mapping[str, int]
) -> dict[str, JobEstimate]:
    """Each job's expected pushes: one per person of its role, else its last run's."""
    found: dict[str, JobEstimate] = {}
    for spec in JOBS.values():
        role = ONE_EACH.get(spec.name)
        if role is not None:
            pushes, basis = people.get(role, 0), f"one per {role}"
        else:
            pushes, basis = last_pushes.get(spec.name, 0), "last run"
        found[spec.name] = JobEstimate(spec.name, company.job_times[spec.name], pushes, basis)
    return found


def waves(found: Mapping[str, JobEstimate], per_second: int) -> list[Wave]:
    """The jobs' pushes grouped by the time they are queued (jobs at one time add up), earliest first.

    Every job is counted as running that day: on a Monday the 1st the most run at once."""
    by_time: dict[time, list[JobEstimate]] = defaultdict(list)
    for estimate in found.values():
        by_time[estimate.at].append(estimate)
    return [
        Wave(at, sum(e.pushes for e in group), per_second, tuple(e.job for e in group if e.pushes))
        for at, group in sorted(by_time.items())
        if any(e.pushes for e in group)
    ]


async def log_waves(session: AsyncSession, company: CompanySettings, *, paid: bool, per_second: int) -> None:
    """At start-up: a warning for each wave that takes longer than :data:`WINDOW`, or else the
    biggest wave at INFO."""
    ran = await last_runs(session)
    found = estimates(
        company, await reachable_by_role(session), {job: run.pushes for job, run in ran.items()}
    )
    every = waves(found, per_second)
    long = [wave for wave in every if wave.too_long]
    for wave in long:
        log.warning("%s", wave.describe(paid=paid))
    if every and not long:
        log.info("%s", max(every, key=lambda wave: wave.pushes).describe(paid=paid))
