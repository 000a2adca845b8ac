"""Reporting periods typed by people: ``today``, ``week``, ``2026-11``, ``2026-11-01..2026-11-15``.

Rules (the issue left them open):

* **Local dates.** A period is a run of whole days in the company's time zone;
  :meth:`Period.bounds` turns it into UTC instants for queries.
* **Keywords are "so far".** ``today`` and ``yesterday`` are one day;
  ``week`` is this week from Monday to today; ``month`` is this month from the
  1st to today. Chinese works too: 今天, 昨天, 本周, 本月 (and a few variants).
* **Last week, last month** (``lastweek``, ``last week``, 上周; ``last month``, 上月) are whole:
  Monday to Sunday, the 1st to the month's last day.
* **Quarters** (``Q4``, ``q4 2026``, ``2026Q4``, 第四季度, 2026年第四季度) are whole, like months;
  without a year, the latest such quarter that has begun. ``this quarter`` / 本季度 and
  ``last quarter`` / 上季度 too.
* **Explicit periods** are a month (``YYYY-MM``: the whole month, even when it
  has not ended), a day (``YYYY-MM-DD``) or a range ``FROM..TO`` (both days
  included; ``~``, ``to``, ``至`` and ``到`` also separate the two dates).
* **Refused:** an end before the start, a period that begins after today,
  ranges over :data:`MAX_DAYS` days, years outside 2000–2099, anything else.
* **Codes.** :attr:`Period.code` is a short form for buttons (callback data is
  64 bytes at most): ``t``/``y``/``w``/``m`` mean "relative to the day the
  button is pressed", ``w.20261123`` means "the week as it was on 23 November",
  ``2026-11``, ``2026-Q4``, ``lw.20261123`` (the week from that Monday) and
  ``20261101-20261115`` are fixed. :func:`period_from_code`
  reads them back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator
from bot.services.errors import Invalid

#: The longest period accepted: a year, leap day included.
MAX_DAYS = 366
FIRST_YEAR, LAST_YEAR = 2000, 2099

TODAY, YESTERDAY, WEEK, MONTH, MONTHLY, RANGE = "today", "yesterday", "week", "month", "monthly", "range"
LAST_WEEK, QUARTER = "last_week", "quarter"
#: Keyword → kind; lower-cased input, inner spaces removed.
KEYWORDS: dict[str, str] = {
    "today": TODAY,
    "day": TODAY,
    "今天": TODAY,
    "今日": TODAY,
    "yesterday": YESTERDAY,
    "昨天": YESTERDAY,
    "昨日": YESTERDAY,
    "week": WEEK,
    "thisweek": WEEK,
    "本周": WEEK,
    "本週": WEEK,
    "这周": WEEK,
    "這週": WEEK,
    "本星期": WEEK,
    "month": MONTH,
    "thismonth": MONTH,
    "本月": MONTH,
    "这个月": MONTH,
    "這個月": MONTH,
}
#: Whole weeks and months before this one: keyword → (kind, how many back).
LAST_KEYWORDS: dict[str, str] = {
    "lastweek": LAST_WEEK,
    "上周": LAST_WEEK,
    "上週": LAST_WEEK,
    "上星期": LAST_WEEK,
    "上礼拜": LAST_WEEK,
    "上禮拜": LAST_WEEK,
    "lastmonth": MONTHLY,
    "上月": MONTHLY,
    "上个月": MONTHLY,
    "上個月": MONTHLY,
}
#: This and last quarter: keyword → quarters back.
QUARTER_KEYWORDS: dict[str, int] = {
    "thisquarter": 0,
    "quarter": 0,
    "本季度": 0,
    "本季": 0,
    "这个季度": 0,
    "這個季度": 0,
    "lastquarter": 1,
    "上季度": 1,
    "上个季度": 1,
    "上個季度": 1,
    "上季": 1,
}
#: One-letter codes of the relative kinds, for buttons.
RELATIVE_CODES = {TODAY: "t", YESTERDAY: "y", WEEK: "w", MONTH: "m"}
_KIND_OF_CODE = {code: kind for kind, code in RELATIVE_CODES.items()}

TITLES = {
    TODAY: N_("Today, {start}"),
    YESTERDAY: N_("Yesterday, {start}"),
    WEEK: N_("This week, {start} – {end}"),
    MONTH: N_("This month, {start} – {end}"),
    MONTHLY: N_("Month {month}"),
    RANGE: N_("{start} – {end}"),
    LAST_WEEK: N_("Last week, {start} – {end}"),
    QUARTER: N_("{quarter}, {start} – {end}"),
}
ONE_DAY = N_("Day {start}")
UNKNOWN = N_(
    "I don't understand the period {text}. Periods: today, yesterday, week, month, last week, "
    "last month, Q4, a month like 2026-11, a day like 2026-11-05, or a range like "
    "2026-11-01..2026-11-15. In Chinese: 今天, 昨天, 本周, 上周, 本月, 上月, 第四季度."
)

_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RANGE = re.compile(r"(\S+?)\s*(?:\.\.|~|～|—|\bto\b|至|到)\s*(\S+)")
_COMPACT_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ZH_NUMBERS = {"一": "1", "二": "2", "三": "3", "四": "4", "1": "1", "2": "2", "3": "3", "4": "4"}
#: ``q4``, ``q4 2026``, ``2026q4``, ``2026-q4``, 第四季度, 2026年第4季度, 2026年q4 (spaces removed).
_QUARTER = re.compile(
    r"(?:(?P<year1>\d{4})(?:年|-)?)?(?:q(?P<q1>[1-4])|第?(?P<q2>[一二三四1-4])季度?)"
    r"(?:(?:年|-)?(?P<year2>\d{4})年?)?"
)


@dataclass(frozen=True)
class Period:
    """Whole local days from ``start`` to ``end``, both included."""

    start: date
    end: date
    #: Language-neutral, for titles and file names: ``2026-11-23``, ``2026-11``, ``2026-11-16..2026-11-22``.
    label: str
    #: today | yesterday | week | month (relative, "so far") | monthly (YYYY-MM) | range.
    kind: str = RANGE

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """(first instant, first instant after the period), in UTC."""
        return _midnight(self.start, zone), _midnight(self.end + timedelta(days=1), zone)

    def until(self, today: date) -> date:
        """The last day of the period that has begun by ``today`` (the period's end, or today)."""
        return min(self.end, today)

    def dates(self, today: date | None = None) -> list[date]:
        """Every day of the period (up to ``today`` if given)."""
        last = self.end if today is None else self.until(today)
        return [self.start + timedelta(days=n) for n in range((last - self.start).days + 1)]

    @property
    def code(self) -> str:
        """A short form for buttons that :func:`period_from_code` reads back as the same period."""
        if self.kind in RELATIVE_CODES:
            anchor = self.start if self.kind in (TODAY, YESTERDAY) else self.end
            if self.kind == YESTERDAY:
                anchor += timedelta(days=1)
            return f"{RELATIVE_CODES[self.kind]}.{anchor:%Y%m%d}"
        if self.kind in (MONTHLY, QUARTER):
            return self.label
        if self.kind == LAST_WEEK:
            return f"lw.{self.start:%Y%m%d}"
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def title(self, t: Translator) -> str:
        """The period for people, translated and HTML-escaped: "This week, 2026-11-23 – 2026-11-25"."""
        template = ONE_DAY if self.kind == RANGE and self.start == self.end else TITLES[self.kind]
        return t(
            template,
            start=self.start.isoformat(),
            end=self.end.isoformat(),
            month=self.label,
            quarter=self.label.replace("-", " "),
        )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _label(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"


def relative(kind: str, today: date) -> Period:
    """today / yesterday / week (Monday to today) / month (the 1st to today)."""
    if kind == TODAY:
        start = end = today
    elif kind == YESTERDAY:
        start = end = today - timedelta(days=1)
    elif kind == WEEK:
        start, end = today - timedelta(days=today.weekday()), today
    elif kind == MONTH:
        start, end = today.replace(day=1), today
    else:
        raise ValueError(kind)
    return Period(start, end, _label(start, end), kind)


def _month(first: date) -> Period:
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return Period(first, last, f"{first:%Y-%m}", MONTHLY)


def last(kind: str, today: date) -> Period:
    """The whole week (Monday to Sunday) or month before this one."""
    if kind == LAST_WEEK:
        start = today - timedelta(days=today.weekday() + 7)
        return Period(start, start + timedelta(days=6), _label(start, start + timedelta(days=6)), LAST_WEEK)
    return _month((today.replace(day=1) - timedelta(days=1)).replace(day=1))


def quarter(year: int, number: int) -> Period:
    """Quarter ``number`` (1-4) of ``year``, whole; labelled ``2026-Q4``."""
    start = date(year, 3 * number - 2, 1)
    end = _month(date(year, 3 * number, 1)).end
    return Period(start, end, f"{year}-Q{number}", QUARTER)


def _quarter_back(today: date, back: int) -> Period:
    index = today.year * 4 + (today.month - 1) // 3 - back
    return quarter(index // 4, index % 4 + 1)


def _typed_quarter(match: re.Match[str], text: str, today: date) -> Period:
    number = int(_ZH_NUMBERS[match["q1"] or match["q2"]])
    if match["year1"] and match["year2"]:
        raise Invalid(UNKNOWN, text=text[:60])
    year_text = match["year1"] or match["year2"]
    if year_text is None:  # the latest such quarter that has begun
        year = today.year if date(today.year, 3 * number - 2, 1) <= today else today.year - 1
    else:
        year = _date(text, year_text, "1", "1").year
    return quarter(year, number)


def _date(text: str, year: str, month: str, day: str) -> date:
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        raise Invalid(N_("{text} is not a date."), text=text[:60]) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise Invalid(N_("Choose a date between {first} and {last}."), first=FIRST_YEAR, last=LAST_YEAR)
    return value


def _one_date(text: str) -> date:
    match = _DAY.fullmatch(text) or _COMPACT_DAY.fullmatch(text)
    if match is None:
        raise Invalid(UNKNOWN, text=text[:60])
    return _date(text, *match.groups())


def _checked(period: Period, today: date) -> Period:
    if period.end < period.start:
        raise Invalid(N_("The period ends before it starts."))
    if period.start > today:
        raise Invalid(N_("The period starting {start} has not begun yet."), start=period.start.isoformat())
    if period.days > MAX_DAYS:
        raise Invalid(N_("A period covers {limit} days at most."), limit=MAX_DAYS)
    return period


def parse_period(text: str | None, today: date) -> Period:
    """The period typed after a command (see the module doc); nothing typed means today.

    Raises :class:`Invalid` (with the accepted forms) for anything else; never anything else.
    """
    cleaned = " ".join((text or "").split()).lower()
    if not cleaned:
        return relative(TODAY, today)
    compact = cleaned.replace(" ", "")
    kind = KEYWORDS.get(compact)
    if kind is not None:
        return relative(kind, today)
    if compact in LAST_KEYWORDS:
        return _checked(last(LAST_KEYWORDS[compact], today), today)
    if compact in QUARTER_KEYWORDS:
        return _checked(_quarter_back(today, QUARTER_KEYWORDS[compact]), today)
    if typed_quarter := _QUARTER.fullmatch(compact):
        return _checked(_typed_quarter(typed_quarter, cleaned, today), today)
    if month := _MONTH.fullmatch(cleaned):
        first = _date(cleaned, month.group(1), month.group(2), "1")
        return _checked(_month(first), today)
    if _DAY.fullmatch(cleaned):
        day = _one_date(cleaned)
        return _checked(Period(day, day, _label(day, day)), today)
    if span := _RANGE.fullmatch(cleaned):
        start, end = _one_date(span.group(1)), _one_date(span.group(2))
        return _checked(Period(start, end, _label(start, end)), today)
    raise Invalid(UNKNOWN, text=" ".join((text or "").split())[:60])  # a paste must fit the reply


def period_from_code(code: str, today: date) -> Period:
    """Read back :attr:`Period.code` (from a button). A relative period anchored on another day
    than ``today`` becomes the fixed dates it had then."""
    letter, dot, anchor = code.partition(".")
    kind = _KIND_OF_CODE.get(letter)
    if kind is not None:
        if not dot:
            return relative(kind, today)
        anchored = relative(kind, _one_date(anchor))
        if anchored.start > today:
            raise Invalid(
                N_("The period starting {start} has not begun yet."), start=anchored.start.isoformat()
            )
        if _one_date(anchor) == today:
            return anchored
        return Period(anchored.start, anchored.end, _label(anchored.start, anchored.end))
    if letter == "lw" and dot:
        monday = _one_date(anchor)
        return _checked(last(LAST_WEEK, monday + timedelta(days=7 - monday.weekday())), today)
    if "-" in code and len(code) == 17:
        start, end = _one_date(code[:8]), _one_date(code[9:])
        return _checked(Period(start, end, _label(start, end)), today)
    return parse_period(code, today)
