"""``morning_plan``: each rep's day — who is due a visit, follow-ups, overdue money, a missing report.

Four set-based queries for the whole sales force (window functions pick each
rep's eight most overdue customers), then one digest per rep.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator, escape
from bot.services.amounts import format_amount
from bot.services.company import CompanySettings
from bot.services.ledger import is_open
from bot.services.outbox import Buttons
from bot.services.policy import due_for_visit, grade_rules
from jobs.context import JobContext
from jobs.people import recipients
from models import Customer, CustomerStatus, DailyReport, Receivable, Role, Visit

SHOWN_DUE = 8
BUTTON_LABEL = 40


@dataclass
class Plan:
    due: list[tuple[int, str, str, datetime | None]] = field(default_factory=list)  # id, name, code, last
    due_total: int = 0
    follow_ups: list[str] = field(default_factory=list)
    overdue_count: int = 0
    overdue_total: Decimal = Decimal("0.00")
    missing_report: date | None = None


def previous_working_day(today: date, company: CompanySettings) -> date:
    day = today - timedelta(days=1)
    for _ in range(30):
        if company.is_working_day(day):
            return day
        day -= timedelta(days=1)
    return day


async def gather_plans(session: AsyncSession, rep_ids: list[int], ctx: JobContext) -> dict[int, Plan]:
    plans: dict[int, Plan] = defaultdict(Plan)
    today, zone = ctx.today, ctx.zone
    rules = await grade_rules(session)
    ranked = (
        select(Customer.id, Customer.name, Customer.code, Customer.rep_id, Customer.last_visit_at,
               func.row_number().over(partition_by=Customer.rep_id,
                                      order_by=(Customer.last_visit_at.asc().nulls_first(), Customer.id))
               .label("n"),
               func.count().over(partition_by=Customer.rep_id).label("total"))
        .where(due_for_visit(rules, zone, today), Customer.rep_id.in_(rep_ids),
               Customer.status != CustomerStatus.INACTIVE)
        .subquery())
    for id_, name, code, rep_id, last, _n, total in await session.execute(
            select(ranked).where(ranked.c.n <= SHOWN_DUE).order_by(ranked.c.rep_id, ranked.c.n)):
        plans[rep_id].due.append((id_, name, code, last))
        plans[rep_id].due_total = total

    follow_ups = await session.execute(
        select(Visit.rep_id, Customer.name).join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.next_follow_up == today, Visit.rep_id.in_(rep_ids))
        .group_by(Visit.rep_id, Customer.id, Customer.name).order_by(Customer.name))
    for rep_id, name in follow_ups:
        plans[rep_id].follow_ups.append(name)

    overdue = await session.execute(
        select(Receivable.rep_id, func.count(), func.sum(Receivable.open_amount))
        .where(Receivable.rep_id.in_(rep_ids), Receivable.due_on < today, ~Receivable.disputed, is_open())
        .group_by(Receivable.rep_id))
    for rep_id, count, total in overdue:
        plans[rep_id].overdue_count, plans[rep_id].overdue_total = count, Decimal(total)

    yesterday = previous_working_day(today, ctx.company)
    reported = set(await session.scalars(
        select(DailyReport.rep_id).where(DailyReport.day == yesterday, DailyReport.rep_id.in_(rep_ids))))
    for rep_id in rep_ids:
        if rep_id not in reported:
            plans[rep_id].missing_report = yesterday
    return plans


def render(t: Translator, name: str, today: date, plan: Plan, zone: ZoneInfo) -> tuple[str, Buttons]:
    title = t(N_("Good morning, {name}! Your plan for {date}"), name=name, date=today.isoformat())
    lines = [f"<b>{title}</b>"]
    buttons: Buttons = []
    if plan.due:
        lines += ["", t(N_("Due for a visit: {count}"), count=plan.due_total)]
        for customer_id, customer, code, last in plan.due:
            when = (t(N_("never visited")) if last is None else
                    t(N_("last visit {days} days ago"),
                      days=(today - last.astimezone(zone).date()).days))
            lines.append(f"• {escape(customer)} ({escape(code)}) — {when}")
            buttons.append([{"text": t.gettext(N_("Log visit: {name}")).format(name=customer[:BUTTON_LABEL]),
                             "callback_data": f"visit:start:{customer_id}"}])
        if plan.due_total > len(plan.due):
            lines.append(t(N_("…and {count} more: /customers"), count=plan.due_total - len(plan.due)))
    else:
        lines += ["", t(N_("No customer is due for a visit today."))]
    if plan.follow_ups:
        lines += ["", t(N_("Follow-ups for today: {names}"), names=", ".join(plan.follow_ups))]
    if plan.overdue_count:
        lines += ["", t(N_("Overdue to chase: {count} invoices, {total} in all."),
                        count=plan.overdue_count, total=format_amount(plan.overdue_total))]
    if plan.missing_report:
        lines += ["", t(N_("Your report for {date} is missing: send /report."),
                        date=plan.missing_report.isoformat())]
    return "\n".join(lines), buttons


async def morning_plan(ctx: JobContext) -> None:
    reps = await recipients(ctx.session, Role.REP)
    plans = await gather_plans(ctx.session, [rep.id for rep in reps], ctx)
    for rep in reps:
        text, buttons = render(Translator(rep.language), rep.name, ctx.today, plans[rep.id], ctx.zone)
        await ctx.push(rep.id, ctx.today.isoformat(), text, buttons or None)
