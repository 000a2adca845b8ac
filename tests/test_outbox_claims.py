"""Outbox claims: no two senders, in any processes, send one push, and one flood budget covers them.

Issue 17: with the bot running, ``fieldbot jobs run`` drained the outbox beside the bot's own
sender; with 60 queued pushes the two delivered 118 messages, and their two rate limiters
together went past Telegram's 30 a second. Now a sender claims each row (a lease) with one
conditional ``UPDATE`` before sending it, renews its claims while it sends, and a row whose
sender died is taken over once the lease has run out. ``fieldbot jobs run`` only queues while
a bot runs, and sends only while it holds the lock a running bot would hold.

In-process tests drive the harness's real bot; process tests run real ``fieldbot run`` and
``fieldbot jobs run`` processes against the fake Bot API (SQLite by default, PostgreSQL with
``FIELDBOT_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

import jobs.outbox
from bot.clock import Clock
from bot.db import Database
from bot.devserver import FakeBotApi
from jobs.catalogue import JOBS
from jobs.outbox import LEASE, drain
from models import JobRun, Outbox, Role, Team, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import TOKEN, Harness
from tests.test_standby import (
    BotProcess,
    assert_delivered_once_but_the_window,
    delivered,
    kill_mid_drain,
    queue_pushes,
    unsent,
    wait_all_delivered,
)

#: The issue's figure: pushes queued by ``fieldbot jobs run`` while the bot runs.
PUSHES = 60
#: The fake Bot API's flood limit (and Telegram's): messages in any rolling second.
TELEGRAM_PER_SECOND = 30


# -- helpers -----------------------------------------------------------------------------------------


async def queue(db: Database, recipient: User, body: str, now: datetime) -> None:
    async with db.transaction() as session:
        session.add(
            Outbox(
                recipient_id=recipient.id,
                job="claims_test",
                dedup_key=body,
                text=body,
                not_before=now,
                created_at=now,
            )
        )


def chat_texts(api: FakeBotApi, chat_id: int) -> list[str]:
    return [m.plain_text() for m in api.chat(chat_id)]


def rolling_peak(api: FakeBotApi) -> int:
    """The most sendMessage requests that reached the fake Bot API within one rolling second."""
    times = sorted(c.at for c in api.calls if c.method == "sendMessage")
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def past_working_day() -> date:
    """A working day (Monday to Saturday, the default) a week ago: its 18:00 has surely passed."""
    day = datetime.now(ZONE).date() - timedelta(days=7)
    return day - timedelta(days=1) if day.isoweekday() == 7 else day


async def company_of_reps(db: Database, api: FakeBotApi, count: int) -> list[str]:
    """``count`` reps who have not reported, and today's jobs marked done so that a bot starting
    now catches up on none of them (only the pushes of the test go out). The reminder texts."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        team = Team(name="East", created_at=now)
        session.add(team)
        await session.flush()
        for n in range(count):
            factories.user(session, 40_000 + n, f"Rep {n:02d}", Role.REP, team, now)
        today = now.astimezone(ZONE).date().isoformat()
        session.add_all(JobRun(job=name, ran_for=today, started_at=now, finished_at=now) for name in JOBS)
    for n in range(count):
        api.add_user(40_000 + n, f"Rep {n:02d}")
    return [f"Rep {n:02d}, today's work report is not in yet. It takes a minute:" for n in range(count)]


def fieldbot_env(api: FakeBotApi, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    return env | {
        "FIELDBOT_TOKEN": TOKEN,
        "FIELDBOT_API_URL": api.base_url,
        "FIELDBOT_DATABASE_URL": database_url,
        "FIELDBOT_TIMEZONE": ZONE.key,
        "PYTHONUNBUFFERED": "1",
    }  # each line as it is printed


async def start_fieldbot(api: FakeBotApi, database_url: str, cwd: Path, *args: str) -> BotProcess:
    """Any ``fieldbot`` command as a process whose output is read as it comes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=fieldbot_env(api, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    running = BotProcess(process)
    running._reader = asyncio.create_task(running._read())
    return running


def reminders_for(day: date) -> tuple[str, ...]:
    return ("jobs", "run", "report_reminder", "--at", f"{day.isoformat()}T18:00")


# -- in one process ----------------------------------------------------------------------------------


async def test_concurrent_drains_send_each_push_once(harness: Harness, database_url: str) -> None:
    """Three drains at once, two sharing the bot's database object and one with connections of its
    own (as another process would have): every push goes out once, none twice."""
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        people = [
            factories.user(session, 41_000 + n, f"Reader {n}", Role.FINANCE, None, now) for n in range(20)
        ]
    texts = []
    for person in people:
        harness.api.add_user(person.telegram_id, person.name)
        for n in range(3):
            texts.append(f"Push {n} for {person.name}")
            await queue(harness.db, person, texts[-1], now)
    harness.api.delay_next("sendMessage", 0.05, times=1000)  # slow enough for the drains to overlap
    other_db = Database(database_url)
    try:
        results = await asyncio.gather(
            drain(harness.app.bot, harness.db, harness.clock),
            drain(harness.app.bot, harness.db, harness.clock),
            drain(harness.app.bot, other_db, harness.clock),
        )
    finally:
        await other_db.dispose()
    assert sum(result.sent for result in results) == len(texts)
    assert delivered(harness.api, texts) == Counter(texts)
    for person in people:  # and each person's in the order queued
        assert chat_texts(harness.api, person.telegram_id) == [
            f"Push {n} for {person.name}" for n in range(3)
        ]
    async with harness.db.reading() as session:
        left = (await session.execute(select(Outbox.claimed_by, Outbox.claimed_until))).all()
    assert {tuple(row) for row in left} == {(None, None)}  # marking a row released its claim


async def test_a_live_claim_is_respected_and_an_expired_one_taken_over(harness: Harness) -> None:
    """A sender that died leaves its claim; its rows wait until the lease runs out, then go out,
    and the person's later pushes wait behind them so that they still arrive in order."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    for body in ("Li 1", "Li 2"):
        await queue(harness.db, people.rep, body, now)
    await queue(harness.db, people.other_rep, "Bob 1", now)
    async with harness.db.transaction() as session:  # what a sender killed mid-send leaves behind
        await session.execute(
            update(Outbox)
            .where(Outbox.text == "Li 1")
            .values(claimed_by="elsewhere:4242:dead", claimed_until=now + LEASE)
        )

    result = await harness.deliver_pushes()
    assert result.sent == 1 and chat_texts(harness.api, 2002) == ["Bob 1"]
    assert chat_texts(harness.api, 2001) == []  # Li 1 is held; Li 2 waits behind it

    harness.clock.advance(LEASE - timedelta(seconds=1))
    assert (await harness.deliver_pushes()).sent == 0  # the lease still holds

    harness.clock.advance(timedelta(seconds=1))
    assert (await harness.deliver_pushes()).sent == 2
    assert chat_texts(harness.api, 2001) == ["Li 1", "Li 2"]
    async with harness.db.reading() as session:
        rows = (await session.execute(select(Outbox.sent_at, Outbox.claimed_by))).all()
    assert all(sent_at is not None and claimed_by is None for sent_at, claimed_by in rows)


async def test_a_slow_drain_keeps_its_claims_by_renewing_them(
    harness: Harness, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drain that takes longer than the lease renews it: a second sender polling meanwhile never
    takes (and sends) the rows the first one holds. Real time here, with a one-second lease."""
    monkeypatch.setattr(jobs.outbox, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(jobs.outbox, "RENEW_EVERY_SECONDS", 0.2)
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    harness.api.add_user(2001, "Li")
    texts = [f"Li, number {n}" for n in range(5)]
    for body in texts:
        await queue(harness.db, people.rep, body, now)
    harness.api.delay_next("sendMessage", 0.7, times=len(texts))  # 3.5 s for Li's five, in order
    real_time = Clock(ZONE)
    other_db = Database(database_url)
    try:
        first = asyncio.create_task(drain(harness.app.bot, harness.db, real_time))
        others = 0
        while not first.done():
            await asyncio.sleep(0.3)
            others += (await drain(harness.app.bot, other_db, real_time)).sent
        assert (await first).sent == len(texts)
    finally:
        await other_db.dispose()
    assert others == 0
    assert chat_texts(harness.api, 2001) == texts


# -- real processes ----------------------------------------------------------------------------------


async def test_the_bot_and_jobs_run_at_once_send_every_push_once_within_one_budget(
    api: FakeBotApi, database_url: str, db: Database, tmp_path: Path
) -> None:
    """The issue's case: the bot runs, ``fieldbot jobs run`` queues 60 pushes. Exactly 60
    messages, and never more than 30 in a rolling second at the Bot API."""
    texts = await company_of_reps(db, api, PUSHES)
    bot = await BotProcess.start(api, database_url, tmp_path)
    try:
        await bot.wait_for_line("Application started")
        command = await start_fieldbot(api, database_url, tmp_path, *reminders_for(past_working_day()))
        assert await command.wait_exit(timeout=60) == 0, command.output
        await wait_all_delivered(api, db, texts, bot)
        assert delivered(api, texts) == Counter(texts)
        assert sum(1 for c in api.calls if c.method == "sendMessage") == PUSHES
        assert rolling_peak(api) <= TELEGRAM_PER_SECOND
        assert f"queued {PUSHES} new pushes; the running bot sends them" in command.output
        assert await bot.stop() == 0
    finally:
        await bot.ensure_gone()


async def test_jobs_run_sends_alone_and_a_bot_started_meanwhile_does_not_send_beside_it(
    api: FakeBotApi, database_url: str, db: Database, tmp_path: Path
) -> None:
    """No bot runs: the command sends, holding the bot's lock until it is done. A bot started while
    it sends stands by (PostgreSQL) or waits for the command's lock (SQLite) instead of sending too,
    and starts once the command is done."""
    texts = await company_of_reps(db, api, PUSHES)
    # Slow answers (within the client's timeout) keep the command sending for 9 s: 60 pushes,
    # 20 at a time, 3 s each.
    api.delay_next("sendMessage", 3.0, times=PUSHES)
    command = await start_fieldbot(api, database_url, tmp_path, *reminders_for(past_working_day()))
    bot: BotProcess | None = None
    try:
        await command.wait_for_line("new pushes queued", timeout=60)  # printed holding the lock
        bot = await BotProcess.start(api, database_url, tmp_path)
        if database_url.startswith("sqlite"):
            await bot.wait_for_line("waiting for `fieldbot jobs run`")
        else:
            await bot.wait_for_line("standing by")
        assert await command.wait_exit(timeout=60) == 0, command.output
        assert f"{PUSHES} new pushes queued" in command.output
        assert f"delivered {PUSHES}, retrying later 0, dropped 0" in command.output
        await bot.wait_for_line("Application started")  # it starts once the command let go
        await api.wait_idle(quiet=1.0, timeout=20)
        assert delivered(api, texts) == Counter(texts)
        assert rolling_peak(api) <= TELEGRAM_PER_SECOND
        assert await bot.stop() == 0
    finally:
        await command.ensure_gone()
        if bot is not None:
            await bot.ensure_gone()


async def test_pushes_a_killed_jobs_run_held_are_sent_by_the_bot_once_its_lease_runs_out(
    api: FakeBotApi, database_url: str, db: Database, tmp_path: Path
) -> None:
    """``kill -9`` of ``fieldbot jobs run`` mid-send leaves its claims. The bot started next sends the
    rest, the claimed rows only after their lease ran out, and nothing twice but what was in flight."""
    api.delay_next("sendMessage", 0.3, times=100_000)  # slow pushes: the kill lands mid-send
    texts = await queue_pushes(db, api, people=8, each=10)
    command = await start_fieldbot(api, database_url, tmp_path, *reminders_for(past_working_day()))
    bot: BotProcess | None = None
    try:
        window = await kill_mid_drain(api, db, command, texts)
        killed_at = datetime.now(UTC)
        async with db.reading() as session:
            held = dict(
                (
                    await session.execute(
                        select(Outbox.text, Outbox.claimed_until).where(
                            Outbox.sent_at.is_(None), Outbox.claimed_until > killed_at
                        )
                    )
                ).all()
            )
        assert held, "the killed command held no claims"
        bot = await BotProcess.start(api, database_url, tmp_path)
        await wait_all_delivered(api, db, texts, bot)
        assert_delivered_once_but_the_window(delivered(api, texts), texts, window)
        for call in api.calls:
            body = str(call.params.get("text"))
            if call.method == "sendMessage" and body in held and call.at > killed_at.timestamp():
                assert call.at >= held[body].timestamp(), f"{body!r} taken before its lease ran out"
        assert not await unsent(db, texts)
        assert await bot.stop() == 0
    finally:
        await command.ensure_gone()
        if bot is not None:
            await bot.ensure_gone()
