"""``fieldbot db backup``, and restoring from what it wrote (as the README describes)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.backup import libpq_url
from bot.cli import main
from bot.db import Database, is_sqlite
from models import User
from tests import factories
from tests.harness import Harness


async def count_users(db: Database) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


async def test_backup_while_the_bot_runs_and_restore(harness: Harness, database_url: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    await admin.send("/invite rep North")  # the bot is live and writing
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "backups" / "fieldbot.backup"
    assert await asyncio.to_thread(main, ["db", "backup", str(target)]) == 0
    assert target.exists() and target.stat().st_size > 0
    expected = await count_users(harness.db)

    if is_sqlite(database_url):
        restored_url = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
        shutil.copyfile(target, tmp_path / "restored.db")  # restore: stop the bot, copy the file back
        restored = Database(restored_url)
        try:
            assert await count_users(restored) == expected
        finally:
            await restored.dispose()
        return

    if shutil.which("pg_restore") is None:
        pytest.skip("pg_restore is not installed")
    name = f"fieldbot_restore_{uuid.uuid4().hex[:8]}"
    admin_db = Database(database_url, isolation_level="AUTOCOMMIT")
    async with admin_db.engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    restored_url = database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        result = await asyncio.to_thread(
            subprocess.run, ["pg_restore", "--no-owner", "--dbname", libpq_url(restored_url), str(target)],
            capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        restored = Database(restored_url)
        try:
            assert await count_users(restored) == expected
        finally:
            await restored.dispose()
    finally:
        async with admin_db.engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await admin_db.dispose()


async def test_backup_refuses_what_it_cannot_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}")
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, ["db", "backup", str(tmp_path / "x.backup")]) == 1
    assert "does not exist" in capsys.readouterr().err
