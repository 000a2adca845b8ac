"""The bot token never reaches the logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

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
