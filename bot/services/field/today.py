"""/today: a rep's day so far and what is still due; a manager's queue and their team's day.

Rules decided here (the issue left them open):

* **Today** is the company's local date, from the injectable clock.
* **A rep's records** (visits, orders, collections by method, held or handed in, new customers,
  the report) are exactly what the day's report carries: :func:`bot.services.reporting.reports.draft`, so
  /today and /report never disagree about the day.
* **The report's status** is the report service's own: filed (on time or late), due by the
  deadline, late once the deadline has passed, closed at the cut-off; nothing is due on a day off
  unless the rep filed one anyway. The previous working day's report, while it is missing and
  could still be filed (late), is due as well, as in the morning plan, but only for a rep who
  was already there that day.
* **Still due today** is what ``/visit`` offers first (:func:`bot.services.field.visits.due_today`):
  customers due by their grade's visit interval (the morning plan's condition,
  :func:`bot.services.policy.due_for_visit`) and follow-ups set for today, until a visit today
  takes them off; then the overdue money to chase, as ``/overdue`` lists it
  (:func:`bot.services.money.overdue.overdue_by_customer`).
* **Scope.** Everything is the caller's own: a rep sees nothing of another rep's day.
* **Managers, the director and admins** file no report; their day is the decisions waiting for
  them (:func:`bot.services.people.approvals.pending_count`, the rule the Approve buttons apply) and their
  team's day in totals (``/team``'s figures; the director and admins: everyone's), with their own
  activity if they had any. ``/team`` has the line per rep; /today points there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import company
from bot.services.errors import AccessDenied
from bot.services.field import visits
from bot.services.field.visits import DuePlan
from bot.services.money import expenses, overdue
from bot.services.money.overdue import OverduePage
from bot.services.people import approvals
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import start_of_day
from bot.services.reporting import reports, summaries
from bot.services.reporting.reports import Draft, ReportHours
from bot.services.reporting.summaries import RepLine
from models import DailyReport, User

ZERO = Decimal("0.00")
#: Customers due, and customers with overdue money, read for the message (it shows what fits).
SHOWN_DUE = 8
SHOWN_OVERDUE = 5


@dataclass(frozen=True)
class RepDay:
    """A rep's day so far, and what is still due."""

    day: date
    now: datetime  # local
    working_day: bool
    records: Draft
    due: DuePlan
    overdue: OverduePage
    #: The previous working day, while its report is missing and may still be filed (late).
    missing_past_report: date | None


@dataclass(frozen=True)
class LeaderDay:
    """A manager's (the director's, an admin's) day: decisions waiting, and the team's day in totals."""

    day: date
    working_day: bool
    everyone: bool  # the whole company (the director, admins), not one team
    to_decide: int
    visits: int
    orders: int
    orders_amount: Decimal
    collected: Decimal
    held: Decimal  # cash and cheques the reps in scope hold now, whenever received
    reports: int
    reports_expected: int
    reports_late: int
    #: The caller's own activity today, if they had any.
    own: RepLine | None

    @property
    def reports_missing(self) -> int:
        return max(0, self.reports_expected - self.reports)


async def day_for(
    session: AsyncSession, caller: Caller, *, now: datetime, hours: ReportHours
) -> RepDay | LeaderDay:
    """The caller's /today: a rep's day, or a leader's; others (finance, marketing) are refused."""
    if caller.can(Permission.FILE_REPORT):
        return await rep_day(session, caller, now=now, hours=hours)
    if caller.can(Permission.APPROVE):
        return await leader_day(session, caller, now=now, hours=hours)
    raise AccessDenied(N_("Your role does not allow this."))


async def rep_day(session: AsyncSession, caller: Caller, *, now: datetime, hours: ReportHours) -> RepDay:
    require(caller, Permission.FILE_REPORT)
    local = now.astimezone(hours.zone)
    today = local.date()
    settings = await company.load(session)
    records = await reports.draft(session, caller, now=now, hours=hours)
    due = await visits.due_today(session, caller, today=today, zone=hours.zone, limit=SHOWN_DUE)
    money = await overdue.overdue_by_customer(session, caller, today=today, per_page=SHOWN_OVERDUE)
    return RepDay(
        today,
        local,
        settings.is_working_day(today),
        records,
        due,
        money,
        await _missing_past_report(session, caller, today, hours, settings),
    )


async def _missing_past_report(
    session: AsyncSession, caller: Caller, today: date, hours: ReportHours, settings: company.CompanySettings
) -> date | None:
    """The previous working day, if the caller was a rep by its end and has not reported it."""
    day = reports.previous_working_day(today, settings)
    joined = await session.scalar(select(User.created_at).where(User.id == caller.id))
    if joined is None or joined >= start_of_day(day + timedelta(days=1), hours.zone):
        return None
    filed = await session.scalar(
        select(DailyReport.id).where(DailyReport.rep_id == caller.id, DailyReport.day == day)
    )
    return day if filed is None else None


async def leader_day(
    session: AsyncSession, caller: Caller, *, now: datetime, hours: ReportHours
) -> LeaderDay:
    today = now.astimezone(hours.zone).date()
    # Requests (bot/services/people/approvals.py) and expense claims: /approvals names both.
    waiting = await approvals.pending_count(session, caller) + len(await expenses.to_decide(session, caller))
    team = await summaries.team_today(session, caller, hours.zone, today)
    lines = team.reps
    return LeaderDay(
        day=today,
        working_day=team.working_day,
        everyone=caller.sees_all_teams,
        to_decide=waiting,
        visits=sum(line.visits for line in lines),
        orders=sum(line.orders for line in lines),
        orders_amount=sum((line.orders_amount for line in lines), ZERO),
        collected=sum((line.collected for line in lines), ZERO),
        held=sum((line.held for line in lines), ZERO),
        reports=sum(line.reports for line in lines),
        reports_expected=sum(line.reports_expected for line in lines),
        reports_late=sum(line.reports_late for line in lines),
        own=next((line for line in lines if line.rep_id == caller.id and _busy(line)), None),
    )


def _busy(line: RepLine) -> bool:
    return bool(line.visits or line.orders or line.collected)
