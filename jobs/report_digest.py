"""``report_digest``: at the report deadline, the day's reports to those they are for.

Each manager gets one message with their team's reports (each rep's lines, late ones marked,
Mark read / Comment buttons) and who is missing. The director gets one compact line per team
that has a manager; a team with no manager who can be reached (and reps in no team) comes to
the director in full instead, one message per team. The rules are in
``bot/services/reporting/report_loop.py``; a report filed after this ran is pushed on its own.
A manager whose team's customers have stock shortfalls not yet restocked gets them next, in a
message of their own (``bot/services/field/stock.py``: regulations part 4, art. 19).
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.services.field import stock
from bot.services.reporting import report_loop
from bot.views.visit_extras import team_shortfalls
from jobs.context import JobContext
from jobs.people import recipients
from models import Role

#: Open stock shortfalls listed in a manager's digest (the rest are counted).
SHORTFALLS_SHOWN = 15


async def report_digest(ctx: JobContext) -> None:
    day = ctx.today
    await report_loop.hold_digest(ctx.session, exclusive=True)  # a filing under way finishes first
    reports = await report_loop.company_day(ctx.session, day, ctx.zone)
    shortfalls = await stock.shortfalls_by_team(ctx.session, day, ctx.zone, shown=SHORTFALLS_SHOWN)
    managed: set[int] = set()
    for manager in await recipients(ctx.session, Role.MANAGER):
        if manager.team_id is None:
            continue
        managed.add(manager.team_id)
        team = reports.team(manager.team_id)
        if team is None:  # no reps, no reports
            continue
        text, buttons = report_loop.team_digest(
            Translator(manager.language), day, team, viewer_id=manager.id, working_day=reports.working_day
        )
        await ctx.push(manager.id, day.isoformat(), text, buttons or None)
        if manager.team_id in shortfalls:  # stock found short and not yet restocked (art. 19)
            await ctx.push(
                manager.id,
                f"{day.isoformat()}:stock",
                team_shortfalls(Translator(manager.language), day, shortfalls[manager.team_id], ctx.zone),
            )
    overseen = [team for team in reports.teams if team.team_id in managed]
    unmanaged = [team for team in reports.teams if team.team_id not in managed]
    for director in await recipients(ctx.session, Role.DIRECTOR):
        t = Translator(director.language)
        if overseen:
            await ctx.push(
                director.id,
                day.isoformat(),
                report_loop.company_overview(t, day, overseen, reports.working_day),
            )
        for team in unmanaged:
            text, buttons = report_loop.team_digest(
                t, day, team, viewer_id=director.id, working_day=reports.working_day
            )
            await ctx.push(director.id, f"{day.isoformat()}:team:{team.team_id or 0}", text, buttons or None)
