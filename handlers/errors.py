"""The one error handler: log once with context (never the token), tell the user."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError

from bot.i18n import N_, Translator, language_for
from bot.runtime import Context

log = logging.getLogger("fieldbot.errors")

SORRY = N_("Sorry, something went wrong and nothing was saved. Please try again.")


async def on_error(update: object, context: Context) -> None:
    error = context.error
    where = ""
    if isinstance(update, Update):
        user = update.effective_user
        where = f" (update {update.update_id}, user {user.id if user else '-'})"
    if isinstance(error, Forbidden):
        log.info("user unreachable%s: %s", where, error)
        return
    if isinstance(error, NetworkError | RetryAfter):
        log.warning("Telegram unreachable%s: %s", where, error)
        return
    log.error("update failed%s", where, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != "private":
        return
    language = language_for(update.effective_user.language_code if update.effective_user else None)
    try:
        await context.bot.send_message(update.effective_chat.id, Translator(language)(SORRY))
    except TelegramError as send_error:
        log.warning("could not tell the user about the failure: %s", send_error)
