"""Telegram handlers: one module per command family, each with a ``register`` function.

Handlers parse what the user sent, call one service, and render the reply.
They hold no SQL and no business rule; ``handlers.base.action`` gives each
one its transaction and its caller.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import chats, errors, help_and_language, onboarding, people


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every handler, most specific first; ``chats`` catches what is left."""
    for module in (onboarding, help_and_language, people):
        module.register(application)
    chats.register(application)
    application.add_error_handler(errors.on_error)
