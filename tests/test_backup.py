"""``fieldbot db backup``, and restoring from what it wrote (as the README describes)."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, text

from bot.backup import libpq_url
from bot.cli import main
from bot.db import Database, is_sqlite
from models import User
from tests import factories
from tests.harness import Harness


def files_in(directory: Path) -> list[str] | None:
    """The names in ``directory``, sorted (None if it does not exist)."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else None


async def count_users(db: Database) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


async def test_backup_while_the_bot_runs_and_restore(
    harness: Harness, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
            subprocess.run,
            ["pg_restore", "--no-owner", "--dbname", libpq_url(restored_url), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
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


async def test_backup_refuses_what_it_cannot_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}")
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(main, ["db", "backup", str(tmp_path / "x.backup")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert files_in(tmp_path) == []  # neither the backup nor a partial file


async def test_backup_refuses_an_existing_file_unless_forced(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not is_sqlite(database_url) and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "backups" / "fieldbot.backup"
    target.parent.mkdir()
    target.write_bytes(b"yesterday's backup")

    assert await asyncio.to_thread(main, ["db", "backup", str(target)]) == 1
    captured = capsys.readouterr()
    assert f"{target} already exists" in captured.err and "--force" in captured.err
    assert "backup written" not in captured.out
    assert target.read_bytes() == b"yesterday's backup"
    assert files_in(target.parent) == ["fieldbot.backup"]  # no partial file either

    assert await asyncio.to_thread(main, ["db", "backup", "--force", str(target)]) == 0
    assert "backup written" in capsys.readouterr().out
    assert target.read_bytes().startswith(b"SQLite format 3" if is_sqlite(database_url) else b"PGDMP")
    assert files_in(target.parent) == ["fieldbot.backup"]


FAKE_PG_DUMP = """#!{python}
import json, os, stat, sys
passfile = os.environ.get("PGPASSFILE")
seen = {{"argv": sys.argv, "pgpassword": os.environ.get("PGPASSWORD"), "passfile": passfile}}
if passfile:
    seen["mode"] = stat.S_IMODE(os.stat(passfile).st_mode)
    seen["directory_mode"] = stat.S_IMODE(os.stat(os.path.dirname(passfile)).st_mode)
    seen["content"] = open(passfile, encoding="utf-8").read()
with open({record!r}, "w", encoding="utf-8") as out:
    json.dump(seen, out)
with open(sys.argv[sys.argv.index("--file") + 1], "wb") as dump:
    dump.write(b"PGDMP fake")
"""


async def test_pg_dump_gets_the_password_from_a_private_file_not_its_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The password is not in pg_dump's argv (``ps`` shows that to every user), nor in PGPASSWORD."""
    record = tmp_path / "seen.json"
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "pg_dump"
    fake.write_text(FAKE_PG_DUMP.format(python=sys.executable, record=str(record)), encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PGPASSWORD", "an-older-password")  # must not take precedence over the URL's
    password = r"s3cret:pa\ss wörd"
    monkeypatch.setenv(
        "FIELDBOT_DATABASE_URL",
        f"postgresql+asyncpg://fieldbot:{quote(password, safe='')}@db.example:5432/fieldbot",
    )
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "fieldbot.backup"

    assert await asyncio.to_thread(main, ["db", "backup", str(target)]) == 0, capsys.readouterr().err
    seen = json.loads(record.read_text(encoding="utf-8"))
    command_line = " ".join(seen["argv"])
    assert "s3cret" not in command_line and quote(password, safe="") not in command_line
    assert seen["argv"][-1] == "postgresql://fieldbot@db.example:5432/fieldbot"
    assert seen["pgpassword"] is None
    assert seen["mode"] == 0o600 and seen["directory_mode"] == 0o700
    assert seen["content"] == "*:*:*:*:s3cret\\:pa\\\\ss wörd\n"  # libpq's .pgpass escaping
    assert files_in(Path(seen["passfile"]).parent) is None  # removed once pg_dump finished
    assert target.read_bytes() == b"PGDMP fake"


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian layout, as .ci/pg looks for them)."""
    found = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "postgres").exists()]
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0, default=None)


@pytest.fixture
def password_server() -> Iterator[tuple[str, str]]:
    """A throwaway PostgreSQL that demands a password (scram-sha-256); yields its URL and the password.

    Skipped where the server binaries are missing, or as root without a ``postgres`` user to run it.
    """
    bindir = postgres_bindir()
    if bindir is None or shutil.which("pg_dump") is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    as_server: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run a server")
        as_server = ["runuser", "-u", "postgres", "--"]
    directory = Path(tempfile.mkdtemp(prefix="fieldbot-pgpw-"))
    password = r"pa:ss\wörd 1"
    (directory / "password").write_text(password + "\n", encoding="utf-8")
    if as_server:
        for path in (directory, directory / "password"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = directory / "data"
    try:
        subprocess.run(
            [
                *as_server,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "fieldbot",
                "--auth=scram-sha-256",
                f"--pwfile={directory / 'password'}",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_server,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(directory / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://fieldbot:{quote(password, safe='')}@127.0.0.1:{port}/postgres", password
    finally:
        subprocess.run(
            [*as_server, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)


async def test_pg_dump_authenticates_through_the_password_file(
    password_server: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Against a server that asks for the password: the backup works, and a wrong one is refused."""
    url, password = password_server
    monkeypatch.setenv("PGPASSWORD", "an-older-password")  # dropped: the URL's password is the one
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "fieldbot.backup"
    assert await asyncio.to_thread(main, ["db", "backup", str(target)]) == 0, capsys.readouterr().err
    assert target.read_bytes().startswith(b"PGDMP")

    monkeypatch.setenv("FIELDBOT_DATABASE_URL", url.replace(quote(password, safe=""), "wrong"))
    assert await asyncio.to_thread(main, ["db", "backup", str(tmp_path / "other.backup")]) == 1
    assert "password authentication failed" in capsys.readouterr().err
