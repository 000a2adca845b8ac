"""Reading amounts of money as reps type them.

Accepted: ``5000``, ``5,000``, ``5000.50``, ``¥5000`` / ``￥5000`` / ``5000元`` /
``RMB 5000``, ``1.5万`` (×10,000), ``5k`` (×1,000), full-width digits;
invisible characters pasted along (zero-width spaces, direction marks, BOM) are ignored.
Refused with a reason: zero, negative, more than two decimals, not a number,
NaN or infinity, over 10^10.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation, localcontext

from bot.i18n import N_
from bot.services.errors import Invalid

MAX_AMOUNT = Decimal(10) ** 10
CENT = Decimal("0.01")

_MULTIPLIERS = {"万": Decimal(10_000), "w": Decimal(10_000), "k": Decimal(1_000), "千": Decimal(1_000)}
#: ¥500, RMB 500, 500元, 500 yuan, and the spoken 500块 / 500块钱 ("kuai": yuan).
_CURRENCY = re.compile(r"^(?:¥|rmb|cny)\s*|\s*(?:元|块钱|块|rmb|cny|yuan)$", re.IGNORECASE)
_NUMBER = re.compile(r"^(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?$")


def parse_amount(text: str) -> Decimal:
    """The amount in ``text`` as a Decimal with two places, or :class:`Invalid` saying why."""
    raw = "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf").strip()
    cleaned = _CURRENCY.sub("", raw.lower()).strip().replace(" ", "")
    if cleaned.startswith("-"):
        raise Invalid(N_("The amount must be more than zero."))
    cleaned = cleaned.removeprefix("+")
    multiplier = Decimal(1)
    if cleaned and cleaned[-1] in _MULTIPLIERS:
        multiplier = _MULTIPLIERS[cleaned[-1]]
        cleaned = cleaned[:-1]
    match = _NUMBER.match(cleaned)
    if match is None:
        raise Invalid(
            N_("{text} is not an amount. Write it like 5000, 5,000.50, ¥5000, 1.5万 or 5k."),
            text=text.strip()[:40],
        )
    digits = match.group("int").replace(",", "") + "." + (match.group("frac") or "0")
    try:
        number = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise Invalid(N_("{text} is not an amount."), text=text.strip()[:40]) from None
    with localcontext(prec=len(digits) + 10):  # exact: a 40th decimal must not round away
        amount = number * multiplier
    if amount > MAX_AMOUNT:
        raise Invalid(N_("That amount is too large to be real (over 10,000,000,000)."))
    if amount != amount.quantize(CENT):
        raise Invalid(N_("Amounts have at most 2 decimals."))
    if amount <= 0:
        raise Invalid(N_("The amount must be more than zero."))
    return amount.quantize(CENT)


def format_amount(amount: Decimal) -> str:
    """``12,345.60`` — thousands separated, always two decimals."""
    return f"{amount.quantize(CENT):,.2f}"
