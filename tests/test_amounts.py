"""Amount parsing: every accepted form, every refused form, and no crash on anything."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from bot.services.errors import Invalid
from bot.services.money.amounts import format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000", "5000.00"),
        ("5,000", "5000.00"),
        ("5000.50", "5000.50"),
        ("¥5000", "5000.00"),
        ("￥5,000.5", "5000.50"),
        ("5000元", "5000.00"),
        ("500块", "500.00"),
        ("3万块钱", "30000.00"),
        ("RMB 120", "120.00"),
        ("1.5万", "15000.00"),
        ("2万", "20000.00"),
        ("5k", "5000.00"),
        ("5K", "5000.00"),
        ("1.25k", "1250.00"),
        ("１２３", "123.00"),
        (" 42 ", "42.00"),
        ("1,234,567.89", "1234567.89"),
        ("0.01", "0.01"),
        ("10000000000", "10000000000.00"),
    ],
)
def test_accepted(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("-5", "more than zero"),
        ("5.123", "at most 2 decimals"),
        ("1.23456万", None),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("NaN", "not an amount"),
        ("inf", "not an amount"),
        ("Infinity", "not an amount"),
        ("1e5", "not an amount"),
        ("5,00", "not an amount"),
        ("10000000000.01", "too large"),
        ("2000000万", "too large"),
        ("5 000 000 000 000", "too large"),
        ("1.2.3", "not an amount"),
        ("¥", "not an amount"),
        ("5kk", "not an amount"),
    ],
)
def test_refused(text: str, reason: str | None) -> None:
    if reason is None:  # 12345.6 is a fine amount: the decimals rule applies to the result
        assert parse_amount(text) == Decimal("12345.60")
        return
    with pytest.raises(Invalid) as refused:
        parse_amount(text)
    assert reason in str(refused.value)


@given(st.text(max_size=60))
def test_never_crashes_on_free_text(text: str) -> None:
    try:
        amount = parse_amount(text)
    except Invalid:
        return
    assert Decimal("0.01") <= amount <= Decimal(10) ** 10
    assert amount == amount.quantize(Decimal("0.01"))


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2))
def test_formatted_amounts_read_back(amount: Decimal) -> None:
    assert parse_amount(format_amount(amount)) == amount
