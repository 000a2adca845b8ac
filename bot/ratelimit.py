"""Telegram's flood limits, kept by the bot itself instead of learnt from 429s.

Telegram lets a bot send about 30 messages a second over all chats, about one a second in one chat
(short bursts tolerated) and 20 a minute in one group; past them it answers 429 "retry after N".
The bot's traffic is of two kinds, told apart by ``rate_limit_args``:

* **replies** (the default): the answer to something a user just sent. They never wait for the
  30/s budget — a user is answered at once however many others are being answered — but they are
  counted in it, so pushes make room for them.
* **pushes** (``rate_limit_args=PUSH``, sent by ``jobs/outbox.py``): wait for a free slot in a
  sliding window of :data:`BROADCAST_PER_SECOND` messages in any rolling second, and for their chat's
  own window (:data:`PER_CHAT`), so a broadcast never provokes a 429.

For everyone: a group chat's window (:data:`PER_GROUP`) is waited for; a 429 on any request pauses
every request for its ``retry_after``, and the request is tried again, at most ``max_retries`` times
(then the :class:`~telegram.error.RetryAfter` is raised to the caller: the outbox reschedules the
push). Requests that send nothing (answering a button, setting menus) are not counted, but they
do honour a pause.

A message holds its slot in a window from the moment it is sent until one period after Telegram
answered it. Telegram counted it at some instant in between, so whatever the network's delays, no
rolling period ever holds more than the window's limit on Telegram's side either. PTB's
``AIORateLimiter`` (a leaky bucket that admits a burst of 30 and then refills at 30/s) exceeds 30
in some rolling seconds, and it throttles replies and pushes alike.

:class:`FloodLimits` is the pure bookkeeping (time is passed in); :class:`TelegramRateLimiter` is
the python-telegram-bot ``BaseRateLimiter`` that waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)


class Traffic(Enum):
    """What a request is, as far as flood limits go (``rate_limit_args`` of a bot call)."""

    PUSH = "push"


PUSH = Traffic.PUSH

#: Messages in any rolling second over all chats, for pushes: under Telegram's ~30, no burst.
BROADCAST_PER_SECOND = 29


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float


#: One chat: about one message a second, a short burst (a long push split in parts) allowed.
PER_CHAT = Limit(3, 3.0)
#: One group or channel: 20 messages a minute.
PER_GROUP = Limit(20, 60.0)
#: Windows kept for chats and groups before idle ones are forgotten.
MAX_REMEMBERED_CHATS = 1024

#: The endpoints that put a message in a chat (or change one): the ones Telegram counts.
_MESSAGE_PREFIXES = ("send", "copyMessage", "forwardMessage", "editMessage")


def sends_message(endpoint: str) -> bool:
    return endpoint.startswith(_MESSAGE_PREFIXES) and endpoint != "sendChatAction"


class SlidingWindow:
    """At most ``limit`` messages in any rolling ``period``: a message holds its slot from its start
    until ``period`` after its end."""

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs a positive limit and period")
        self.limit, self.period = limit, period
        self.in_flight = 0
        self._ended: deque[float] = deque()  # end times, oldest first (the clock is monotonic)

    def _forget(self, now: float) -> None:
        while self._ended and self._ended[0] <= now - self.period:
            self._ended.popleft()

    def delay(self, now: float) -> float:
        """Seconds until a slot is free: 0 now, ``inf`` until a message in flight ends."""
        self._forget(now)
        excess = self.in_flight + len(self._ended) - self.limit
        if excess < 0:
            return 0.0
        if excess >= len(self._ended):
            return math.inf
        return self._ended[excess] + self.period - now

    def start(self) -> None:
        self.in_flight += 1

    def end(self, now: float) -> None:
        self.in_flight -= 1
        self._ended.append(now)

    def idle(self, now: float) -> bool:
        self._forget(now)
        return not self.in_flight and not self._ended


@dataclass
class Ticket:
    """The windows one admitted message occupies, to free when it ends."""

    windows: list[SlidingWindow] = field(default_factory=list)


class FloodLimits:
    """Every window and the pause after a 429; times are seconds of a monotonic clock."""

    def __init__(self, broadcast_per_second: int = BROADCAST_PER_SECOND, per_chat: Limit = PER_CHAT,
                 per_group: Limit = PER_GROUP) -> None:
        self.broadcast = SlidingWindow(broadcast_per_second, 1.0)
        self.per_chat, self.per_group = per_chat, per_group
        self.paused_until = -math.inf
        self._chats: dict[int | str, SlidingWindow] = {}
        self._groups: dict[int | str, SlidingWindow] = {}

    def _window(self, chats: dict[int | str, SlidingWindow], chat: int | str, limit: Limit,
                now: float) -> SlidingWindow:
        if chat not in chats and len(chats) >= MAX_REMEMBERED_CHATS:
            for key in [key for key, window in chats.items() if window.idle(now)]:
                del chats[key]
        return chats.setdefault(chat, SlidingWindow(limit.count, limit.seconds))

    def _windows(self, now: float, *, message: bool, push: bool, chat: int | str | None,
                 ) -> tuple[list[SlidingWindow], list[SlidingWindow]]:
        """The windows to wait for and the ones to occupy (replies occupy the broadcast one only)."""
        if not message:
            return [], []
        wait: list[SlidingWindow] = []
        if push:
            wait.append(self.broadcast)
        if chat is not None and is_group(chat):
            wait.append(self._window(self._groups, chat, self.per_group, now))
        elif chat is not None and push:
            wait.append(self._window(self._chats, chat, self.per_chat, now))
        occupy = wait if push else [self.broadcast, *wait]
        return wait, occupy

    def delay(self, now: float, *, message: bool, push: bool = False,
              chat: int | str | None = None) -> float:
        """Seconds to wait before sending (``inf``: until a message in flight ends)."""
        wait, _ = self._windows(now, message=message, push=push, chat=chat)
        return max([self.paused_until - now, 0.0, *(window.delay(now) for window in wait)])

    def admit(self, now: float, *, message: bool, push: bool = False,
              chat: int | str | None = None) -> Ticket:
        """Occupy the slots of a message sent now (call when :meth:`delay` is 0)."""
        _, occupy = self._windows(now, message=message, push=push, chat=chat)
        for window in occupy:
            window.start()
        return Ticket(occupy)

    def finish(self, ticket: Ticket, now: float) -> None:
        for window in ticket.windows:
            window.end(now)

    def pause(self, now: float, seconds: float) -> None:
        """Telegram said "retry after": nobody sends before then."""
        self.paused_until = max(self.paused_until, now + seconds)


def is_group(chat: int | str) -> bool:
    """Groups and channels have negative ids (or are named ``@channel``)."""
    return isinstance(chat, str) or chat < 0


def _chat_of(data: dict[str, Any]) -> int | str | None:
    chat = data.get("chat_id")
    if chat is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return int(chat)
    return str(chat)


def retry_after_seconds(error: RetryAfter) -> float:
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


Callback = Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]


class TelegramRateLimiter(BaseRateLimiter[Traffic]):
    """The bot's rate limiter: replies at once, pushes paced, 429s honoured by everyone.

    ``clock`` and ``sleep`` are injectable for tests (a monotonic clock in seconds).
    """

    def __init__(self, *, max_retries: int = 3, limits: FloodLimits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.max_retries = max_retries
        self.limits = limits or FloodLimits()
        self.clock, self.sleep = clock, sleep
        self._ended = asyncio.Event()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def _admitted(self, *, message: bool, push: bool, chat: int | str | None) -> Ticket:
        while True:
            now = self.clock()
            delay = self.limits.delay(now, message=message, push=push, chat=chat)
            if delay <= 0:
                return self.limits.admit(now, message=message, push=push, chat=chat)
            if math.isinf(delay):
                self._ended.clear()
                await self._ended.wait()
            else:
                await self.sleep(delay)

    async def process_request(
        self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str,
        data: dict[str, Any], rate_limit_args: Traffic | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        message, push, chat = sends_message(endpoint), rate_limit_args is PUSH, _chat_of(data)
        attempt = 0
        while True:
            ticket = await self._admitted(message=message, push=push, chat=chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                self.limits.pause(self.clock(), seconds)
                if attempt >= self.max_retries:
                    log.warning("%s to %s: 429 after %d retries, giving up", endpoint, chat, attempt)
                    raise
                attempt += 1
                log.info("%s to %s: 429, everyone waits %.1f s (retry %d)", endpoint, chat, seconds, attempt)
            finally:
                self.limits.finish(ticket, self.clock())
                self._ended.set()
