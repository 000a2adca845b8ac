"""``fieldbot run`` as a real process: polling and webhook, clean stop on SIGTERM, no token in logs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from bot.devserver import FakeBotApi
from tests.harness import TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_bot(
    api: FakeBotApi, database_url: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """``fieldbot run`` with ``args``; ``env`` adds FIELDBOT_* settings (health checks are off unless
    it names an address: tests run several bots at once)."""
    settings = env
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env |= {
        "FIELDBOT_TOKEN": TOKEN,
        "FIELDBOT_API_URL": api.base_url,
        "FIELDBOT_DATABASE_URL": database_url,
        "FIELDBOT_TIMEZONE": "Asia/Shanghai",
        "FIELDBOT_HEALTH_ADDRESS": "off",
        **(settings or {}),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop_bot(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def bootstrap_admin(database_url: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env["FIELDBOT_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "admin", "add", "1001", "--name", "Ada", cwd=cwd, env=env
    )
    assert await process.wait() == 0


@pytest.mark.usefixtures("db")
async def test_polling_process_answers_and_stops_cleanly(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    await bootstrap_admin(database_url, tmp_path)
    api.add_user(1001, "Ada")
    process = await start_bot(api, database_url, tmp_path)
    try:
        mark = api.mark()
        api.message(1001, "/help")
        await api.wait_for(1001, method="sendMessage", after=mark, timeout=30)
        assert "you are signed in as admin" in api.last(1001).plain_text()
    finally:
        output = await stop_bot(process)
    assert TOKEN not in output
    assert not api.refused_calls()


@pytest.mark.usefixtures("db")
async def test_webhook_process(api: FakeBotApi, database_url: str, tmp_path: Path) -> None:
    await bootstrap_admin(database_url, tmp_path)
    api.add_user(1001, "Ada")
    port = free_port()
    update = api.message(1001, "/help", queue=False)
    process = await start_bot(
        api,
        database_url,
        tmp_path,
        "--webhook-url",
        "https://bot.example.com/telegram",
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
        "--secret",
        "s3cret",
    )
    try:
        await api.wait_for(method="setWebhook", timeout=30)
        set_call = next(c for c in api.calls if c.method == "setWebhook")
        assert set_call.params["secret_token"] == "s3cret"
        mark = api.mark()
        async with httpx.AsyncClient() as client:
            refused = await client.post(
                f"http://127.0.0.1:{port}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            )
            assert refused.status_code == 403
            accepted = await client.post(
                f"http://127.0.0.1:{port}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
            )
            assert accepted.status_code == 200
        await api.wait_for(1001, method="sendMessage", after=mark, timeout=30)
    finally:
        output = await stop_bot(process)
    assert TOKEN not in output


@pytest.mark.usefixtures("db")
async def test_second_process_on_one_sqlite_file_refuses_to_start(
    api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL runs a standby instead")
    api.add_user(1001, "Ada")
    first = await start_bot(api, database_url, tmp_path)
    try:
        await api.wait_for(method="getUpdates", timeout=30)
        second = await start_bot(api, database_url, tmp_path)
        output, _ = await asyncio.wait_for(second.communicate(), timeout=30)
        assert second.returncode == 1
        assert "another fieldbot is already running" in output.decode()
    finally:
        await stop_bot(first)


async def test_unreachable_database_is_retried_then_reported(api: FakeBotApi, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    process = await start_bot(
        api, f"postgresql+asyncpg://fieldbot@127.0.0.1:{port}/nothing", tmp_path, "--db-wait", "3"
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 1
    assert "database unreachable (attempt 1" in text and "retrying in" in text
    assert "gave up after" in text and "Traceback" not in text
