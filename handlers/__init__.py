"""Telegram handlers: one module per command family, each with a ``register`` function.

Handlers parse what the user sent, call one service, and render the reply.
They hold no SQL and no business rule; ``handlers.base.action`` gives each
one its transaction and its caller; ``handlers.flows`` holds the rules every
guided flow follows.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import chats, errors, help_and_language, imports, settings
from handlers.field import (
    check_in,
    complaints,
    customers,
    grades,
    market,
    new_customer,
    plan_answers,
    plans,
    prospects,
    qr,
    routes,
    today,
    trips,
    visit_edits,
    visits,
)
from handlers.money import collections, deposits, expenses, finance, orders, overdue, returns
from handlers.people import approvals, onboarding, people
from handlers.reporting import exports, report_reads, reports, summaries

#: Feature modules, most specific first. ``chats`` (registered last) catches what is left.
# ``report_reads`` comes early: a supervisor who presses 💬 Comment in the middle of another flow
# (a visit's notes, say) has their next message taken as the comment, not as that flow's text.
# ``complaints`` too, for the same reason: the answer or resolution typed after pressing its button.
# ``plan_answers`` too: a supervisor's comment on a work plan.
FEATURES = (
    onboarding,
    help_and_language,
    report_reads,
    complaints,
    plan_answers,
    people,
    new_customer,
    prospects,
    grades,
    customers,
    trips,
    # ✏️ Edit before /visit: text typed right after pressing 📝 Notes is the edit's, even with a visit
    # being logged meanwhile (the edit flow takes text only while it asks for some).
    visit_edits,
    visits,
    qr,
    orders,
    collections,
    returns,
    expenses,
    deposits,
    finance,
    reports,
    plans,
    summaries,
    today,
    market,
    overdue,
    approvals,
    exports,
    settings,
    imports,
    routes,
    # last but chats: a location or photo that no flow took is a check-in (handlers/field/check_in.py)
    check_in,
)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every handler, in FEATURES order."""
    chats.register_first(application)
    for module in FEATURES:
        module.register(application)
    chats.register(application)
    application.add_error_handler(errors.on_error)
