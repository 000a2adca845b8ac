"""``plan_reminder`` and ``plan_missing``: work plans come in before they are due.

``plan_reminder`` (every morning, before the 10:00 cutoff): reps who have not filed the plan
that is coming due are reminded, with a button that opens it —

* the weekly plan on the Friday before its week and on its Monday morning;
* the monthly plan three days before its deadline and on the deadline's morning
  (ten days before the month).

Each reminder goes once (the outbox key names the plan's period and the occasion); none goes out
once the deadline has passed (a run caught up late), when it could not go out before the deadline
(quiet hours, a Monday that is a holiday), or to a rep who has filed.

``plan_missing`` (after the cutoff): on a deadline day, each team's managers — the directors for a
team without a reachable manager, and for reps in no team — hear who has filed no plan, once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from bot.i18n import N_, Translator
from bot.services.calendar import next_allowed
from bot.services.field import plans
from bot.services.field.plans import PlanPeriod, Unfiled
from jobs.context import JobContext
from models import PlanKind, Role

#: The monthly plan's early reminder comes this many days before its deadline.
MONTH_EARLY_DAYS = 3
NAMES_SHOWN = 40


def reminders_due(today: date) -> list[tuple[PlanPeriod, str]]:
    """(the plan coming due, which reminder) for a run on ``today``."""
    due: list[tuple[PlanPeriod, str]] = []
    if today.weekday() == 4:  # Friday: next week's plan, due on Monday
        due.append((plans.week_of(today + timedelta(days=3)), "early"))
    if today.weekday() == 0:
        due.append((plans.week_of(today), "last"))
    month = plans.month_to_plan(today)
    if today == month.due_on - timedelta(days=MONTH_EARLY_DAYS):
        due.append((month, "early"))
    if today == month.due_on:
        due.append((month, "last"))
    return due


def deadlines_on(today: date) -> list[PlanPeriod]:
    """The plans due on ``today``."""
    due = [plans.week_of(today)] if today.weekday() == 0 else []
    month = plans.month_to_plan(today)
    return [*due, month] if month.due_on == today else due


def _button(t: Translator, period: PlanPeriod) -> list[list[dict[str, str]]]:
    code = "w" if period.kind == PlanKind.WEEK else "m"
    return [[{"text": t.gettext(N_("🗓 Write the plan")), "callback_data": f"plan:new:{code}"}]]


async def plan_reminder(ctx: JobContext) -> None:
    for period, occasion in reminders_due(ctx.today):
        deadline = period.deadline(ctx.zone)
        if next_allowed(ctx.now, ctx.company, ctx.zone) >= deadline:
            # A late catch-up, or a push that would wait past the deadline (quiet hours, a Monday
            # holiday): the managers hear who is missing instead.
            continue
        for rep in await plans.unfiled(ctx.session, period):
            if not rep.reachable:
                continue
            t = Translator(rep.language)
            template = (
                N_(
                    "{name}, your weekly plan for the {period} is due by {deadline}: "
                    "customers to visit and targets."
                )
                if period.kind == PlanKind.WEEK
                else N_(
                    "{name}, your monthly plan for the {period} is due by {deadline}: "
                    "customers to visit and targets."
                )
            )
            text = t(
                template,
                name=rep.name,
                period=period.title(t),
                deadline=f"{deadline.astimezone(ctx.zone):%Y-%m-%d %H:%M}",
            )
            await ctx.push(rep.id, f"{period.key}:{occasion}", text, _button(t, period))


async def plan_missing(ctx: JobContext) -> None:
    for period in deadlines_on(ctx.today):
        if ctx.now < period.deadline(ctx.zone):
            continue  # run before the cutoff (a time set too early): nothing is late yet
        missing = await plans.unfiled(ctx.session, period)
        by_team: dict[int | None, list[Unfiled]] = defaultdict(list)
        for rep in missing:
            by_team[rep.team_id].append(rep)
        for team_id, reps in by_team.items():
            for person in await plans.supervisors(ctx.session, Role.REP, team_id):
                t = Translator(person.language)
                names = ", ".join(rep.name for rep in reps[:NAMES_SHOWN])
                if len(reps) > NAMES_SHOWN:
                    names += " " + t(N_("and {count} more"), count=len(reps) - NAMES_SHOWN)
                title = (
                    N_("🗓 No weekly plan for the {period} (due {deadline}) from {count}: {names}")
                    if period.kind == PlanKind.WEEK
                    else N_("🗓 No monthly plan for the {period} (due {deadline}) from {count}: {names}")
                )
                text = t(
                    title,
                    period=period.title(t),
                    deadline=f"{period.deadline(ctx.zone).astimezone(ctx.zone):%Y-%m-%d %H:%M}",
                    count=len(reps),
                    names=names,
                )
                await ctx.push(person.id, f"{period.key}:{team_id or 0}", text)
