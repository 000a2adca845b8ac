"""``report_reminder`` (to reps without today's report) and ``missing_reports`` (to their managers)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from bot.i18n import N_, Translator, escape
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import DailyReport, Role, Team


async def _reps_without_report(ctx: JobContext) -> list[Recipient]:
    reps = await recipients(ctx.session, Role.REP)
    reported = set(await ctx.session.scalars(select(DailyReport.rep_id).where(DailyReport.day == ctx.today)))
    return [rep for rep in reps if rep.id not in reported]


async def report_reminder(ctx: JobContext) -> None:
    for rep in await _reps_without_report(ctx):
        t = Translator(rep.language)
        text = t(N_("{name}, today's work report is not in yet. It takes a minute:"), name=rep.name)
        button = [[{"text": t.gettext(N_("Write today's report")), "callback_data": "report:start"}]]
        await ctx.push(rep.id, ctx.today.isoformat(), text, button)


async def missing_reports(ctx: JobContext) -> None:
    missing = await _reps_without_report(ctx)
    by_team: dict[int | None, list[str]] = defaultdict(list)
    for rep in missing:
        by_team[rep.team_id].append(rep.name)
    team_names = dict((await ctx.session.execute(select(Team.id, Team.name))).all())
    for boss in await recipients(ctx.session, Role.MANAGER, Role.DIRECTOR):
        t = Translator(boss.language)
        teams = sorted(by_team) if boss.role == Role.DIRECTOR else [boss.team_id]
        lines = []
        for team_id in teams:
            names = by_team.get(team_id)
            if names:
                team = escape(team_names.get(team_id, "—")) if team_id is not None else escape(t.gettext(
                    N_("no team")))
                lines.append(f"<b>{team}</b>: {escape(', '.join(sorted(names)))}")
        if lines:
            text = "\n".join([t(N_("Not reported today ({date}):"), date=ctx.today.isoformat()), *lines])
        else:
            text = t(N_("Everyone has reported today ({date})."), date=ctx.today.isoformat())
        await ctx.push(boss.id, ctx.today.isoformat(), text)
