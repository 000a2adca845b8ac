"""``market_digest``: last week's market feedback, by topic, to the people who act on it
(regulations part 4, art. 8 (4): market information is gathered and reported up).

Mondays: each manager gets their team's feedback of the week before (Monday to Sunday), the
director and marketing the whole company's: per topic the counts, the customers and reps behind the
notes, and the newest texts (``bot/views/market.py``), with ``/market`` pointing to the rest.
Nobody is sent an empty digest.
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.services.field import market
from bot.services.field.market import EVERYONE, MarketFeedback, MarketScope
from bot.views.market import market_text
from jobs.context import JobContext
from jobs.people import recipients
from models import Role

#: The customers and reps named per topic, and the newest texts read per topic.
NAMES, TEXTS = 3, 5


async def market_digest(ctx: JobContext) -> None:
    period = market.last_full_week(ctx.today)
    reports: dict[MarketScope, MarketFeedback] = {}

    async def report_of(scope: MarketScope) -> MarketFeedback:
        if scope not in reports:
            reports[scope] = await market.feedback(
                ctx.session, scope, period, ctx.zone, names=NAMES, texts=TEXTS
            )
        return reports[scope]

    for person in await recipients(ctx.session, Role.DIRECTOR, Role.MARKETING, Role.MANAGER):
        if person.role == Role.MANAGER:
            if person.team_id is None:
                continue
            report = await report_of(await market.team_scope(ctx.session, person.team_id))
        else:
            report = await report_of(EVERYONE)
        if report.notes:
            await ctx.push(person.id, period.label, market_text(Translator(person.language), report))
