"""Telegram misbehaving mid-run: 429, 5xx, hangs, dropped connections, 403 and "not modified".

Through the front door: the real bot against the fake Bot API with faults injected, for
replies, button answers and edits, and pushes. Nothing crashes, nothing is lost, a saved
action stays saved, and the log says what failed, once, without the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

import handlers.base
from bot.devserver import FakeBotApi, Fault
from bot.devserver.server import CLIENT_CLOSED, CONNECTION_RESET
from bot.ratelimit import REPLY_DEADLINE, TelegramRateLimiter
from bot.services.outbox import enqueue
from bot.telegram_http import AiohttpRequest, Timeouts
from models import Collection, Outbox, User
from tests import factories
from tests.harness import TOKEN, Harness, Person

TODAY = date(2026, 11, 23)
LI = 2001
CLIENT_TIMEOUT = 0.3  # the bot's read timeout in these tests (5 s in production)
Log = pytest.LogCaptureFixture


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same number of tries as in production, shorter pauses."""
    monkeypatch.setattr(handlers.base, "REPLY_RETRY_DELAYS", (0.05, 0.1))


@pytest.fixture
def short_timeout(harness: Harness) -> Iterator[None]:
    """The bot gives up on a silent Telegram after 0.3 s instead of 5 s (polling unchanged)."""
    request = harness.app.bot.request  # the transport PTB sends with (bot/telegram_http.py)
    assert isinstance(request, AiohttpRequest)
    before = request.timeouts
    request.timeouts = Timeouts(*[CLIENT_TIMEOUT] * 5)
    yield
    request.timeouts = before


@pytest.fixture
def errors_log(caplog: Log) -> Log:
    caplog.set_level(logging.INFO, logger="fieldbot.errors")
    return caplog


async def li(harness: Harness) -> Person:
    """Li Wei, a rep with a customer that owes 7,000.00."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    acme = await factories.customer(harness.db, now, name="Acme Trading", rep=people.rep, code="ACME")
    await factories.receivable(
        harness.db,
        now,
        customer=acme,
        amount="7000.00",
        issued_on=TODAY - timedelta(10),
        due_on=TODAY + timedelta(20),
    )
    return harness.person(LI, "Li")


async def collections(harness: Harness) -> list[Collection]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Collection)))


def sends(api: FakeBotApi, chat_id: int, method: str = "sendMessage") -> list[int]:
    """Statuses of ``method`` calls to ``chat_id``, in order (200 ok, 0 dropped, 499 abandoned)."""
    return [
        c.status for c in api.calls if c.method == method and str(c.params.get("chat_id")) == str(chat_id)
    ]


def failure_lines(log: Log) -> list[str]:
    return [r.getMessage() for r in log.records if r.name == "fieldbot.errors" and r.levelno >= logging.INFO]


COLLECT = "/collect acme: 5,000 cash R-1"


# -- the fault API of the fake server -----------------------------------------------------------


async def test_faults_hit_only_their_method_chat_and_count(api: FakeBotApi) -> None:
    api.add_user(1, "Ann")
    api.add_user(2, "Bob")
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        injection = api.inject(Fault.server_error(502), method="sendMessage", chat_id=2, times=2)
        await bot.send_message(1, "to Ann")  # another chat: untouched
        await bot.send_chat_action(2, "typing")  # another method: untouched
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(2, "to Bob")
        await bot.send_message(2, "to Bob")  # used up: back to normal
        api.inject(Fault.too_many_requests(retry_after=7))  # any method but polling
        with pytest.raises(RetryAfter, match="7 seconds"):
            await bot.get_me()
        assert await bot.get_updates(timeout=0) == ()
    assert injection.remaining == 0 and api.faults.pending() == []
    assert [m.plain_text() for m in api.chat(2)] == ["to Bob"]
    assert sends(api, 2) == [502, 502, 200]
    assert api.refused_calls() == []


async def test_hang_reset_blocked_and_delivered_faults(api: FakeBotApi) -> None:
    api.add_user(1, "Ann")
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        api.inject(Fault.timeout(), chat_id=1)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(1, "lost", read_timeout=CLIENT_TIMEOUT)
        assert time.monotonic() - started < 2  # it hung until the client gave up
        api.inject(Fault.timeout(delivered=True), chat_id=1)
        with pytest.raises(TimedOut):
            await bot.send_message(1, "delivered, answer lost", read_timeout=CLIENT_TIMEOUT)
        api.inject(Fault.connection_reset(), chat_id=1)
        with pytest.raises(NetworkError, match="disconnected"):
            await bot.send_message(1, "reset")
        api.inject(Fault.blocked(), chat_id=1)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(1, "blocked")
        sent = await bot.send_message(1, "fine")
        api.inject(Fault.not_modified(), method="editMessageText")
        with pytest.raises(BadRequest, match="not modified"):
            await sent.edit_text("fine, edited")
        await bot.send_message(1, "still fine")
    assert [m.plain_text() for m in api.chat(1)] == ["delivered, answer lost", "fine", "still fine"]
    assert sends(api, 1) == [CLIENT_CLOSED, CLIENT_CLOSED, CONNECTION_RESET, 403, 200, 200]
    assert api.refused_calls() == []


# -- replies -------------------------------------------------------------------------------------


async def test_429_on_a_reply_is_waited_out_and_delivered_once(harness: Harness, errors_log: Log) -> None:
    """However many times Telegram says "retry after" (before: given up after the fourth 429)."""
    rep = await li(harness)
    harness.api.inject(Fault.too_many_requests(retry_after=1), method="sendMessage", chat_id=LI, times=4)
    started = time.monotonic()
    said = await rep.says(COLLECT)
    assert time.monotonic() - started >= 4.0
    assert said.count("5,000.00 (cash) from Acme Trading") == 1
    assert sends(harness.api, LI) == [429, 429, 429, 429, 200]
    assert len(await collections(harness)) == 1
    assert failure_lines(errors_log) == []


async def test_a_reply_flood_control_holds_past_its_deadline_is_logged_once_and_the_action_stays_saved(
    harness: Harness, errors_log: Log
) -> None:
    rep = await li(harness)
    limiter = harness.app.bot.rate_limiter
    assert isinstance(limiter, TelegramRateLimiter)
    assert limiter.reply_deadline == REPLY_DEADLINE  # five minutes in production; 1.5 s here
    limiter.reply_deadline = 1.5
    harness.api.inject(Fault.too_many_requests(retry_after=1), method="sendMessage", chat_id=LI, times=3)
    assert await rep.send(COLLECT) == []  # tried at 0 and 1 s; "retry after 1" then is past 1.5 s
    assert sends(harness.api, LI) == [429, 429]
    assert len(await collections(harness)) == 1
    [line] = failure_lines(errors_log)
    assert "reply not delivered" in line and f"chat {LI}" in line and "RetryAfter" in line
    harness.api.faults.clear()
    assert await rep.says("/help")  # the chat still works; the saved collection is not saved again
    assert len(await collections(harness)) == 1


@pytest.mark.parametrize(
    "fault",
    [Fault.server_error(500), Fault.server_error(502), Fault.connection_reset()],
    ids=["500", "502", "reset"],
)
async def test_a_reply_that_fails_once_is_sent_again(
    harness: Harness, fast_retries: None, fault: Fault
) -> None:
    rep = await li(harness)
    harness.api.inject(fault, method="sendMessage", chat_id=LI)
    said = await rep.says(COLLECT)
    assert said.count("5,000.00 (cash) from Acme Trading") == 1
    assert sends(harness.api, LI)[-1] == 200 and len(sends(harness.api, LI)) == 2
    assert len(await collections(harness)) == 1


async def test_a_reply_telegram_never_takes_is_logged_once_and_the_action_stays_saved(
    harness: Harness, fast_retries: None, errors_log: Log
) -> None:
    rep = await li(harness)
    harness.api.inject(Fault.server_error(502), method="sendMessage", chat_id=LI, times=3)
    assert await rep.send(COLLECT) == []  # three tries, then given up
    [saved] = await collections(harness)
    assert saved.amount == 5000
    [line] = failure_lines(errors_log)
    assert "reply not delivered" in line and f"chat {LI}" in line and "sendMessage" in line
    assert "update " in line and "Bad Gateway" in line and TOKEN not in errors_log.text
    # Not resent later; the bot is fine, and the saved collection is not saved twice.
    said = await rep.says("/help")
    assert said and sends(harness.api, LI)[-1] == 200
    assert len(await collections(harness)) == 1


async def test_a_reply_that_times_out_is_tried_again(
    harness: Harness, fast_retries: None, short_timeout: None, errors_log: Log
) -> None:
    rep = await li(harness)
    harness.api.inject(Fault.timeout(), method="sendMessage", chat_id=LI)
    said = await rep.says(COLLECT)
    assert said.count("5,000.00 (cash) from Acme Trading") == 1
    assert sends(harness.api, LI) == [CLIENT_CLOSED, 200]
    harness.api.inject(Fault.timeout(), method="sendMessage", chat_id=LI, times=3)
    assert await rep.send("/help") == []
    [line] = failure_lines(errors_log)
    assert "reply not delivered" in line and "TimedOut" in line and f"chat {LI}" in line


async def test_a_timeout_that_hid_a_delivered_reply_shows_it_twice(
    harness: Harness, fast_retries: None, short_timeout: None
) -> None:
    """The at-least-once window of replies: Telegram took it, the answer was lost, it is sent again."""
    rep = await li(harness)
    harness.api.inject(Fault.timeout(delivered=True), method="sendMessage", chat_id=LI)
    said = await rep.says(COLLECT)
    assert said.count("5,000.00 (cash) from Acme Trading") == 2
    assert len(await collections(harness)) == 1  # the record is still written once


async def test_403_on_a_reply_marks_the_user_blocked_and_drops_their_pushes(
    harness: Harness, errors_log: Log
) -> None:
    rep = await li(harness)
    harness.api.inject(Fault.blocked(), method="sendMessage", chat_id=LI)
    assert await rep.send(COLLECT) == []
    assert len(await collections(harness)) == 1
    async with harness.db.transaction() as session:
        user = await session.scalar(select(User).where(User.telegram_id == LI))
        assert user is not None and user.blocked_at == harness.clock.now()
        await enqueue(
            session,
            recipient_id=user.id,
            job="test",
            dedup_key="after-block",
            text="Plan",
            now=harness.clock.now(),
        )
    result = await harness.deliver_pushes()
    assert result.dropped == 1 and result.sent == 0
    assert sends(harness.api, LI) == [403]  # never tried again while blocked
    assert any("user unreachable" in line and f"chat {LI}" in line for line in failure_lines(errors_log))
    await rep.send("/help")  # writing again: unblocked
    async with harness.db.reading() as session:
        assert (await session.scalar(select(User.blocked_at).where(User.telegram_id == LI))) is None


# -- button answers and edits --------------------------------------------------------------------


async def test_not_modified_on_an_edit_is_fine(harness: Harness, errors_log: Log) -> None:
    rep = await li(harness)
    await rep.send(COLLECT)
    harness.api.inject(Fault.not_modified(), method="editMessageText", chat_id=LI)
    update = harness.api.press(LI, "Undo")
    await harness.settle(update)
    assert len(await collections(harness)) == 2  # the collection and its reversal
    assert harness.api.callback_answers[update["callback_query"]["id"]]["text"] == "Undone."
    assert failure_lines(errors_log) == []


async def test_button_answer_and_edit_survive_5xx_429_and_timeouts(
    harness: Harness, fast_retries: None, short_timeout: None, errors_log: Log
) -> None:
    rep = await li(harness)
    await rep.send(COLLECT)
    harness.api.inject(Fault.server_error(502), method="editMessageText", chat_id=LI)
    harness.api.inject(Fault.timeout(), method="answerCallbackQuery", chat_id=LI)
    harness.api.inject(Fault.too_many_requests(retry_after=1), method="answerCallbackQuery", chat_id=LI)
    update = harness.api.press(LI, "Undo")
    await harness.settle(update)
    assert "Undone: collection #" in rep.last.plain_text()
    assert harness.api.callback_answers[update["callback_query"]["id"]]["text"] == "Undone."
    statuses = [c.status for c in harness.api.calls if c.method == "answerCallbackQuery"]
    assert statuses == [CLIENT_CLOSED, 429, 200]
    assert failure_lines(errors_log) == []


async def test_a_button_answer_telegram_refuses_as_too_late_is_let_go(
    harness: Harness, fast_retries: None, errors_log: Log
) -> None:
    rep = await li(harness)
    await rep.send(COLLECT)
    harness.api.inject(
        Fault(400, "Bad Request: query is too old and response timeout expired or query ID is invalid"),
        method="answerCallbackQuery",
        chat_id=LI,
    )
    await harness.settle(harness.api.press(LI, "Undo"))
    assert "Undone: collection #" in rep.last.plain_text()
    assert all("Telegram refused" not in line for line in failure_lines(errors_log))
    assert len(await collections(harness)) == 2
    assert await rep.says("/help")  # the chat still works


# -- pushes --------------------------------------------------------------------------------------


async def queue_push(harness: Harness, key: str, text: str = "Your plan for today") -> None:
    async with harness.db.transaction() as session:
        li_user = await session.scalar(select(User).where(User.telegram_id == LI))
        assert li_user is not None
        await enqueue(
            session, recipient_id=li_user.id, job="test", dedup_key=key, text=text, now=harness.clock.now()
        )


async def push_row(harness: Harness) -> Outbox:
    async with harness.db.reading() as session:
        [row] = await session.scalars(select(Outbox))
        return row


async def test_429_on_a_push_is_waited_out_and_delivered_once(harness: Harness) -> None:
    await li(harness)
    await queue_push(harness, "plan")
    harness.api.inject(Fault.too_many_requests(retry_after=1), method="sendMessage", chat_id=LI)
    result = await harness.deliver_pushes()
    assert (result.sent, result.retried) == (1, 0)
    assert [m.plain_text() for m in harness.api.chat(LI)] == ["Your plan for today"]
    assert (await push_row(harness)).sent_at == harness.clock.now()


@pytest.mark.parametrize(
    "fault",
    [Fault.server_error(500), Fault.timeout(), Fault.connection_reset()],
    ids=["500", "timeout", "reset"],
)
async def test_a_push_that_fails_is_retried_with_backoff_never_doubled(
    harness: Harness, short_timeout: None, fault: Fault
) -> None:
    await li(harness)
    await queue_push(harness, "plan")
    harness.api.inject(fault, method="sendMessage", chat_id=LI)
    first = await harness.deliver_pushes()
    assert (first.sent, first.retried) == (0, 1)
    row = await push_row(harness)
    assert row.attempts == 1 and row.sent_at is None and row.not_before > harness.clock.now()
    assert (await harness.deliver_pushes()).sent == 0  # not due yet: backoff
    harness.clock.advance(row.not_before - harness.clock.now())
    assert (await harness.deliver_pushes()).sent == 1
    assert (await harness.deliver_pushes()).sent == 0
    assert [m.plain_text() for m in harness.api.chat(LI)] == ["Your plan for today"]


async def test_a_push_whose_answer_was_lost_is_sent_again(harness: Harness, short_timeout: None) -> None:
    """The documented at-least-once window: Telegram delivered, the bot never heard, so it resends."""
    await li(harness)
    await queue_push(harness, "plan")
    harness.api.inject(Fault.timeout(delivered=True), method="sendMessage", chat_id=LI)
    assert (await harness.deliver_pushes()).retried == 1
    harness.clock.advance(timedelta(minutes=10))
    assert (await harness.deliver_pushes()).sent == 1
    assert [m.plain_text() for m in harness.api.chat(LI)] == ["Your plan for today"] * 2
    assert (await push_row(harness)).sent_at is not None


async def test_403_on_a_push_marks_the_user_blocked(harness: Harness) -> None:
    await li(harness)
    await queue_push(harness, "plan")
    harness.api.inject(Fault.blocked(), method="sendMessage", chat_id=LI)
    assert (await harness.deliver_pushes()).dropped == 1
    row = await push_row(harness)
    assert row.dropped_at is not None and "blocked" in (row.last_error or "")
    async with harness.db.reading() as session:
        assert (await session.scalar(select(User.blocked_at).where(User.telegram_id == LI))) is not None
