"""A strict fake Telegram Bot API server for tests, the demo and benchmarks.

The real python-telegram-bot stack talks to it over HTTP::

    async with FakeBotApi(token) as tg:
        app = (ApplicationBuilder().token(token).base_url(tg.base_url)
               .base_file_url(tg.base_file_url).build())

It checks every request against the official method list in ``bot/telegram_api`` and answers
the way Telegram does, so mistakes in the bot surface as 400s (see :meth:`refused_calls`).
"""

from bot.devserver.faults import Fault, Injection
from bot.devserver.formatting import EntityParseError, parse_html, utf16_len
from bot.devserver.models import ApiCall, ApiError, SentMessage
from bot.devserver.server import FakeBotApi

__all__ = [
    "ApiCall",
    "ApiError",
    "EntityParseError",
    "FakeBotApi",
    "Fault",
    "Injection",
    "SentMessage",
    "parse_html",
    "utf16_len",
]
