"""``fieldbot --help`` starts fast because it imports none of the bot's heavy parts (bench/cli.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

HEAVY = ("telegram", "sqlalchemy", "alembic", "matplotlib", "openpyxl", "handlers", "jobs", "models")


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "from bot.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


def test_jobs_list_on_a_database_never_set_up_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    assert main(["jobs", "list"]) == 1
    assert "fieldbot db upgrade" in capsys.readouterr().err


def test_every_job_of_the_catalogue_names_a_coroutine_function() -> None:
    import inspect

    from jobs.catalogue import JOBS

    for spec in JOBS.values():
        assert inspect.iscoroutinefunction(spec.function()), spec.name


def test_jobs_list_imports_no_job_and_no_migration_tool(tmp_path: Path) -> None:
    # jobs.wave (the wave estimate) is no job: light, and read. The ORM models are not imported either
    # (importing them and configuring their mappers was a fifth of the command's start).
    url = f"sqlite+aiosqlite:///{tmp_path}/fieldbot.db"
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "FIELDBOT_DATABASE_URL": url},
        cwd=tmp_path,
    )
    probe = (
        "import sys, contextlib, io\n"
        "from bot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['jobs', 'list']) == 0\n"
        "assert 'morning_plan' in out.getvalue()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'matplotlib', 'openpyxl', "
        "'telegram', 'handlers', 'models', 'prometheus_client'} | {m for m in sys.modules if "
        "m.startswith('jobs.') or m == 'sqlalchemy.dialects.postgresql'} "
        "- {'jobs.catalogue', 'jobs.wave'}))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "FIELDBOT_DATABASE_URL": url},
        cwd=tmp_path,
    )
    assert found.stdout.strip() == "[]", found.stdout + found.stderr
