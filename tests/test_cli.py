"""The ``fieldbot`` command line, run as an operator would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.cli import main
from bot.db import Database
from models import Role, Team, User

USERS_CSV = (
    "\ufefftelegram_id,name,role,team,username\n"
    "2001,李伟,rep,华东,li_wei\n"
    "2002,Bob Smith,manager,North,@bob_smith\n"
    "2003,Fay,finance,,\n"
)


def fieldbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    return tmp_path


def test_help_lists_the_commands() -> None:
    result = fieldbot("--help")
    assert result.returncode == 0
    for command in ("run", "db", "admin", "import"):
        assert command in result.stdout


def test_run_without_token_says_how_to_get_one(tmp_path: Path) -> None:
    result = fieldbot("run", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FIELDBOT_TOKEN" in lines[0] and "BotFather" in lines[0]


def test_db_upgrade_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    result = fieldbot("db", "upgrade", env={"FIELDBOT_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh.db").exists()


async def count_users(db: Database) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


async def test_admin_add_creates_then_promotes(
    db: Database, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, ["admin", "add", "1001", "--name", "Ada"]) == 0
    assert "added admin Ada" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["admin", "add", "1001", "--name", "Ada L."]) == 0
    assert "promoted admin Ada L." in capsys.readouterr().out
    async with db.reading() as session:
        admin = await session.scalar(select(User).where(User.telegram_id == 1001))
    assert admin is not None and admin.role == Role.ADMIN and admin.name == "Ada L."


async def test_import_users_csv(db: Database, operator_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (operator_env / "people.csv").write_text(USERS_CSV, encoding="utf-8")
    assert await asyncio.to_thread(main, ["import", "users", "people.csv"]) == 0
    assert "3 new" in capsys.readouterr().out
    async with db.reading() as session:
        people = {u.telegram_id: u for u in await session.scalars(select(User))}
        teams = {t.name: t for t in await session.scalars(select(Team))}
    assert people[2001].name == "李伟" and people[2001].role == Role.REP
    assert people[2002].username == "bob_smith"
    assert people[2002].first_seen_at is None and people[2002].active
    assert set(teams) == {"华东", "North"} and teams["North"].manager_id == people[2002].id
    # Importing again updates by Telegram id instead of duplicating.
    (operator_env / "people.csv").write_text(USERS_CSV.replace("Fay", "Fay Wong"), encoding="utf-8")
    assert await asyncio.to_thread(main, ["import", "users", "people.csv"]) == 0
    assert "0 new, 3 updated" in capsys.readouterr().out
    assert await count_users(db) == 3


async def test_import_users_is_all_or_nothing(
    db: Database, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (operator_env / "bad.csv").write_text(
        "telegram_id,name,role,team\n2001,Good,rep,North\nabc,,boss,\n2003,Noteam,rep,\n"
        "2001,Again,rep,North\n",
        encoding="utf-8",
    )
    assert await asyncio.to_thread(main, ["import", "users", "bad.csv"]) == 1
    err = capsys.readouterr().err
    assert "nothing imported" in err
    for expected in (
        "line 3: telegram_id abc",
        "line 3: name must",
        "line 3: role boss",
        "line 4: a rep needs a team",
        "line 5: telegram_id 2001 already appears on line 2",
    ):
        assert expected in err
    assert await count_users(db) == 0
    (operator_env / "latin1.csv").write_bytes("telegram_id,name,role\n1,Müller,finance\n".encode("latin-1"))
    assert await asyncio.to_thread(main, ["import", "users", "latin1.csv"]) == 1
    assert "not UTF-8" in capsys.readouterr().err
    (operator_env / "cols.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    assert await asyncio.to_thread(main, ["import", "users", "cols.csv"]) == 1
    assert "missing columns: telegram_id, role" in capsys.readouterr().err


async def test_import_users_xlsx(db: Database, operator_env: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Telegram_ID", "Name", "Role", "Team", "Username"])
    sheet.append([2001, "王芳", "rep", "华南", None])
    sheet.append([2002.0, "Director Dee", "director", None, "dee_dir"])
    book.save(operator_env / "people.xlsx")
    assert await asyncio.to_thread(main, ["import", "users", "people.xlsx"]) == 0
    assert await count_users(db) == 2
