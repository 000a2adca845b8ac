"""Faults a test makes the fake Bot API answer with, instead of (or after) doing what was asked.

Each fault is what Telegram or the network really does::

    api.inject(Fault.too_many_requests(retry_after=1), method="sendMessage", chat_id=2001)
    api.inject(Fault.server_error(502), times=3)           # the next 3 calls of any method
    api.inject(Fault.timeout(delivered=True), method="sendMessage")  # sent, but the answer is lost

A fault with ``method=None`` matches every method except ``getUpdates`` (the bot polls all
the time; name it explicitly to fault polling). ``chat_id`` matches the call's ``chat_id``,
or for ``answerCallbackQuery`` the chat of the pressed message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A hang lasts this long at most: past any client's read timeout, short of a stuck test.
HANG_SECONDS = 30.0


@dataclass(frozen=True)
class Fault:
    """How one call is answered.

    ``delivered`` (``perform``) does what was asked *before* the fault, so the message
    really reaches the user and only the answer is lost: the at-least-once case.
    """

    status: int = 0  # an error answer (0: none)
    description: str = ""
    retry_after: int | None = None
    hang: float = 0.0  # hold the request this long (the client may give up first)
    reset: bool = False  # close the connection without any answer
    perform: bool = False  # do what was asked first

    @classmethod
    def too_many_requests(cls, retry_after: int = 1) -> Fault:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        descriptions = {
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }
        return cls(status, descriptions.get(status, "Server Error"))

    @classmethod
    def timeout(cls, *, delivered: bool = False, seconds: float = HANG_SECONDS) -> Fault:
        """No answer until the client gives up (``seconds`` at most, then it errs with 504)."""
        return cls(504, "Gateway Timeout", hang=seconds, perform=delivered)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally, ``seconds`` late (a client with a shorter timeout gives up)."""
        return cls(hang=seconds)

    @classmethod
    def connection_reset(cls, *, delivered: bool = False) -> Fault:
        return cls(reset=True, perform=delivered)

    @classmethod
    def blocked(cls) -> Fault:
        return cls(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def not_modified(cls) -> Fault:
        return cls(
            400,
            "Bad Request: message is not modified: specified new message content and "
            "reply markup are exactly the same as a current content and reply markup "
            "of the message",
        )


@dataclass
class Injection:
    """A fault waiting for the next ``times`` calls that match ``method`` and ``chat_id``."""

    fault: Fault
    method: str | None = None
    chat_id: int | None = None
    times: int = 1
    hits: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.hits

    def matches(self, method: str, chat_id: Any) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is None and method == "getUpdates":
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)


class FaultPlan:
    """The injected faults, first come first served."""

    def __init__(self) -> None:
        self.injections: list[Injection] = []

    def add(self, injection: Injection) -> Injection:
        self.injections.append(injection)
        return injection

    def take(self, method: str, chat_id: Any) -> Fault | None:
        """The fault for this call, if any (counting it as used)."""
        for injection in self.injections:
            if injection.matches(method, chat_id):
                injection.hits += 1
                if injection.remaining <= 0:
                    self.injections.remove(injection)
                return injection.fault
        return None

    def pending(self) -> list[Injection]:
        return [i for i in self.injections if i.remaining > 0]

    def clear(self) -> None:
        self.injections.clear()
