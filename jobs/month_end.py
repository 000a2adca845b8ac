"""``month_end``: last month's figures to the director and each manager (regulations part 2, item 8).

Totals and one line per rep — visits, coverage, orders, returns and sales net of returns,
collections, overdue, unapplied credit, report rate — each recipient in their own scope, through
the same summary service and text as ``/summary``. The returns are those approved in the month
(their credit notes), counted against the customer's rep as the orders are. Then the month's
plans against the records, one line per planner, and who filed no monthly plan
(``bot/services/field/plans.py``).
"""

from __future__ import annotations

from datetime import timedelta

from bot.i18n import Translator
from bot.services.field import plans
from bot.services.reporting.periods import parse_period
from bot.services.reporting.summaries import summary
from bot.views import plans as plan_views, summaries as views
from jobs.context import JobContext
from jobs.people import recipients
from models import Role


async def month_end(ctx: JobContext) -> None:
    last_month = ctx.today.replace(day=1) - timedelta(days=1)
    period = parse_period(f"{last_month:%Y-%m}", ctx.today)
    for person in await recipients(ctx.session, Role.DIRECTOR, Role.MANAGER):
        if person.role == Role.MANAGER and person.team_id is None:
            continue
        figures = await summary(ctx.session, person.as_caller(), period, ctx.zone, ctx.today)
        t = Translator(person.language)
        lines = [views.title(t, figures), "", *views.figures_html(t, figures), ""]
        lines += [
            views.rep_line(t, line, ctx.zone, ctx.today, person.role == Role.DIRECTOR)
            for line in figures.reps
        ]
        month_plans = await plans.figures(
            ctx.session, person.as_caller(), plans.month_of(period.start), ctx.zone
        )
        if section := plan_views.figures_section(t, month_plans):
            lines += ["", *section]
        await ctx.push(person.id, period.label, "\n".join(lines))
