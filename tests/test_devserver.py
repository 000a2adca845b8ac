"""The fake Bot API server, driven by the real python-telegram-bot client over HTTP."""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
)

from bot.devserver import EntityParseError, FakeBotApi, parse_html

TOKEN = "4242:test-token-for-the-fake-server"
ANN = 42
# PTB 22 warns about RetryAfter.retry_after becoming a timedelta whenever it builds one.
PTB_RETRY_AFTER_WARNING = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN) as server:
        server.add_user(ANN, "Ann", username="ann")
        yield server


@pytest.fixture
async def bot(tg: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


async def raw_call(tg: FakeBotApi, method: str, token: str = TOKEN, **kwargs: Any) -> Any:
    """POST/GET without PTB; returns (status, body)."""
    verb = kwargs.pop("verb", "POST")
    async with aiohttp.ClientSession() as session:
        url = f"{tg.base_url}{token}/{method}"
        async with session.request(verb, url, **kwargs) as response:
            return response.status, await response.json()


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=label.lower()) for label in labels]]
    )


# -- HTML parser ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("Tom & Jerry", "Unsupported HTML entity at byte offset 4"),
        ("&nbsp;", "Unsupported HTML entity at byte offset 0"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<a>x</a>", 'Tag "a" must have an "href" attribute'),
    ],
)
def test_html_errors_use_telegram_wording(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError, match=reason.replace("(", r"\(")):
        parse_html(source)


def test_html_entities_and_offsets_in_utf16() -> None:
    parsed = parse_html(
        "😀 <b>bold <i>both</i></b> &lt;&#65;&#x42;&quot;&amp;&gt; "
        '<a href="https://e.com/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>q</blockquote>"
    )
    assert parsed.text == '😀 bold both <AB"&> link x = 1q'
    assert {"type": "bold", "offset": 3, "length": 9} in parsed.entities
    assert {"type": "italic", "offset": 8, "length": 4} in parsed.entities
    assert {"type": "text_link", "offset": 20, "length": 4, "url": "https://e.com/?a=1&b=2"} in (
        parsed.entities
    )
    assert {"type": "pre", "offset": 25, "length": 5, "language": "python"} in parsed.entities
    assert parsed.entities[-1]["type"] == "expandable_blockquote"


# -- basics and updates --------------------------------------------------------------------------
async def test_get_me(bot: Bot, tg: FakeBotApi) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (777000111, "fieldbot_test_bot", True)
    assert tg.calls[0].method == "getMe" and tg.calls[0].ok


async def test_long_poll_returns_injected_update_and_offset_confirms(bot: Bot, tg: FakeBotApi) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    injected = tg.message(ANN, "/start@fieldbot_test_bot now")
    updates = await poll
    assert time.monotonic() - started < 1
    assert [u.update_id for u in updates] == [injected["update_id"]]
    message = updates[0].message
    assert message is not None and message.text == "/start@fieldbot_test_bot now"
    assert message.parse_entities(["bot_command"]) == {message.entities[0]: "/start@fieldbot_test_bot"}
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [injected["update_id"]]  # not confirmed yet
    assert await bot.get_updates(offset=injected["update_id"] + 1, timeout=0) == ()
    assert tg.updates == []


async def test_injected_media_messages_are_valid_updates(bot: Bot, tg: FakeBotApi) -> None:
    tg.message(ANN, document=("visits.csv", b"a,b\n1,2\n", "text/csv"), caption="week 12")
    tg.message(ANN, photo=PNG)
    tg.message(ANN, location=(41.3, 69.2))
    tg.message(ANN, "hi team", chat_id=-100500, chat_type="supergroup", chat_title="Sales")
    doc_update, photo_update, location_update, group_update = await bot.get_updates()
    document = doc_update.message.document
    assert (document.file_name, document.mime_type, doc_update.message.caption) == (
        "visits.csv",
        "text/csv",
        "week 12",
    )
    assert bytes(await (await document.get_file()).download_as_bytearray()) == b"a,b\n1,2\n"
    sizes = photo_update.message.photo
    assert len(sizes) > 1 and len({size.file_id for size in sizes}) == len(sizes)
    assert bytes(await (await sizes[-1].get_file()).download_as_bytearray()) == PNG
    assert location_update.message.location.latitude == pytest.approx(41.3)
    assert group_update.message.chat.title == "Sales"
    await bot.send_message(-100500, "hi team")  # the group chat now exists


async def test_webhook_blocks_polling_and_allowed_updates_filter(bot: Bot, tg: FakeBotApi) -> None:
    await bot.set_webhook("https://bot.example.com/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    await bot.send_message(ANN, "question", reply_markup=keyboard("Yes"))
    tg.message(ANN, "text")
    tg.press(ANN, "Yes")
    (only,) = await bot.get_updates(allowed_updates=["callback_query"])
    assert only.callback_query is not None and tg.undelivered() == 0


# -- sending and validation ----------------------------------------------------------------------
async def test_send_message_is_recorded_with_buttons(bot: Bot, tg: FakeBotApi) -> None:
    sent = await bot.send_message(
        ANN, "<b>Visit</b> saved", parse_mode="HTML", reply_markup=keyboard("Edit", "Delete")
    )
    assert sent.text == "Visit saved" and sent.entities[0].type == "bold"
    last = tg.last(ANN)
    assert last.message_id == sent.message_id
    assert last.text == "<b>Visit</b> saved" and last.plain_text() == "Visit saved"
    assert last.button_texts() == ["Edit", "Delete"]
    assert last.buttons()[0][1]["callback_data"] == "delete"
    call = await tg.wait_for(ANN, method="sendMessage")
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Edit"
    assert tg.refused_calls() == []


@pytest.mark.parametrize("text", ["a < b", "<b>x", "<script>alert(1)</script>", "Tom & Jerry"])
async def test_bad_html_is_refused(bot: Bot, tg: FakeBotApi, text: str) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ANN, text, parse_mode="HTML")
    assert tg.chat(ANN) == []
    assert tg.refused_calls()[-1].description.startswith("Bad Request: can't parse entities: ")


async def test_escaped_html_is_fine_and_plain_text_is_decoded(bot: Bot, tg: FakeBotApi) -> None:
    raw = 'Tom & Jerry <3 "quotes"'
    await bot.send_message(ANN, f"<i>{html.escape(raw)}</i>", parse_mode="HTML")
    assert tg.last(ANN).plain_text() == raw
    await bot.send_message(ANN, "a < b & c")  # no parse_mode: taken literally
    assert tg.last(ANN).plain_text() == "a < b & c"


async def test_length_is_counted_after_entity_parsing(bot: Bot, tg: FakeBotApi) -> None:
    await bot.send_message(ANN, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(ANN, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(ANN, "a" * 4097)
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(ANN, "😀" * 2049)  # 4098 UTF-16 code units
    with pytest.raises(BadRequest, match="text is empty"):
        await bot.send_message(ANN, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_document(ANN, b"x", filename="x.txt", caption="c" * 1025)
    assert len(tg.chat(ANN)) == 2


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, tg: FakeBotApi) -> None:
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot.send_message(ANN, "fits", reply_markup=ok)
    for data in ("x" * 65, "é" * 33):  # 65 and 66 bytes
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data=data)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(ANN, "too big", reply_markup=markup)


async def test_reply_markup_shape_checks(bot: Bot, tg: FakeBotApi) -> None:
    bad_url = InlineKeyboardMarkup([[InlineKeyboardButton("site", url="javascript:alert(1)")]])
    with pytest.raises(BadRequest, match="Button_url_invalid"):
        await bot.send_message(ANN, "x", reply_markup=bad_url)
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(ANN, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("plain")]]))
    with pytest.raises(BadRequest, match=r"(?i)too many buttons"):
        await bot.send_message(ANN, "x", reply_markup=keyboard(*[f"b{i}" for i in range(9)]))
    location = ReplyKeyboardMarkup([[KeyboardButton("Share location", request_location=True)]])
    await bot.send_message(ANN, "Where are you?", reply_markup=location)


async def test_unknown_parameters_methods_and_tokens(bot: Bot, tg: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match="Unknown parameter colour"):
        await bot.send_message(ANN, "hi", api_kwargs={"colour": "red"})
    status, body = await raw_call(tg, "sendMessage", json={"chat_id": ANN})
    assert (status, body["description"]) == (400, "Bad Request: text is required")
    status, body = await raw_call(tg, "sendMesage", json={"chat_id": ANN, "text": "hi"})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await raw_call(tg, "getMe", token="1:wrong")
    assert (status, body["description"]) == (401, "Unauthorized")
    assert [c.status for c in tg.refused_calls()] == [400, 400, 404, 401]


async def test_what_ptb_defaults_add_is_tolerated(tg: FakeBotApi) -> None:
    defaults = Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(True))
    async with ExtBot(
        TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url, defaults=defaults
    ) as ext_bot:
        sent = await ext_bot.send_message(ANN, "<b>Hi</b>", reply_markup=keyboard("OK"))
        await ext_bot.edit_message_reply_markup(ANN, sent.message_id)  # PTB adds parse_mode
        await ext_bot.send_location(ANN, 41.31, 69.28)  # ... here too
        await ext_bot.send_media_group(
            ANN, [InputMediaDocument(b"1", filename="a.txt"), InputMediaDocument(b"2")]
        )
    assert tg.refused_calls() == []
    assert [m.kind for m in tg.chat(ANN)] == ["text", "location", "document", "document"]
    assert tg.chat(ANN)[0].buttons() == [] and tg.chat(ANN)[2].file_bytes == b"1"


async def test_parameter_encodings_are_decoded_by_spec_type(tg: FakeBotApi) -> None:
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    status, body = await raw_call(
        tg,
        "sendMessage",
        verb="GET",
        params={"chat_id": "42", "text": "[1]", "reply_markup": markup},
    )
    assert status == 200 and body["result"]["text"] == "[1]"
    status, _ = await raw_call(
        tg, "sendMessage", data={"chat_id": "@ann", "text": "form", "disable_notification": "true"}
    )
    assert status == 200
    assert tg.calls[-1].params == {"chat_id": "@ann", "text": "form", "disable_notification": True}
    status, body = await raw_call(tg, "sendMessage", json={"chat_id": "x1", "text": "?"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    assert [m.text for m in tg.chat(ANN)] == ["[1]", "form"]


async def test_edit_with_identical_content_is_not_modified(bot: Bot, tg: FakeBotApi) -> None:
    sent = await bot.send_message(ANN, "<b>Day</b> report", parse_mode="HTML", reply_markup=keyboard("OK"))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>Day</b> report",
            ANN,
            sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("OK"),
        )
    edited = await bot.edit_message_text("Day report", ANN, sent.message_id)  # drops markup
    assert edited.text == "Day report" and edited.reply_markup is None
    state = tg.last(ANN)
    assert (state.edits, state.buttons(), state.history) == (1, [], ["<b>Day</b> report"])
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", ANN, 999)
    await bot.delete_message(ANN, sent.message_id)
    assert tg.chat(ANN)[0].deleted
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(ANN, sent.message_id)


async def test_unknown_chat_and_blocked_user(bot: Bot, tg: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "hi")
    tg.block(ANN)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANN, "hi")
    tg.unblock(ANN)
    await bot.send_message(ANN, "welcome back")


@PTB_RETRY_AFTER_WARNING
async def test_flood_control_answers_retry_after(bot: Bot, tg: FakeBotApi) -> None:
    for i in range(30):
        await bot.send_message(ANN, f"message {i}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANN, "one too many")
    assert "Retry in 1 seconds" in str(caught.value)
    assert tg.refused_calls()[-1].status == 429
    assert len(tg.chat(ANN)) == 30


async def test_commands_are_stored_per_scope_and_resolved(bot: Bot, tg: FakeBotApi) -> None:
    tg.add_user(43, "Bob")
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    rep = [BotCommand("visit", "Log a visit"), BotCommand("report", "Daily report")]
    await bot.set_my_commands(rep, scope=BotCommandScopeChat(ANN))
    await bot.set_my_commands([BotCommand("otchet", "Отчёт")], language_code="ru")
    assert set(tg.commands) == {"default", f"chat:{ANN}", "default/ru"}
    assert tg.commands_for_chat(ANN) == ["visit", "report"]
    assert tg.commands_for_chat(43) == ["start", "help"]
    assert tg.commands_for_chat(43, "ru") == ["otchet"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(ANN))] == [
        "visit",
        "report",
    ]
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.set_my_commands(rep, scope=BotCommandScopeChat(999))
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Visit", "Upper case")])
    await bot.delete_my_commands(scope=BotCommandScopeChat(ANN))
    assert tg.commands_for_chat(ANN) == ["start", "help"]


async def test_send_document_round_trip(bot: Bot, tg: FakeBotApi) -> None:
    content = b"date,client,amount\n2024-05-01,Acme,120.50\n"
    message = await bot.send_document(
        ANN, content, filename="report.csv", caption="<b>May</b>", parse_mode="HTML"
    )
    assert message.document.file_name == "report.csv" and message.caption == "May"
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content
    sent = tg.last(ANN)
    assert (sent.kind, sent.file_name, sent.file_bytes) == ("document", "report.csv", content)
    call = await tg.wait_for(ANN, method="sendDocument")
    assert call.params["document"] == {"file_name": "report.csv", "size": len(content)}
    again = await bot.send_document(ANN, message.document.file_id)  # re-send by file_id
    assert again.document.file_id == message.document.file_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(ANN, "no-such-file-id")


async def test_send_photo_needs_an_image(bot: Bot, tg: FakeBotApi) -> None:
    message = await bot.send_photo(ANN, PNG, caption="chart")
    assert message.photo and tg.last(ANN).kind == "photo"
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(ANN, b"not an image")


async def test_press_injects_the_button_callback(bot: Bot, tg: FakeBotApi) -> None:
    await bot.send_message(ANN, "old", reply_markup=keyboard("Approve"))
    newest = await bot.send_message(ANN, "Approve visit?", reply_markup=keyboard("Approve", "Reject"))
    update = tg.press(ANN, "Approve")
    assert update["callback_query"]["message"]["message_id"] == newest.message_id
    assert tg.press(ANN, "Rej", queue=False)["callback_query"]["data"] == "reject"
    with pytest.raises(KeyError):
        tg.press(ANN, "Cancel")
    (received,) = await bot.get_updates()
    query = received.callback_query
    assert (query.data, query.message.text) == ("approve", "Approve visit?")
    assert await bot.answer_callback_query(query.id, text="Approved")
    assert tg.callback_answers[query.id]["text"] == "Approved"
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)


@PTB_RETRY_AFTER_WARNING
async def test_fail_next_is_injected_not_refused(bot: Bot, tg: FakeBotApi) -> None:
    tg.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(NetworkError):
        await bot.send_message(ANN, "first")
    await bot.send_message(ANN, "second")
    assert [(c.status, c.injected) for c in tg.calls[-2:]] == [(500, True), (200, False)]
    assert tg.refused_calls() == []
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter):
        await bot.send_message(ANN, "third")


async def test_delay_next_makes_the_client_time_out(bot: Bot, tg: FakeBotApi) -> None:
    tg.delay_next("sendMessage", 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(ANN, "slow", read_timeout=0.1)
    await bot.send_message(ANN, "fast")
    await asyncio.sleep(0.05)
    statuses = sorted(c.status for c in tg.calls if c.method == "sendMessage")
    assert statuses == [200, 499]  # 499: the client gave up before the answer
    assert tg.refused_calls() == []


async def test_wait_for_uses_a_cursor(bot: Bot, tg: FakeBotApi) -> None:
    await bot.send_message(ANN, "before")
    cursor = tg.mark()
    later = asyncio.create_task(tg.wait_for(ANN, method="sendMessage", after=cursor))
    await asyncio.sleep(0.05)
    assert not later.done()
    await bot.send_message(ANN, "after")
    assert (await later).params["text"] == "after"
    with pytest.raises(TimeoutError):
        await tg.wait_for(ANN, method="sendPhoto", timeout=0.05)


# -- a real Application ------------------------------------------------------------------------
async def test_application_polls_the_fake_server(tg: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_html("Hello, <b>Ann</b>!", reply_markup=keyboard("Check in"))

    async def check_in(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("Checked in ✅")

    app = ApplicationBuilder().token(TOKEN).base_url(tg.base_url).base_file_url(tg.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(check_in))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=10)
        tg.message(ANN, "/start")
        await tg.wait_for(ANN, method="sendMessage")
        assert tg.last(ANN).plain_text() == "Hello, Ann!"
        tg.press(ANN, "Check in")
        await tg.wait_for(ANN, method="editMessageText")
        await tg.wait_idle()
        await app.updater.stop()
        await app.stop()
    assert tg.last(ANN).plain_text() == "Checked in ✅" and tg.last(ANN).buttons() == []
    assert tg.refused_calls() == []
