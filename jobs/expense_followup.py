"""``expense_followup``: expense claims nobody decides (regulations part 4 art. 3–5).

A claim pushes its approvers once when it is made (bot/services/money/expenses.py). This job, on
the company's working days, follows up what is still pending, counting the company's working days
after the day of the claim (holidays and days off left out, make-up workdays counted):

* after :data:`~bot.services.money.expenses.REMIND_AFTER` (2) working days — a claim made on Monday,
  on Wednesday — whoever it waits for is reminded, once: the claimant's team managers, or for a claim
  over the month's budget (or a team without a reachable manager) the directors, else the admins —
  the people :func:`bot.services.people.approvals.approvers` pushed it to;
* after :data:`~bot.services.money.expenses.ESCALATE_AFTER` (4) working days it goes one level up,
  once: a claim waiting for a manager to the directors (the admins when there is no director), a
  claim already waiting for the director to the admins.

Each push carries the Approve / Reject buttons and is keyed in the outbox
(``expense_followup:<recipient>:<claim>:remind|escalate``), so a re-run or the next day's run sends
none of them again. Deciding or withdrawing a claim takes it out of the query and drops its pushes
still queued (:func:`bot.services.money.expenses.drop_followups`). Everyone it needs is read in two
statements (the pending claims, the reachable staff), whatever the number of claims.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Translator
from bot.services.money import expenses
from bot.services.money.expenses import ESCALATE, REMIND, ExpenseView
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import Role


def waits_for(view: ExpenseView, staff: Sequence[Recipient]) -> tuple[Role | None, list[Recipient]]:
    """Who the claim was pushed to (as :func:`bot.services.people.approvals.approvers` chooses them):
    the level and the people, never the claimant."""
    levels: list[tuple[Role, list[Recipient]]] = []
    if not view.over_budget and view.team_id is not None:
        levels.append(
            (Role.MANAGER, [p for p in staff if p.role == Role.MANAGER and p.team_id == view.team_id])
        )
    levels += [(role, [p for p in staff if p.role == role]) for role in (Role.DIRECTOR, Role.ADMIN)]
    for role, people in levels:
        found = [p for p in people if p.id != view.rep_id]
        if found:
            return role, found
    return None, []


def next_level(level: Role | None, view: ExpenseView, staff: Sequence[Recipient]) -> list[Recipient]:
    """One level above ``level``: the directors (else the admins) above a manager, the admins above a
    director; nobody above the admins."""
    above: tuple[Role, ...] = ()
    if level == Role.MANAGER:
        above = (Role.DIRECTOR, Role.ADMIN)
    elif level == Role.DIRECTOR:
        above = (Role.ADMIN,)
    for role in above:
        found = [p for p in staff if p.role == role and p.id != view.rep_id]
        if found:
            return found
    return []


async def expense_followup(ctx: JobContext) -> None:
    claims = await expenses.pending_claims(ctx.session)
    if not claims:
        return
    staff = await recipients(ctx.session, Role.MANAGER, Role.DIRECTOR, Role.ADMIN)
    for view in claims:
        claimed_on = view.claimed_at.astimezone(ctx.zone).date()
        waited = expenses.working_days_waited(claimed_on, ctx.today, ctx.company)
        stages = expenses.followup_stages(waited)
        if not stages:
            continue
        level, first = waits_for(view, staff)
        if REMIND in stages:
            for person in first:
                t = Translator(person.language)
                await ctx.push(
                    person.id,
                    f"{view.id}:{REMIND}",
                    expenses.render_reminder(t, view, waited, ctx.zone),
                    expenses.decision_buttons(t, view.id),
                )
        if ESCALATE in stages:
            names = [person.name for person in first]
            for person in next_level(level, view, staff):
                t = Translator(person.language)
                await ctx.push(
                    person.id,
                    f"{view.id}:{ESCALATE}",
                    expenses.render_escalation(t, view, waited, names, ctx.zone),
                    expenses.decision_buttons(t, view.id),
                )
