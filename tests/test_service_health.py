"""``fieldbot run`` as a service: /healthz, /readyz, /metrics, JSON logs and ``fieldbot status``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.db import Database
from bot.devserver import FakeBotApi
from bot.services import outbox
from models import User
from tests.harness import TOKEN
from tests.test_process import bootstrap_admin, free_port, start_bot, stop_bot


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when it is not there yet)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)$"
    for line in text.splitlines():
        found = re.match(pattern, line)
        if found:
            return float(found.group(1))
    return 0.0


async def wait_until_ready(client: httpx.AsyncClient, base: str) -> dict[str, object]:
    answer = None
    for _ in range(300):
        try:
            answer = await client.get(f"{base}/readyz")
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        if answer.status_code == 200:
            return answer.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready: {answer and (answer.status_code, answer.text)}")


async def cli_status(database_url: str, address: str, cwd: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env |= {"FIELDBOT_DATABASE_URL": database_url, "FIELDBOT_HEALTH_ADDRESS": address}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "status", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_health_metrics_json_logs_and_status(
    api: FakeBotApi, db: Database, database_url: str, tmp_path: Path
) -> None:
    await bootstrap_admin(database_url, tmp_path)
    api.add_user(1001, "Ada")
    address = f"127.0.0.1:{free_port()}"
    base = f"http://{address}"
    code, said = await cli_status(database_url, address, tmp_path)
    assert code == 3 and "no fieldbot process answers" in said and re.search(r"database\s+ok", said)

    settings = {
        "FIELDBOT_HEALTH_ADDRESS": address,
        "FIELDBOT_LOG_FORMAT": "json",
        "FIELDBOT_LOG_LEVEL": "debug",
    }
    process = await start_bot(api, database_url, tmp_path, env=settings)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            ready = await wait_until_ready(client, base)
            assert ready["role"] == "leader" and ready["database"] == "ok" and ready["mode"] == "polling"
            assert (await client.get(f"{base}/healthz")).json() == {"alive": True, "role": "leader"}
            before = (await client.get(f"{base}/metrics")).text
            assert metric(before, "fieldbot_leader") == 1

            mark = api.mark()
            api.message(1001, "/help")
            await api.wait_for(1001, method="sendMessage", after=mark, timeout=30)
            fetched = (await client.get(f"{base}/readyz")).json()["seconds_since_last_update_fetch"]
            assert fetched is not None and fetched < 30  # the getUpdates that brought /help
            async with db.transaction() as session:
                admin = await session.scalar(select(User).where(User.telegram_id == 1001))
                await outbox.enqueue(
                    session,
                    recipient_id=admin.id,  # type: ignore[union-attr]
                    job="health_test",
                    dedup_key="health:1",
                    text="a push",
                    now=datetime.now(UTC),
                )
            await api.wait_for(1001, method="sendMessage", after=api.mark(), timeout=30)
            await asyncio.sleep(0.5)  # the push is marked sent after Telegram answers
            after = (await client.get(f"{base}/metrics")).text

            code, said = await cli_status(database_url, address, tmp_path)
            assert code == 0 and re.search(r"ready\s+True", said) and re.search(r"role\s+leader", said)
    finally:
        output = await stop_bot(process)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("fieldbot_updates_total", kind="message", outcome="ok") == 1
    assert grew("fieldbot_messages_sent_total", traffic="reply") >= 1
    assert grew("fieldbot_messages_sent_total", traffic="push") == 1
    assert grew("fieldbot_pushes_total", outcome="sent") == 1
    assert metric(after, "fieldbot_update_handling_seconds_count") >= 1
    assert metric(after, "fieldbot_outbox_backlog") == 0

    assert TOKEN not in output and TOKEN.partition(":")[2] not in output
    lines = [line for line in output.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    handled = [e for e in entries if e.get("message") == "update handled"]
    assert handled, output
    assert {"update_id", "user_id", "chat_id", "handler", "duration_ms"} <= handled[0].keys()
    assert handled[0]["user_id"] == 1001 and "help" in handled[0]["handler"]


def test_a_json_log_line_never_carries_the_token() -> None:
    import logging

    from bot import logs

    logs.add_secret(TOKEN)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "calling %s", (f"/bot{TOKEN}/getMe",), None)
    line = logs.JsonFormatter().format(record)
    assert TOKEN not in line and json.loads(line)["message"] == "calling /bot<token>/getMe"


def test_bad_log_settings_are_refused_in_one_line() -> None:
    from bot.config import ConfigError, Settings

    for name, value in (
        ("FIELDBOT_LOG_LEVEL", "loud"),
        ("FIELDBOT_LOG_FORMAT", "xml"),
        ("FIELDBOT_HEALTH_ADDRESS", "nowhere"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value}, dotenv=False)
    assert Settings.from_env({"FIELDBOT_HEALTH_ADDRESS": "off"}, dotenv=False).health_address is None
    assert Settings.from_env({"FIELDBOT_WEBHOOK_SECRET": "s3"}, dotenv=False).webhook_secret == "s3"


def test_status_takes_only_a_json_object_for_a_report() -> None:
    """Another service on the health address answering JSON that is not an object is "no fieldbot
    process answers there" to ``fieldbot status``, which would otherwise fail on ``found.get``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bot.health import fetch_report

    class NotOurs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'["up"]' if self.path == "/readyz" else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotOurs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert fetch_report(f"127.0.0.1:{server.server_port}") is None
    finally:
        server.shutdown()
        server.server_close()
