"""Company settings: shipped defaults, overridden by what admins saved (``company_settings``)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Invalid
from bot.services.money.amounts import parse_amount
from bot.services.people.access import Caller, Permission, require
from models import CompanySetting, GradePolicy

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


def _apply(settings: CompanySettings, key: str, value: Any) -> CompanySettings:
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


def _key_value(settings: CompanySettings, key: str) -> Any:
    """How ``key``'s current value is stored (the inverse of :func:`_apply`)."""
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


async def load(session: AsyncSession) -> CompanySettings:
    settings = CompanySettings()
    for row in await session.scalars(select(CompanySetting)):
        settings = _apply(settings, row.key, row.value)
    return settings


async def save(
    session: AsyncSession, caller: Caller, changed: CompanySettings, keys: list[str], now: datetime
) -> None:
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
