"""The bot token never reaches the logs."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs
from tests.harness import TOKEN, Harness


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logs.install_redaction(TOKEN)
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # the worst case: URLs logged
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_token_never_logged(log_text: io.StringIO, harness: Harness) -> None:
    admin = await harness.admin()
    await admin.send("/invite rep North")
    harness.api.fail_next("sendMessage", 500, "Internal Server Error")
    await admin.send("/help")
    logging.getLogger("fieldbot.test").info("calling %s", f"{harness.api.base_url}{TOKEN}/getMe")
    text = log_text.getvalue()
    assert "getUpdates" in text or "getMe" in text  # the URLs were logged, redacted
    assert TOKEN not in text
    assert "<token>" in text


def test_default_configuration_silences_httpx() -> None:
    logs.install_redaction(TOKEN)
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


SECRET = TOKEN.partition(":")[2]


def failing_call() -> None:
    raise RuntimeError(f"GET https://api.telegram.org/bot{TOKEN}/getMe failed")


@pytest.fixture
def late_handler() -> Iterator[io.StringIO]:
    """A handler added after the redaction was installed, with a format that shows everything."""
    logs.install_redaction(TOKEN)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s | %(args)s"))
    logger = logging.getLogger("fieldbot.test.secrecy")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield buffer
    logger.removeHandler(handler)


def test_message_arguments_exception_and_stack_are_redacted_for_any_handler(
    late_handler: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("fieldbot.test.secrecy")
    try:
        failing_call()
    except RuntimeError:
        log.exception("calling %s for %s", f"https://api.telegram.org/bot{TOKEN}/getMe", SECRET)
    log.warning("%d pushes", f"bot{TOKEN}")  # a broken call: logging would print msg and args
    log.info("the colon URL-encoded: %s", TOKEN.replace(":", "%3A"))
    text = late_handler.getvalue() + capsys.readouterr().err
    assert SECRET not in text
    assert "calling https://api.telegram.org/bot<token>/getMe for <token>" in text
    assert "RuntimeError: GET https://api.telegram.org/bot<token>/getMe failed" in text
    assert "Traceback (most recent call last)" in text  # the traceback is kept, redacted
    assert "the colon URL-encoded: 4242%3A<token>" in text


def test_records_made_outside_the_factory_are_redacted_by_the_root_handlers(log_text: io.StringIO) -> None:
    record = logging.makeLogRecord(
        {
            "name": "fieldbot.test",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "token %s",
            "args": (TOKEN,),
            "exc_text": f"Traceback ...\nValueError: {TOKEN}",
            "stack_info": f"Stack (most recent call last):\n  call('{TOKEN}')",
        }
    )
    for handler in logging.getLogger().handlers:
        handler.handle(record)
    text = log_text.getvalue()
    assert SECRET not in text
    assert "token <token>" in text and "ValueError: <token>" in text and "call('<token>')" in text


def test_a_rejected_token_is_logged_as_one_line(late_handler: io.StringIO) -> None:
    from telegram.error import Conflict, InvalidToken

    log = logging.getLogger("fieldbot.test.secrecy")
    try:
        try:
            raise InvalidToken("Unauthorized")
        except InvalidToken as answer:
            raise InvalidToken(f"The token `{TOKEN}` was rejected by the server.") from answer
    except InvalidToken:
        log.exception("Network Retry Loop (Bootstrap Initialize Application): Invalid token.")
    lines = late_handler.getvalue().splitlines()
    assert len(lines) == 1 and SECRET not in lines[0]
    assert "Telegram rejected the bot token (Unauthorized): check FIELDBOT_TOKEN" in lines[0]
    assert "[Network Retry Loop (Bootstrap Initialize Application): Invalid token.]" in lines[0]

    conflict = Conflict("terminated by other getUpdates request")
    record = log.makeRecord(log.name, logging.ERROR, __file__, 1, "polling", (), (Conflict, conflict, None))
    assert record.exc_info is not None and record.exc_info[1] is conflict  # left for ExplainConflict


SENTRY_CHECK = """
import json, sys
import sentry_sdk
from bot import logs

logs.add_secret(sys.argv[1])
logs.report_errors_to_sentry("https://public@127.0.0.1:9/1")  # nothing is sent: no event is captured
client = sentry_sdk.get_client()
collection = client.options["data_collection"]
event = client.options["before_send"]({"message": f"GET /bot{sys.argv[1]}/getMe failed"}, {})
print(json.dumps({"active": client.is_active(), "user_info": collection["user_info"],
                  "http_bodies": collection["http_bodies"], "message": event["message"]}))
client.close(timeout=0)
"""


def test_sentry_reporting_starts_with_the_sdk_the_extra_installs() -> None:
    """FIELDBOT_SENTRY_DSN with the [sentry] extra installed: the client starts (sentry-sdk 3 refused
    2's ``send_default_pii`` with a TypeError, so the bot could not start), sends no user data nor
    HTTP bodies, and the token is redacted from events. In a child process: the SDK's integrations
    patch logging and threading for good."""
    pytest.importorskip("sentry_sdk")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", SENTRY_CHECK, TOKEN], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer == {
        "active": True,
        "user_info": False,
        "http_bodies": [],
        "message": "GET /bot<token>/getMe failed",
    }
