"""Every parser of what people type, fed hostile text by Hypothesis: it reads it or says why.

"Says why" means one of the services' :class:`ServiceError`s (the reply the user reads);
anything else would be a crash. What a parser does accept must be well-formed: money as a
Decimal with two places, dates real and in range, names and numbers within their limits.
The hostile alphabet: 10,000-character pastes, emoji, right-to-left text, zero-width and
control characters, NUL, HTML-looking text, full-width digits, 1e9999, NaN, -0, huge integers.
"""

from __future__ import annotations

import contextlib
import csv
import io
import unicodedata
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from bot.services import company
from bot.services.errors import ServiceError
from bot.services.field.visits import MAX_PRODUCT_CHARS, MAX_QUANTITY, parse_follow_up, parse_stock_lines
from bot.services.intake.customer_import import parse_credit_limit, validate as validate_customers
from bot.services.intake.receivable_import import parse_date, validate as validate_receivables
from bot.services.intake.user_import import validate as validate_people
from bot.services.money.amounts import CENT, MAX_AMOUNT, format_amount, parse_amount
from bot.services.money.collections import parse_collection_line, parse_method, split_customer
from bot.services.money.orders import MAX_INVOICE_NO, read_details
from bot.services.money.overdue import parse_promise
from bot.services.money.payment_methods import ALIASES, method_key
from bot.services.people.approvals import MAX_REASON, parse_percent, read_discount
from bot.services.people.users import MUTE_PATTERN, parse_role
from bot.services.reporting.periods import FIRST_YEAR, LAST_YEAR, MAX_DAYS, parse_period, period_from_code
from bot.services.reporting.reports import MAX_OWN_TEXT, check_lines, parse_lines
from bot.tabular import Table, TableError, read_table
from bot.text import BIDI_CONTROLS, SEARCH_KEY_LENGTH, isolate, one_line, search_key
from handlers.field.visits import split_one_liner
from handlers.money.orders import split_order
from models import PaymentMethod, Role

TODAY = date(2026, 11, 23)
PASTE = 10_000

#: Pieces people (and attackers) paste: each is tried alone and mixed with everything else.
FRAGMENTS = (
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "🇨🇳",
    "مرحبا",
    "שלום",
    "\u202e",
    "\u202c",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\x00",
    "\x07",
    "\r",
    "\n",
    "\t",
    " ",
    "\u3000",
    "<b>",
    "</b>",
    "<i>x</i>",
    "&",
    "&amp;",
    "&#0;",
    "<a href='javascript:alert(1)'>",
    "<script>",
    '"',
    "'",
    "\\",
    "%",
    "_",
    "１２３",
    "５，０００",
    "１．５万",
    "1e9999",
    "1E-9999",
    "NaN",
    "nan",
    "-nan",
    "Infinity",
    "-inf",
    "-0",
    "+0",
    "0",
    "0.00",
    "-0.00",
    "9" * 40,
    "1" + "0" * 400,
    "4" * 5000,
    "99999999999999999999",
    "²",
    "½",
    "٣",
    "߁",
    "𝟗",
    ":",
    "：",
    "..",
    "~",
    "至",
    "万",
    "k",
    "元",
    "¥",
    "￥",
    "RMB",
    "%",
    "％",
    "2026-11-23",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31",
    "12/31",
    "13/1",
    "2026年11月1日",
    "today",
    "今天",
    "week",
    "2026-11",
    "cash",
    "现金",
    "=1+1",
    '=HYPERLINK("http://x","y")',
    "@",
    "@li_wei",
    "/start",
    "/cancel",
    "Acme: 5000",
)
fragments = st.sampled_from(FRAGMENTS)
hostile_text = st.one_of(
    st.text(max_size=60),
    fragments,
    st.lists(fragments | st.text(max_size=8), max_size=10).map("".join),
    st.lists(fragments | st.text(max_size=8), max_size=10).map(" ".join),
    st.builds(
        lambda piece, size: (piece * (PASTE // max(len(piece), 1) + 1))[:size],
        fragments | st.text(min_size=1, max_size=5),
        st.sampled_from([4096, PASTE]),
    ),
)
days = st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _two_places(amount: Decimal) -> bool:
    return amount == amount.quantize(CENT) and amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "text",
    [
        "1e9999",
        "NaN",
        "-0",
        "-0.00",
        "+0",
        "Infinity",
        "9" * 5000,
        "5\x00000",
        "<b>5</b>",
        "&#53;",
        "5" + "\u200b" + "000",
        "\u202e5000",
        "١٢٣",
        "1." + "0" * 40 + "1",
    ],
)
def test_amounts_refuse_or_read_the_hostile_classics(text: str) -> None:
    try:
        amount = parse_amount(text)
    except ServiceError:
        return
    assert _two_places(amount) and CENT <= amount <= MAX_AMOUNT


def test_zero_width_characters_inside_an_amount_are_ignored() -> None:
    assert parse_amount("5\u200b000\u200d") == Decimal("5000.00")
    assert parse_amount("\ufeff¥1.5万") == Decimal("15000.00")


def test_an_amount_with_more_precision_than_decimal_arithmetic_keeps_is_still_refused() -> None:
    with pytest.raises(ServiceError, match="at most 2 decimals"):
        parse_amount("1." + "0" * 40 + "1")


@SETTINGS
@given(hostile_text)
def test_amounts(text: str) -> None:
    for parse in (parse_amount, parse_credit_limit):
        try:
            amount = parse(text)
        except ServiceError:
            continue
        assert _two_places(amount) and Decimal(0) <= amount <= MAX_AMOUNT
        assert parse_amount(format_amount(amount)) == amount if amount else True


@SETTINGS
@given(hostile_text, days)
def test_periods_and_their_button_codes(text: str, today: date) -> None:
    try:
        period = parse_period(text, today)
    except ServiceError:
        return
    assert period.start <= period.end and period.days <= MAX_DAYS and period.start <= today
    assert period.start.year >= FIRST_YEAR and period.end.year <= LAST_YEAR
    assert len(period.code.encode()) <= 20
    again = period_from_code(period.code, today)
    assert (again.start, again.end) == (period.start, period.end)


@SETTINGS
@given(hostile_text, days)
def test_period_codes_from_forged_buttons(code: str, today: date) -> None:
    try:
        period = period_from_code(code, today)
    except ServiceError:
        return
    assert period.start <= period.end and period.days <= MAX_DAYS


@SETTINGS
@given(hostile_text, days)
def test_dates_typed_for_follow_ups_and_promises(text: str, today: date) -> None:
    try:
        day = parse_follow_up(text, today)
        assert today <= day <= today + timedelta(days=366)
    except ServiceError:
        pass
    try:
        promised_on, amount = parse_promise(text, today)
        assert isinstance(promised_on, date) and (amount is None or _two_places(amount))
    except ServiceError:
        pass
    imported = parse_date(text)
    assert imported is None or isinstance(imported, date)


@SETTINGS
@given(hostile_text)
def test_one_liners_split_at_the_first_colon(text: str) -> None:
    for split in (split_one_liner, split_order):
        customer, rest = split(text)
        assert customer == customer.strip() and ":" not in customer and "：" not in customer
        assert rest is None or rest == rest.strip()
    parts = split_customer(text)
    assert parts is None or (":" not in parts[0] and "：" not in parts[0])


@SETTINGS
@given(hostile_text)
def test_collection_lines(text: str) -> None:
    method = parse_method(text)
    assert method is None or method_key(text) in _ALIAS_KEYS[method]
    try:
        line = parse_collection_line(text)
    except ServiceError:
        return
    assert line.customer and _two_places(line.amount) and line.amount > 0
    assert line.receipt_no is None or " " not in line.receipt_no
    # A method is named, or it is cash only when nothing but a receipt number followed the amount;
    # a word the bot does not know is reported, never read as cash.
    assert (line.method is None) == (line.unknown_method is not None)
    if line.unknown_method is not None:
        assert parse_method(line.unknown_method) is None
        assert not any(ch.isdigit() for ch in unicodedata.normalize("NFKC", line.unknown_method))


@SETTINGS
@given(hostile_text)
def test_order_details(text: str) -> None:
    try:
        details = read_details(text)
    except ServiceError:
        return
    assert _two_places(details.amount) and details.amount > 0
    assert details.invoice_no is None or 0 < len(details.invoice_no) <= MAX_INVOICE_NO


@SETTINGS
@given(hostile_text)
def test_discounts(text: str) -> None:
    try:
        terms = read_discount(text)
    except ServiceError:
        pass
    else:
        assert terms.reason and len(terms.reason) <= MAX_REASON
        assert (terms.percent is None) != (terms.amount is None)
        assert terms.percent is None or 0 < terms.percent <= 100
    try:
        percent = parse_percent(text)
    except ServiceError:
        return
    assert 0 < percent <= 100


@SETTINGS
@given(hostile_text)
def test_report_lines(text: str) -> None:
    lines = parse_lines(text)
    assert all(isinstance(value, str) for value in lines.fields().values())
    try:
        check_lines(lines)
    except ServiceError:
        return
    assert not lines.empty
    assert sum(len(v.encode("utf-16-le")) // 2 for v in lines.fields().values()) <= MAX_OWN_TEXT


@SETTINGS
@given(hostile_text)
def test_stock_lines(text: str) -> None:
    try:
        entries = parse_stock_lines(text)
    except ServiceError:
        return
    assert entries and all(
        0 <= e.quantity <= MAX_QUANTITY and 0 < len(e.product) <= MAX_PRODUCT_CHARS for e in entries
    )


def test_a_quantity_with_thousands_of_digits_is_refused_not_a_crash() -> None:
    with pytest.raises(ServiceError, match="too large"):
        parse_stock_lines("Cola " + "9" * 5000)


@SETTINGS
@given(hostile_text)
def test_roles_and_mute_durations(text: str) -> None:
    with contextlib.suppress(ServiceError):
        assert parse_role(text) in set(Role)
    match = MUTE_PATTERN.match(text.strip().lower())
    assert match is None or 0 <= int(match.group(1)) <= 999


@SETTINGS
@given(
    st.lists(hostile_text, min_size=0, max_size=6),
    st.sampled_from(["time", "quiet", "daysoff", "holiday", "followup", "visits", "TIME", ""]),
)
def test_settings_changes(words: list[str], what: str) -> None:
    words = [what, *(" ".join(word.split()) or "x" for word in words)] if what else words
    words = [w for word in words for w in word.split()]  # as request.args splits them
    current = company.CompanySettings()
    try:
        changed, keys = company.change(current, words)
    except ServiceError:
        return
    assert keys
    times = (changed.quiet_from, changed.quiet_until, *changed.job_times.values())
    assert all(at.tzinfo is None for at in times)
    assert all(1 <= day <= 7 for day in changed.days_off)
    thresholds = [level.days_overdue for level in changed.followup_levels]
    assert thresholds == sorted(set(thresholds))
    assert thresholds[0] >= 1 and thresholds[-1] <= company.MAX_FOLLOWUP_DAYS


@pytest.mark.parametrize(
    "words",
    [
        ["daysoff", "²"],
        ["followup", "1", "2", "3", "²"],
        ["followup", "1", "15", "30", "9" * 30],
        ["quiet", "08:00+05:00", "21:00"],
        ["time", "morning", "08:30:00.5"],
        ["holiday", "add", "0001-01-01"],
        ["daysoff", "٣"],
    ],
)
def test_settings_values_that_used_to_slip_through(words: list[str]) -> None:
    try:
        changed, _ = company.change(company.CompanySettings(), words)
    except ServiceError:
        return
    assert changed.days_off <= frozenset(range(1, 8))
    assert all(at.tzinfo is None and at.second == 0 for at in (changed.quiet_from, changed.quiet_until))
    assert all(level.days_overdue <= company.MAX_FOLLOWUP_DAYS for level in changed.followup_levels)


# -- spreadsheets -----------------------------------------------------------------------------------

file_names = st.sampled_from(["people.csv", "x.xlsx", "x.XLSM", "noname", "a.txt", ".csv", "x.csv.exe"])
cells = hostile_text.map(lambda text: text[:200])


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@SETTINGS
@given(st.binary(max_size=2000), file_names)
def test_any_bytes_read_as_a_table_or_refused(content: bytes, name: str) -> None:
    try:
        table = read_table(content, name)
    except TableError:
        return
    _well_formed(table)


@SETTINGS
@given(st.lists(st.lists(cells, max_size=6), max_size=8), file_names)
def test_csv_with_hostile_cells(rows: list[list[str]], name: str) -> None:
    try:
        content = _csv(rows)
    except UnicodeEncodeError:  # a lone surrogate: no file can hold it
        return
    try:
        table = read_table(content, name if not name.lower().endswith((".xlsx", ".xlsm")) else "x.csv")
    except TableError:
        return
    _well_formed(table)
    for validate in (validate_customers, validate_people):
        good, errors = validate(table)
        assert all(error.line >= 1 for error in errors)
        assert errors or good  # a table with rows is imported or refused with reasons
    good_invoices, invoice_errors = validate_receivables(table, set())
    assert not good_invoices and invoice_errors  # no customer is known: nothing can pass


def _well_formed(table: Table) -> None:
    assert all(isinstance(column, str) for column in table.header)
    assert len([c for c in table.header if c]) == len({c for c in table.header if c})
    lines = [line for line, _ in table.rows]
    assert lines == sorted(lines) and all(line >= 2 for line in lines)
    assert all(isinstance(v, str) for _, row in table.rows for v in row.values())


# -- names and search keys (bot/text.py) -------------------------------------------------------------


def _full_width(text: str) -> str:
    """ASCII text in its full-width forms (U+FF01-FF5E; a space becomes the ideographic space)."""
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


@SETTINGS
@given(hostile_text)
def test_a_search_key_is_settled_whatever_the_text(text: str) -> None:
    key = search_key(text)
    assert search_key(key) == key  # idempotent: a stored key looked up again finds itself
    assert len(key) <= SEARCH_KEY_LENGTH and key == " ".join(key.split())
    assert not any(unicodedata.category(ch) == "Cf" for ch in key)  # no bidi control, no zero width
    for form in ("NFKC", "NFD"):
        assert search_key(unicodedata.normalize(form, text)) == key
    assert search_key(text.casefold()) == key


@SETTINGS
@given(st.text(st.characters(codec="ascii", categories=["L", "N", "P", "S", "Zs"]), max_size=60))
def test_a_search_key_ignores_case_and_width(text: str) -> None:
    key = search_key(text)
    assert search_key(text.upper()) == search_key(text.swapcase()) == search_key(_full_width(text)) == key


@SETTINGS
@given(st.text(max_size=60))
def test_a_search_key_ignores_case_in_every_script(text: str) -> None:
    assume(text.upper().casefold() == text.casefold() == text.lower().casefold())  # not ı, ǰ, …
    assert search_key(text.upper()) == search_key(text.lower()) == search_key(text)


@SETTINGS
@given(hostile_text)
def test_names_lose_bidi_controls_and_right_to_left_text_is_isolated(text: str) -> None:
    name = one_line(text)
    assert one_line(name) == name and not set(name) & BIDI_CONTROLS
    shown = isolate(text)
    assert isolate(shown) == shown
    if any(unicodedata.bidirectional(ch) in ("R", "AL", "AN") for ch in text):
        assert shown.startswith("\u2068") and shown.endswith("\u2069")


# -- payment methods (bot/services/money/payment_methods.py) -----------------------------------------------

_ALIAS_KEYS = {
    method: {method_key(word) for word in (method.value, *words)} for method, words in ALIASES.items()
}
_ALIAS_PAIRS = [(method, word) for method, words in ALIASES.items() for word in (method.value, *words)]
#: What people put inside a method word without meaning another word (spaces: only in a word alone).
_JOINERS = ("-", "_", ".", "/", "·", "\u200b", "\ufeff", "\u200e")
_SPACES = (" ", "\u3000", "\t")


@st.composite
def _spellings(draw: st.DrawFn, word: str, spaces: bool = True) -> str:
    """``word`` as someone might type it: any case, full- or half-width, joiners in between, and
    (``spaces``) spaces anywhere; without, a space only where the word has one."""
    joiners = ("",) * 4 + _JOINERS + (_SPACES if spaces else ())
    out = []
    for ch in word:
        ch = draw(st.sampled_from([ch, ch.upper(), ch.lower()]))
        if draw(st.booleans()):
            ch = _full_width(ch)
        out.append(ch if ch.isspace() else ch + draw(st.sampled_from(joiners)))
    around = st.sampled_from(["", "\u200b"] + (list(_SPACES) if spaces else []))
    return draw(around) + "".join(out) + draw(around)


def _spelled(spaces: bool) -> st.SearchStrategy[tuple[PaymentMethod, str]]:
    return st.sampled_from(_ALIAS_PAIRS).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), _spellings(pair[1], spaces))
    )


@SETTINGS
@given(_spelled(spaces=True))
def test_a_method_word_is_read_in_any_case_width_and_spacing(spelled: tuple[PaymentMethod, str]) -> None:
    method, text = spelled
    assert parse_method(text) is method


@SETTINGS
@given(hostile_text)
def test_a_method_is_one_of_its_words_or_nothing_whatever_the_text(text: str) -> None:
    method = parse_method(text)
    assert method is None or method_key(text) in _ALIAS_KEYS[method]
    for same in (unicodedata.normalize("NFKC", text), text.casefold(), _full_width(text)):
        assert parse_method(same) is method


@SETTINGS
@given(
    _spelled(spaces=False),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10) ** 9, places=2),
    st.from_regex(r"[A-Z]{0,3}-?[0-9]{1,8}", fullmatch=True) | st.none(),
    st.booleans(),
)
def test_a_collection_line_reads_any_method_word_and_keeps_the_receipt(
    spelled: tuple[PaymentMethod, str], amount: Decimal, receipt: str | None, first: bool
) -> None:
    method, word = spelled
    extras = [receipt, word] if first else [word, receipt]
    line = parse_collection_line(f"Shop 7: {amount:,.2f} " + " ".join(e for e in extras if e))
    assert (line.customer, line.amount, line.method, line.receipt_no) == ("Shop 7", amount, method, receipt)


@SETTINGS
@given(
    st.text(st.characters(categories=["L"]), min_size=1, max_size=12),
    st.from_regex(r"R-[0-9]{1,6}", fullmatch=True) | st.none(),
)
def test_an_unknown_method_word_is_never_cash(word: str, receipt: str | None) -> None:
    assume(parse_method(word) is None and word.split() == [word] and method_key(word))
    with contextlib.suppress(ServiceError):  # a currency word (yuan, 元, 块) is the amount's, not a method
        parse_amount(f"500 {word}")
        assume(False)
    line = parse_collection_line(f"Shop 7: 500 {word} {receipt or ''}")
    assert line.method is None and line.unknown_method == word and line.receipt_no == receipt
