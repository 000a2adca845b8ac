"""/export [period] (an Excel workbook) and /chart [period] (a PNG) of the caller's scope.

With no period, /export is today's and /chart this month's so far.

The update's transaction only checks the caller and reads the period, so a refusal or a
bad period is an ordinary translated reply. The workbook is built after the commit, in a
read-only session (a long export must not hold SQLite's write lock), its CPU work in a
thread, and uploaded with no transaction open.

An export runs in the background, not in the update's turn: the chat stays free for other
commands meanwhile (updates of one chat are handled in order, bot/updates.py). One export at a
time per user: another /export while one runs is answered that it is under way and starts
nothing. Once it has run for :data:`PROGRESS_AFTER` seconds the chat shows "sending a file…"
(repeated while it runs) and a message counting the sheets written, edited at most every
:data:`PROGRESS_EVERY` seconds and deleted when the file has been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
from collections.abc import AsyncIterator

from telegram import Bot, InputFile, Message
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator
from bot.services.money.amounts import format_amount
from bot.services.reporting import charts, exports
from bot.services.reporting.periods import MONTH, Period
from handlers import errors
from handlers.base import Request, action

#: Telegram shows a chat action for 5 seconds: repeat it a little more often while working.
CHAT_ACTION_EVERY = 4.0
#: An export that has run this long shows the chat action and the progress message.
PROGRESS_AFTER = 1.0
#: The progress message is edited at most this often (seconds).
PROGRESS_EVERY = 2.0
UNDER_WAY = N_("Your export is still being prepared: it will arrive here when it is ready.")
PROGRESS = N_("Exporting… {done} of {total} sheets")


@contextlib.asynccontextmanager
async def showing(bot: Bot, chat_id: int, chat_action: str) -> AsyncIterator[None]:
    """Keep "sending a file…" on the user's screen while the body runs."""

    async def repeat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a cosmetic hint: never fail the export for it
                await bot.send_chat_action(chat_id, chat_action)
            await asyncio.sleep(CHAT_ACTION_EVERY)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _period(request: Request) -> Period:
    return exports.requested_period(
        request.me, request.text_after_command, request.context.runtime.clock.today()
    )


class ExportProgress:
    """What the chat shows while an export runs: after :data:`PROGRESS_AFTER` seconds, "sending a
    file…" (repeated) and a message counting the sheets, edited as they are written (rate-limited).

    Everything here is a hint: a failure to show it never stops the export.
    """

    def __init__(self, bot: Bot, chat_id: int, t: Translator) -> None:
        self.bot, self.chat_id, self.t = bot, chat_id, t
        self.done, self.total = 0, len(exports.SHEET_BUILDERS)
        self._message_id: int | None = None
        self._sending: asyncio.Future[Message] | None = None  # the progress message, on its way
        self._shown = ""
        self._edited_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def _text(self) -> str:
        return self.t(PROGRESS, done=self.done, total=self.total)

    async def __aenter__(self) -> ExportProgress:
        self._task = asyncio.create_task(self._show())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _show(self) -> None:
        await asyncio.sleep(PROGRESS_AFTER)
        await self._chat_action()
        text = self._text()
        # its own task: if the export ends meanwhile, remove() still learns which message to delete
        self._sending = asyncio.ensure_future(self.bot.send_message(self.chat_id, text))
        with contextlib.suppress(TelegramError):
            message = await asyncio.shield(self._sending)
            self._message_id, self._shown = message.message_id, text
            self._edited_at = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(CHAT_ACTION_EVERY)
            await self._chat_action()

    async def _chat_action(self) -> None:
        with contextlib.suppress(Exception):  # a cosmetic hint: never fail the export for it
            await self.bot.send_chat_action(self.chat_id, ChatAction.UPLOAD_DOCUMENT)

    async def advance(self, done: int, total: int) -> None:
        """``done`` of ``total`` sheets written: edit the message, unless it was edited just now."""
        self.done, self.total = done, total
        now = asyncio.get_running_loop().time()
        if self._message_id is None or now - self._edited_at < PROGRESS_EVERY:
            return
        text = self._text()
        if text == self._shown:
            return
        self._edited_at, self._shown = now, text
        with contextlib.suppress(TelegramError):
            await self.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self._message_id)

    async def remove(self) -> None:
        """The export is over (sent, or failed): the progress message goes."""
        if self._message_id is None and self._sending is not None:
            with contextlib.suppress(TelegramError):
                self._message_id = (await self._sending).message_id
        if self._message_id is not None:
            with contextlib.suppress(TelegramError):
                await self.bot.delete_message(self.chat_id, self._message_id)
            self._message_id = None


def _export_key(telegram_id: int) -> str:
    return f"export:{telegram_id}"


@action()
async def export(request: Request) -> None:
    period = _period(request)
    runtime, caller, t = request.context.runtime, request.me, request.t
    today = runtime.clock.today()
    key = _export_key(caller.telegram_id)
    if key in runtime.background:
        request.reply(t(UNDER_WAY))
        return

    async def send_workbook() -> None:
        progress = ExportProgress(request.context.bot, caller.telegram_id, t)
        try:
            await build_and_send(progress)
        finally:
            await progress.remove()

    async def build_and_send(progress: ExportProgress) -> None:
        async with progress, runtime.db.reading() as session:
            book = await exports.build_workbook(
                session, caller, period, runtime.clock.zone, today, progress=progress.advance
            )
        # What stands, as the Summary sheet counts it: the Orders and Collections sheets also list
        # voided orders, undone collections and their reversal rows.
        totals = book.totals
        caption = t(
            N_(
                "<b>{period}</b> · {scope}\nVisits: {visits} · orders: {orders} · collections: "
                "{collections} · open receivables: {receivables} · daily reports: {reports}"
            ),
            period=html.unescape(period.title(t)),
            scope=book.scope,
            visits=totals.visits,
            orders=totals.orders,
            collections=totals.collections,
            receivables=totals.open_invoices,
            reports=totals.reports,
        )
        await request.context.bot.send_document(
            caller.telegram_id,
            InputFile(io.BytesIO(book.content), filename=exports.file_name(period)),
            caption=caption,
        )

    async def in_background() -> None:
        try:
            await send_workbook()
        except Exception as error:
            await errors.after_commit_failed(request.update, request.context, "export", error)
        finally:
            del runtime.background[key]

    async def start() -> None:
        """After the commit: leave the update's turn at once, the export running on its own."""
        if key in runtime.background:  # another /export started it between the check and now
            await request.context.bot.send_message(caller.telegram_id, t(UNDER_WAY))
            return
        runtime.background[key] = request.context.application.create_task(
            in_background(), name=f"fieldbot-{key}"
        )

    request.after_commit.append(start)


def _chart_period(request: Request) -> Period:
    """The period to chart: as typed, else this month so far (one day would be one bar)."""
    text = request.text_after_command
    return exports.requested_period(
        request.me, text if text.strip() else MONTH, request.context.runtime.clock.today()
    )


@action()
async def chart(request: Request) -> None:
    period = _chart_period(request)
    runtime, caller, t = request.context.runtime, request.me, request.t
    today = runtime.clock.today()

    async def send_chart() -> None:
        async with (
            showing(request.context.bot, caller.telegram_id, ChatAction.UPLOAD_PHOTO),
            runtime.db.reading() as session,
        ):
            drawn = await charts.build_chart(session, caller, period, runtime.clock.zone, today)
        caption = t(
            N_("{title}\nVisits: {visits} · collected: {collected}"),
            title=drawn.data.title,
            visits=drawn.data.total_visits,
            collected=format_amount(drawn.data.total_collected),
        )
        await request.context.bot.send_photo(
            caller.telegram_id,
            InputFile(io.BytesIO(drawn.png), filename=f"fieldbot-{period.label}.png"),
            caption=caption,
        )

    request.after_commit.append(send_chart)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("export", export, private))
    application.add_handler(CommandHandler("chart", chart, private))
