"""The framework's floor: a bare python-telegram-bot app that echoes every text, polling like fieldbot.

Run as ``python -m bench.echo`` with ``FIELDBOT_TOKEN`` and ``FIELDBOT_API_URL`` set.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text)


def main() -> None:
    application = (Application.builder().token(os.environ["FIELDBOT_TOKEN"])
                   .base_url(os.environ["FIELDBOT_API_URL"]).concurrent_updates(True).build())
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.run_polling()


if __name__ == "__main__":
    main()
