"""/market [PERIOD] [TOPIC]: market feedback grouped by topic (regulations part 4, art. 8 (4)).

A rep reads what they recorded, a manager their team's, the director, admins and marketing
everyone's (``bot/services/field/market.py``). PERIOD is any period ``/summary`` takes (nothing: the last
7 days); TOPIC is competitor, price, quality, demand or new product (竞品, 价格, 质量, 需求, 新品),
before or after the period. With a topic, more of its texts are shown.
"""

from __future__ import annotations

from telegram.ext import Application, CommandHandler, filters

from bot.services.field import market
from bot.services.policy import local_date
from bot.views.market import market_text
from handlers.base import Request, action

#: The customers and reps named per topic, and the texts read, for every topic or for one.
ALL_TOPICS = {"names": 3, "texts": 10}
ONE_TOPIC = {"names": 10, "texts": 40}


@action(report=True)
async def show_market(request: Request) -> None:
    scope = await market.scope_of(request.session, request.me)
    zone = request.context.runtime.clock.zone
    period, topic = market.parse_query(request.text_after_command, local_date(request.now, zone))
    report = await market.feedback(
        request.session, scope, period, zone, topic=topic, **(ALL_TOPICS if topic is None else ONE_TOPIC)
    )
    request.reply(market_text(request.t, report))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("market", show_market, filters.ChatType.PRIVATE))
