"""The company's settings as values: shipped defaults, and how admins' changes are stored.

Reading them needs no ORM model (a table clause of ``company_settings``' two columns), so
``fieldbot jobs list`` reads the job times without importing the models (bench/cli.py). Changing them
(``/settings``, with permissions and audit) is :mod:`bot.services.company`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any

from sqlalchemy import JSON, String, column, select, table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

#: Default local times of the scheduled jobs (see jobs/catalogue.py for what each does).
DEFAULT_JOB_TIMES: dict[str, time] = {
    "morning_plan": time(8, 30),
    "report_reminder": time(18, 0),
    # At the default report deadline (FIELDBOT_REPORT_DEADLINE): the day's reports to the managers.
    "report_digest": time(19, 0),
    "overdue_followup": time(9, 0),
    "cash_handin": time(17, 0),
    "weekly_outstanding": time(9, 0),
    "month_end": time(9, 0),
    # After the 19:00 report deadline (the reps' day is closed), before quiet hours (sent at once).
    "collections_daily": time(20, 0),
    "outstanding_report": time(9, 0),
    # After the 1st's 09:00 reports: grade changes from the last three months' sales (art. 13).
    "grade_suggestions": time(9, 45),
    # After the Monday 09:00 pushes: last week's market feedback (regulations part 4, art. 8 (4)).
    "market_digest": time(9, 30),
    # Work plans (part 4 art. 10): reminders before the 10:00 cutoff, then who is missing after it.
    "plan_reminder": time(8, 40),
    "plan_missing": time(10, 5),
    # Customer letters and complaints: reminders before, escalations after the deadlines (part 3 art. 16).
    "complaint_clock": time(9, 15),
    # Expense claims still pending after 2 working days: their approvers reminded; after 4, a level up.
    "expense_followup": time(9, 20),
}


@dataclass(frozen=True)
class FollowupLevel:
    """A level of chasing an overdue receivable (as Odoo's payment follow-up levels)."""

    level: int
    days_overdue: int
    tell_manager: bool
    tell_director: bool


DEFAULT_FOLLOWUP_LEVELS = (
    FollowupLevel(1, 1, tell_manager=False, tell_director=False),
    FollowupLevel(2, 15, tell_manager=False, tell_director=False),
    FollowupLevel(3, 30, tell_manager=True, tell_director=False),
    FollowupLevel(4, 60, tell_manager=True, tell_director=True),
)


@dataclass(frozen=True)
class CompanySettings:
    job_times: dict[str, time] = field(default_factory=lambda: dict(DEFAULT_JOB_TIMES))
    quiet_from: time = time(21, 0)
    quiet_until: time = time(8, 0)
    #: ISO weekdays that are not worked (7 = Sunday).
    days_off: frozenset[int] = frozenset({7})
    holidays: frozenset[date] = frozenset()
    #: Make-up workdays (调休): days off by the week (a Saturday) that are worked this time.
    workdays: frozenset[date] = frozenset()
    followup_levels: tuple[FollowupLevel, ...] = DEFAULT_FOLLOWUP_LEVELS
    #: Cash or cheques held longer than this are also reported to the rep's manager.
    cash_held_days_to_manager: int = 3
    #: Cash or cheques held this many days or more go to the director and finance, every working
    #: day until handed in: money not handed in within three months is embezzlement (regulations
    #: part 5, item 15), so this is 90 at most.
    cash_held_days_to_director: int = 90

    def followup_level(self, days_overdue: int) -> FollowupLevel | None:
        """The highest level whose threshold ``days_overdue`` has reached."""
        reached = [lvl for lvl in self.followup_levels if days_overdue >= lvl.days_overdue]
        return max(reached, key=lambda lvl: lvl.level) if reached else None

    def is_working_day(self, day: date) -> bool:
        """A make-up workday is worked; else a holiday or a weekly day off is not."""
        if day in self.workdays:
            return True
        return day.isoweekday() not in self.days_off and day not in self.holidays

    def in_quiet_hours(self, local: time) -> bool:
        """No push goes out at this local time (quiet hours may run past midnight)."""
        start, end = self.quiet_from, self.quiet_until
        if start <= end:
            return start <= local < end
        return local >= start or local < end

    def jobs_in_quiet_hours(self) -> list[str]:
        """Jobs set to run inside quiet hours: their pushes wait until quiet hours end."""
        return [name for name, at in self.job_times.items() if self.in_quiet_hours(at)]


def apply_stored(settings: CompanySettings, key: str, value: Any) -> CompanySettings:
    if key.startswith("job_time."):
        if key.removeprefix("job_time.") not in DEFAULT_JOB_TIMES:
            return settings  # a job that no longer exists (``missing_reports``, now in the digest)
        times = dict(settings.job_times)
        times[key.removeprefix("job_time.")] = time.fromisoformat(value)
        return replace(settings, job_times=times)
    if key == "quiet_from":
        return replace(settings, quiet_from=time.fromisoformat(value))
    if key == "quiet_until":
        return replace(settings, quiet_until=time.fromisoformat(value))
    if key == "days_off":
        return replace(settings, days_off=frozenset(int(day) for day in value))
    if key == "followup_levels":
        return replace(settings, followup_levels=tuple(FollowupLevel(**level) for level in value))
    if key == "cash_held_days_to_manager":
        return replace(settings, cash_held_days_to_manager=int(value))
    if key == "cash_held_days_to_director":
        return replace(settings, cash_held_days_to_director=int(value))
    if key == "holidays":
        return replace(settings, holidays=frozenset(date.fromisoformat(day) for day in value))
    if key == "workdays":
        return replace(settings, workdays=frozenset(date.fromisoformat(day) for day in value))
    return settings


def stored_value(settings: CompanySettings, key: str) -> Any:
    """How ``key``'s current value is stored (the inverse of :func:`apply_stored`)."""
    if key.startswith("job_time."):
        return settings.job_times[key.removeprefix("job_time.")].strftime("%H:%M")
    if key in ("quiet_from", "quiet_until"):
        return getattr(settings, key).strftime("%H:%M")
    if key == "days_off":
        return sorted(settings.days_off)
    if key in ("holidays", "workdays"):
        return sorted(day.isoformat() for day in getattr(settings, key))
    if key == "followup_levels":
        return [vars(level) for level in settings.followup_levels]
    if key in ("cash_held_days_to_manager", "cash_held_days_to_director"):
        return getattr(settings, key)
    raise KeyError(key)


#: ``company_settings`` (models/jobs.py ``CompanySetting``) as far as reading needs it.
_STORED = table("company_settings", column("key", String), column("value", JSON))


async def load(reader: AsyncSession | AsyncConnection) -> CompanySettings:
    """The defaults with every stored change applied."""
    settings = CompanySettings()
    for key, value in await reader.execute(select(_STORED.c.key, _STORED.c.value)):
        settings = apply_stored(settings, key, value)
    return settings
