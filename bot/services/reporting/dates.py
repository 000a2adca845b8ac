"""One day as people type it, in English or Chinese, read against today's local date.

The rules (the issue left them open):

* **Words**: ``today`` / 今天, ``tomorrow`` / 明天, ``后天`` (the day after tomorrow),
  ``yesterday`` / 昨天, ``前天``; ``next week`` / 下周 is seven days on; ``in 2 weeks`` / 两周后
  fourteen; ``in 3 days`` / ``3天后`` three.
* **Weekdays**: ``friday``, ``fri``, ``周五``, ``星期五``, ``礼拜五`` (also ``周5``) are the next
  Friday *after* today (a rep who means today says today); looking back (``past=True``) the
  last Friday before today. ``next friday`` and ``下周五`` are the Friday of next week (weeks
  start on Monday); ``this friday`` and ``本周五`` / ``这周五`` the Friday of this week;
  ``last friday`` and ``上周五`` the Friday of last week.
* **Dates**: ISO ``2026-12-15`` (also ``2026/12/15``, ``2026.12.15``, ``2026年12月15日``);
  month and day ``12/15``, ``12-15``, ``12月15日`` / ``12月15号`` (always month first); a day of
  the month ``15号`` / ``15日`` / ``15th``. A date without a year is the next such day from today
  on (today included), or looking back the last one up to today.

:func:`read_date` says None for text that is not shaped like a date, and raises
:class:`Invalid` only for a date-shaped impossibility (``2026-02-30``); :func:`parse_date`
raises :class:`Invalid` with the accepted forms for anything it cannot read. Neither raises
anything else, whatever the text (tests/test_typed_forms.py). Years are 2000–2099.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from bot.i18n import N_
from bot.services.errors import Invalid

FIRST_YEAR, LAST_YEAR = 2000, 2099

#: Days from today.
OFFSET_WORDS: dict[str, int] = {
    "today": 0,
    "tod": 0,
    "tomorrow": 1,
    "tmr": 1,
    "tmrw": 1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "yesterday": -1,
    "day before yesterday": -2,
    "next week": 7,
    "in a week": 7,
    "in one week": 7,
    "in 2 weeks": 14,
    "in two weeks": 14,
    "今天": 0,
    "今日": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "後天": 2,
    "大后天": 3,
    "大後天": 3,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
    "下周": 7,
    "下週": 7,
    "下星期": 7,
    "下礼拜": 7,
    "下禮拜": 7,
    "一周后": 7,
    "一週後": 7,
    "两周后": 14,
    "兩週後": 14,
    "2周后": 14,
}

#: Weekday words → Monday = 0.
WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("monday", "mon"),
        ("tuesday", "tue", "tues"),
        ("wednesday", "wed"),
        ("thursday", "thu", "thur", "thurs"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    )
):
    for _name in _names:
        WEEKDAYS[_name] = _number
_ZH_DAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_ZH_DAY.update({str(n): n - 1 for n in range(1, 8)})
_ZH_WEEK = ("周", "週", "星期", "礼拜", "禮拜")
_ZH_THIS = ("本", "这", "這", "这个", "這個")
_ZH_NEXT = ("下", "下个", "下個")
_ZH_LAST = ("上", "上个", "上個")
_EN_THIS = ("this ",)
_EN_NEXT = ("next ", "coming ")
_EN_LAST = ("last ",)

_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号號]?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*(?:[-/]|月)\s*(\d{1,2})\s*[日号號]?")
_DAY_OF_MONTH = re.compile(r"(?:the\s+)?(\d{1,2})\s*(?:[日号號]|st|nd|rd|th)")
_IN_DAYS = re.compile(r"(?:in\s+(\d{1,3})\s+days?|(\d{1,3})\s*天[后後])")

UNKNOWN = N_(
    "I can't read {text} as a date. Type e.g. {example}, {month_day} (month/day), 15号, friday, 周五, "
    "下周五, tomorrow or 明天."
)


def clean(text: str) -> str:
    """Full-width to ASCII, lower case, invisible characters dropped, runs of spaces one."""
    normal = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")
    return " ".join(visible.split()).lower().strip(" .。,，!！")


def _weekday(text: str) -> tuple[str, int] | None:
    """("this" | "next" | "last" | "", Monday = 0) for a weekday word with its prefix, else None."""
    prefixes: tuple[str, ...]
    for prefixes, which in ((_EN_THIS, "this"), (_EN_NEXT, "next"), (_EN_LAST, "last"), (("",), "")):
        for prefix in prefixes:
            rest = text.removeprefix(prefix) if prefix else text
            if (not prefix or text.startswith(prefix)) and rest in WEEKDAYS:
                return which, WEEKDAYS[rest]
    compact = text.replace(" ", "")
    for prefixes, which in ((_ZH_THIS, "this"), (_ZH_NEXT, "next"), (_ZH_LAST, "last"), (("",), "")):
        for prefix in sorted(prefixes, key=len, reverse=True):
            if prefix and not compact.startswith(prefix):
                continue
            rest = compact[len(prefix) :]
            for week in _ZH_WEEK:
                if rest.startswith(week) and rest[len(week) :] in _ZH_DAY:
                    return which, _ZH_DAY[rest[len(week) :]]
    return None


def _on_weekday(which: str, weekday: int, today: date, past: bool) -> date:
    monday = today - timedelta(days=today.weekday())
    if which == "this":
        return monday + timedelta(days=weekday)
    if which == "next":
        return monday + timedelta(days=7 + weekday)
    if which == "last":
        return monday + timedelta(days=weekday - 7)
    if past:
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _real(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(month: int, day: int, today: date, past: bool) -> date | None:
    """The next ``month-day`` from today on (or the last up to today): None if there is none."""
    years = (today.year, today.year - 1, today.year - 2) if past else (today.year, today.year + 1)
    for year in years:
        # 29 February waits (or looks back) up to four years for a leap year.
        for step in range(4 if (month, day) == (2, 29) else 1):
            candidate = _real(year + (-step if past else step), month, day)
            if candidate is not None and (candidate <= today if past else candidate >= today):
                return candidate
    return None


def _day_of_month(day: int, today: date, past: bool) -> date | None:
    """The next day numbered ``day`` from today on (or the last up to today); months without it skipped."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        candidate = _real(year, month, day)
        if candidate is not None and (candidate <= today if past else candidate >= today):
            return candidate
        month += -1 if past else 1
        if month == 0:
            year, month = year - 1, 12
        elif month == 13:
            year, month = year + 1, 1
    return None


def _in_range(day: date | None) -> date | None:
    if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Invalid(N_("Choose a date between {first} and {last}."), first=FIRST_YEAR, last=LAST_YEAR)
    return day


def read_date(text: str, today: date, *, past: bool = False) -> date | None:
    """The day ``text`` names (see the module doc), None if it names none.

    Raises :class:`Invalid` for a date-shaped impossibility (``2026-02-30``, ``13/45``) or a
    year outside 2000–2099. ``past`` reads dates without a year and bare weekdays backwards.
    """
    try:
        return _read(clean(text), text, today, past)
    except OverflowError:  # a day before year 1 or after 9999: no day anyone means
        raise Invalid(
            N_("Choose a date between {first} and {last}."), first=FIRST_YEAR, last=LAST_YEAR
        ) from None


def _read(cleaned: str, text: str, today: date, past: bool) -> date | None:
    if not cleaned or len(cleaned) > 40:
        return None
    if cleaned in OFFSET_WORDS:
        return _in_range(today + timedelta(days=OFFSET_WORDS[cleaned]))
    if in_days := _IN_DAYS.fullmatch(cleaned):
        return _in_range(today + timedelta(days=int(in_days[1] or in_days[2])))
    if weekday := _weekday(cleaned):
        return _in_range(_on_weekday(*weekday, today, past))
    if full := _ISO.fullmatch(cleaned):
        found = _real(int(full[1]), int(full[2]), int(full[3]))
        if found is None:
            raise Invalid(N_("{text} is not a date."), text=text.strip()[:40])
        return _in_range(found)
    if month_day := _MONTH_DAY.fullmatch(cleaned):
        month, day = int(month_day[1]), int(month_day[2])
        if _real(2000, month, day) is None:  # 2000 is a leap year: any real month-day exists in it
            raise Invalid(N_("{text} is not a date."), text=text.strip()[:40])
        return _in_range(_month_day(month, day, today, past))
    if day_of_month := _DAY_OF_MONTH.fullmatch(cleaned):
        found = _day_of_month(int(day_of_month[1]), today, past)
        if found is None:
            raise Invalid(N_("{text} is not a date."), text=text.strip()[:40])
        return _in_range(found)
    return None


def parse_date(text: str, today: date, *, past: bool = False) -> date:
    """Like :func:`read_date`, but text that names no day is :class:`Invalid` with the forms."""
    found = read_date(text, today, past=past)
    if found is None:
        raise Invalid(
            UNKNOWN,
            text=" ".join(text.split())[:40],
            example=f"{today + timedelta(days=7):%Y-%m-%d}",
            month_day=f"{today + timedelta(days=7):%m/%d}",
        )
    return found
