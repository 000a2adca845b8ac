"""The pure rules of expense claims: categories, reading a claim, calendar months, what is left.

**Budgets and allowances** (regulations part 4): art. 3 gives a rep a meal allowance (誤餐費) "of
_ yuan" for a meal missed on the company's business, and art. 4 caps the business expenses a
department head grants each month at "manager __ yuan, deputy manager __ yuan, general staff __
yuan". The regulations leave every amount blank, so nothing is shipped as the company's figure:
until an admin sets them (``/settings budget ROLE AMOUNT``, ``/settings meal ROLE AMOUNT``) a role
has *no* budget and *no* allowance, and the bot says so rather than inventing one. Art. 5 reimburses
expenses at their actual cost (實報實銷) within a budget approved beforehand: here that budget is the
role's monthly one, and each claim is still approved one by one. Art. 4 names three levels (manager,
deputy manager, general staff); the bot has no deputy-manager role, so budgets are per role: rep and
manager.

**Months** are the company's calendar months (its time zone): a claim counts in the month of the
local day it was made, so one on the 31st and one on the 1st fall in different budgets.

**What is left** of a month's budget is the budget less the approved claims and the ones still
waiting (a pending claim may well be approved; showing it as spent keeps a rep from claiming the
same money twice). Rejected and withdrawn claims count for nothing. A claim that would take the
month past the budget is *over budget*: the director decides it, not the manager.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.i18n import N_
from bot.services.errors import Invalid
from bot.services.money.amounts import parse_amount
from models import ExpenseCategory, Role

MAX_NOTE = 300
ZERO = Decimal("0.00")

#: Who claims expenses: the sales staff and their managers (art. 4 caps both). The director's own
#: spending and the office roles' are outside this workflow.
CLAIMANTS = (Role.REP, Role.MANAGER)

CATEGORY_LABELS: dict[ExpenseCategory, str] = {
    ExpenseCategory.MEALS: N_("Meals"),
    ExpenseCategory.FUEL: N_("Fuel"),
    ExpenseCategory.TRANSPORT: N_("Transport"),
    ExpenseCategory.LODGING: N_("Lodging"),
    ExpenseCategory.ENTERTAINMENT: N_("Entertainment"),
    ExpenseCategory.PHONE: N_("Phone"),
    ExpenseCategory.OTHER: N_("Other"),
}

#: Words a category may be typed as, English and Chinese (lower-cased, NFKC).
CATEGORY_WORDS: dict[str, ExpenseCategory] = {
    **{category.value: category for category in ExpenseCategory},
    "meal": ExpenseCategory.MEALS,
    "food": ExpenseCategory.MEALS,
    "lunch": ExpenseCategory.MEALS,
    "dinner": ExpenseCategory.MEALS,
    "餐费": ExpenseCategory.MEALS,
    "餐費": ExpenseCategory.MEALS,
    "误餐": ExpenseCategory.MEALS,
    "誤餐": ExpenseCategory.MEALS,
    "误餐费": ExpenseCategory.MEALS,
    "誤餐費": ExpenseCategory.MEALS,
    "餐饮": ExpenseCategory.MEALS,
    "petrol": ExpenseCategory.FUEL,
    "gas": ExpenseCategory.FUEL,
    "油费": ExpenseCategory.FUEL,
    "油費": ExpenseCategory.FUEL,
    "加油": ExpenseCategory.FUEL,
    "燃油": ExpenseCategory.FUEL,
    "taxi": ExpenseCategory.TRANSPORT,
    "travel": ExpenseCategory.TRANSPORT,
    "交通": ExpenseCategory.TRANSPORT,
    "交通费": ExpenseCategory.TRANSPORT,
    "交通費": ExpenseCategory.TRANSPORT,
    "车费": ExpenseCategory.TRANSPORT,
    "車費": ExpenseCategory.TRANSPORT,
    "hotel": ExpenseCategory.LODGING,
    "住宿": ExpenseCategory.LODGING,
    "住宿费": ExpenseCategory.LODGING,
    "住宿費": ExpenseCategory.LODGING,
    "entertaining": ExpenseCategory.ENTERTAINMENT,
    "招待": ExpenseCategory.ENTERTAINMENT,
    "招待费": ExpenseCategory.ENTERTAINMENT,
    "招待費": ExpenseCategory.ENTERTAINMENT,
    "应酬": ExpenseCategory.ENTERTAINMENT,
    "應酬": ExpenseCategory.ENTERTAINMENT,
    "mobile": ExpenseCategory.PHONE,
    "电话": ExpenseCategory.PHONE,
    "電話": ExpenseCategory.PHONE,
    "话费": ExpenseCategory.PHONE,
    "話費": ExpenseCategory.PHONE,
    "电话费": ExpenseCategory.PHONE,
    "電話費": ExpenseCategory.PHONE,
    "其他": ExpenseCategory.OTHER,
    "其它": ExpenseCategory.OTHER,
}

USAGE = N_(
    "Claim an expense like this:\n"
    "/expense AMOUNT CATEGORY [NOTE]\n"
    "For example: /expense 45 meals lunch with the Acme buyer\n"
    "Categories: meals, fuel, transport, lodging, entertainment, phone, other.\n"
    "Send /expense alone to be asked step by step, or send the receipt's photo with the "
    "/expense line as its caption."
)
_CURRENCY_WORDS = {"¥", "rmb", "cny"}
_UNIT_WORDS = {"元", "万", "千", "k", "w", "rmb", "cny", "yuan"}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ClaimTerms:
    """What ``/expense`` was given: the amount, the category if named, and a note."""

    amount: Decimal
    category: ExpenseCategory | None
    note: str | None


def category_of(word: str) -> ExpenseCategory | None:
    return CATEGORY_WORDS.get(unicodedata.normalize("NFKC", word).strip().lower())


def clean_note(text: str) -> str | None:
    note = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    if len(note) > MAX_NOTE:
        raise Invalid(N_("Keep the note under {limit} characters."), limit=MAX_NOTE)
    return note or None


def read_claim(text: str) -> ClaimTerms:
    """``45 meals lunch``, ``¥ 45 餐费 午餐``, ``1.2k lodging``, or just ``45``.

    The amount comes first (read by :func:`parse_amount`, a currency or unit word may stand apart);
    then a category word, if the next word is one; the rest is the note.
    """
    tokens = unicodedata.normalize("NFKC", text).split()
    if not tokens:
        raise Invalid(USAGE)
    words = [tokens.pop(0)]
    if words[0].lower() in _CURRENCY_WORDS and tokens:
        words.append(tokens.pop(0))
    if tokens and tokens[0].lower() in _UNIT_WORDS:
        words.append(tokens.pop(0))
    amount = parse_amount(" ".join(words))
    category = category_of(tokens[0]) if tokens else None
    if category is not None:
        tokens.pop(0)
    elif tokens:
        raise Invalid(
            N_(
                "{word} is not an expense category. Categories: meals, fuel, transport, lodging, "
                "entertainment, phone, other."
            ),
            word=tokens[0][:30],
        )
    return ClaimTerms(amount, category, clean_note(" ".join(tokens)))


# -- months ------------------------------------------------------------------------------------------


def month_of(day: date) -> date:
    """The first day of ``day``'s calendar month: the month a claim made on ``day`` counts in."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the month after ``month`` (any day of it)."""
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def month_bounds(day: date) -> tuple[date, date]:
    """(first day, first day of the next month) of ``day``'s month: a half-open range of days."""
    first = month_of(day)
    return first, next_month(first)


# -- budgets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """A role's monthly expense budget and meal allowance (None: the company has set none)."""

    budget: Decimal | None = None
    meal: Decimal | None = None


@dataclass(frozen=True)
class BudgetState:
    """One person's month: their role's budget and what their claims of the month add up to."""

    month: date
    budget: Decimal | None
    approved: Decimal = ZERO
    pending: Decimal = ZERO

    @property
    def used(self) -> Decimal:
        """Approved and still waiting: rejected and withdrawn claims count for nothing."""
        return self.approved + self.pending

    @property
    def left(self) -> Decimal | None:
        """What is left of the budget (negative once past it); None without a budget."""
        return None if self.budget is None else self.budget - self.used

    def over_with(self, amount: Decimal) -> bool:
        """Whether a new claim of ``amount`` takes the month past its budget (never without one)."""
        return self.budget is not None and self.used + amount > self.budget

    def plus_pending(self, amount: Decimal) -> BudgetState:
        return BudgetState(self.month, self.budget, self.approved, self.pending + amount)


def above_allowance(category: ExpenseCategory, amount: Decimal, limits: Limits) -> bool:
    """A meal claim above the role's meal allowance (art. 3): said to the rep and the approver."""
    return category == ExpenseCategory.MEALS and limits.meal is not None and amount > limits.meal
