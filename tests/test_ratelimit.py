"""The bot's own flood control: pushes never past Telegram's limits, replies never held by them
until Telegram says so, then waiting in line ahead of pushes, never dropped for it."""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given, settings, strategies as st
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
    REPLY_DEADLINE,
    FloodLimits,
    Limit,
    TelegramRateLimiter,
    Traffic,
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


def simulate(
    requests: list[tuple[float, float, int]],
    limits: FloodLimits,
    *,
    push: bool = True,
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
    st.tuples(st.floats(0, 3), st.floats(0.001, 0.4), st.integers(1, 40)), min_size=1, max_size=120
)


@settings(max_examples=40, deadline=None)
@given(request_lists)
def test_pushes_never_exceed_the_broadcast_or_chat_limit_in_any_rolling_window(
    requests: list[tuple[float, float, int]],
) -> None:
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
    assert starts[: PER_CHAT.count] == [0.0] * PER_CHAT.count
    assert starts[PER_CHAT.count :] == [3.01] * 3
    # Replies in that chat are the user's own conversation: not held back.
    limits = FloodLimits()
    for _ in range(6):
        assert limits.delay(0.0, message=True, chat=7) == 0
        limits.admit(0.0, message=True, chat=7)


def test_a_group_gets_twenty_messages_a_minute_replies_included() -> None:
    sent = simulate([(0.0, 0.01, -100)] * 21, FloodLimits(), push=False)
    assert [s.start for s in sent[: PER_GROUP.count]] == [0.0] * PER_GROUP.count
    assert sent[-1].start == pytest.approx(60.01)


def test_a_retry_after_pauses_everyone_messages_or_not() -> None:
    limits = FloodLimits()
    limits.pause(10.0, 3)
    for kind in (
        {"message": True, "push": True, "chat": 1},
        {"message": True, "chat": 2},
        {"message": True, "chat": -5},
        {"message": False, "chat": 3},
    ):
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


async def test_a_reply_waits_out_any_number_of_429s_until_its_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    limiter = TelegramRateLimiter(max_retries=2, clock=fake.now, sleep=fake.sleep)
    attempts: list[float] = []

    async def flaky() -> dict[str, object]:
        attempts.append(fake.at)
        if len(attempts) <= 5:  # more 429s than max_retries: that bound is for pushes
            raise RetryAfter(1)
        return {"message_id": 1}

    assert await limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 5}, None) == {
        "message_id": 1
    }
    assert attempts == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    attempts.clear()

    async def refused() -> dict[str, object]:
        attempts.append(fake.at)
        raise RetryAfter(60)

    # Five minutes from the first try: tried at 0, 60, …, 300 s; "retry after 60" then would be past it.
    assert REPLY_DEADLINE == 300
    started = fake.at
    with pytest.raises(RetryAfter):
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert [at - started for at in attempts] == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    assert fake.at == started + 300  # given up at once, not after waiting in vain
    assert "giving up" in caplog.text
    # A push is still tried a bounded number of times (the outbox reschedules it).
    attempts.clear()
    with pytest.raises(RetryAfter):
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 5}, PUSH)
    assert len(attempts) == 3


async def test_a_reply_held_past_its_deadline_by_someone_elses_429_is_given_up_untried() -> None:
    fake = FakeTime()
    limiter = TelegramRateLimiter(max_retries=0, reply_deadline=30, clock=fake.now, sleep=fake.sleep)
    limiter.limits.pause(fake.now(), 45)
    called = False

    async def never() -> dict[str, object]:
        nonlocal called
        called = True
        return {}

    with pytest.raises(RetryAfter, match="Retry in"):
        await limiter.process_request(never, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert not called and fake.sleeps == [] and limiter.limits.waiting == 0


Call = Callable[[], Awaitable[object]]


def telegram_answering(order: list[str], refuse: dict[str, int]) -> Callable[[str], Call]:
    """A stand-in for Telegram: notes each call, answers 429 (retry after 0.3 s) ``refuse[name]`` times."""

    def call(name: str) -> Call:
        async def answer() -> dict[str, object]:
            if refuse.get(name):
                refuse[name] -= 1
                order.append(f"{name}: 429")
                raise RetryAfter(timedelta(milliseconds=300))
            order.append(name)
            return {"ok": True}

        return answer

    return call


async def test_after_a_429_replies_wait_in_line_in_turn_and_pushes_yield_to_them() -> None:
    limiter = TelegramRateLimiter(max_retries=3)
    order: list[str] = []
    telegram = telegram_answering(order, {"reply to Ann": 1})

    def send(name: str, chat: int, traffic: Traffic | None = None) -> asyncio.Task[object]:
        return asyncio.create_task(
            limiter.process_request(telegram(name), (), {}, "sendMessage", {"chat_id": chat}, traffic)
        )

    sending = [send("reply to Ann", 1)]
    await asyncio.sleep(0)
    assert order == ["reply to Ann: 429"]  # everyone waits 0.3 s; Ann's reply is in line
    sending += [
        send("push to Bob", 2, PUSH),
        send("reply to Cy", 3),
        send("reply to Di", 4),
        send("push to Ed", 5, PUSH),
    ]
    await asyncio.sleep(0.1)
    assert limiter.limits.waiting == 3 and order == ["reply to Ann: 429"]
    await asyncio.gather(*sending)
    assert order[:4] == ["reply to Ann: 429", "reply to Ann", "reply to Cy", "reply to Di"]
    assert sorted(order[4:]) == ["push to Bob", "push to Ed"]  # pushes after every waiting reply
    assert limiter.limits.waiting == 0


def test_the_line_goes_at_the_broadcast_pace_and_a_group_held_by_its_window_holds_up_nobody() -> None:
    limits = FloodLimits(broadcast_per_second=2)
    for _ in range(PER_GROUP.count):  # the group had its 20 messages this minute
        limits.finish(limits.admit(0.0, message=True, chat=-100), 0.0)
    for turn, chat in enumerate((-100, 1, 2, 3)):  # then a 429: four replies wait in line
        limits.join(turn, chat)
    assert limits.delay(1.0, message=True, chat=-100, turn=0) == pytest.approx(59.0)
    assert limits.delay(1.0, message=True, chat=1, turn=1) == 0  # the group ahead cannot go: not held
    assert math.isinf(limits.delay(1.0, message=True, chat=2, turn=2))  # Cy is ahead and can go
    assert math.isinf(limits.delay(1.0, message=True, push=True, chat=9))  # pushes yield to the line
    for chat, turn in ((1, 1), (2, 2)):
        limits.finish(limits.admit(1.0, message=True, chat=chat), 1.0)
        limits.leave(turn)
    # Two in the last second: the next in line waits for the broadcast window, fresh replies do not.
    assert limits.delay(1.5, message=True, chat=3, turn=3) == pytest.approx(0.5)
    assert limits.delay(1.5, message=True, chat=4) == 0
    limits.leave(3)
    limits.leave(0)
    assert limits.waiting == 0 and limits.delay(2.0, message=True, push=True, chat=9) == 0


# -- front door: the real bot against a fake Bot API without a flood limit, to watch the pace ----------


@pytest.fixture
async def open_api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN, messages_per_second=None) as server:
        yield server


@pytest.fixture
async def unlimited(
    open_api: FakeBotApi, db: Database, clock: FixedClock, database_url: str
) -> AsyncIterator[Harness]:
    settings = Settings(
        token=TOKEN, database_url=database_url, api_url=open_api.base_url, timezone=clock.zone
    )
    async with Harness(open_api, db, clock, settings) as running:
        yield running
    assert not open_api.refused_calls()


def most_per_rolling_second(calls: list[ApiCall]) -> int:
    moments = sorted(call.at for call in calls)
    return max(sum(1 for later in moments[n:] if later - moment < 1.0) for n, moment in enumerate(moments))


async def test_sixty_people_answered_at_once_while_sixty_pushes_keep_under_the_limit(
    unlimited: Harness,
) -> None:
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
            await enqueue(
                session,
                recipient_id=rep.id,
                job="test",
                dedup_key=f"push-{rep.id}",
                text=f"Plan for {rep.name}",
                now=now,
            )
    mark = unlimited.api.mark()
    assert (await unlimited.deliver_pushes()).sent == 60
    pushes = [c for c in unlimited.api.calls[mark:] if c.method == "sendMessage" and c.ok]
    assert len(pushes) == 60
    assert most_per_rolling_second(pushes) <= BROADCAST_PER_SECOND
    assert max(c.at for c in pushes) - min(c.at for c in pushes) >= 2.0
    assert sum(waits) >= 1.5
