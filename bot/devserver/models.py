"""Records the fake server keeps: API calls, messages the bot sent, and API errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.devserver.formatting import EntityParseError, parse_text


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    """400 ``Bad Request: <reason>``."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass
class ApiCall:
    """One HTTP request to the Bot API, as answered.

    ``at`` is the wall-clock arrival time; calls are appended when answered.  ``injected`` marks
    answers produced by :meth:`FakeBotApi.fail_next`; status 499 marks requests the client gave
    up on before the answer (e.g. a read timeout).
    """

    method: str
    params: dict[str, Any]
    ok: bool
    status: int
    description: str | None
    at: float
    result: Any = None
    injected: bool = False
    duration: float = 0.0


@dataclass
class SentMessage:
    """A message the bot sent, in its current state (edits applied)."""

    message_id: int
    chat_id: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    kind: str = "text"
    file_name: str | None = None
    file_bytes: bytes | None = None
    file_id: str | None = None
    edits: int = 0
    deleted: bool = False
    date: int = 0
    mime_type: str | None = None
    location: tuple[float, float] | None = None
    reply_to_message_id: int | None = None
    history: list[str | None] = field(default_factory=list)  # earlier text/caption versions

    def buttons(self) -> list[list[dict[str, Any]]]:
        """Rows of the inline keyboard (``[]`` without one)."""
        if not self.reply_markup:
            return []
        return [list(row) for row in self.reply_markup.get("inline_keyboard", [])]

    def button_texts(self) -> list[str]:
        """Labels of all inline buttons, row by row."""
        return [str(button.get("text", "")) for row in self.buttons() for button in row]

    def plain_text(self) -> str:
        """Text or caption as the user sees it: markup removed, entities decoded, trimmed."""
        content = self.text if self.text is not None else self.caption
        if not content:
            return ""
        try:
            return parse_text(content, self.parse_mode).text
        except EntityParseError:  # never stored in strict mode; be lenient otherwise
            return content
