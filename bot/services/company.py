"""Company settings: shipped defaults, overridden by what admins saved (``company_settings``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.access import Caller, Permission, require
from bot.services.errors import Invalid
from models import CompanySetting, GradePolicy

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


def _key_value(settings: CompanySettings, key: str) -> Any:
    """How ``key``'s current value is stored (the inverse of :func:`_apply`)."""
    if key.startswith("job_time."):
        return settings.job_times[key.removeprefix("job_time.")].strftime("%H:%M")
    if key in ("quiet_from", "quiet_until"):
        return getattr(settings, key).strftime("%H:%M")
    if key == "days_off":
        return sorted(settings.days_off)
    if key == "holidays":
        return sorted(day.isoformat() for day in settings.holidays)
    if key == "followup_levels":
        return [vars(level) for level in settings.followup_levels]
    raise KeyError(key)


async def load(session: AsyncSession) -> CompanySettings:
    settings = CompanySettings()
    for row in await session.scalars(select(CompanySetting)):
        settings = _apply(settings, row.key, row.value)
    return settings


async def save(session: AsyncSession, caller: Caller, changed: CompanySettings, keys: list[str],
               now: datetime) -> None:
    """Store the given keys of ``changed`` (admins only), with an audit record each."""
    require(caller, Permission.MANAGE_SETTINGS)
    current = await load(session)
    for key in keys:
        before, after = _key_value(current, key), _key_value(changed, key)
        row = await session.get(CompanySetting, key)
        if row is None:
            session.add(CompanySetting(key=key, value=after, updated_at=now, updated_by=caller.id))
        else:
            row.value, row.updated_at, row.updated_by = after, now, caller.id
        audit.record(session, actor_id=caller.id, action="setting", entity="company_setting",
                     entity_id=None, at=now, before={key: before}, after={key: after})


JOB_NAMES = tuple(DEFAULT_JOB_TIMES)


#: A time of day as typed: ``8``, ``08:30`` (ASCII digits; no seconds, no UTC offset).
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3])(?::([0-5][0-9]))?", re.ASCII)
#: The highest follow-up threshold: ten years overdue (the job subtracts it from today).
MAX_FOLLOWUP_DAYS = 3650


def _clock(text: str) -> time:
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise Invalid(N_("{text} is not a time of day like 08:30."), text=text[:20])
    return time(int(match[1]), int(match[2] or 0))


def change(current: CompanySettings, words: list[str]) -> tuple[CompanySettings, list[str]]:
    """Apply one ``/settings`` change to ``current``; returns the new settings and the changed keys.

    ``time JOB HH:MM`` · ``quiet HH:MM HH:MM`` · ``daysoff N…|none`` (ISO weekdays, 7 = Sunday) ·
    ``holiday add|remove YYYY-MM-DD`` · ``followup D1 D2 D3 D4`` (days overdue for levels 1-4).
    """
    what, args = (words[0].lower(), words[1:]) if words else ("", [])
    if what == "time" and len(args) == 2 and args[0] in JOB_NAMES:
        times = dict(current.job_times)
        times[args[0]] = _clock(args[1])
        return replace(current, job_times=times), [f"job_time.{args[0]}"]
    if what == "quiet" and len(args) == 2:
        return replace(current, quiet_from=_clock(args[0]), quiet_until=_clock(args[1])), [
            "quiet_from", "quiet_until"]
    if what == "daysoff" and args:
        days = frozenset() if args == ["none"] else frozenset(_weekday(word) for word in args)
        if len(days) == 7:
            raise Invalid(N_("At least one day of the week must be a working day."))
        return replace(current, days_off=days), ["days_off"]
    if what == "holiday" and len(args) == 2 and args[0] in ("add", "remove"):
        day = _day(args[1])
        holidays = current.holidays | {day} if args[0] == "add" else current.holidays - {day}
        return replace(current, holidays=frozenset(holidays)), ["holidays"]
    if what == "followup" and len(args) == len(current.followup_levels):
        thresholds = [_whole(word) for word in args]
        if thresholds != sorted(set(thresholds)) or thresholds[0] < 1:
            raise Invalid(N_("Follow-up days must rise from level to level, starting at 1 or more."))
        if thresholds[-1] > MAX_FOLLOWUP_DAYS:
            raise Invalid(N_("Follow-up days are {limit} at most."), limit=MAX_FOLLOWUP_DAYS)
        levels = tuple(replace(level, days_overdue=days)
                       for level, days in zip(current.followup_levels, thresholds, strict=True))
        return replace(current, followup_levels=levels), ["followup_levels"]
    raise Invalid(N_("I don't know that setting. /settings shows what can be changed."))


def _whole(word: str) -> int:
    """A whole number as typed: decimal digits only ("²" is a digit to str.isdigit, not to int)."""
    if not word.isdecimal() or len(word) > 9:
        raise Invalid(N_("{text} is not a whole number."), text=word[:20])
    return int(word)


def _weekday(word: str) -> int:
    day = _whole(word)
    if not 1 <= day <= 7:
        raise Invalid(N_("Days of the week are 1 (Monday) to 7 (Sunday)."))
    return day


def _day(word: str) -> date:
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise Invalid(N_("{text} is not a date like 2026-12-25."), text=word) from None


async def set_visit_frequency(session: AsyncSession, caller: Caller, grade: str, days_text: str,
                              now: datetime) -> None:
    """How often customers of ``grade`` are visited (days)."""
    require(caller, Permission.MANAGE_SETTINGS)
    days = _whole(days_text)
    if not 1 <= days <= 365:
        raise Invalid(N_("A visit frequency is 1 to 365 days."))
    policy = await session.get(GradePolicy, grade.upper())
    if policy is None:
        raise Invalid(N_("Grades are A, B, C and D."))
    before = policy.visit_every_days
    policy.visit_every_days = days
    audit.record(session, actor_id=caller.id, action="setting", entity="grade_policy", entity_id=None,
                 at=now, before={grade.upper(): before}, after={grade.upper(): days})
