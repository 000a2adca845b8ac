"""Issue 21, the parsers of "what people type" on their own, fed by Hypothesis: dates in words,
periods in words, stock with units, "one edit away", holiday ranges and make-up workdays.

Each parser reads the text or says why (:class:`ServiceError`), never anything else; what it reads
comes back as what was written (round trips)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.services import company
from bot.services.errors import Invalid, ServiceError
from bot.services.field.customers import within_one_edit
from bot.services.field.units import UNIT_WORDS, known_unit
from bot.services.field.visits import StockEntry, parse_follow_up, parse_stock_lines
from bot.services.money.overdue import parse_promise
from bot.services.reporting.dates import parse_date, read_date
from bot.services.reporting.periods import LAST_WEEK, MONTHLY, QUARTER, parse_period, period_from_code
from handlers.reporting.reports import split_day

MONDAY = date(2026, 11, 23)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Text as people type it, and worse: any Unicode, date-ish pieces, Chinese date words, units.
PIECES = st.sampled_from(
    [
        "周",
        "星期",
        "下",
        "上",
        "本",
        "号",
        "日",
        "月",
        "年",
        "/",
        "-",
        "..",
        "q",
        "Q",
        "季度",
        "第",
        "箱",
        "boxes",
        "next",
        "last",
        "this",
        " ",
        "：",
        ":",
        "\n",
        "五",
        "天",
        "后",
        "2026",
        "12",
        "31",
        "0",
        "\u200b",
    ]
)
HOSTILE = st.one_of(st.text(max_size=60), st.lists(PIECES, max_size=12).map("".join))
TODAYS = st.dates(min_value=date(2000, 1, 8), max_value=date(2099, 12, 24))
#: Today, far enough from 2000 and 2099 that a date looked for ahead or back stays within them.
MIDDLE_TODAYS = st.dates(min_value=date(2004, 1, 1), max_value=date(2095, 12, 31))
WEEKDAY_WORDS = {
    0: ["monday", "mon", "周一", "星期一", "礼拜一"],
    1: ["tuesday", "tue", "周二", "星期二"],
    2: ["wednesday", "wed", "周三", "星期三"],
    3: ["thursday", "thu", "周四", "星期四"],
    4: ["friday", "fri", "周五", "星期五", "周5"],
    5: ["saturday", "sat", "周六", "星期六"],
    6: ["sunday", "sun", "周日", "星期日", "星期天"],
}


# -- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("friday", date(2026, 11, 27)),
        ("Fri", date(2026, 11, 27)),
        ("周五", date(2026, 11, 27)),
        ("星期五", date(2026, 11, 27)),
        ("下周五", date(2026, 12, 4)),
        ("next friday", date(2026, 12, 4)),
        ("本周五", date(2026, 11, 27)),
        ("上周五", date(2026, 11, 20)),
        ("monday", date(2026, 11, 30)),  # a weekday named on that day is next week's
        ("today", MONDAY),
        ("tomorrow", date(2026, 11, 24)),
        ("明天", date(2026, 11, 24)),
        ("后天", date(2026, 11, 25)),
        ("next week", date(2026, 11, 30)),
        ("下周", date(2026, 11, 30)),
        ("12/15", date(2026, 12, 15)),
        ("15号", date(2026, 12, 15)),
        ("23号", MONDAY),
        ("22日", date(2026, 12, 22)),
        ("12月15日", date(2026, 12, 15)),
        ("１２月１５号", date(2026, 12, 15)),
        ("2027-01-05", date(2027, 1, 5)),
        ("2027/1/5", date(2027, 1, 5)),
        ("in 3 days", date(2026, 11, 26)),
        ("3天后", date(2026, 11, 26)),
    ],
)
def test_dates_in_english_and_chinese(typed: str, expected: date) -> None:
    assert parse_date(typed, MONDAY) == expected


def test_looking_back() -> None:
    assert parse_date("friday", MONDAY, past=True) == date(2026, 11, 20)
    assert parse_date("12/15", MONDAY, past=True) == date(2025, 12, 15)
    assert parse_date("23号", MONDAY, past=True) == MONDAY
    assert parse_date("24号", MONDAY, past=True) == date(2026, 10, 24)


@pytest.mark.parametrize("typed", ["2026-02-30", "13/45", "32号", "2/30", "2100-01-01"])
def test_impossible_dates_say_why(typed: str) -> None:
    with pytest.raises(Invalid):
        parse_date(typed, MONDAY)


@pytest.mark.parametrize("typed", ["", "someday", "12", "fridays", "下下周五", "5000", "1.5万"])
def test_text_that_names_no_day(typed: str) -> None:
    assert read_date(typed, MONDAY) is None
    with pytest.raises(Invalid, match="can't read"):
        parse_date(typed, MONDAY)


@SETTINGS
@given(HOSTILE, TODAYS, st.booleans())
def test_date_parser_reads_or_says_why(text: str, today: date, past: bool) -> None:
    try:
        found = read_date(text, today, past=past)
    except ServiceError:
        return
    assert found is None or date(2000, 1, 1) <= found <= date(2099, 12, 31)


@SETTINGS
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), TODAYS)
def test_full_dates_round_trip(day: date, today: date) -> None:
    for written in (day.isoformat(), f"{day:%Y/%m/%d}", f"{day.year}年{day.month}月{day.day}日"):
        assert parse_date(written, today) == day


@SETTINGS
@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2095, 12, 31)), MIDDLE_TODAYS, st.booleans())
def test_month_days_are_the_next_or_last_such_day(day: date, today: date, past: bool) -> None:
    for written in (f"{day.month}/{day.day}", f"{day.month}月{day.day}号", f"{day.month:02d}-{day.day:02d}"):
        found = parse_date(written, today, past=past)
        assert (found.month, found.day) == (day.month, day.day)
        assert (today - found if past else found - today) <= timedelta(days=366 * 4)
        assert found <= today if past else found >= today


@SETTINGS
@given(st.integers(1, 31), MIDDLE_TODAYS, st.booleans())
def test_days_of_the_month(number: int, today: date, past: bool) -> None:
    found = parse_date(f"{number}号", today, past=past)
    assert found.day == number and abs((found - today).days) <= 62
    assert found <= today if past else found >= today


@SETTINGS
@given(st.integers(0, 6), MIDDLE_TODAYS, st.data())
def test_weekdays(weekday: int, today: date, data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(WEEKDAY_WORDS[weekday]))
    ahead = parse_date(word, today)
    assert ahead.weekday() == weekday and 1 <= (ahead - today).days <= 7
    back = parse_date(word, today, past=True)
    assert back.weekday() == weekday and 1 <= (today - back).days <= 7
    monday = today - timedelta(days=today.weekday())
    nxt, last = ("next ", "last ") if word.isascii() else ("下", "上")
    assert parse_date(nxt + word, today) == monday + timedelta(days=7 + weekday)
    assert parse_date(last + word, today) == monday + timedelta(days=weekday - 7)


@SETTINGS
@given(HOSTILE, TODAYS)
def test_follow_ups_promises_and_report_days_read_or_say_why(text: str, today: date) -> None:
    try:
        day = parse_follow_up(text, today)
        assert today <= day <= today + timedelta(days=366)
    except ServiceError:
        pass
    try:
        promised, amount = parse_promise(text, today)
        assert isinstance(promised, date) and (amount is None or amount > 0)
    except ServiceError:
        pass
    try:
        named, rest = split_day(text, today)
    except ServiceError:
        return
    assert (named is None and rest == text) or (named is not None and named <= today)


def test_promises_take_dates_in_words() -> None:
    assert parse_promise("friday 5000", MONDAY)[0] == date(2026, 11, 27)
    assert parse_promise("1.5万 下周五", MONDAY)[0] == date(2026, 12, 4)
    assert parse_promise("next friday", MONDAY) == (date(2026, 12, 4), None)
    assert parse_promise("in 3 days 200", MONDAY)[0] == date(2026, 11, 26)


# -- periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "start", "end", "kind"),
    [
        ("上月", date(2026, 10, 1), date(2026, 10, 31), MONTHLY),
        ("last month", date(2026, 10, 1), date(2026, 10, 31), MONTHLY),
        ("lastmonth", date(2026, 10, 1), date(2026, 10, 31), MONTHLY),
        ("上周", date(2026, 11, 16), date(2026, 11, 22), LAST_WEEK),
        ("lastweek", date(2026, 11, 16), date(2026, 11, 22), LAST_WEEK),
        ("Last Week", date(2026, 11, 16), date(2026, 11, 22), LAST_WEEK),
        ("Q4", date(2026, 10, 1), date(2026, 12, 31), QUARTER),
        ("q4 2026", date(2026, 10, 1), date(2026, 12, 31), QUARTER),
        ("2025Q4", date(2025, 10, 1), date(2025, 12, 31), QUARTER),
        ("第四季度", date(2026, 10, 1), date(2026, 12, 31), QUARTER),
        ("2026年第一季度", date(2026, 1, 1), date(2026, 3, 31), QUARTER),
        ("上季度", date(2026, 7, 1), date(2026, 9, 30), QUARTER),
        ("本季度", date(2026, 10, 1), date(2026, 12, 31), QUARTER),
    ],
)
def test_periods_in_words(typed: str, start: date, end: date, kind: str) -> None:
    period = parse_period(typed, MONDAY)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    assert period_from_code(period.code, MONDAY) == period
    assert len(period.code.encode()) <= 20  # fits callback data with room to spare


def test_existing_periods_keep_working() -> None:
    assert parse_period("本月", MONDAY).start == date(2026, 11, 1)
    assert parse_period("本周", MONDAY).start == MONDAY
    assert parse_period("this month", MONDAY).end == MONDAY
    assert parse_period("2026-11", MONDAY).kind == MONTHLY


def test_a_quarter_without_a_year_is_the_latest_begun() -> None:
    assert parse_period("Q4", date(2027, 2, 1)).start == date(2026, 10, 1)
    assert parse_period("Q1", date(2027, 2, 1)).start == date(2027, 1, 1)
    with pytest.raises(Invalid, match="has not begun"):
        parse_period("q1 2027", MONDAY)


@SETTINGS
@given(HOSTILE, TODAYS)
def test_period_parser_reads_or_says_why(text: str, today: date) -> None:
    try:
        period = parse_period(text, today)
    except ServiceError:
        return
    assert period.start <= period.end and period.start <= today
    assert period_from_code(period.code, today) == period


@SETTINGS
@given(
    st.integers(2000, 2099),
    st.integers(1, 4),
    TODAYS,
    st.sampled_from(["q{q} {y}", "{y}q{q}", "{y}年第{q}季度"]),
)
def test_quarters_round_trip(year: int, number: int, today: date, form: str) -> None:
    try:
        period = parse_period(form.format(q=number, y=year), today)
    except Invalid:
        assert date(year, 3 * number - 2, 1) > today
        return
    assert period.start == date(year, 3 * number - 2, 1) and period.kind == QUARTER
    assert (period.end + timedelta(days=1)).day == 1 and period.end.month == 3 * number
    assert period_from_code(period.code, today) == period


# -- stock with units ------------------------------------------------------------------------------


def test_stock_lines_with_units() -> None:
    assert parse_stock_lines(
        "胶水：10箱\nGlue 10 boxes\nProduct A 12\n10箱水泥\n3 ctn glue\nX 5 widgets"
    ) == (
        StockEntry("胶水", 10, "box"),
        StockEntry("Glue", 10, "box"),
        StockEntry("Product A", 12),
        StockEntry("水泥", 10, "box"),
        StockEntry("glue", 3, "box"),
        StockEntry("X", 5, "widgets"),
    )
    assert parse_stock_lines("瓶装水 24 瓶")[0] == StockEntry("瓶装水", 24, "bottle")
    assert parse_stock_lines("Cola 330ml 12")[0] == StockEntry("Cola 330ml", 12)
    for bad in ("Cola 330ml", "3 boxes", "胶水：-1箱", "胶水：1.5箱"):
        with pytest.raises(Invalid):
            parse_stock_lines(bad)


PRODUCT = st.text(
    alphabet=st.characters(categories=("L",), exclude_characters="\u0130"), min_size=1, max_size=20
).filter(lambda text: known_unit(text) is None)


@SETTINGS
@given(PRODUCT, st.integers(0, 10**9), st.sampled_from(sorted(UNIT_WORDS)), st.data())
def test_stock_lines_round_trip(product: str, quantity: int, unit: str, data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(UNIT_WORDS[unit]))
    form = data.draw(st.sampled_from(["{p}：{q}{u}", "{p} {q} {u}", "{p}: {q} {u}"]))
    [entry] = parse_stock_lines(form.format(p=product, q=quantity, u=word))
    assert entry == StockEntry(product, quantity, unit)
    [plain] = parse_stock_lines(f"{product} {quantity}")
    assert plain == StockEntry(product, quantity)


@SETTINGS
@given(HOSTILE)
def test_stock_parser_reads_or_says_why(text: str) -> None:
    try:
        lines = parse_stock_lines(text)
    except ServiceError:
        return
    assert lines and all(line.quantity >= 0 and line.product for line in lines)
    assert all(line.unit is None or 0 < len(line.unit) <= 20 for line in lines)


# -- one edit away ---------------------------------------------------------------------------------


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook way (the reference for the fast check)."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


@SETTINGS
@given(st.text("ab鑫源", max_size=6), st.text("ab鑫源", max_size=6))
def test_one_edit_matches_the_textbook_distance(a: str, b: str) -> None:
    assert within_one_edit(a, b) == (_distance(a, b) <= 1) == within_one_edit(b, a)


# -- holidays and make-up workdays -------------------------------------------------------------------


@SETTINGS
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 11, 30)), st.integers(0, 30), st.booleans())
def test_holiday_ranges_round_trip(first: date, length: int, spaced: bool) -> None:
    last = first + timedelta(days=length)
    words = ["add", f"{first}", "..", f"{last}"] if spaced else ["add", f"{first}..{last}"]
    changed, keys = company.change(company.CompanySettings(), ["holiday", *words])
    assert keys == ["holidays"] and len(changed.holidays) == length + 1
    assert min(changed.holidays) == first and max(changed.holidays) == last
    assert not any(changed.is_working_day(day) for day in changed.holidays)
    back, _keys = company.change(changed, ["holiday", "remove", f"{first}..{last}"])
    assert back.holidays == frozenset()


@SETTINGS
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_a_make_up_workday_is_worked_even_on_a_holiday(day: date) -> None:
    settings_ = company.CompanySettings(days_off=frozenset({6, 7}), holidays=frozenset({day}))
    assert not settings_.is_working_day(day)
    worked, keys = company.change(settings_, ["workday", "add", day.isoformat()])
    assert worked.is_working_day(day) and day not in worked.holidays and set(keys) == {"workdays", "holidays"}
    again, _keys = company.change(worked, ["workday", "remove", day.isoformat()])
    assert again.is_working_day(day) == (day.isoweekday() < 6)


@SETTINGS
@given(st.lists(HOSTILE, max_size=4), st.sampled_from(["holiday", "workday", "调休"]))
def test_calendar_settings_read_or_say_why(words: list[str], what: str) -> None:
    try:
        changed, keys = company.change(company.CompanySettings(), [what, *words])
    except ServiceError:
        return
    assert keys and not (changed.holidays & changed.workdays)


def test_a_report_names_its_day_only_before_a_colon_or_a_new_line() -> None:
    assert split_day("周六：拜访了3家", MONDAY) == (date(2026, 11, 21), "拜访了3家")
    assert split_day("saturday\nvisited 3 shops", MONDAY) == (date(2026, 11, 21), "visited 3 shops")
    # Headings of the report and today's own lines stay the report's text.
    for text in (
        "明天：拜访华联",
        "tomorrow: call Acme",
        "sat with the owner",
        "today: 3 visits",
        "12/5 visited",
    ):
        assert split_day(text, MONDAY) == (None, text)
