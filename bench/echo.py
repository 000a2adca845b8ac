"""The framework's floor: a bare python-telegram-bot app that echoes every text, polling like fieldbot.

Each echo carries a button, as fieldbot's replies do; a press is answered by editing the message
(fieldbot's "Undo" edits its reply too), then answering the callback query.

Run as ``python -m bench.echo`` with ``FIELDBOT_TOKEN`` and ``FIELDBOT_API_URL`` set.
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

AGAIN = InlineKeyboardMarkup([[InlineKeyboardButton("↩️ Again", callback_data="echo:again")]])


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text, reply_markup=AGAIN)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    await query.edit_message_text(f"↩️ {query.message.text}")
    await query.answer()


def main() -> None:
    application = (
        Application.builder()
        .token(os.environ["FIELDBOT_TOKEN"])
        .base_url(os.environ["FIELDBOT_API_URL"])
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    application.run_polling()


if __name__ == "__main__":
    main()
