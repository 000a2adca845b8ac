"""/collections [DAY]: the daily collections report (收款日報表) on demand.

Finance, the director and admins see everyone's collections, a manager their team's; reps are
refused (``bot/services/money/finance_reports.py``). DAY is ``today`` (the default), ``yesterday``
(今天, 昨天) or a date such as ``2026-11-23``; longer periods are for ``/export``.
"""

from __future__ import annotations

from datetime import date

from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_
from bot.services.errors import Invalid
from bot.services.money import finance_reports
from bot.services.policy import local_date
from bot.services.reporting.periods import UNKNOWN, parse_period
from bot.views.finance import collections_text
from handlers.base import Request, action

USAGE = N_(
    "/collections shows one day: today, yesterday or a date like 2026-11-23. For a longer period, /export."
)


def one_day(text: str, today: date) -> date:
    """The day typed after /collections (nothing: today)."""
    try:
        period = parse_period(text, today)
    except Invalid as error:
        if error.message == UNKNOWN:
            raise Invalid(USAGE) from None
        raise  # a real date that is wrong (in the future, impossible): says so
    if period.days != 1:
        raise Invalid(USAGE)
    return period.start


@action(report=True)
async def collections(request: Request) -> None:
    scope = await finance_reports.scope_of(request.session, request.me)
    zone = request.context.runtime.clock.zone
    today = local_date(request.now, zone)
    day = one_day(request.text_after_command, today)
    report = await finance_reports.daily_collections(request.session, scope, day, zone)
    request.reply(collections_text(request.t, report, zone, request.now if day == today else None))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("collections", collections, filters.ChatType.PRIVATE))
