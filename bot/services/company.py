"""Company settings: shipped defaults, overridden by what admins saved (``company_settings``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import CompanySetting

#: Default local times of the scheduled jobs (see jobs/catalogue.py for what each does).
DEFAULT_JOB_TIMES: dict[str, time] = {
    "morning_plan": time(8, 30),
    "report_reminder": time(18, 0),
    "missing_reports": time(20, 30),
    "overdue_followup": time(9, 0),
    "cash_handin": time(17, 0),
    "weekly_outstanding": time(9, 0),
    "month_end": time(9, 0),
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
    followup_levels: tuple[FollowupLevel, ...] = DEFAULT_FOLLOWUP_LEVELS
    #: Cash or cheques held longer than this are also reported to the rep's manager.
    cash_held_days_to_manager: int = 3

    def followup_level(self, days_overdue: int) -> FollowupLevel | None:
        """The highest level whose threshold ``days_overdue`` has reached."""
        reached = [lvl for lvl in self.followup_levels if days_overdue >= lvl.days_overdue]
        return max(reached, key=lambda lvl: lvl.level) if reached else None

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() not in self.days_off and day not in self.holidays


def _apply(settings: CompanySettings, key: str, value: Any) -> CompanySettings:
    if key.startswith("job_time."):
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
    if key == "holidays":
        return replace(settings, holidays=frozenset(date.fromisoformat(day) for day in value))
    return settings


async def load(session: AsyncSession) -> CompanySettings:
    settings = CompanySettings()
    for row in await session.scalars(select(CompanySetting)):
        settings = _apply(settings, row.key, row.value)
    return settings
