"""Rules every guided flow (ConversationHandler) follows, so flows never steal each other's text."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, ConversationHandler, MessageHandler, filters

from bot.runtime import Context


async def _end_and_hand_on(update: Update, context: Context) -> int:
    """Another command in the middle of a flow: close this flow and let the command run.

    Without this, the flow would keep the chat, and text meant for the new
    command's flow (say, /visit's notes) would land in the old one (say, a
    prospect's phone number). The update goes back on the queue and is then
    handled outside this flow.
    """
    await context.application.update_queue.put(update)
    return ConversationHandler.END


def another_command_ends_flow() -> BaseHandler[Update, Context, object]:
    """The last fallback of every flow (after its own ``/cancel``).

    Typed ``object`` as ConversationHandler's handler lists are (``list`` is invariant).
    """
    return MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, _end_and_hand_on)
