"""Everything no other handler took: group chats, unknown commands, stray messages.

Registered last. Nothing here reveals data: in groups the bot only points
people to a private chat, so confidential figures never land in a group.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_, Translator, language_for
from bot.runtime import Context
from handlers.base import Request, action


async def ignore(update: Update, context: Context) -> None:
    """Edits of old messages and channel posts: never acted on (an edit is not a new request)."""
    raise ApplicationHandlerStop


async def in_group(update: Update, context: Context) -> None:
    """A command in a group or channel: say where to talk, once, with no data."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    t = Translator(language_for(update.effective_user.language_code))
    await message.reply_text(
        t(N_("I only work in a private chat: open @{bot} and write to me there."), bot=context.bot.username)
    )


@action()
async def unknown_command(request: Request) -> None:
    request.reply(request.t(N_("I don't know that command. /help lists what you can do.")))


@action()
async def anything_else(request: Request) -> None:
    request.reply(request.t(N_("I didn't understand that. /help lists what you can do.")))


@action()
async def unreadable(request: Request) -> None:
    """Stickers, voice notes, videos: the bot cannot act on them, so it says what it can read."""
    request.reply(
        request.t(
            N_("I can't read stickers, voice or video messages. Please type it; /help lists what you can do.")
        )
    )


@action()
async def nothing_to_cancel(request: Request) -> None:
    request.reply(request.t(N_("There is nothing to cancel.")))


@action()
async def stale_button(request: Request) -> None:
    """A button no handler wants any more (an old message, a finished flow): say so."""
    request.toast = request.t.gettext(N_("This button has expired. Start again from the command."))


#: Ids in button payloads are 32-bit integers (PostgreSQL ``integer``); a bigger number is forged.
MAX_ID = 2**31 - 1
_PAYLOAD_FIELDS = re.compile(r"[:.\-]")


def out_of_range(data: object) -> bool:
    """Whether a button payload carries a number no row id can be (it would overflow the query)."""
    if not isinstance(data, str):
        return False
    return any(
        field.isdecimal() and (len(field) > 10 or int(field) > MAX_ID)
        for field in _PAYLOAD_FIELDS.split(data)
    )


async def forged_number(update: Update, context: Context) -> None:
    """Answer such a press like any stale button, and let no feature handler see it."""
    await stale_button(update, context)
    raise ApplicationHandlerStop


@action()
async def _unstorable(request: Request) -> None:
    request.reply(
        request.t(N_("I can't read that message: it contains a NUL control character. Please type it again."))
    )


async def unstorable(update: Update, context: Context) -> None:
    """Text with a NUL character: no database stores it (PostgreSQL refuses), so no feature sees it."""
    if update.effective_chat is not None and update.effective_chat.type == "private":
        await _unstorable(update, context)
    raise ApplicationHandlerStop


def register_first(application: Application) -> None:  # type: ignore[type-arg]
    """Registered before every feature, in an earlier group: what no feature may see."""
    edits = filters.UpdateType.EDITED | filters.UpdateType.CHANNEL_POSTS
    application.add_handler(MessageHandler(edits, ignore), group=-1)
    nul = filters.Regex("\x00") | filters.CaptionRegex("\x00")
    application.add_handler(MessageHandler(nul, unstorable), group=-1)
    application.add_handler(CallbackQueryHandler(forged_number, pattern=out_of_range), group=-1)


def register(application: Application) -> None:  # type: ignore[type-arg]
    groups = filters.ChatType.GROUPS | filters.ChatType.CHANNEL
    application.add_handler(MessageHandler(groups & filters.COMMAND, in_group))
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    application.add_handler(CommandHandler("cancel", nothing_to_cancel, filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
    media = (
        filters.Sticker.ALL
        | filters.VOICE
        | filters.VIDEO
        | filters.VIDEO_NOTE
        | filters.AUDIO
        | filters.ANIMATION
    )
    application.add_handler(MessageHandler(private & media, unreadable))
    application.add_handler(MessageHandler(private, anything_else))
