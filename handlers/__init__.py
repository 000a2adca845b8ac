"""Telegram handlers: one module per command family, each with a ``register`` function.

Handlers parse what the user sent, call one service, and render the reply.
They hold no SQL and no business rule; ``handlers.base.action`` gives each
one its transaction and its caller; ``handlers.flows`` holds the rules every
guided flow follows.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import (
    approvals,
    chats,
    collections,
    customers,
    deposits,
    errors,
    exports,
    finance,
    help_and_language,
    imports,
    new_customer,
    onboarding,
    orders,
    overdue,
    people,
    reports,
    settings,
    summaries,
    visits,
)

#: Feature modules, most specific first. ``chats`` (registered last) catches what is left.
FEATURES = (onboarding, help_and_language, people, new_customer, customers, visits, orders, collections,
            deposits, finance, reports, summaries, overdue, approvals, exports, settings, imports)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every handler, in FEATURES order."""
    chats.register_first(application)
    for module in FEATURES:
        module.register(application)
    chats.register(application)
    application.add_error_handler(errors.on_error)
