"""A token Telegram rejects never reaches stdout, stderr or the log: every command that talks to it.

Telegram answers 401 for a wrong token, and 404 for a malformed one or a wrong
``FIELDBOT_API_URL`` path; python-telegram-bot then raises ``InvalidToken`` with
the token in its message ("The token `…` was rejected by the server"), logs it
with a traceback in its network loop, and lets it escape to the traceback
Python prints at exit. Each command runs here as a real process against the
fake Bot API, and must end with one clear line and a non-zero status.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.db import Database
from bot.devserver import FakeBotApi
from tests import factories
from tests.conftest import MONDAY_MORNING
from tests.harness import TOKEN

WRONG_TOKEN = "4242:wrong-Secret-Part-9f3c1d7e"  # the fake API knows only TOKEN: it answers 401


@dataclass(frozen=True)
class Failure:
    token: str
    wrong_path: bool  # FIELDBOT_API_URL points somewhere that is not the Bot API: 404

    def api_url(self, api: FakeBotApi) -> str:
        return api.base_url.replace("/bot", "/telegram/bot") if self.wrong_path else api.base_url

    @property
    def secret(self) -> str:
        return self.token.partition(":")[2]


FAILURES = {
    "401 wrong token": Failure(WRONG_TOKEN, wrong_path=False),
    "404 wrong API URL path": Failure(TOKEN, wrong_path=True),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command_lines() -> dict[str, list[str]]:
    """Every ``fieldbot`` command that calls Telegram (demo and console use a local stand-in)."""
    return {
        "run (polling)": ["run"],
        "run (webhook)": [
            "run",
            "--webhook-url",
            "https://bot.example.com/telegram",
            "--listen",
            "127.0.0.1",
            "--port",
            str(free_port()),
            "--secret",
            "s3cret",
        ],
        "jobs run": ["jobs", "run", "morning_plan", "--at", "2026-11-23T08:30"],
    }


async def fieldbot(
    api: FakeBotApi, failure: Failure, database_url: str, cwd: Path, *args: str
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env |= {
        "FIELDBOT_TOKEN": failure.token,
        "FIELDBOT_API_URL": failure.api_url(api),
        "FIELDBOT_DATABASE_URL": database_url,
        "FIELDBOT_TIMEZONE": "Asia/Shanghai",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("failure_name", list(FAILURES))
@pytest.mark.parametrize("command", list(command_lines()))
async def test_a_rejected_token_is_one_clear_line_and_never_printed(
    api: FakeBotApi, db: Database, database_url: str, tmp_path: Path, failure_name: str, command: str
) -> None:
    failure = FAILURES[failure_name]
    await factories.company(db, MONDAY_MORNING)  # the morning plan has pushes to deliver
    api.add_user(2001, "Li")
    api.add_user(2002, "Bob")

    status, out, err = await fieldbot(api, failure, database_url, tmp_path, *command_lines()[command])

    assert failure.secret not in out and failure.secret not in err, err
    assert status == 2, err
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith("fieldbot: Telegram rejected the bot token ("), err
    assert "FIELDBOT_TOKEN" in last_line and "FIELDBOT_API_URL" in last_line
    assert "InvalidToken" not in err  # neither the logged traceback nor the one at exit
    if failure.wrong_path:
        assert not api.calls  # nothing reached the Bot API: the path is wrong
    else:
        assert "Traceback" not in err  # (on a 404 PTB logs why the page it got is not JSON)
        assert {c.status for c in api.calls} == {401}


async def test_an_uncaught_error_at_exit_is_printed_without_the_token(tmp_path: Path) -> None:
    """Whatever else escapes (here an error quoting the token) is printed with the token redacted."""
    script = (
        "import threading\n"
        "from bot import logs\n"
        f"logs.install_redaction({TOKEN!r})\n"
        f"thread = threading.Thread(target=lambda: int({TOKEN!r}))\n"
        "thread.start(); thread.join()\n"
        f"raise RuntimeError('could not call https://api.telegram.org/bot{TOKEN}/getMe')\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    text = out.decode() + err.decode()
    assert process.returncode == 1
    secret = TOKEN.partition(":")[2]
    assert secret not in text
    assert "RuntimeError: could not call https://api.telegram.org/bot<token>/getMe" in text
    assert "ValueError: invalid literal for int() with base 10: '<token>'" in text  # the thread's


@pytest.mark.usefixtures("db")
async def test_a_token_revoked_while_the_bot_runs_stops_it_with_one_line(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    """Revoked at @BotFather while polling: PTB's polling loop gives up on ``InvalidToken``. The bot
    must not stay up without polling (a service manager would never restart it): it stops, says so
    in one line without the token, and exits 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env |= {
        "FIELDBOT_TOKEN": TOKEN,
        "FIELDBOT_API_URL": api.base_url,
        "FIELDBOT_DATABASE_URL": database_url,
        "FIELDBOT_TIMEZONE": "Asia/Shanghai",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await api.wait_for(method="getUpdates", timeout=60)
        api.token = "revoked:" + TOKEN  # every later call with the old token gets 401
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 2, err.decode()
    assert "Telegram rejected the bot token" in err.decode()
    secret = TOKEN.partition(":")[2]
    assert secret not in out.decode() and secret not in err.decode()
