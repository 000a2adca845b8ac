"""Telegram's flood limits, kept by the bot itself instead of learnt from 429s.

Telegram lets a bot send about 30 messages a second over all chats, about one a second in one chat
(short bursts tolerated) and 20 a minute in one group; past them it answers 429 "retry after N".
The bot's traffic is of two kinds, told apart by ``rate_limit_args``:

* **replies** (the default): the answer to something a user just sent. While Telegram has not said
  "slow down" they never wait for the 30/s budget — a user is answered at once however many others
  are being answered — but they are counted in it, so pushes make room for them. Flood control is
  never a reason to drop a reply: one that cannot go at once (a 429 pause is on, or other replies
  are already waiting) takes its place in **the line** of waiting replies, first come first served
  (a reply refused with a 429 keeps the place it first had), and the line goes out at the
  broadcast pace, :data:`BROADCAST_PER_SECOND` in any rolling second. A reply waits as long as
  Telegram says, however many 429s that takes, and is given up (the
  :class:`~telegram.error.RetryAfter` raised to the caller, who logs it) only once it could not be
  sent within :data:`REPLY_DEADLINE` of its first try. One chat's replies are sent one after
  another by its update (``handlers/base.py``), so they keep their order.
* **pushes** (``rate_limit_args=PUSH``, sent by ``jobs/outbox.py``): wait for a free slot in a
  sliding window of :data:`BROADCAST_PER_SECOND` messages in any rolling second, and for their chat's
  own window (:data:`PER_CHAT`), so a broadcast never provokes a 429; and they yield to replies:
  no push starts while any reply is waiting in line.
* **paid pushes** (``rate_limit_args=PAID_PUSH``: the outbox with ``FIELDBOT_PAID_BROADCAST=1``,
  sent with ``allow_paid_broadcast``): the same, but paced by :data:`PAID_BROADCAST_PER_SECOND`
  messages in any rolling second over everything the bot sends, instead of the free
  :data:`BROADCAST_PER_SECOND` (which they do not count in: Telegram lets paid messages past the
  free broadcast limit, so replies and unpaid pushes keep their 29 a second).

For everyone: a group chat's window (:data:`PER_GROUP`) is waited for (a reply waiting only for its
group's window holds up nobody behind it in line); a 429 on any request pauses every request for
its ``retry_after``. A push or a request that sends nothing is then tried again at most
``max_retries`` times (then the :class:`~telegram.error.RetryAfter` is raised to the caller: the
outbox reschedules the push). Requests that send nothing (answering a button, setting menus) are
not counted, but they do honour a pause.

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
import bisect
import contextlib
import itertools
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

from bot import metrics
from bot.config import BROADCAST_PER_SECOND, PAID_BROADCAST_PER_SECOND

log = logging.getLogger(__name__)


class Traffic(Enum):
    """What a request is, as far as flood limits go (``rate_limit_args`` of a bot call)."""

    PUSH = "push"
    #: A push sent with ``allow_paid_broadcast``: paced at the paid rate.
    PAID_PUSH = "paid_push"


PUSH = Traffic.PUSH
PAID_PUSH = Traffic.PAID_PUSH

# BROADCAST_PER_SECOND (from bot.config, light to import for `fieldbot jobs list`): messages in any
# rolling second over all chats, for pushes and the line of waiting replies (under Telegram's ~30, no
# burst). PAID_BROADCAST_PER_SECOND: everything sent, what paid pushes wait for (under Telegram's 1,000).
#: How long a reply may wait for flood control, from its first try, before it is given up: five
#: minutes. Telegram's "retry after" is seconds in a burst (300 people at once are answered within
#: about 10 s); an answer minutes late still tells the user their action was saved, so they do not
#: send it again, but waiting longer would hold their chat (its next message waits for this one).
REPLY_DEADLINE = 300.0


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


Chat = int | str


@dataclass
class Ticket:
    """The windows one admitted message occupies, to free when it ends."""

    windows: list[SlidingWindow] = field(default_factory=list)


class FloodLimits:
    """Every window and the pause after a 429; times are seconds of a monotonic clock."""

    def __init__(
        self,
        broadcast_per_second: int = BROADCAST_PER_SECOND,
        per_chat: Limit = PER_CHAT,
        per_group: Limit = PER_GROUP,
        paid_per_second: int = PAID_BROADCAST_PER_SECOND,
    ) -> None:
        self.broadcast = SlidingWindow(broadcast_per_second, 1.0)
        #: Every message the bot sends, paid or not: what paid pushes wait for.
        self.paid = SlidingWindow(paid_per_second, 1.0)
        self.per_chat, self.per_group = per_chat, per_group
        self.paused_until = -math.inf
        self._chats: dict[Chat, SlidingWindow] = {}
        self._groups: dict[Chat, SlidingWindow] = {}
        self._line: list[tuple[int, Chat | None]] = []  # waiting replies (turn, chat), by turn

    def _window(
        self, chats: dict[Chat, SlidingWindow], chat: Chat, limit: Limit, now: float
    ) -> SlidingWindow:
        if chat not in chats and len(chats) >= MAX_REMEMBERED_CHATS:
            for key in [key for key, window in chats.items() if window.idle(now)]:
                del chats[key]
        return chats.setdefault(chat, SlidingWindow(limit.count, limit.seconds))

    def _windows(
        self,
        now: float,
        *,
        message: bool,
        push: bool,
        chat: Chat | None,
        paid: bool = False,
    ) -> tuple[list[SlidingWindow], list[SlidingWindow]]:
        """The windows to wait for and the ones to occupy (replies occupy the broadcast one only;
        every message occupies the paid one, which only paid pushes wait for)."""
        if not message:
            return [], []
        wait: list[SlidingWindow] = []
        if push:
            wait.append(self.paid if paid else self.broadcast)
        if chat is not None and is_group(chat):
            wait.append(self._window(self._groups, chat, self.per_group, now))
        elif chat is not None and push:
            wait.append(self._window(self._chats, chat, self.per_chat, now))
        occupy = wait if push else [self.broadcast, *wait]
        return wait, occupy if paid else [self.paid, *occupy]

    def delay(
        self,
        now: float,
        *,
        message: bool,
        push: bool = False,
        chat: Chat | None = None,
        turn: int | None = None,
        paid: bool = False,
    ) -> float:
        """Seconds to wait before sending (``inf``: until a message in flight ends or the line moves).

        ``turn`` is a reply's place in the line (:meth:`join`): it waits for the broadcast window
        too, and for every reply ahead of it that could go now.
        """
        wait, _ = self._windows(now, message=message, push=push, chat=chat, paid=paid)
        if message and push and self._line:
            return math.inf  # pushes yield to replies waiting
        if turn is not None and message and not push:
            if self._ready_ahead_of(turn, now):
                return math.inf
            wait = [self.broadcast, *wait]
        return max([self.paused_until - now, 0.0, *(window.delay(now) for window in wait)])

    def join(self, turn: int, chat: Chat | None) -> None:
        """A reply that cannot go at once waits in line, at its ``turn`` (smaller: earlier)."""
        bisect.insort(self._line, (turn, chat), key=lambda entry: entry[0])

    def leave(self, turn: int) -> None:
        """A reply leaves the line: it was admitted, or given up."""
        index = bisect.bisect_left(self._line, turn, key=lambda entry: entry[0])
        if index < len(self._line) and self._line[index][0] == turn:
            del self._line[index]

    @property
    def waiting(self) -> int:
        """Replies waiting in line."""
        return len(self._line)

    def _ready_ahead_of(self, turn: int, now: float) -> bool:
        """Whether a reply ahead of ``turn`` in line could go but for the pause and broadcast window
        (one held only by its own group's window holds up nobody)."""
        for ahead, chat in self._line:
            if ahead >= turn:
                return False
            group = self._groups.get(chat) if chat is not None and is_group(chat) else None
            if group is None or group.delay(now) <= 0:
                return True
        return False

    def admit(
        self, now: float, *, message: bool, push: bool = False, chat: Chat | None = None, paid: bool = False
    ) -> Ticket:
        """Occupy the slots of a message sent now (call when :meth:`delay` is 0)."""
        _, occupy = self._windows(now, message=message, push=push, chat=chat, paid=paid)
        for window in occupy:
            window.start()
        return Ticket(occupy)

    def finish(self, ticket: Ticket, now: float) -> None:
        for window in ticket.windows:
            window.end(now)

    def pause(self, now: float, seconds: float) -> None:
        """Telegram said "retry after": nobody sends before then."""
        self.paused_until = max(self.paused_until, now + seconds)


def is_group(chat: Chat) -> bool:
    """Groups and channels have negative ids (or are named ``@channel``)."""
    return isinstance(chat, str) or chat < 0


def _chat_of(data: dict[str, Any]) -> Chat | None:
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
    """The bot's rate limiter: replies at once (or in line, never dropped for flood control), pushes
    paced and yielding to replies, 429s honoured by everyone.

    ``clock`` and ``sleep`` are injectable for tests (a monotonic clock in seconds).
    """

    def __init__(
        self,
        *,
        max_retries: int = 3,
        reply_deadline: float = REPLY_DEADLINE,
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.reply_deadline = reply_deadline
        self.limits = limits or FloodLimits()
        self.clock, self.sleep = clock, sleep
        self._changed = asyncio.Event()  # a message ended or the line moved
        self._turns = itertools.count()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def _admitted(
        self,
        endpoint: str,
        *,
        message: bool,
        push: bool,
        chat: Chat | None,
        turn: int | None = None,
        deadline: float = math.inf,
        refused: RetryAfter | None = None,
        paid: bool = False,
    ) -> Ticket:
        """Wait for a slot and take it. A reply (``turn``) that cannot go at once waits in line; it
        is given up (``refused``, or a new :class:`RetryAfter`) once it could not go by ``deadline``."""
        in_line = False
        try:
            while True:
                now = self.clock()
                if (
                    turn is not None
                    and not in_line
                    and (self.limits.waiting or self.limits.delay(now, message=message, chat=chat) > 0)
                ):
                    self.limits.join(turn, chat)
                    in_line = True
                delay = self.limits.delay(
                    now, message=message, push=push, chat=chat, turn=turn if in_line else None, paid=paid
                )
                if delay <= 0:
                    return self.limits.admit(now, message=message, push=push, chat=chat, paid=paid)
                finite = not math.isinf(delay)
                if now + (delay if finite else 0.0) > deadline:
                    log.warning(
                        "%s to %s: flood control would hold this reply past %.0f s, giving up",
                        endpoint,
                        chat,
                        self.reply_deadline,
                    )
                    hint = delay if finite else self.limits.paused_until - now  # may be -inf
                    raise refused or RetryAfter(timedelta(seconds=math.ceil(max(hint, 1.0))))
                if finite:
                    await self.sleep(delay)
                else:
                    self._changed.clear()
                    await self._changed.wait()
        finally:
            if in_line:
                assert turn is not None
                self.limits.leave(turn)
                self._changed.set()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Traffic | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        message, chat = sends_message(endpoint), _chat_of(data)
        push, paid = rate_limit_args in (PUSH, PAID_PUSH), rate_limit_args is PAID_PUSH
        reply = message and not push
        turn = next(self._turns) if reply else None
        deadline = self.clock() + self.reply_deadline if reply else math.inf
        refused: RetryAfter | None = None
        attempt = 0
        while True:
            ticket = await self._admitted(
                endpoint,
                message=message,
                push=push,
                chat=chat,
                turn=turn,
                deadline=deadline,
                refused=refused,
                paid=paid,
            )
            try:
                answer = await callback(*args, **kwargs)
            except RetryAfter as error:
                metrics.FLOOD_WAITS.inc()
                seconds = retry_after_seconds(error)
                self.limits.pause(self.clock(), seconds)
                if not reply and attempt >= self.max_retries:
                    log.warning("%s to %s: 429 after %d retries, giving up", endpoint, chat, attempt)
                    raise
                attempt += 1
                metrics.RETRIES.inc()
                refused = error
                log.info(
                    "%s to %s: 429, everyone waits %.1f s (retry %d%s)",
                    endpoint,
                    chat,
                    seconds,
                    attempt,
                    ", in line" if reply else "",
                )
            else:
                if message:
                    metrics.SENT.labels("push" if push else "reply").inc()
                return answer
            finally:
                self.limits.finish(ticket, self.clock())
                self._changed.set()
