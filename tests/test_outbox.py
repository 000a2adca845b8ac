"""Pushes through the outbox: queued once, sent once, within Telegram's limits, whatever fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.db import Database
from bot.services.outbox import enqueue
from jobs.outbox import CONCURRENCY, OutboxSender, split_text
from models import Outbox, Role, User
from tests import factories
from tests.harness import Harness


async def queue(
    db: Database, harness: Harness, user: User, key: str, text: str = "Hello", **kwargs: object
) -> bool:
    async with db.transaction() as session:
        return await enqueue(
            session,
            recipient_id=user.id,
            job="test",
            dedup_key=key,
            text=text,
            now=harness.clock.now(),
            **kwargs,
        )  # type: ignore[arg-type]


async def outbox_rows(db: Database) -> list[Outbox]:
    async with db.reading() as session:
        return list(await session.scalars(select(Outbox).order_by(Outbox.id)))


async def test_same_key_queues_once_even_when_racing(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    results = await asyncio.gather(
        *(queue(harness.db, harness, people.rep, "plan:2001:2026-11-23") for _ in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]
    assert len(await outbox_rows(harness.db)) == 1


async def test_drain_sends_once_with_buttons_and_splits_long_text(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    buttons = [[{"text": "Log visit", "callback_data": "visit:start:1"}]]
    await queue(harness.db, harness, people.rep, "a", "<b>Plan</b> for <i>today</i>", buttons=buttons)
    long_text = "\n".join(f"line {n:05d} " + "x" * 50 for n in range(200))
    await queue(harness.db, harness, people.rep, "b", long_text)
    result = await harness.deliver_pushes()
    assert result.sent == 2
    chat = harness.api.chat(2001)
    assert chat[0].plain_text() == "Plan for today" and chat[0].button_texts() == ["Log visit"]
    assert len(chat) >= 4 and all(len(m.text or "") <= 4096 for m in chat)
    assert "line 00199" in chat[-1].plain_text()
    assert (await harness.deliver_pushes()).sent == 0
    assert all(row.sent_at == harness.clock.now() for row in await outbox_rows(harness.db))


async def test_one_persons_pushes_arrive_in_the_order_queued(harness: Harness) -> None:
    """Pushes to different people go out concurrently; one person's, one after another."""
    people = await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    for n in range(4):
        await queue(harness.db, harness, people.rep, f"li-{n}", f"Li, number {n}")
    await queue(harness.db, harness, people.other_rep, "bob", "Bob's only push")
    harness.api.delay_next("sendMessage", 0.5)  # the first push sent is slow to be answered
    assert (await harness.deliver_pushes()).sent == 5
    assert [m.plain_text() for m in harness.api.chat(2001)] == [f"Li, number {n}" for n in range(4)]
    assert [m.plain_text() for m in harness.api.chat(2002)] == ["Bob's only push"]


async def test_not_before_is_respected(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    await queue(harness.db, harness, people.rep, "later", not_before=harness.clock.now() + timedelta(hours=1))
    assert (await harness.deliver_pushes()).sent == 0
    harness.clock.advance(timedelta(hours=1))
    assert (await harness.deliver_pushes()).sent == 1


async def test_blocked_user_is_skipped_and_others_still_get_theirs(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    harness.api.block(2001)
    for n in range(3):
        await queue(harness.db, harness, people.rep, f"li-{n}")
    await queue(harness.db, harness, people.other_rep, "bob")
    result = await harness.deliver_pushes()
    assert result.sent == 1 and result.dropped == 3
    assert [m.plain_text() for m in harness.api.chat(2002)] == ["Hello"]
    async with harness.db.reading() as session:
        li = await session.get_one(User, people.rep.id)
    assert li.blocked_at is not None and li.active
    # Writing to the bot again unblocks them.
    harness.api.unblock(2001)
    await harness.settle(harness.api.message(2001, "/help"))
    async with harness.db.reading() as session:
        assert (await session.get_one(User, people.rep.id)).blocked_at is None


async def test_server_errors_are_retried_later(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    await queue(harness.db, harness, people.rep, "flaky")
    harness.api.fail_next("sendMessage", 502, "Bad Gateway")
    result = await harness.deliver_pushes()
    assert result.retried == 1 and harness.api.chat(2001) == []
    [row] = await outbox_rows(harness.db)
    assert row.attempts == 1 and row.not_before > harness.clock.now() and row.sent_at is None
    harness.clock.advance(timedelta(minutes=1))
    assert (await harness.deliver_pushes()).sent == 1
    assert len(harness.api.chat(2001)) == 1


async def test_500_pushes_under_the_rate_limit_none_lost_none_doubled(harness: Harness) -> None:
    """Issue 4's bar: 500 reps, a fake Bot API answering 429 past 30/s, one rep who blocked the bot."""
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        reps = [factories.user(session, 30_000 + n, f"Rep {n}", Role.REP, None, now) for n in range(500)]
    for rep in reps:
        harness.api.add_user(rep.telegram_id, rep.name)
        await queue(harness.db, harness, rep, f"push-{rep.telegram_id}", f"Plan for {rep.name}")
    harness.api.block(reps[7].telegram_id)
    result = await harness.deliver_pushes()
    assert result.sent == 499 and result.dropped == 1 and result.retried == 0
    for rep in reps:
        expected = [] if rep is reps[7] else [f"Plan for {rep.name}"]
        assert [m.plain_text() for m in harness.api.chat(rep.telegram_id)] == expected
    async with harness.db.reading() as session:
        unsent = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.sent_at.is_(None), Outbox.dropped_at.is_(None))
        )
    assert unsent == 0
    # The limiter kept under the fake's 30 in any rolling second: not a single 429.
    delivered = [c for c in harness.api.calls if c.method == "sendMessage" and c.ok]
    assert len(delivered) == 499
    assert not [c for c in harness.api.calls if c.status == 429]


async def test_a_429_holds_every_push_for_retry_after_and_the_refused_one_goes_in_the_same_drain(
    harness: Harness,
) -> None:
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        reps = [factories.user(session, 31_000 + n, f"Rep {n}", Role.REP, None, now) for n in range(40)]
    for rep in reps:
        harness.api.add_user(rep.telegram_id, rep.name)
        await queue(harness.db, harness, rep, f"push-{rep.telegram_id}", f"Plan for {rep.name}")
    harness.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    result = await harness.deliver_pushes()
    assert result.sent == 40 and result.retried == 0
    for rep in reps:
        assert [m.plain_text() for m in harness.api.chat(rep.telegram_id)] == [f"Plan for {rep.name}"]
    sends = [c for c in harness.api.calls if c.method == "sendMessage"]
    [refused] = [c for c in sends if c.status == 429]
    # Only what was already on its way when Telegram said "retry after 2" may arrive during the pause
    # (at most the other concurrent sends; on a loaded machine they can land late, so no timing
    # window here); everything else waits for it to end.
    during_pause = [c for c in sends if c.ok and refused.at < c.at < refused.at + 2.0]
    after_pause = [c for c in sends if c.ok and c.at >= refused.at + 2.0]
    assert len(during_pause) <= CONCURRENCY - 1
    assert len(after_pause) >= 40 - CONCURRENCY


async def test_restart_between_queueing_and_sending_loses_and_doubles_nothing(harness: Harness) -> None:
    """Everything the sender knows is in the outbox table: a new process's sender picks up there."""
    people = await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    await queue(harness.db, harness, people.rep, "before-restart", "Queued before the restart")
    after_restart = OutboxSender(harness.db, harness.clock)
    assert (await after_restart.drain(harness.app.bot)).sent == 1
    assert (await after_restart.drain(harness.app.bot)).sent == 0
    assert (await harness.deliver_pushes()).sent == 0
    assert [m.plain_text() for m in harness.api.chat(2001)] == ["Queued before the restart"]


def test_split_text_keeps_every_character() -> None:
    text = "\n".join(["short"] * 3 + ["y" * 9000] + ["tail"])
    chunks = split_text(text)
    assert all(0 < len(c) <= 4096 for c in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")
    assert split_text("") == [""]
