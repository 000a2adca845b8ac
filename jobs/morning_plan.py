"""``morning_plan``: each rep's day — who is due a visit, follow-ups, stock shortfalls to follow
up, overdue money, a missing report.

Four set-based queries for the whole sales force (window functions pick each
rep's eight most overdue customers), then one digest per rep, queued urgent reps first
(``bot/services/field/urgency.py``: the outbox sends in the order queued).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import slices
from bot.i18n import N_, Translator, escape
from bot.services.field.routes import Stop, route_order, saved_positions
from bot.services.field.stock import NO_SHORTFALLS, Shortfalls, shortfalls_for_reps
from bot.services.field.urgency import urgent_reps
from bot.services.money.amounts import format_amount
from bot.services.money.ledger import is_open
from bot.services.outbox import Buttons
from bot.services.policy import due_for_visit, grade_rules
from bot.services.reporting.reports import previous_working_day
from bot.views.visit_extras import shortfalls_section
from jobs.context import JobContext
from jobs.people import recipients
from models import Customer, CustomerStatus, DailyReport, Receivable, Role, Visit

SHOWN_DUE = 8
#: Open stock shortfalls listed (the oldest first); the rest are counted.
SHOWN_SHORTFALLS = 6
BUTTON_LABEL = 40


@dataclass
class Plan:
    due: list[tuple[int, str, str, datetime | None]] = field(default_factory=list)  # id, name, code, last
    due_total: int = 0
    follow_ups: list[str] = field(default_factory=list)
    shortfalls: Shortfalls = NO_SHORTFALLS
    overdue_count: int = 0
    overdue_total: Decimal = Decimal("0.00")
    missing_report: date | None = None
    #: The due customers are in the rep's own saved route order (else nearest next: /route).
    own_route: bool = False


async def gather_plans(session: AsyncSession, rep_ids: list[int], ctx: JobContext) -> dict[int, Plan]:
    plans: dict[int, Plan] = defaultdict(Plan)
    today, zone = ctx.today, ctx.zone
    rules = await grade_rules(session)
    ranked = (
        select(
            Customer.id,
            Customer.name,
            Customer.code,
            Customer.rep_id,
            Customer.last_visit_at,
            Customer.latitude,
            Customer.longitude,
            func.row_number()
            .over(
                partition_by=Customer.rep_id,
                order_by=(Customer.last_visit_at.asc().nulls_first(), Customer.id),
            )
            .label("n"),
            func.count().over(partition_by=Customer.rep_id).label("total"),
        )
        .where(
            due_for_visit(rules, zone, today),
            Customer.rep_id.in_(rep_ids),
            Customer.status != CustomerStatus.INACTIVE,
        )
        .subquery()
    )
    points: dict[int, tuple[float, float] | None] = {}
    for id_, name, code, rep_id, last, latitude, longitude, _n, total in await session.execute(
        select(ranked).where(ranked.c.n <= SHOWN_DUE).order_by(ranked.c.rep_id, ranked.c.n)
    ):
        plans[rep_id].due.append((id_, name, code, last))
        plans[rep_id].due_total = total
        points[id_] = (latitude, longitude) if latitude is not None and longitude is not None else None
    await _in_route_order(session, plans, points)

    follow_ups = await session.execute(
        select(Visit.rep_id, Customer.name)
        .join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.next_follow_up == today, Visit.rep_id.in_(rep_ids))
        .group_by(Visit.rep_id, Customer.id, Customer.name)
        .order_by(Customer.name)
    )
    for rep_id, name in follow_ups:
        plans[rep_id].follow_ups.append(name)

    # Regulations part 4, art. 19: stock found short is followed up until a count shows it restocked.
    for rep_id, shortfalls in (
        await shortfalls_for_reps(session, rep_ids, shown=SHOWN_SHORTFALLS, until=ctx.now)
    ).items():
        plans[rep_id].shortfalls = shortfalls

    overdue = await session.execute(
        select(Receivable.rep_id, func.count(), func.sum(Receivable.open_amount))
        .where(Receivable.rep_id.in_(rep_ids), Receivable.due_on < today, ~Receivable.disputed, is_open())
        .group_by(Receivable.rep_id)
    )
    for rep_id, count, total in overdue:
        assert rep_id is not None  # the query keeps the reps asked for
        plans[rep_id].overdue_count, plans[rep_id].overdue_total = count, Decimal(total)

    yesterday = previous_working_day(today, ctx.company)
    reported = set(
        await session.scalars(
            select(DailyReport.rep_id).where(DailyReport.day == yesterday, DailyReport.rep_id.in_(rep_ids))
        )
    )
    for rep_id in rep_ids:
        if rep_id not in reported:
            plans[rep_id].missing_report = yesterday
    return plans


async def _in_route_order(
    session: AsyncSession, plans: dict[int, Plan], points: dict[int, tuple[float, float] | None]
) -> None:
    """Each rep's due customers in route order (客戶路序, part 4 art. 14): the rep's saved order,
    else nearest next from the most overdue one; those with no coordinates last, most overdue first.

    The saved places are read a slice of reps at a time (every saved place of theirs): naming each
    rep's due customers too would pass more values than a statement may hold at ten thousand reps."""
    for reps in slices(list(plans)):
        saved = await saved_positions(session, reps)
        for rep_id in reps:
            plan = plans[rep_id]
            by_id = {row[0]: row for row in plan.due}
            own = {key: place for key, place in saved.get(rep_id, {}).items() if key in by_id}
            stops = [Stop(row[0], points[row[0]]) for row in plan.due]
            plan.due = [by_id[stop.key] for stop in route_order(stops, own)]
            plan.own_route = bool(own)


def last_visit(t: Translator, days: int) -> str:
    return t.ngettext("last visit {days} day ago", "last visit {days} days ago", days, days=days)


def render(t: Translator, name: str, today: date, plan: Plan, zone: ZoneInfo) -> tuple[str, Buttons]:
    title = t(N_("Good morning, {name}! Your plan for {date}"), name=name, date=today.isoformat())
    lines = [f"<b>{title}</b>"]
    buttons: Buttons = []
    if plan.due:
        lines += ["", t(N_("Due for a visit: {count}"), count=plan.due_total)]
        for customer_id, customer, code, last in plan.due:
            when = (
                t(N_("never visited"))
                if last is None
                else last_visit(t, (today - last.astimezone(zone).date()).days)
            )
            lines.append(f"• {escape(customer)} ({escape(code)}) — {when}")
            buttons.append(
                [
                    {
                        "text": t.gettext(N_("Log visit: {name}")).format(name=customer[:BUTTON_LABEL]),
                        "callback_data": f"visit:start:{customer_id}",
                    }
                ]
            )
        if plan.due_total > len(plan.due):
            lines.append(t(N_("…and {count} more: /customers"), count=plan.due_total - len(plan.due)))
        if len(plan.due) > 1:
            lines.append(
                t(N_("In your own route order (/route to change it)."))
                if plan.own_route
                else t(N_("In route order: nearest next, from the most overdue (/route to set your own)."))
            )
    else:
        lines += ["", t(N_("No customer is due for a visit today."))]
    if plan.follow_ups:
        lines += ["", t(N_("Follow-ups for today: {names}"), names=", ".join(plan.follow_ups))]
    if plan.shortfalls.total:
        lines += [
            "",
            *shortfalls_section(
                t,
                plan.shortfalls,
                zone,
                title=t(
                    N_("⚠️ Stock shortfalls to follow up: {count} (until a count shows them restocked)"),
                    count=plan.shortfalls.total,
                ),
            ),
        ]
    if plan.overdue_count:
        lines += [
            "",
            t.ngettext(
                "Overdue to chase: {count} invoice, {total} in all.",
                "Overdue to chase: {count} invoices, {total} in all.",
                plan.overdue_count,
                count=plan.overdue_count,
                total=format_amount(plan.overdue_total),
            ),
        ]
    if plan.missing_report:
        missing = plan.missing_report.isoformat()
        lines += [
            "",
            t(
                N_(
                    "Your report for {date} is missing. File it today with /report yesterday or the "
                    "button below; it will be marked late."
                ),
                date=missing,
            ),
        ]
        buttons.append(
            [
                {
                    "text": t.gettext(N_("📝 File the report for {date}")).format(date=missing),
                    "callback_data": f"report:day:{missing}",
                }
            ]
        )
    return "\n".join(lines), buttons


async def morning_plan(ctx: JobContext) -> None:
    reps = await recipients(ctx.session, Role.REP)
    rep_ids = [rep.id for rep in reps]
    plans = await gather_plans(ctx.session, rep_ids, ctx)
    # The most urgent first: the outbox sends in the order queued (jobs/outbox.py, "Order"), so in a
    # wave of minutes (docs/PERFORMANCE.md, "Morning wave") these plans arrive in its first seconds.
    urgent = await urgent_reps(ctx.session, rep_ids, ctx.today, ctx.zone, ctx.company)
    for rep in sorted(reps, key=lambda rep: rep.id not in urgent):
        text, buttons = render(Translator(rep.language), rep.name, ctx.today, plans[rep.id], ctx.zone)
        await ctx.push(rep.id, ctx.today.isoformat(), text, buttons or None)
