"""Inline ‹ › buttons for lists longer than one message."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator


def pager(t: Translator, prefix: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
    """Buttons to the previous and next page; callback data is ``{prefix}:{page}``."""
    if pages <= 1:
        return None
    row = []
    if page > 1:
        row.append(InlineKeyboardButton(t.gettext("‹ Previous"), callback_data=f"{prefix}:{page - 1}"))
    row.append(InlineKeyboardButton(f"{page}/{pages}", callback_data=f"{prefix}:{page}"))
    if page < pages:
        row.append(InlineKeyboardButton(t.gettext("Next ›"), callback_data=f"{prefix}:{page + 1}"))
    return InlineKeyboardMarkup([row])


def page_of(data: str | None) -> int:
    """The page number at the end of a pager button's callback data (1 if unreadable)."""
    try:
        return max(1, int((data or "").rsplit(":", 1)[1]))
    except (IndexError, ValueError):
        return 1
