"""When something fails: log once with context (never the token), and tell the user the truth.

Two moments matter, because the message must never claim what did not happen:

- *before the commit* (:func:`on_error`, python-telegram-bot's error handler, sees what a
  handler raised): the transaction was rolled back, so "nothing was saved" is true. A
  database that does not answer gets its own "try again in a minute".
- *after the commit* (:func:`reply_not_delivered`, :func:`after_commit_failed`, called by
  ``@action``): the action is saved; a reply Telegram would not take is logged, not resent
  later (see docs/RELIABILITY.md), and a user who blocked the bot is marked as such.
"""

from __future__ import annotations

import logging

from sqlalchemy import update as sql_update
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import metrics
from bot.db import database_unavailable
from bot.i18n import N_, Translator, language_for
from bot.runtime import Context
from models import User

log = logging.getLogger("fieldbot.errors")

SORRY = N_("Sorry, something went wrong and nothing was saved. Please try again.")
DATABASE_DOWN = N_("The database is not answering, so I could not finish this. Please try again in a minute.")
TELEGRAM_DOWN = N_("Telegram did not answer in time, so nothing was saved. Please try again.")
AFTER_COMMIT = N_(
    "Your request went through, but something went wrong while finishing it, so part of "
    "the answer may be missing."
)


def transient(error: BaseException) -> bool:
    """A Telegram failure worth another try: 5xx, timeouts, dropped connections."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def where(update: object, method: str | None = None) -> str:
    """`` (update 12, chat 34, user 34, sendMessage)``: enough to find it, no secrets."""
    if not isinstance(update, Update):
        return f" ({method})" if method else ""
    parts = [f"update {update.update_id}"]
    if update.effective_chat is not None:
        parts.append(f"chat {update.effective_chat.id}")
    if update.effective_user is not None:
        parts.append(f"user {update.effective_user.id}")
    if method:
        parts.append(method)
    return f" ({', '.join(parts)})"


def database_error(error: BaseException) -> bool:
    """An error of the database itself (unreachable, refused a statement), not of the bot's code."""
    return database_unavailable(error) or isinstance(error, SQLAlchemyError)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


async def on_error(update: object, context: Context) -> None:
    """A handler raised: its transaction was rolled back. Log once, tell the user what to do."""
    error = context.error
    metrics.mark_failed()
    if error is not None and database_error(error):
        metrics.DATABASE_ERRORS.inc()
    if isinstance(error, Forbidden):
        log.info("user unreachable%s: %s", where(update), error)
        await mark_blocked(update, context)
        return
    if database_unavailable(error):
        assert error is not None
        log.warning("database unavailable%s: %s", where(update), one_line(error))
        await tell(update, context, DATABASE_DOWN)
        return
    if isinstance(error, RetryAfter) or (error is not None and transient(error)):
        log.warning("Telegram unreachable%s: %s", where(update), error)
        await tell(update, context, TELEGRAM_DOWN)
        return
    log.error("update failed%s", where(update), exc_info=error)
    await tell(update, context, SORRY)


async def reply_not_delivered(
    update: Update, context: Context, method: str, error: TelegramError, unsent: int = 0
) -> None:
    """A reply to a saved action could not be sent: log it once, never resend it later."""
    more = f"; {unsent} more repl{'y' if unsent == 1 else 'ies'} not sent" if unsent else ""
    if isinstance(error, Forbidden):
        log.info("user unreachable%s: %s%s", where(update, method), error, more)
        await mark_blocked(update, context)
    elif isinstance(error, BadRequest):  # the bot's own mistake: worth a traceback
        log.error("Telegram refused a reply%s%s", where(update, method), more, exc_info=error)
    else:
        log.warning("reply not delivered%s: %s%s", where(update, method), one_line(error), more)


async def after_commit_failed(update: Update, context: Context, step: str, error: Exception) -> None:
    """Work after a saved action failed: log it, and say that the saved part is kept."""
    if isinstance(error, TelegramError):
        await reply_not_delivered(update, context, step, error)
        return
    if database_unavailable(error):
        log.warning("database unavailable after commit%s: %s", where(update, step), one_line(error))
    else:
        log.error("after-commit step failed%s", where(update, step), exc_info=error)
    await tell(update, context, AFTER_COMMIT)


async def tell(update: object, context: Context, message: str) -> None:
    """One attempt to tell the user in their private chat (answering a pressed button too)."""
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    query = update.callback_query
    try:
        if query is not None:
            await query.answer()
    except TelegramError as error:
        log.debug("could not answer the button%s: %s", where(update), error)
    if update.effective_chat.type != "private":
        return
    user = update.effective_user
    language = language_for(user.language_code if user else None)
    try:
        await context.bot.send_message(update.effective_chat.id, Translator(language)(message))
    except TelegramError as send_error:
        log.warning("could not tell the user about the failure%s: %s", where(update), send_error)


async def mark_blocked(update: object, context: Context) -> None:
    """The user blocked the bot: remember it as the outbox does (their pushes are then dropped)."""
    if not isinstance(update, Update) or update.effective_user is None:
        return
    chat = update.effective_chat
    if chat is not None and chat.type != "private":
        return  # a group that removed the bot says nothing about its members
    runtime = context.runtime
    try:
        async with runtime.db.transaction(inline=True) as session:
            await session.execute(
                sql_update(User)
                .where(User.telegram_id == update.effective_user.id, User.blocked_at.is_(None))
                .values(blocked_at=runtime.clock.now())
            )
    except Exception as error:  # the next push finds out again
        log.warning("could not mark user %s blocked: %s", update.effective_user.id, one_line(error))
