"""Telegram handlers: one module per command family, each with a ``register`` function.

Handlers parse what the user sent, call one service, and render the reply.
They hold no SQL and no business rule; ``handlers.base.action`` gives each
one its transaction and its caller.
"""

from __future__ import annotations

import warnings
from importlib import import_module

from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from handlers import chats, errors

#: Feature modules, most specific first. ``chats`` (registered last) catches what is left.
FEATURES = (
    "onboarding",
    "help_and_language",
    "people",
    "customers",
    "visits",
    "orders",
    "collections",
    "deposits",
    "reports",
    "imports",
)

# Our conversations key on the chat and run one update per chat at a time
# (bot/updates.py), which is what this generic warning asks for.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every handler, in FEATURES order."""
    for name in FEATURES:
        import_module(f"handlers.{name}").register(application)
    chats.register(application)
    application.add_error_handler(errors.on_error)
