"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
``FIELDBOT_TEST_DATABASE_URL`` is set), a fixed clock, the fake Bot API, and the
real bot Application talking to it over HTTP."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, text

import models
from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database, upgrade
from bot.devserver import FakeBotApi
from bot.i18n import Translator
from tests.harness import TOKEN, Harness

ZONE = ZoneInfo("Asia/Shanghai")
#: Monday 23 November 2026, 09:00 in the company's zone.
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)
PG_URL = os.environ.get("FIELDBOT_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run: a template SQLite file, or the PostgreSQL test database."""
    if PG_URL:
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        yield PG_URL
        return
    source = Path(migrated_template.removeprefix("sqlite+aiosqlite:///"))
    target = tmp_path / "fieldbot.db"
    shutil.copyfile(source, target)
    yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    # PostgreSQL: one pooled connection. The bot's pool is fixed (bot/db.py: POSTGRESQL_POOL_SIZE),
    # so a transaction that asked for a second connection while holding one could wait forever under
    # load; with one connection any such path times out here instead.
    database = Database(database_url, pool_size=1, pool_timeout=10) if PG_URL else Database(database_url)
    if PG_URL:
        await _reset_postgres(database)
    yield database
    await database.dispose()


async def _reset_postgres(database: Database) -> None:
    """Empty every table but the seeded policy, so each test starts from a fresh install."""
    tables = [t.name for t in models.Base.metadata.sorted_tables if t.name != "grade_policies"]
    async with database.transaction() as session:
        await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        await session.execute(delete(models.GradePolicy))
        for grade, (every, days, limit) in models.DEFAULT_GRADE_POLICY.items():
            session.add(
                models.GradePolicy(grade=grade, visit_every_days=every, credit_days=days, credit_limit=limit)
            )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(ZONE, MONDAY_MORNING)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN) as server:
        yield server


@pytest.fixture
def settings(api: FakeBotApi, database_url: str) -> Settings:
    return Settings(token=TOKEN, database_url=database_url, api_url=api.base_url, timezone=ZONE)


@pytest.fixture
async def harness(
    api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings
) -> AsyncIterator[Harness]:
    """The real bot, long-polling the fake Bot API, with helpers to act as users."""
    async with Harness(api, db, clock, settings) as running:
        yield running
    # 403 "blocked by the user" and 429 "slow down" are Telegram's state, not mistakes of the bot's.
    refused = [call for call in api.refused_calls() if call.status not in (403, 429)]
    assert not refused, f"the fake Bot API refused calls the bot made: {refused}"


@pytest.fixture(autouse=True)
def strict_translations() -> Iterator[None]:
    """Any user-facing string missing from the catalogues fails the test that shows it."""
    Translator.strict = True
    yield
    Translator.strict = False
