"""/export [period] (an Excel workbook) and /chart [period] (a PNG) of the caller's scope.

With no period, /export is today's and /chart this month's so far.

The update's transaction only checks the caller and reads the period, so a refusal or a
bad period is an ordinary translated reply. The file is built after the commit, in a
read-only session (a long export must not hold SQLite's write lock), its CPU work in a
thread, and uploaded with no transaction open. While it is being built (a year of a big
company's visits takes about a minute) the chat shows "sending a file…".
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
from collections.abc import AsyncIterator

from telegram import Bot, InputFile
from telegram.constants import ChatAction
from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_
from bot.services.money.amounts import format_amount
from bot.services.reporting import charts, exports
from bot.services.reporting.periods import MONTH, Period
from handlers.base import Request, action

#: Telegram shows a chat action for 5 seconds: repeat it a little more often while working.
CHAT_ACTION_EVERY = 4.0


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


@action()
async def export(request: Request) -> None:
    period = _period(request)
    runtime, caller, t = request.context.runtime, request.me, request.t
    today = runtime.clock.today()

    async def send_workbook() -> None:
        async with (
            showing(request.context.bot, caller.telegram_id, ChatAction.UPLOAD_DOCUMENT),
            runtime.db.reading() as session,
        ):
            book = await exports.build_workbook(session, caller, period, runtime.clock.zone, today)
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

    request.after_commit.append(send_workbook)


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
