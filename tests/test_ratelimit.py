"""The bot's own flood control: pushes never past Telegram's limits, replies never held by them."""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import RetryAfter

from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database
from bot.devserver import FakeBotApi
from bot.devserver.models import ApiCall
from bot.ratelimit import (
    BROADCAST_PER_SECOND,
    MAX_REMEMBERED_CHATS,
    PER_CHAT,
    PER_GROUP,
    PUSH,
    FloodLimits,
    Limit,
    TelegramRateLimiter,
)
from bot.services.outbox import enqueue
from models import Role
from tests import factories
from tests.harness import TOKEN, Harness


@dataclass
class Sent:
    chat: int
    start: float
    end: float


def simulate(requests: list[tuple[float, float, int]], limits: FloodLimits, *, push: bool = True,
             ) -> list[Sent]:
    """Drive ``limits`` like the limiter does: each request (ready at, taking, chat) is sent, first
    come first served, as soon as its delay is 0; time jumps to the next moment anything changes."""
    pending = sorted(range(len(requests)), key=lambda n: requests[n][0])
    in_flight: list[tuple[float, int]] = []
    sent: dict[int, Sent] = {}
    tickets = {}
    now = 0.0
    while pending or in_flight:
        while in_flight and in_flight[0][0] <= now:
            _, n = heapq.heappop(in_flight)
            limits.finish(tickets.pop(n), now)
            sent[n].end = now
        waits = []
        for n in list(pending):
            ready, taking, chat = requests[n]
            if ready > now:
                waits.append(ready - now)
                continue
            delay = limits.delay(now, message=True, push=push, chat=chat)
            if delay > 0:
                waits.append(delay)
                continue
            tickets[n] = limits.admit(now, message=True, push=push, chat=chat)
            sent[n] = Sent(chat, now, math.nan)
            heapq.heappush(in_flight, (now + taking, n))
            pending.remove(n)
        moments = [now + wait for wait in waits if math.isfinite(wait)]
        moments += [in_flight[0][0]] if in_flight else []
        if not moments:
            break
        now = max(now + 1e-9, min(moments))
    return [sent[n] for n in sorted(sent)]


def most_in_any_window(sent: list[Sent], period: float, step: float = 0.01) -> int:
    """Brute force: the most messages Telegram could count in one rolling ``period``, whenever between
    its start and end it counted each."""
    if not sent:
        return 0
    last = max(s.end for s in sent) + period
    most, moment = 0, 0.0
    while moment <= last:
        most = max(most, sum(1 for s in sent if s.start <= moment and s.end > moment - period))
        moment += step
    return most


request_lists = st.lists(
    st.tuples(st.floats(0, 3), st.floats(0.001, 0.4), st.integers(1, 40)), min_size=1, max_size=120)


@settings(max_examples=40, deadline=None)
@given(request_lists)
def test_pushes_never_exceed_the_broadcast_or_chat_limit_in_any_rolling_window(
        requests: list[tuple[float, float, int]]) -> None:
    sent = simulate(requests, FloodLimits())
    assert len(sent) == len(requests)
    assert most_in_any_window(sent, 1.0) <= BROADCAST_PER_SECOND
    for chat in {s.chat for s in sent}:
        assert most_in_any_window([s for s in sent if s.chat == chat], PER_CHAT.seconds) <= PER_CHAT.count


def test_a_broadcast_goes_at_the_limit_not_far_below_it() -> None:
    sent = simulate([(0.0, 0.02, chat) for chat in range(1, 581)], FloodLimits())
    seconds = max(s.start for s in sent)
    assert 580 / seconds > 0.95 * BROADCAST_PER_SECOND
    assert most_in_any_window(sent, 1.0) == BROADCAST_PER_SECOND


def test_replies_never_wait_for_the_broadcast_budget_but_use_it_up() -> None:
    limits = FloodLimits()
    for chat in range(1, 61):
        assert limits.delay(0.0, message=True, chat=chat) == 0
        limits.finish(limits.admit(0.0, message=True, chat=chat), 0.01)
    assert limits.delay(0.5, message=True, push=True, chat=100) == pytest.approx(0.51)
    assert limits.delay(1.02, message=True, push=True, chat=100) == 0
    # Sixty replies in a second to sixty people: none waited.
    sent = simulate([(0.0, 0.01, chat) for chat in range(1, 61)], FloodLimits(), push=False)
    assert max(s.start for s in sent) == 0


def test_one_chat_gets_a_short_burst_of_pushes_then_about_one_a_second() -> None:
    sent = simulate([(0.0, 0.01, 7)] * 6, FloodLimits())
    starts = [round(s.start, 2) for s in sent]
    assert starts[:PER_CHAT.count] == [0.0] * PER_CHAT.count
    assert starts[PER_CHAT.count:] == [3.01] * 3
    # Replies in that chat are the user's own conversation: not held back.
    limits = FloodLimits()
    for _ in range(6):
        assert limits.delay(0.0, message=True, chat=7) == 0
        limits.admit(0.0, message=True, chat=7)


def test_a_group_gets_twenty_messages_a_minute_replies_included() -> None:
    sent = simulate([(0.0, 0.01, -100)] * 21, FloodLimits(), push=False)
    assert [s.start for s in sent[:PER_GROUP.count]] == [0.0] * PER_GROUP.count
    assert sent[-1].start == pytest.approx(60.01)


def test_a_retry_after_pauses_everyone_messages_or_not() -> None:
    limits = FloodLimits()
    limits.pause(10.0, 3)
    for kind in ({"message": True, "push": True, "chat": 1}, {"message": True, "chat": 2},
                 {"message": True, "chat": -5}, {"message": False, "chat": 3}):
        assert limits.delay(10.5, **kind) == pytest.approx(2.5)  # type: ignore[arg-type]
        assert limits.delay(13.0, **kind) == 0  # type: ignore[arg-type]
    limits.pause(11.0, 1)  # a shorter pause never ends a longer one early
    assert limits.delay(12.5, message=False) == pytest.approx(0.5)


def test_idle_chats_are_forgotten_so_memory_stays_bounded() -> None:
    limits = FloodLimits(per_chat=Limit(1, 1.0))
    for chat in range(1, 3 * MAX_REMEMBERED_CHATS):
        limits.finish(limits.admit(float(chat), message=True, push=True, chat=chat), float(chat))
    assert len(limits._chats) <= MAX_REMEMBERED_CHATS


class FakeTime:
    """A clock that moves only when the limiter sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.at = 100.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.at += seconds


async def test_a_429_on_a_push_holds_the_next_reply_until_retry_after() -> None:
    fake = FakeTime()
    limiter = TelegramRateLimiter(max_retries=0, clock=fake.now, sleep=fake.sleep)
    called_at: list[tuple[str, float]] = []

    async def refused() -> dict[str, object]:
        called_at.append(("push", fake.at))
        raise RetryAfter(3)

    async def answered(who: str) -> dict[str, object]:
        called_at.append((who, fake.at))
        return {"ok": True}

    with pytest.raises(RetryAfter):
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 1}, PUSH)
    await limiter.process_request(answered, ("reply",), {}, "sendMessage", {"chat_id": 2}, None)
    await limiter.process_request(answered, ("button",), {}, "answerCallbackQuery", {}, None)
    assert called_at == [("push", 100.0), ("reply", 103.0), ("button", 103.0)]
    assert fake.sleeps == [3.0]


async def test_a_reply_survives_429s_a_bounded_number_of_times() -> None:
    fake = FakeTime()
    limiter = TelegramRateLimiter(max_retries=2, clock=fake.now, sleep=fake.sleep)
    attempts: list[float] = []

    async def flaky() -> dict[str, object]:
        attempts.append(fake.at)
        if len(attempts) < 3:
            raise RetryAfter(1)
        return {"message_id": 1}

    assert await limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 5}, None) == {
        "message_id": 1}
    assert attempts == [100.0, 101.0, 102.0]
    attempts.clear()

    async def refused() -> dict[str, object]:
        attempts.append(fake.at)
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert len(attempts) == 3


# -- front door: the real bot against a fake Bot API without a flood limit, to watch the pace ----------

@pytest.fixture
async def open_api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN, messages_per_second=None) as server:
        yield server


@pytest.fixture
async def unlimited(open_api: FakeBotApi, db: Database, clock: FixedClock,
                    database_url: str) -> AsyncIterator[Harness]:
    settings = Settings(token=TOKEN, database_url=database_url, api_url=open_api.base_url,
                        timezone=clock.zone)
    async with Harness(open_api, db, clock, settings) as running:
        yield running
    assert not open_api.refused_calls()


def most_per_rolling_second(calls: list[ApiCall]) -> int:
    moments = sorted(call.at for call in calls)
    return max(sum(1 for later in moments[n:] if later - moment < 1.0) for n, moment in enumerate(moments))


async def test_sixty_people_answered_at_once_while_sixty_pushes_keep_under_the_limit(
        unlimited: Harness) -> None:
    now = unlimited.clock.now()
    async with unlimited.db.transaction() as session:
        reps = [factories.user(session, 40_000 + n, f"Rep {n}", Role.REP, None, now) for n in range(60)]
    for rep in reps:
        unlimited.api.add_user(rep.telegram_id, rep.name)
    limiter = unlimited.app.bot.rate_limiter
    assert isinstance(limiter, TelegramRateLimiter)

    waits: list[float] = []

    async def timed_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    limiter.sleep = timed_sleep
    mark = unlimited.api.mark()
    started = time.perf_counter()
    updates = [unlimited.api.message(rep.telegram_id, "/help") for rep in reps]
    for update in updates:
        await unlimited.settle(update)
    answering = time.perf_counter() - started
    replies = [c for c in unlimited.api.calls[mark:] if c.method == "sendMessage" and c.ok]
    assert sorted(c.params["chat_id"] for c in replies) == [rep.telegram_id for rep in reps]
    # Twice the broadcast budget, and not one of them was held back by the limiter.
    assert waits == []
    print(f"60 replies in {answering:.2f} s, at most {most_per_rolling_second(replies)} in a second")

    async with unlimited.db.transaction() as session:
        for rep in reps:
            await enqueue(session, recipient_id=rep.id, job="test", dedup_key=f"push-{rep.id}",
                          text=f"Plan for {rep.name}", now=now)
    mark = unlimited.api.mark()
    assert (await unlimited.deliver_pushes()).sent == 60
    pushes = [c for c in unlimited.api.calls[mark:] if c.method == "sendMessage" and c.ok]
    assert len(pushes) == 60
    assert most_per_rolling_second(pushes) <= BROADCAST_PER_SECOND
    assert max(c.at for c in pushes) - min(c.at for c in pushes) >= 2.0
    assert sum(waits) >= 1.5
