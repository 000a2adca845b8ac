"""Changing the company's settings (``/settings``): parsing admins' words, saving with an audit entry.

The settings' values, defaults and loading are :mod:`bot.services.company_settings` (re-exported here).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.company_settings import (
    DEFAULT_FOLLOWUP_LEVELS as DEFAULT_FOLLOWUP_LEVELS,
    DEFAULT_JOB_TIMES as DEFAULT_JOB_TIMES,
    CompanySettings as CompanySettings,
    FollowupLevel as FollowupLevel,
    load as load,
    stored_value,
)
from bot.services.errors import Invalid
from bot.services.money.amounts import parse_amount
from bot.services.people.access import Caller, Permission, require
from models import CompanySetting, GradePolicy


async def save(
    session: AsyncSession, caller: Caller, changed: CompanySettings, keys: list[str], now: datetime
) -> None:
    """Store the given keys of ``changed`` (admins only), with an audit record each."""
    require(caller, Permission.MANAGE_SETTINGS)
    current = await load(session)
    for key in keys:
        before, after = stored_value(current, key), stored_value(changed, key)
        row = await session.get(CompanySetting, key)
        if row is None:
            session.add(CompanySetting(key=key, value=after, updated_at=now, updated_by=caller.id))
        else:
            row.value, row.updated_at, row.updated_by = after, now, caller.id
        audit.record(
            session,
            actor_id=caller.id,
            action="setting",
            entity="company_setting",
            entity_id=None,
            at=now,
            before={key: before},
            after={key: after},
        )


JOB_NAMES = tuple(DEFAULT_JOB_TIMES)


#: A time of day as typed: ``8``, ``08:30`` (ASCII digits; no seconds, no UTC offset).
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3])(?::([0-5][0-9]))?", re.ASCII)
#: The highest follow-up threshold: ten years overdue (the job subtracts it from today).
MAX_FOLLOWUP_DAYS = 3650
#: Money not handed in within three months is embezzlement (regulations part 5, item 15): the
#: director and finance hear of it at three months at the latest.
MAX_CASH_DAYS_TO_DIRECTOR = 90


def _clock(text: str) -> time:
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise Invalid(N_("{text} is not a time of day like 08:30."), text=text[:20])
    return time(int(match[1]), int(match[2] or 0))


def change(current: CompanySettings, words: list[str]) -> tuple[CompanySettings, list[str]]:
    """Apply one ``/settings`` change to ``current``; returns the new settings and the changed keys.

    ``time JOB HH:MM`` · ``quiet HH:MM HH:MM`` · ``daysoff N…|none`` (ISO weekdays, 7 = Sunday) ·
    ``holiday add|remove YYYY-MM-DD`` (or a range ``FROM..TO``) · ``workday add|remove YYYY-MM-DD``
    (a make-up workday, 调休) · ``followup D1 D2 D3 D4`` (days overdue for levels 1-4) ·
    ``cash MANAGER DIRECTOR`` (days held before the manager, then the director and finance, hear).
    A known setting with the wrong number of values says what it needs, with an example.
    """
    what, args = (words[0].lower(), words[1:]) if words else ("", [])
    if what == "time":
        if len(args) != 2:
            raise Invalid(
                N_("Write a job and a time, e.g. /settings time morning_plan 08:30. Jobs: {jobs}."),
                jobs=", ".join(JOB_NAMES),
            )
        if args[0] not in JOB_NAMES:
            raise Invalid(
                N_("There is no job {name}. Jobs: {jobs}."), name=args[0][:40], jobs=", ".join(JOB_NAMES)
            )
        times = dict(current.job_times)
        times[args[0]] = _clock(args[1])
        return replace(current, job_times=times), [f"job_time.{args[0]}"]
    if what == "quiet":
        if len(args) != 2:
            raise Invalid(
                N_(
                    "Quiet hours need two times, when they start and when they end, "
                    "e.g. /settings quiet 21:00 08:00."
                )
            )
        return replace(current, quiet_from=_clock(args[0]), quiet_until=_clock(args[1])), [
            "quiet_from",
            "quiet_until",
        ]
    if what == "daysoff":
        if not args:
            raise Invalid(
                N_(
                    "Write the days off as ISO weekdays (7 = Sunday), e.g. /settings daysoff 6 7, "
                    "or /settings daysoff none."
                )
            )
        days = (
            frozenset()
            if [arg.lower() for arg in args] == ["none"]
            else frozenset(_weekday(word) for word in args)
        )
        if len(days) == 7:
            raise Invalid(N_("At least one day of the week must be a working day."))
        return replace(current, days_off=days), ["days_off"]
    if what in HOLIDAY_WORDS:
        return _calendar_change(current, "holidays", args)
    if what in WORKDAY_WORDS:
        return _calendar_change(current, "workdays", args)
    if what == "followup":
        if len(args) != len(current.followup_levels):
            raise Invalid(
                N_(
                    "Follow-up levels need {count} numbers, the days overdue for levels 1 to "
                    "{count}, e.g. /settings followup 1 15 30 60."
                ),
                count=len(current.followup_levels),
            )
        thresholds = [_whole(word) for word in args]
        if thresholds != sorted(set(thresholds)) or thresholds[0] < 1:
            raise Invalid(N_("Follow-up days must rise from level to level, starting at 1 or more."))
        if thresholds[-1] > MAX_FOLLOWUP_DAYS:
            raise Invalid(N_("Follow-up days are {limit} at most."), limit=MAX_FOLLOWUP_DAYS)
        levels = tuple(
            replace(level, days_overdue=days)
            for level, days in zip(current.followup_levels, thresholds, strict=True)
        )
        return replace(current, followup_levels=levels), ["followup_levels"]
    if what == "cash":
        return _cash_ladder(current, args)
    raise Invalid(N_("I don't know that setting. /settings shows what can be changed."))


#: ``/settings holiday …`` and ``/settings workday …`` (a make-up workday, 调休), in either language.
HOLIDAY_WORDS = ("holiday", "holidays", "假期", "节假日", "放假")
WORKDAY_WORDS = ("workday", "workdays", "makeup", "调休", "補班", "补班")
#: The longest holiday range one command adds (Chinese New Year with its bridges is 9 days).
MAX_HOLIDAY_DAYS = 31
_ADD_WORDS = ("add", "加", "添加", "增加")
_REMOVE_WORDS = ("remove", "delete", "删除", "删", "取消")
_DAY_RANGE = re.compile(r"(\S+?)\s*(?:\.\.|~|～|至|到)\s*(\S+)")


def _days(text: str) -> list[date]:
    """``2027-02-10`` or a range ``2027-02-10..2027-02-16`` (both included), at most
    :data:`MAX_HOLIDAY_DAYS` days, years 2000–2099."""
    span = _DAY_RANGE.fullmatch(text)
    first, last = (_day(span[1]), _day(span[2])) if span else (_day(text), _day(text))
    if last < first:
        raise Invalid(N_("The range ends before it starts."))
    if (last - first).days + 1 > MAX_HOLIDAY_DAYS:
        raise Invalid(N_("A holiday range is {limit} days at most."), limit=MAX_HOLIDAY_DAYS)
    if first.year < 2000 or last.year > 2099:
        raise Invalid(N_("Choose a date between {first} and {last}."), first=2000, last=2099)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _calendar_change(
    current: CompanySettings, key: str, args: list[str]
) -> tuple[CompanySettings, list[str]]:
    """Add or remove holidays (a day or a range) or make-up workdays. A day added to one list
    leaves the other: a day is either a holiday or a make-up workday, never both."""
    verb = args[0].lower() if args else ""
    if len(args) < 2 or verb not in _ADD_WORDS + _REMOVE_WORDS:
        if key == "holidays":
            raise Invalid(
                N_(
                    "Write add or remove and a date or a range, e.g. /settings holiday add 2026-12-25 "
                    "or /settings holiday add 2027-02-10..2027-02-16."
                )
            )
        raise Invalid(
            N_(
                "Write add or remove and the date of a make-up workday (a day off by the week that "
                "is worked), e.g. /settings workday add 2027-02-20."
            )
        )
    days = frozenset(_days("".join(args[1:])))
    other = "workdays" if key == "holidays" else "holidays"
    mine: frozenset[date] = getattr(current, key)
    theirs: frozenset[date] = getattr(current, other)
    if verb in _ADD_WORDS:
        mine, theirs, changed = mine | days, theirs - days, [key, other] if theirs & days else [key]
    else:
        mine, changed = mine - days, [key]
    holidays, workdays = (mine, theirs) if key == "holidays" else (theirs, mine)
    return replace(current, holidays=holidays, workdays=workdays), changed


def _cash_ladder(current: CompanySettings, args: list[str]) -> tuple[CompanySettings, list[str]]:
    """``cash 3 90``: the manager hears of money held more than 3 days; the director and finance of
    money held 90 days or more (every working day until it is handed in)."""
    if len(args) != 2:
        raise Invalid(
            N_(
                "Cash hand-in needs two numbers of days: held before the manager is told, then "
                "before the director and finance are told, e.g. /settings cash 3 90."
            )
        )
    manager, director = _whole(args[0]), _whole(args[1])
    if not 1 <= manager < director:
        raise Invalid(
            N_(
                "The manager is told first: the first number of days must be 1 or more and "
                "smaller than the second."
            )
        )
    if director > MAX_CASH_DAYS_TO_DIRECTOR:
        raise Invalid(
            N_(
                "Money not handed in within three months is embezzlement (regulations part 5, "
                "item 15): the director and finance are told at {limit} days at the latest."
            ),
            limit=MAX_CASH_DAYS_TO_DIRECTOR,
        )
    return (
        replace(current, cash_held_days_to_manager=manager, cash_held_days_to_director=director),
        ["cash_held_days_to_manager", "cash_held_days_to_director"],
    )


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
        raise Invalid(N_("{text} is not a date like 2026-12-25."), text=word[:20]) from None


# -- the grade policy (grade_policies) --------------------------------------------------------------

#: The words that start a change of the grade policy: ``grade B visits 7``, ``grade B credit 45
#: 100000``, and the older ``visits B 7``.
GRADE_SETTINGS = ("grade", "visits")
MAX_VISIT_DAYS = 365
MAX_CREDIT_DAYS = 365
#: A credit limit of nothing, as typed (``0``, ``¥0``, ``0.00元``): a grade that buys for cash only.
_ZERO_AMOUNT = re.compile(r"(?:¥|rmb|cny)?\s*0+(?:\.0{1,2})?\s*(?:元|rmb|cny|yuan)?", re.IGNORECASE)


def _visit_days(word: str) -> int:
    days = _whole(word)
    if not 1 <= days <= MAX_VISIT_DAYS:
        raise Invalid(N_("A visit frequency is 1 to 365 days."))
    return days


def _credit_days(word: str) -> int:
    days = _whole(word)
    if days > MAX_CREDIT_DAYS:
        raise Invalid(N_("A credit term is 0 to {limit} days."), limit=MAX_CREDIT_DAYS)
    return days


def _credit_limit(word: str) -> Decimal:
    """An amount as :func:`parse_amount` reads it (``100000``, ``10万``, ``¥5,000``), or zero."""
    cleaned = unicodedata.normalize("NFKC", word).strip()
    if cleaned.startswith("-"):
        raise Invalid(N_("A credit limit cannot be negative."))
    if _ZERO_AMOUNT.fullmatch(cleaned):
        return Decimal("0.00")
    return parse_amount(word)


def _grade_change(words: list[str]) -> tuple[str, dict[str, Any]]:
    """The grade and the new column values a ``/settings`` grade command asks for (checked)."""
    what, args = words[0].lower(), words[1:]
    if what == "visits":  # the older form: visits B 7
        if len(args) != 2:
            raise Invalid(
                N_(
                    "Write a grade and the days between visits, e.g. /settings visits B 7 "
                    "(or /settings grade B visits 7)."
                )
            )
        return args[0].upper(), {"visit_every_days": _visit_days(args[1])}
    kind = args[1].lower() if len(args) >= 2 else ""
    if kind == "visits":
        if len(args) != 3:
            raise Invalid(
                N_(
                    "A grade's visits need one number, the days between visits, "
                    "e.g. /settings grade B visits 7."
                )
            )
        return args[0].upper(), {"visit_every_days": _visit_days(args[2])}
    if kind == "credit":
        if len(args) != 4:
            raise Invalid(
                N_(
                    "A grade's credit needs two values, the credit term in days and the credit "
                    "limit, e.g. /settings grade B credit 45 100000."
                )
            )
        return args[0].upper(), {"credit_days": _credit_days(args[2]), "credit_limit": _credit_limit(args[3])}
    raise Invalid(
        N_(
            "Write a grade, then visits and the days between visits, or credit, the credit term "
            "in days and the credit limit, e.g. /settings grade B visits 7 or "
            "/settings grade B credit 45 100000."
        )
    )


def _stored(value: Any) -> Any:
    """A grade policy value as the audit log keeps it (JSON: money as a string, to the cent)."""
    return str(value) if isinstance(value, Decimal) else value


async def change_grade(session: AsyncSession, caller: Caller, words: list[str], now: datetime) -> str:
    """Change a grade's visit frequency or credit term and limit (admins only); returns the grade.

    ``words`` is ``grade B visits 7``, ``grade B credit 45 100000`` or ``visits B 7``. Audited
    like company settings, keyed ``B.visit_every_days``, ``B.credit_days``, ``B.credit_limit``.
    """
    require(caller, Permission.MANAGE_SETTINGS)
    grade, values = _grade_change(words)
    policy = await session.get(GradePolicy, grade) if len(grade) == 1 else None
    if policy is None:
        raise Invalid(N_("Grades are A, B, C and D."))
    before = {f"{grade}.{column}": _stored(getattr(policy, column)) for column in values}
    for column, value in values.items():
        setattr(policy, column, value)
    audit.record(
        session,
        actor_id=caller.id,
        action="setting",
        entity="grade_policy",
        entity_id=None,
        at=now,
        before=before,
        after={f"{grade}.{column}": _stored(value) for column, value in values.items()},
    )
    return grade
