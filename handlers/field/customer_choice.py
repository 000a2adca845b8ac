"""Buttons for "which customer did you mean?", shared by every command that names a customer.

Each feature gives its own callback prefix (``visit:pick``, ``collect:pick``, …)
and handles the press itself; the press carries only the customer id, which
the feature's service re-checks against the presser's scope.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import N_, Translator, echo
from bot.services.field.customers import CustomerRef

BUTTON_TEXT_LIMIT = 60


def candidate_buttons(
    candidates: tuple[CustomerRef, ...] | list[CustomerRef], prefix: str
) -> InlineKeyboardMarkup:
    """One button per candidate (at most 8), callback data ``{prefix}:{customer_id}``."""
    rows = [
        [InlineKeyboardButton(ref.label[:BUTTON_TEXT_LIMIT], callback_data=f"{prefix}:{ref.id}")]
        for ref in candidates
    ]
    return InlineKeyboardMarkup(rows)


def which_one(t: Translator, query: str, near: bool = False) -> str:
    """The question above the candidates; ``near``: they are spellings one edit away ("did you mean")."""
    if near:
        return t(N_("No customer matches {query}. Did you mean:"), query=echo(query))
    return t(N_("Several customers match {query}. Which one?"), query=echo(query))


def customer_id_of(data: str | None) -> int | None:
    """The customer id at the end of a candidate button's callback data."""
    try:
        return int((data or "").rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
