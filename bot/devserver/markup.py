"""Validation of ``reply_markup`` objects and bot command lists, with Telegram's errors."""

from __future__ import annotations

import re
from typing import Any

from bot.devserver.models import ApiError, bad_request
from bot.devserver.spec import BotApiSpec

MAX_BUTTONS = 100
MAX_BUTTONS_PER_ROW = 8
MAX_CALLBACK_DATA_BYTES = 64
# InlineKeyboardButton: "Exactly one of the fields other than text, icon_custom_emoji_id,
# and style must be used".
_NOT_ACTIONS = frozenset({"text", "icon_custom_emoji_id", "style"})
_URL_RE = re.compile(r"(https?://[^\s/?#]+\S*|tg://\S+)", re.IGNORECASE)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


def _button_error(reason: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {reason}")


def _rows(markup: dict[str, Any], key: str) -> list[list[Any]]:
    rows = markup.get(key)
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{key}" must be an Array of Arrays')
    total = sum(len(row) for row in rows)
    if total > MAX_BUTTONS or any(len(row) > MAX_BUTTONS_PER_ROW for row in rows):
        raise bad_request(
            f"too many buttons in the keyboard: at most {MAX_BUTTONS_PER_ROW} per row "
            f"and {MAX_BUTTONS} in total"
        )
    return rows


def _check_inline_button(button: Any, actions: frozenset[str]) -> None:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _button_error("Text must be non-empty")
    used = [name for name in actions if button.get(name) is not None]
    if not used:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(used) > 1:
        raise _button_error(f"exactly one of {', '.join(sorted(used))} must be used")
    if "callback_data" in used:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in used:
        url = button["url"]
        if not isinstance(url, str) or not _URL_RE.fullmatch(url.strip()):
            raise bad_request("BUTTON_URL_INVALID")


def _check_keyboard_button(button: Any) -> None:
    text = button if isinstance(button, str) else None
    if isinstance(button, dict):
        text = button.get("text")
        requests = [k for k, v in button.items() if k.startswith("request_") and v]
        if len(requests) + (button.get("web_app") is not None) > 1:
            raise bad_request("keyboard button can request only one thing")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("keyboard button text must be non-empty")


def check_reply_markup(markup: Any, spec: BotApiSpec, *, inline_only: bool = False) -> None:
    """Raise :class:`ApiError` unless ``markup`` is a reply markup Telegram would accept."""
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        fields = spec.type_fields("InlineKeyboardButton")
        actions = frozenset(fields) - _NOT_ACTIONS or frozenset({"url", "callback_data"})
        for row in _rows(markup, "inline_keyboard"):
            for button in row:
                _check_inline_button(button, actions)
        return
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = _rows(markup, "keyboard")
        if not any(rows):
            raise bad_request("keyboard must have at least one button")
        for row in rows:
            for button in row:
                _check_keyboard_button(button)
    elif "remove_keyboard" in markup:
        if markup["remove_keyboard"] is not True:
            raise bad_request("remove_keyboard must be true")
    elif "force_reply" in markup:
        if markup["force_reply"] is not True:
            raise bad_request("force_reply must be true")
    else:
        raise bad_request("can't parse reply keyboard markup JSON object")


def check_commands(commands: list[Any]) -> list[dict[str, str]]:
    """Validate a ``setMyCommands`` list; return it as plain dicts."""
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    checked = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("BOT_COMMAND_INVALID")
        name, description = command.get("command"), command.get("description")
        if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": name, "description": description})
    return checked
