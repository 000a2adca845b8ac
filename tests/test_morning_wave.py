"""The morning wave (issue 24): urgent plans first, paid broadcast, how long the wave takes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from telegram import Bot
from telegram.error import RetryAfter

from bench import wave as wave_bench
from bench.targets import judge
from bot.app import build_application
from bot.cli import main
from bot.clock import FixedClock
from bot.config import ConfigError, Settings
from bot.db import Database, is_sqlite
from bot.devserver import FakeBotApi
from bot.ratelimit import FloodLimits
from jobs import people, wave
from jobs.outbox import CONCURRENCY
from jobs.runner import run_job
from models import Outbox, Role, User
from models.base import Base
from tests import factories
from tests.conftest import ZONE
from tests.harness import TOKEN, Harness

MONDAY = date(2026, 11, 23)
PTB_RETRY_AFTER_WARNING = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


async def plain_reps(db: Database, now: datetime, count: int, first_telegram_id: int) -> list[int]:
    """``count`` reachable reps with nothing urgent (no customers, no money), in one insert."""
    ids = [first_telegram_id + n for n in range(count)]
    async with db.transaction() as session:
        await session.execute(
            insert(User),
            [
                {
                    "telegram_id": telegram_id,
                    "name": f"Rep {telegram_id}",
                    "role": Role.REP,
                    "language": "en",
                    "active": True,
                    "created_at": now,
                    "first_seen_at": now,
                }
                for telegram_id in ids
            ],
        )
    return ids


async def rep(db: Database, now: datetime, telegram_id: int, name: str) -> User:
    async with db.transaction() as session:
        person = factories.user(session, telegram_id, name, Role.REP, None, now)
    return person


def pushed_chats(api: FakeBotApi) -> list[int]:
    """The chats the bot's pushes reached, in the order the fake Bot API took them."""
    return [call.params["chat_id"] for call in api.calls if call.method == "sendMessage" and call.ok]


async def test_urgent_plans_lead_the_wave(harness: Harness) -> None:
    """Reps with money 30+ days overdue (level 3) or an A customer due today get their plan first,
    though they joined last; level 2 money and a B customer due are not urgent."""
    harness.clock.set(local(MONDAY, 8, 30))
    now = harness.clock.now()
    plain = await plain_reps(harness.db, now, 40, 30_000)
    overdue = await rep(harness.db, now, 4001, "Ann Overdue")
    grade_a = await rep(harness.db, now, 4002, "Ada Grade-A")
    level_2 = await rep(harness.db, now, 4003, "Cid Level-2")
    grade_b = await rep(harness.db, now, 4004, "Bea Grade-B")
    for person, days in ((overdue, 40), (level_2, 20)):
        shop = await factories.customer(
            harness.db, now, name=f"{person.name}'s shop", rep=person, last_visit_at=now - timedelta(days=1)
        )
        await factories.receivable(
            harness.db,
            now,
            customer=shop,
            amount="500.00",
            issued_on=MONDAY - timedelta(days=days + 30),
            due_on=MONDAY - timedelta(days=days),
        )
    await factories.customer(harness.db, now, name="Grand Hotel", rep=grade_a, grade="A")
    await factories.customer(harness.db, now, name="Corner Kiosk", rep=grade_b, grade="B")
    for telegram_id in [*plain, 4001, 4002, 4003, 4004]:
        harness.api.add_user(telegram_id, f"User {telegram_id}")

    await run_job(harness.db, "morning_plan", now, ZONE)
    async with harness.db.reading() as session:
        queued = list(
            await session.scalars(
                select(User.telegram_id)
                .join(Outbox, Outbox.recipient_id == User.id)
                .where(Outbox.job == "morning_plan")
                .order_by(Outbox.not_before, Outbox.id)
            )
        )
    assert queued[:2] == [4001, 4002]  # the outbox's own order: urgent first
    assert queued[-2:] == [4003, 4004]

    result = await harness.deliver_pushes()
    assert result.sent == len(queued) == 44
    order = pushed_chats(harness.api)
    assert sorted(order) == sorted(queued)  # each once
    # At most CONCURRENCY pushes are in flight at once, in queue order: the urgent two are among
    # the first sent, the level-2 and grade-B reps (queued last) among the last.
    assert {4001, 4002} <= set(order[:CONCURRENCY]), order
    assert not {4003, 4004} & set(order[:CONCURRENCY]), order


async def test_a_queued_wave_refreshes_the_outbox_statistics(db: Database, database_url: str) -> None:
    """PostgreSQL: after a job queues a wave, ANALYZE outbox, so that the sender's claim query is not
    planned on the stale "no unsent rows" (9.8 s a batch of 200 with 10,000 queued, 14 ms after)."""
    if is_sqlite(database_url):
        pytest.skip("PostgreSQL's planner statistics")
    now = local(MONDAY, 8, 30)
    await plain_reps(db, now, 600, 60_000)
    outcome = await run_job(db, "morning_plan", now, ZONE)
    assert outcome.pushes == 600
    async with db.reading() as session:
        counted = await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'outbox'"))
    assert counted is not None and counted >= 600


@pytest.fixture
async def paid_harness(
    api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[Harness]:
    async with Harness(api, db, clock, dataclasses.replace(settings, paid_broadcast=True)) as running:
        yield running


async def test_paid_broadcast_reaches_the_fake_api_with_pushes_only(paid_harness: Harness) -> None:
    harness = paid_harness
    harness.clock.set(local(MONDAY, 8, 30))
    await factories.company(harness.db, harness.clock.now())
    li = harness.person(2001, "Li")
    harness.api.add_user(2002, "Bob")
    await run_job(harness.db, "morning_plan", harness.clock.now(), ZONE)
    assert (await harness.deliver_pushes()).sent == 2
    pushes = [call for call in harness.api.calls if call.method == "sendMessage"]
    assert len(pushes) == 2
    assert all(call.params.get("allow_paid_broadcast") is True for call in pushes)
    await li.send("/help")
    replies = [call for call in harness.api.calls if call.method == "sendMessage"][2:]
    assert replies and all("allow_paid_broadcast" not in call.params for call in replies)


async def test_pushes_carry_no_paid_broadcast_without_the_setting(harness: Harness) -> None:
    harness.clock.set(local(MONDAY, 8, 30))
    await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    await run_job(harness.db, "morning_plan", harness.clock.now(), ZONE)
    assert (await harness.deliver_pushes()).sent == 2
    pushes = [call for call in harness.api.calls if call.method == "sendMessage"]
    assert len(pushes) == 2 and all("allow_paid_broadcast" not in call.params for call in pushes)


def test_the_setting_is_read_from_the_environment() -> None:
    assert not Settings.from_env({}, dotenv=False).paid_broadcast
    on = Settings.from_env({"FIELDBOT_PAID_BROADCAST": "1"}, dotenv=False)
    assert on.paid_broadcast and on.pushes_per_second == 999
    assert Settings.from_env({"FIELDBOT_PAID_BROADCAST": "0"}, dotenv=False).pushes_per_second == 29
    with pytest.raises(ConfigError, match="FIELDBOT_PAID_BROADCAST"):
        Settings.from_env({"FIELDBOT_PAID_BROADCAST": "maybe"}, dotenv=False)


@PTB_RETRY_AFTER_WARNING
async def test_the_fake_api_enforces_the_free_and_the_paid_limit() -> None:
    """30 a second without allow_paid_broadcast; with it, past them up to the paid limit (1,000,
    here 45 to keep the test short) of every message in the rolling second; 429 beyond."""
    async with FakeBotApi(TOKEN, paid_messages_per_second=45) as tg:
        tg.add_user(42, "Ann")
        async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
            for n in range(30):
                await bot.send_message(42, f"free {n}")
            with pytest.raises(RetryAfter):
                await bot.send_message(42, "one free too many")
            for n in range(15):
                await bot.send_message(42, f"paid {n}", allow_paid_broadcast=True)
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(42, "one paid too many", allow_paid_broadcast=True)
    refused = tg.refused_calls()[-1]
    assert refused.status == 429 and refused.description == "Too Many Requests: retry after 1"
    assert caught.value.retry_after in (1, timedelta(seconds=1))
    assert len(tg.chat(42)) == 45


async def test_the_default_paid_limit_is_telegrams_thousand() -> None:
    async with FakeBotApi(TOKEN) as tg:
        tg.add_user(42, "Ann")
        async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
            sent = await asyncio.gather(
                *(bot.send_message(42, f"paid {n}", allow_paid_broadcast=True) for n in range(200))
            )
    assert len(sent) == 200 and not tg.refused_calls()


def test_paid_pushes_are_paced_at_the_paid_rate_and_replies_keep_theirs() -> None:
    limits = FloodLimits(broadcast_per_second=29, paid_per_second=999)
    for n in range(500):
        assert limits.delay(0.0, message=True, push=True, chat=n, paid=True) == 0
        limits.admit(0.0, message=True, push=True, chat=n, paid=True)
    # Paid pushes do not use up the free 29: an unpaid push could still go now ...
    assert limits.delay(0.0, message=True, push=True, chat=10_000) == 0
    # ... and everything sent counts in the paid window.
    for n in range(499):
        limits.admit(0.0, message=True, chat=20_000 + n)
    assert limits.delay(0.0, message=True, push=True, chat=30_000, paid=True) > 0


async def many_reps(db: Database, now: datetime, count: int) -> None:
    await plain_reps(db, now, count, 50_000_000)


async def test_jobs_list_says_how_long_the_wave_takes(
    db: Database,
    database_url: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    await many_reps(db, datetime(2026, 11, 23, tzinfo=ZONE), 9_000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    monkeypatch.delenv("FIELDBOT_PAID_BROADCAST", raising=False)
    assert await asyncio.to_thread(main, ["jobs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "expected pushes" in out[0] and "take at 29/s" in out[0]
    row = next(line for line in out if line.startswith("morning_plan"))
    assert "9,000 (one per rep)" in row and "5 min 10 s" in row
    assert (
        "the morning wave: ~9,000 pushes at 08:30 take ~6 min at 29/s; the last arrives ~08:36 "
        "(morning_plan); more than 5 min late; set FIELDBOT_PAID_BROADCAST=1"
    ) in out[-1]

    monkeypatch.setenv("FIELDBOT_PAID_BROADCAST", "1")
    assert await asyncio.to_thread(main, ["jobs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "take at 999/s" in out[0]
    assert "9.0 s" in next(line for line in out if line.startswith("morning_plan"))
    assert not any(line.startswith("the morning wave") for line in out)


async def started(settings: Settings, db: Database, clock: FixedClock) -> None:
    """The bot's start-up (menus not synced: 9,000 setMyCommands would only slow the test)."""
    app = build_application(settings, db, clock, sync_menus=False, background_jobs=False)
    await app.initialize()
    try:
        assert app.post_init is not None
        await app.post_init(app)
    finally:
        await app.shutdown()


async def test_start_up_warns_of_a_long_wave(
    api: FakeBotApi,
    db: Database,
    clock: FixedClock,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await many_reps(db, datetime(2026, 11, 23, tzinfo=ZONE), 9_000)
    with caplog.at_level(logging.INFO, logger="jobs.wave"):
        await started(settings, db, clock)
    lines = [record for record in caplog.records if record.name == "jobs.wave"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert (
        lines[0]
        .getMessage()
        .startswith("the morning wave: ~9,000 pushes at 08:30 take ~6 min at 29/s; the last arrives ~08:36")
    )
    assert "set FIELDBOT_PAID_BROADCAST=1" in lines[0].getMessage()

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="jobs.wave"):
        await started(dataclasses.replace(settings, paid_broadcast=True), db, clock)
    lines = [record for record in caplog.records if record.name == "jobs.wave"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert "~9,000 pushes at 08:30 take ~10 s at 999/s; the last arrives ~08:31" in lines[0].getMessage()


@pytest.mark.parametrize("paid", [False, True], ids=["free", "paid"])
async def test_the_wave_bench_delivers_every_plan_once_urgent_first(
    db: Database, database_url: str, paid: bool
) -> None:
    figure = await wave_bench.wave(database_url, 40, paid=paid, migrate=False)
    assert (figure["lost"], figure["doubled"], figure["wrong_text"], figure["left_unsent"]) == (0, 0, 0, 0)
    assert figure["http_429"] == 0 and figure["queued"] == 40 and figure["urgent"] == 4
    assert figure["with_allow_paid_broadcast"] == (40 if paid else 0)
    assert figure["last_urgent_is_delivery"] <= CONCURRENCY  # queued first, so among the first in flight
    assert judge(figure)[2] is True


async def test_the_wave_counts_the_people_the_jobs_push_to(db: Database, clock: FixedClock) -> None:
    # jobs/wave.py counts with a table clause (no ORM: `jobs list` starts fast); it must count
    # exactly whom jobs.people.recipients() would push to.
    now = clock.now()
    async with db.transaction() as session:
        for n, role in enumerate([Role.REP, Role.REP, Role.REP, Role.MANAGER, Role.FINANCE, Role.DIRECTOR]):
            factories.user(session, 7_000 + n, f"P{n}", role, None, now)
        factories.user(session, 7_100, "Never started", Role.REP, None, now, joined=False)
        factories.user(session, 7_101, "Left", Role.REP, None, now).active = False
        factories.user(session, 7_102, "Blocked us", Role.MANAGER, None, now).blocked_at = now
    async with db.reading() as session:
        counted = await wave.reachable_by_role(session)
        listed = await people.recipients(session, *Role)
    assert counted == {role.value: n for role, n in Counter(r.role for r in listed).items()}
    assert counted["rep"] == 3 and counted["manager"] == 1


def test_the_table_clauses_name_real_columns() -> None:
    from bot.services import company_settings

    for clause in (wave._USERS, wave._JOB_RUNS, company_settings._STORED):
        model = Base.metadata.tables[clause.name]
        assert {c.name for c in clause.columns} <= {c.name for c in model.columns}, clause.name
