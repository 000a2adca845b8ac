"""Wiring: build the python-telegram-bot Application from settings, database and clock."""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.warnings import PTBUserWarning

import handlers
from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.inbox import Inbox, InboxQueue, InboxRequest
from bot.persistence import DatabasePersistence
from bot.ratelimit import TelegramRateLimiter
from bot.runtime import RUNTIME_KEY, Context, Runtime
from bot.services import company
from bot.telegram_http import AiohttpRequest
from bot.telegram_menus import sync_all_menus
from bot.updates import PerChatUpdateProcessor
from jobs.schedule import Outage, schedule_jobs
from jobs.wave import log_waves

log = logging.getLogger(__name__)

# Conversations key on the chat, and PerChatUpdateProcessor runs one update per chat at a
# time, which is what this generic warning of ConversationHandler asks for.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)

FieldbotApp = Application[Any, Context, Any, Any, Any, Any]


def build_application(
    settings: Settings,
    db: Database,
    clock: Clock | None = None,
    *,
    rate_limit_retries: int = 3,
    sync_menus: bool = True,
    background_jobs: bool = True,
) -> FieldbotApp:
    """The bot, ready for ``run_polling``/``run_webhook`` or a test's manual start.

    ``background_jobs`` False leaves out the scheduled jobs and the outbox timer,
    for tests that run jobs and deliver pushes themselves, at a time they choose.
    """
    runtime = Runtime(settings=settings, db=db, clock=clock or Clock(settings.timezone))
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        tzinfo=settings.timezone,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )

    async def post_init(application: FieldbotApp) -> None:
        if sync_menus:
            changed = await sync_all_menus(application.bot, db)
            log.info("command menus set for %d users", changed)
        if background_jobs:
            await schedule_jobs(application)
        await _say_how_long_the_waves_take(settings, db)
        await inbox.replay(application.update_queue, application.bot)  # before polling starts

    async def post_shutdown(application: FieldbotApp) -> None:
        if inbox_db is not db:
            await inbox_db.dispose()
        await db.dispose()

    # Updates and conversation state survive a restart (bot/inbox.py, bot/persistence.py). Recording
    # a fetched batch holds up the next getUpdates, so on PostgreSQL it does not queue behind the
    # handlers for a connection (saturated: 200 → 92 ms a batch, 69 → 93 updates/s).
    inbox_db = db.with_own_pool(2)
    inbox = Inbox(inbox_db)
    persistence = DatabasePersistence(inbox)
    application: FieldbotApp = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.api_url)
        .base_file_url(settings.file_url)
        .defaults(defaults)
        .context_types(ContextTypes(context=Context))
        .concurrent_updates(PerChatUpdateProcessor(journal=persistence))
        .persistence(persistence)
        .update_queue(InboxQueue(inbox))
        .request(AiohttpRequest())
        .get_updates_request(updates_request := InboxRequest(inbox))
        # Replies at once, pushes paced under Telegram's 30/s, 429s waited out by all (bot/ratelimit.py).
        .rate_limiter(TelegramRateLimiter(max_retries=rate_limit_retries))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data[RUNTIME_KEY] = runtime

    def token_rejected(error: Exception) -> None:
        application.bot_data[TOKEN_REJECTED_KEY] = error
        application.stop_running()

    updates_request.on_token_rejected = token_rejected
    handlers.register(application)
    persistence.follow(application)
    if background_jobs:
        schedule_outbox(application)
    return application


async def _say_how_long_the_waves_take(settings: Settings, db: Database) -> None:
    """One log line: how long the biggest wave of pushes takes, a warning if one takes longer than
    jobs/wave.py's window (then what to do about it)."""
    try:
        async with db.reading() as session:
            company_settings = await company.load(session)
            await log_waves(
                session, company_settings, paid=settings.paid_broadcast, per_second=settings.pushes_per_second
            )
    except Exception as error:  # an estimate never keeps the bot from starting
        log.warning("could not estimate the morning wave: %s", error)


OUTBOX_INTERVAL_SECONDS = 2.0
#: ``bot_data`` key set when Telegram rejected the token while polling: the bot stopped (see cli.run).
TOKEN_REJECTED_KEY = "fieldbot.token_rejected"


def schedule_outbox(application: FieldbotApp) -> None:
    """Drain the outbox every couple of seconds; one drain at a time.

    A long drain (a morning's thousand pushes at 29/s) spans many ticks: a tick that finds a
    drain running returns at once, rather than being refused by the scheduler with a warning.
    """

    outage = Outage("outbox")  # a database outage is logged once, not every tick
    draining = asyncio.Lock()

    async def send_pushes(context: Context) -> None:
        if draining.locked():
            return
        async with draining:
            await outage.run(context.runtime.outbox.drain(context.bot))

    assert application.job_queue is not None
    application.job_queue.run_repeating(
        send_pushes,
        interval=OUTBOX_INTERVAL_SECONDS,
        first=1.0,
        name="outbox",
        job_kwargs={"coalesce": True, "max_instances": 2, "misfire_grace_time": 60},
    )
