"""The bot's aiohttp transport for python-telegram-bot, against the strict fake Bot API.

The whole suite runs the bot over it (bot/app.py); here the transport's own contract: form and
multipart bodies as Telegram reads them, Telegram's errors as PTB's, and a request that gets no
answer as TimedOut or NetworkError, as PTB's httpx transport does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.devserver import FakeBotApi
from bot.ratelimit import retry_after_seconds
from bot.telegram_http import AiohttpRequest

TOKEN = "4242:test-token-for-the-fake-server"
ANN = 42


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN) as server:
        server.add_user(ANN, "Ann", username="ann")
        yield server


@pytest.fixture
async def bot(tg: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=AiohttpRequest(8),
        get_updates_request=AiohttpRequest(1),
    ) as client:
        yield client


async def test_messages_buttons_and_updates_go_through(bot: Bot, tg: FakeBotApi) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Undo · 撤销", callback_data="undo:1")]])
    sent = await bot.send_message(ANN, "<b>Saved</b> &amp; 已保存 😀", parse_mode="HTML", reply_markup=markup)
    assert sent.text == "Saved & 已保存 😀"
    assert tg.last(ANN).plain_text() == "Saved & 已保存 😀"
    assert tg.last(ANN).button_texts() == ["Undo · 撤销"]
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    injected = tg.message(ANN, "/visit 上海: ok")
    [update] = await polling
    assert update.update_id == injected["update_id"] and update.message.text == "/visit 上海: ok"


async def test_a_file_is_uploaded_as_multipart(bot: Bot, tg: FakeBotApi) -> None:
    content = bytes(range(256)) * 40  # binary, not text
    message = await bot.send_document(
        ANN, content, filename="月报 May.xlsx", caption="<i>May</i>", parse_mode="HTML"
    )
    assert message.document.file_name == "月报 May.xlsx" and message.caption == "May"
    sent = tg.last(ANN)
    assert (sent.kind, sent.file_name, sent.file_bytes) == ("document", "月报 May.xlsx", content)


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")  # PTB's RetryAfter.retry_after
async def test_telegram_errors_become_ptb_errors(bot: Bot, tg: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ANN, "<b>open", parse_mode="HTML")
    tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden):
        await bot.send_message(ANN, "hello")
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(ANN, "hello")
    assert retry_after_seconds(error.value) == 3


async def test_no_answer_in_time_is_timed_out(bot: Bot, tg: FakeBotApi) -> None:
    tg.delay_next("sendMessage", 2.0)
    with pytest.raises(TimedOut):
        await bot.send_message(ANN, "slow", read_timeout=0.3)


async def test_nobody_listening_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as error:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
        assert not isinstance(error.value, TimedOut)
    finally:
        await request.shutdown()


async def test_a_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest(1).do_request("http://127.0.0.1:1/", "POST")


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen: list[bytes] | None) -> None:
    while data := await source.read(65536):
        if seen is not None:
            seen.extend(line for line in data.split(b"\r\n") if line.startswith(b"POST "))
        sink.write(data)
        await sink.drain()
    sink.close()


@pytest.fixture
async def proxy(tg: FakeBotApi) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A forwarding HTTP proxy on loopback that records the request lines it carries to the fake API."""
    seen: list[bytes] = []
    host, port = tg.base_url.split("//")[1].split("/")[0].split(":")

    async def carry(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(
            _pipe(client_reader, upstream_writer, seen),
            _pipe(upstream_reader, client_writer, None),
            return_exceptions=True,
        )

    server = await asyncio.start_server(carry, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen


@pytest.mark.parametrize("bypassed", [False, True], ids=["through the proxy", "NO_PROXY"])
async def test_the_environments_proxy_is_honoured(
    tg: FakeBotApi, proxy: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch, bypassed: bool
) -> None:
    address, seen = proxy
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", address)
    if bypassed:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with Bot(
        TOKEN, base_url=tg.base_url, request=AiohttpRequest(2), get_updates_request=AiohttpRequest(1)
    ) as client:
        await client.send_message(ANN, "via the proxy?")
        await client.send_message(ANN, "and again")
    assert [message.plain_text() for message in tg.chat(ANN)] == ["via the proxy?", "and again"]
    if bypassed:
        assert seen == []
    else:  # the absolute-form request line a proxy receives
        methods = [line.split()[1].rsplit(b"/", 1)[1] for line in seen]
        assert methods == [b"getMe", b"sendMessage", b"sendMessage"]
        assert all(line.split()[1].startswith(b"http://127.0.0.1:") for line in seen)
