"""Telegram handlers: one module per command family, each with a ``register`` function.

Handlers parse what the user sent, call one service, and render the reply.
They hold no SQL and no business rule; ``handlers.base.action`` gives each
one its transaction and its caller; ``handlers.flows`` holds the rules every
guided flow follows.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import chats, errors, help_and_language, imports, settings
from handlers.field import customers, grades, market, new_customer, prospects, today, visits
from handlers.money import collections, deposits, finance, orders, overdue, returns
from handlers.people import approvals, onboarding, people
from handlers.reporting import exports, report_reads, reports, summaries

#: Feature modules, most specific first. ``chats`` (registered last) catches what is left.
# ``report_reads`` comes early: a supervisor who presses 💬 Comment in the middle of another flow
# (a visit's notes, say) has their next message taken as the comment, not as that flow's text.
FEATURES = (
    onboarding,
    help_and_language,
    report_reads,
    people,
    new_customer,
    prospects,
    grades,
    customers,
    visits,
    orders,
    collections,
    returns,
    deposits,
    finance,
    reports,
    summaries,
    today,
    market,
    overdue,
    approvals,
    exports,
    settings,
    imports,
)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every handler, in FEATURES order."""
    chats.register_first(application)
    for module in FEATURES:
        module.register(application)
    chats.register(application)
    application.add_error_handler(errors.on_error)
