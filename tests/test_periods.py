"""Periods typed after /summary, /rep, /export, /chart: keywords, months, days, ranges, button codes."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from bot.i18n import Translator
from bot.services.errors import Invalid
from bot.services.reporting.periods import MAX_DAYS, Period, parse_period, period_from_code
from tests.conftest import ZONE

THURSDAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "start", "end", "kind"),
    [
        (None, THURSDAY, THURSDAY, "today"),
        ("", THURSDAY, THURSDAY, "today"),
        ("today", THURSDAY, THURSDAY, "today"),
        ("  TODAY ", THURSDAY, THURSDAY, "today"),
        ("今天", THURSDAY, THURSDAY, "today"),
        ("yesterday", date(2026, 11, 25), date(2026, 11, 25), "yesterday"),
        ("昨天", date(2026, 11, 25), date(2026, 11, 25), "yesterday"),
        ("week", date(2026, 11, 23), THURSDAY, "week"),
        ("this week", date(2026, 11, 23), THURSDAY, "week"),
        ("本周", date(2026, 11, 23), THURSDAY, "week"),
        ("month", date(2026, 11, 1), THURSDAY, "month"),
        ("本月", date(2026, 11, 1), THURSDAY, "month"),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "monthly"),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), "monthly"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "monthly"),
        ("2025-12", date(2025, 12, 1), date(2025, 12, 31), "monthly"),
        ("2026-11-05", date(2026, 11, 5), date(2026, 11, 5), "range"),
        ("2026-11-01..2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "range"),
        ("2026-11-01 .. 2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "range"),
        ("2026-11-01 to 2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "range"),
        ("2026-11-01~2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "range"),
        ("2026-11-01至2026-11-15", date(2026, 11, 1), date(2026, 11, 15), "range"),
        ("2025-11-26..2026-11-26", date(2025, 11, 26), THURSDAY, "range"),
        ("2026-11-20..2026-12-31", date(2026, 11, 20), date(2026, 12, 31), "range"),
    ],
)
def test_accepted_periods(text: str | None, start: date, end: date, kind: str) -> None:
    period = parse_period(text, THURSDAY)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    assert period_from_code(period.code, THURSDAY) == period


def test_week_on_a_monday_is_that_day_and_month_on_the_first_is_one_day() -> None:
    assert parse_period("week", date(2026, 11, 23)).days == 1
    assert parse_period("month", date(2026, 11, 1)).days == 1
    sunday = parse_period("week", date(2026, 11, 29))
    assert (sunday.start, sunday.end) == (date(2026, 11, 23), date(2026, 11, 29))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fortnight", "I don't understand the period"),
        ("2026-13", "is not a date"),
        ("2026-02-30", "is not a date"),
        ("2026-11-01..2026-11-31", "is not a date"),
        ("1999-12", "between 2000 and 2099"),
        ("2026-12", "has not begun yet"),
        ("2026-11-27", "has not begun yet"),
        ("2026-11-10..2026-11-01", "ends before it starts"),
        ("2025-11-25..2026-11-26", f"{MAX_DAYS} days at most"),
        ("2026-11-01..", "I don't understand the period"),
        ("week month", "I don't understand the period"),
    ],
)
def test_refused_periods(text: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_period(text, THURSDAY)
    assert message in refused.value.message.format(**refused.value.params)


def test_bounds_are_local_midnights_in_utc() -> None:
    period = parse_period("2026-11-05", THURSDAY)
    start, end = period.bounds(ZONE)
    assert start == datetime(2026, 11, 4, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 5, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_codes_fit_buttons_and_relative_ones_follow_the_day_pressed() -> None:
    week = parse_period("week", THURSDAY)
    assert week.code == "w.20261126"
    # Pressed the next Monday, the anchored week is what it was, as plain dates.
    later = period_from_code(week.code, date(2026, 11, 30))
    assert (later.start, later.end, later.kind) == (date(2026, 11, 23), THURSDAY, "range")
    # The bare letter is relative to the day of the press.
    assert period_from_code("w", date(2026, 11, 30)).start == date(2026, 11, 30)
    assert period_from_code("m", THURSDAY) == parse_period("month", THURSDAY)
    yesterday = parse_period("yesterday", THURSDAY)
    assert period_from_code(yesterday.code, THURSDAY) == yesterday
    assert len(f"sum:rep:{2**40}:{parse_period('2026-01-01..2026-11-26', THURSDAY).code}".encode()) <= 64


def test_titles_translate() -> None:
    en, zh = Translator("en"), Translator("zh")
    assert parse_period("week", THURSDAY).title(en) == "This week, 2026-11-23 – 2026-11-26"
    assert parse_period("week", THURSDAY).title(zh).startswith("本周")
    assert parse_period("2026-10", THURSDAY).title(en) == "Month 2026-10"
    assert parse_period("2026-10-03", THURSDAY).title(en) == "Day 2026-10-03"
    assert parse_period("2026-10-03..2026-10-09", THURSDAY).title(en) == "2026-10-03 – 2026-10-09"


@given(st.text(max_size=40), st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31)))
def test_free_text_never_crashes(text: str, today: date) -> None:
    try:
        period = parse_period(text, today)
    except Invalid:
        return
    assert isinstance(period, Period)
    assert period.start <= period.end and period.start <= today and period.days <= MAX_DAYS
    assert period_from_code(period.code, today) == period


@given(
    st.from_regex(r"\d{4}-\d{1,2}(-\d{1,2})?(\s*(\.\.|~|to)\s*\d{4}-\d{1,2}-\d{1,2})?", fullmatch=True),
    st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31)),
)
def test_date_like_text_never_crashes(text: str, today: date) -> None:
    try:
        period = parse_period(text, today)
    except Invalid:
        return
    assert period.start <= today and period.days <= MAX_DAYS
    assert period_from_code(period.code, today) == period


@given(st.text(max_size=30), st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31)))
def test_forged_codes_never_crash(code: str, today: date) -> None:
    with contextlib.suppress(Invalid):
        period_from_code(code, today)
