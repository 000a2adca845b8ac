"""The database lost mid-run, and back: a "try again" reply, nothing half-written, no restart needed.

On SQLite the disk fails under the engine (every statement errs with "disk I/O error", as
SQLite does), starting in the middle of an action's transaction. On PostgreSQL the test
runs its own throwaway server and stops it (``pg_ctl stop -m immediate``) mid-transaction.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app import schedule_outbox
from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database, upgrade
from bot.devserver import FakeBotApi
from bot.i18n import Translator
from bot.runtime import Context
from bot.services.outbox import enqueue
from handlers.errors import DATABASE_DOWN
from jobs.catalogue import JOBS
from jobs.schedule import _callback as job_callback
from models import Allocation, AuditLog, Collection, JobRun, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import TOKEN, Harness, Person

TODAY = date(2026, 11, 23)
COLLECT = "/collect acme: 5,000 cash R-1"
DOWN_EN = Translator("en")(DATABASE_DOWN)
DOWN_ZH = Translator("zh")(DATABASE_DOWN)


class DiskFault:
    """The disk under the SQLite file fails: from the trigger on, every statement errs."""

    def __init__(self, db: Database) -> None:
        self.down = False
        self.trigger: str | None = None  # the outage begins when a statement starting so runs
        self._engine = db.engine.sync_engine
        event.listen(self._engine, "do_execute", self._execute)
        event.listen(self._engine, "do_executemany", self._execute)

    def begin_at(self, statement_start: str) -> None:
        self.trigger = statement_start

    def restore(self) -> None:
        self.down, self.trigger = False, None

    def _execute(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        if self.trigger is not None and statement.lstrip().upper().startswith(self.trigger):
            self.down = True
        if self.down:
            raise sqlite3.OperationalError("disk I/O error")
        return False  # let the dialect execute as usual

    def remove(self) -> None:
        event.remove(self._engine, "do_execute", self._execute)
        event.remove(self._engine, "do_executemany", self._execute)


@pytest.fixture
def disk(harness: Harness) -> Iterator[DiskFault]:
    if harness.db.engine.dialect.name != "sqlite":
        pytest.skip("the disk fault is SQLite's; PostgreSQL is stopped for real below")
    fault = DiskFault(harness.db)
    yield fault
    fault.remove()


async def acme(db: Database, now: Any) -> factories.Company:
    people = await factories.company(db, now)
    customer = await factories.customer(db, now, name="Acme Trading", rep=people.rep, code="ACME")
    await factories.receivable(
        db,
        now,
        customer=customer,
        amount="3000.00",
        issued_on=TODAY - timedelta(60),
        due_on=TODAY - timedelta(30),
    )
    await factories.receivable(
        db,
        now,
        customer=customer,
        amount="4000.00",
        issued_on=TODAY - timedelta(10),
        due_on=TODAY + timedelta(20),
    )
    return people


@dataclass
class Written:
    collections: int
    allocated: Decimal
    audits: int


async def written(db: Database) -> Written:
    async with db.reading() as session:
        return Written(
            await session.scalar(select(func.count()).select_from(Collection)) or 0,
            await session.scalar(select(func.coalesce(func.sum(Allocation.amount), 0))) or Decimal(0),
            await session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "collection.record")
            )
            or 0,
        )


def job_context(harness: Harness, name: str) -> Context:
    [job] = harness.app.job_queue.get_jobs_by_name(name)  # type: ignore[union-attr]
    return harness.app.context_types.context.from_job(job, harness.app)


# -- SQLite: the disk fails mid-transaction ------------------------------------------------------


async def test_disk_failure_mid_action_writes_nothing_and_the_next_update_works(
    harness: Harness, disk: DiskFault
) -> None:
    await acme(harness.db, harness.clock.now())
    rep = harness.person(2001, "Li")
    disk.begin_at("INSERT INTO ALLOCATIONS")  # the collection row is already inserted by then
    assert await rep.says(COLLECT) == DOWN_EN
    assert all("Acme" not in m.plain_text() and not m.button_texts() for m in rep.chat)  # no "saved"
    disk.restore()
    assert await written(harness.db) == Written(0, Decimal(0), 0)  # nothing half-written
    said = await rep.says(COLLECT)  # no restart: the same bot, the same engine
    assert "5,000.00 (cash) from Acme Trading" in said
    assert await written(harness.db) == Written(1, Decimal("5000.00"), 1)


async def test_the_try_again_reply_is_in_the_users_language(harness: Harness, disk: DiskFault) -> None:
    await acme(harness.db, harness.clock.now())
    chinese = harness.person(2002, "Bob", language_code="zh-hans")
    disk.begin_at("SELECT USERS")  # fails as the bot looks up who wrote
    assert await chinese.says("/help") == DOWN_ZH


async def test_updates_arriving_during_the_outage_wait_and_are_handled_after(
    harness: Harness, disk: DiskFault
) -> None:
    """The inbox cannot record them, so they stay with Telegram (unconfirmed) until it can."""
    await acme(harness.db, harness.clock.now())
    rep = harness.person(2001, "Li")
    disk.begin_at("")
    update = harness.api.message(2001, COLLECT)
    await asyncio.sleep(1.0)
    assert rep.chat == [] and not harness.api.is_confirmed(update["update_id"])
    disk.restore()
    await harness.settle(update)
    assert "5,000.00 (cash) from Acme Trading" in rep.last.plain_text()
    assert await written(harness.db) == Written(1, Decimal("5000.00"), 1)


async def test_a_button_pressed_as_the_database_fails_is_answered(harness: Harness, disk: DiskFault) -> None:
    await acme(harness.db, harness.clock.now())
    rep = harness.person(2001, "Li")
    await rep.send(COLLECT)
    disk.begin_at("INSERT INTO COLLECTIONS")  # the reversal
    press = harness.api.press(2001, "Undo")
    await harness.settle(press)
    assert rep.last.plain_text() == DOWN_EN
    assert press["callback_query"]["id"] in harness.api.callback_answers  # no endless spinner
    disk.restore()
    assert await written(harness.db) == Written(1, Decimal("5000.00"), 1)  # the undo did not half-happen
    [edited] = await rep.press("Undo", message_id=rep.chat[0].message_id)
    assert "Undone: collection #" in edited.plain_text()
    assert (await written(harness.db)).collections == 2


async def test_outbox_timer_and_jobs_log_once_per_outage_and_recover(
    harness: Harness, disk: DiskFault, caplog: pytest.LogCaptureFixture
) -> None:
    people = await acme(harness.db, harness.clock.now())
    for telegram_id in (2001, 2002, 5001, 6001, 7001):
        harness.api.add_user(telegram_id, f"User {telegram_id}")
    async with harness.db.transaction() as session:
        await enqueue(
            session,
            recipient_id=people.rep.id,
            job="test",
            dedup_key="p",
            text="Hello",
            now=harness.clock.now(),
        )
    schedule_outbox(harness.app)
    assert harness.app.job_queue is not None
    [timer] = harness.app.job_queue.get_jobs_by_name("outbox")
    timer.enabled = False  # the test ticks it by hand
    morning_plan = job_callback(JOBS["morning_plan"])
    harness.app.job_queue.run_once(morning_plan, when=3600, name="morning_plan")
    caplog.set_level(logging.DEBUG, logger="jobs.schedule")

    disk.begin_at("")
    for _ in range(5):  # five ticks of the outbox timer, two runs of the job
        await timer.callback(job_context(harness, "outbox"))
    for _ in range(2):
        await morning_plan(job_context(harness, "morning_plan"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [w for w in warnings if w.startswith("outbox")] == [
        "outbox: database unavailable, will retry quietly: (sqlite3.OperationalError) disk I/O error"
    ]
    assert len([w for w in warnings if w.startswith("job morning_plan")]) == 1
    retries = harness.app.job_queue.get_jobs_by_name("morning_plan:retry")
    assert len(retries) == 2  # each failure asked for a later try (1, then 2 minutes)
    assert harness.api.chat(2001) == []

    disk.restore()
    await timer.callback(job_context(harness, "outbox"))
    assert [m.plain_text() for m in harness.api.chat(2001)][:1] == ["Hello"]
    await retries[0].callback(job_context(harness, "morning_plan"))
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(JobRun)) == 1
    back = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
    assert back == [
        "outbox works again after 5 failed runs",
        "job morning_plan works again after 2 failed runs",
    ]
    for job in harness.app.job_queue.jobs():
        job.schedule_removal()


# -- PostgreSQL: a server of the test's own, stopped mid-transaction -----------------------------


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    return None


class ThrowawayPostgres:
    """initdb into a temporary directory, run on a free loopback port, stop and start at will."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.root = bindir, root
        self.data = root / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql+asyncpg://fieldbot@127.0.0.1:{self.port}/fieldbot"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "fieldbot", "--auth=trust", "-E", "UTF8", "--no-locale"
        )
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "fieldbot", "fieldbot")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
async def own_postgres() -> AsyncIterator[ThrowawayPostgres]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    # Not under pytest's tmp dir: the postgres user must be able to reach it.
    server = ThrowawayPostgres(bindir, Path(tempfile.mkdtemp(prefix="fieldbot-own-pg.")))
    await asyncio.to_thread(server.init)
    try:
        await asyncio.to_thread(upgrade, server.url)
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(server.root, ignore_errors=True)


async def test_postgres_stopped_mid_transaction_and_started_again(
    own_postgres: ThrowawayPostgres, api: FakeBotApi, clock: FixedClock
) -> None:
    db = Database(own_postgres.url)
    settings = Settings(token=TOKEN, database_url=own_postgres.url, api_url=api.base_url, timezone=ZONE)
    stop_now = {"armed": False}

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _stop_server(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if stop_now["armed"] and statement.lstrip().upper().startswith("INSERT INTO ALLOCATIONS"):
            stop_now["armed"] = False
            own_postgres.stop()  # the collection row is inserted, not committed

    try:
        async with Harness(api, db, clock, settings) as harness:
            await acme(db, clock.now())
            rep: Person = harness.person(2001, "Li")
            assert "1,000.00 (cash)" in await rep.says("/collect acme: 1,000 cash R-0")  # warm pool
            before = await written(db)
            stop_now["armed"] = True
            assert await rep.says(COLLECT) == DOWN_EN  # the server died mid-transaction
            waiting = api.message(2001, "/help")  # still down: the inbox cannot take it yet
            await asyncio.sleep(1.0)
            assert rep.last.plain_text() == DOWN_EN and not api.is_confirmed(waiting["update_id"])
            await asyncio.to_thread(own_postgres.start)
            await harness.settle(waiting)  # handled once the server is back, not lost
            assert rep.last.plain_text() != DOWN_EN
            assert await written(db) == before  # nothing of the interrupted action survived
            said = await rep.says(COLLECT)  # the same process: the pool reconnects by itself
            assert "5,000.00 (cash) from Acme Trading" in said
            after = await written(db)
            assert after == Written(
                before.collections + 1, before.allocated + Decimal("5000.00"), before.audits + 1
            )
            async with db.reading() as session:
                assert (await session.scalar(select(User.blocked_at).where(User.telegram_id == 2001))) is None
        refused = [c for c in api.refused_calls() if c.status not in (403, 429)]
        assert not refused
    finally:
        await db.dispose()
