"""Everything no other handler took: group chats, unknown commands, stray messages.

Registered last. Nothing here reveals data: in groups the bot only points
people to a private chat, so confidential figures never land in a group.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.i18n import N_, Translator, language_for
from bot.runtime import Context
from handlers.base import Request, action


async def in_group(update: Update, context: Context) -> None:
    """A command in a group or channel: say where to talk, once, with no data."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    t = Translator(language_for(update.effective_user.language_code))
    await message.reply_text(t(N_("I only work in a private chat: open @{bot} and write to me there."),
                               bot=context.bot.username))


@action()
async def unknown_command(request: Request) -> None:
    request.reply(request.t(N_("I don't know that command. /help lists what you can do.")))


@action()
async def anything_else(request: Request) -> None:
    request.reply(request.t(N_("I didn't understand that. /help lists what you can do.")))


def register(application: Application) -> None:  # type: ignore[type-arg]
    groups = filters.ChatType.GROUPS | filters.ChatType.CHANNEL
    application.add_handler(MessageHandler(groups & filters.COMMAND, in_group))
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    application.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(private, anything_else))
