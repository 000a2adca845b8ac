"""/today: a rep's day so far and what is still due; a manager's decisions waiting and team's day.

One message, within Telegram's 4,096 characters: each list shows as many items as fit (the
counts stay whole), with buttons to write the report (``report:start``, or ``report:day:<date>``
for the previous working day's missing one) and to log a visit to a customer due
(``visit:start:<customer id>``): the buttons of /report, the morning plan and the customer card,
re-checked when pressed by their own handlers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.services.field import today as service
from bot.services.field.today import LeaderDay, RepDay
from bot.services.money.amounts import format_amount
from bot.services.reporting.reports import KIND_LABELS, METHOD_LABELS, ReportHours
from handlers.base import Request, action
from handlers.field.visit_views import edit_button

#: Telegram allows 4,096 characters (UTF-16 units); keep room for rough counting.
MESSAGE_BUDGET = 4000
#: Items shown per list, tried in turn until the message fits.
ITEM_LIMITS = (8, 5, 3, 1, 0)
VISIT_BUTTONS = 5
#: Today's latest visits offered for ✏️ Edit (handlers/field/visit_edits.py).
EDIT_BUTTONS = 3
BUTTON_NAME = 40


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _clock(moment: time) -> str:
    return f"{moment:%H:%M}"


def _section(
    t: Translator, heading: str, items: Sequence[str], limit: int, total: int | None = None, more: str = ""
) -> list[str]:
    """A bold heading, up to ``limit`` items, and how many more (``total``: all there are)."""
    lines = [f"<b>{heading}</b>", *(f"• {item}" for item in items[:limit])]
    left = (len(items) if total is None else total) - min(limit, len(items))
    if left > 0:
        lines.append(t(N_("…and {count} more"), count=left) + (f" {more}" if more else ""))
    return lines


# -- a rep's day ----------------------------------------------------------------------------------


def _records(t: Translator, day: RepDay, limit: int) -> list[str]:
    records = day.records
    if records.quiet:
        return [t(N_("Nothing recorded yet today: no visits, orders, collections or new customers."))]
    lines: list[str] = []
    if records.visits:
        lines += _section(
            t,
            t(N_("Visits: {count}"), count=len(records.visits)),
            [
                f"{visit.at:%H:%M} {escape(visit.customer)} · {escape(t.gettext(KIND_LABELS[visit.kind]))}"
                for visit in records.visits
            ],
            limit,
        )
    if records.orders:
        lines += _section(
            t,
            t(
                N_("Orders: {count} · {amount}"),
                count=len(records.orders),
                amount=format_amount(records.orders_total),
            ),
            [
                f"{escape(order.invoice_no)} · {escape(order.customer)} · {format_amount(order.amount)}"
                for order in records.orders
            ],
            limit,
        )
    if records.collections:
        methods = ", ".join(
            f"{t.gettext(METHOD_LABELS[method])} {format_amount(amount)}"
            for method, amount in records.collected_by_method
        )  # escaped by t()
        heading = t(
            N_("Collected: {amount} ({methods})"),
            amount=format_amount(records.collected_total),
            methods=methods,
        )
        held = escape(t.gettext(N_("held")))
        items = [
            " · ".join(
                [
                    escape(c.customer),
                    format_amount(c.amount),
                    escape(t.gettext(METHOD_LABELS[c.method])),
                    *([held] if c.held else []),
                ]
            )
            for c in records.collections
        ]
        lines += _section(t, heading, items, limit)
        handed_in = records.collected_total - records.held_total
        lines.append(
            t(
                N_("Held by you: {held} (hand it in to finance today) · handed in: {handed}"),
                held=format_amount(records.held_total),
                handed=format_amount(handed_in),
            )
            if records.held_total
            else t(N_("All of it is handed in: {amount}"), amount=format_amount(handed_in))
        )
    if records.prospects:
        lines += _section(
            t,
            t(N_("New customers: {count}"), count=len(records.prospects)),
            [escape(f"{p.name} ({p.code})") for p in records.prospects],
            limit,
        )
    return lines


def _report(t: Translator, day: RepDay) -> tuple[list[str], list[list[InlineKeyboardButton]]]:
    """Where today's report stands (and yesterday's, if missing), with the buttons to file them."""
    records, rows = day.records, []
    existing = records.existing
    if existing is not None:
        when = f"{existing.submitted_at:%H:%M}"
        lines = [
            t(N_("⚠️ Report: filed late at {time}."), time=when)
            if existing.late
            else t(N_("✅ Report: filed at {time}."), time=when)
        ]
    elif not day.working_day:
        lines = [t(N_("Report: none is due today, a day off."))]
    elif not records.open:
        lines = [t(N_("❌ Report: missing. The day closed at {cutoff}."), cutoff=_clock(records.cutoff))]
    else:
        lines = [
            t(
                N_(
                    "⚠️ Report: not filed, it was due at {deadline}. Filed now (until {cutoff}) it is "
                    "marked late."
                ),
                deadline=_clock(records.deadline),
                cutoff=_clock(records.cutoff),
            )
            if records.late_now
            else t(N_("📝 Report: not filed yet, due by {deadline}."), deadline=_clock(records.deadline))
        ]
        write = t.gettext(N_("Write today's report"))
        rows.append([InlineKeyboardButton(write, callback_data="report:start")])
    if day.missing_past_report is not None:
        missing = day.missing_past_report.isoformat()
        lines.append(
            t(
                N_(
                    "Your report for {date} is missing. File it today with /report yesterday or the "
                    "button below; it will be marked late."
                ),
                date=missing,
            )
        )
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext(N_("📝 File the report for {date}")).format(date=missing),
                    callback_data=f"report:day:{missing}",
                )
            ]
        )
    return lines, rows


def _due(t: Translator, day: RepDay, limit: int) -> list[str]:
    lines = ["<b>" + t(N_("Still due today")) + "</b>"]
    plan = day.due
    if plan.total:
        items = []
        for due in plan.customers:
            if due.never_visited:
                why = t(N_("never visited"))
            elif due.follow_up:
                why = t(N_("follow-up"))
            elif due.overdue_days:
                why = t.ngettext(
                    "{days} day overdue", "{days} days overdue", due.overdue_days, days=due.overdue_days
                )
            else:
                why = t(N_("due today"))
            items.append(f"{escape(due.customer.label)} — {why}")
        lines += _section(
            t, t(N_("Due for a visit: {count}"), count=plan.total), items, limit, plan.total, "/visit"
        )
    else:
        lines.append(t(N_("No customer is due for a visit today.")))
    money = day.overdue
    if money.customers:
        items = []
        for owed in money.items:
            item = t.ngettext(
                "{customer} · {amount} · {days} day overdue",
                "{customer} · {amount} · {days} days overdue",
                owed.days,
                customer=owed.customer.label,
                amount=format_amount(owed.total),
                days=owed.days,
            )
            if owed.promise_date is not None:
                item += " · " + t(N_("promised by {date}"), date=owed.promise_date.isoformat())
            items.append(item)
        heading = t.ngettext(
            "Overdue to chase: {count} invoice, {total} in all.",
            "Overdue to chase: {count} invoices, {total} in all.",
            money.invoices,
            count=money.invoices,
            total=format_amount(money.total),
        )
        lines += _section(t, heading, items, limit, money.customers, "/overdue")
    return lines


def render_rep(t: Translator, day: RepDay) -> tuple[str, InlineKeyboardMarkup | None]:
    """The rep's day in one message: as many items per list as fit."""
    title = (
        "<b>"
        + t(N_("Your day so far · {date}, {time}"), date=day.day.isoformat(), time=f"{day.now:%H:%M}")
        + "</b>"
    )
    report, rows = _report(t, day)
    text = ""
    for limit in ITEM_LIMITS:
        text = "\n".join([title, "", *_records(t, day, limit), "", *report, "", *_due(t, day, limit)])
        if _length(text) <= MESSAGE_BUDGET:
            break
    for due in day.due.customers[:VISIT_BUTTONS]:
        label = t.gettext(N_("Log visit: {name}")).format(name=due.customer.name[:BUTTON_NAME])
        rows.append([InlineKeyboardButton(label, callback_data=f"visit:start:{due.customer.id}")])
    # Today's visits can still be changed (until midnight): the latest ones, each with ✏️ Edit.
    edits = [visit for visit in day.records.visits if visit.visit_id is not None][-EDIT_BUTTONS:]
    for visit in reversed(edits):
        assert visit.visit_id is not None
        label = t.gettext(N_("Edit: {name} {time}")).format(
            name=visit.customer[:BUTTON_NAME], time=f"{visit.at:%H:%M}"
        )
        rows.append([edit_button(t, visit.visit_id, label)])
    return text, InlineKeyboardMarkup(rows) if rows else None


# -- a manager's day ------------------------------------------------------------------------------


def render_leader(t: Translator, day: LeaderDay) -> str:
    lines = ["<b>" + t(N_("Your day · {date}"), date=day.day.isoformat()) + "</b>", ""]
    lines.append(
        t(N_("Waiting for your decision: {count} — /approvals"), count=day.to_decide)
        if day.to_decide
        else t(N_("Nothing is waiting for your decision."))
    )
    lines += ["", "<b>" + (t(N_("Everyone today")) if day.everyone else t(N_("Your team today"))) + "</b>"]
    if day.working_day:
        lines.append(
            t(
                N_("Reports: {filed} of {expected} filed · {late} late · {missing} missing — /missing"),
                filed=day.reports,
                expected=day.reports_expected,
                late=day.reports_late,
                missing=day.reports_missing,
            )
        )
    else:
        lines.append(t(N_("Today is not a working day: no reports are due.")))
    lines.append(
        t(
            N_("Visits: {visits} · orders: {orders} ({amount}) · collected: {collected}"),
            visits=day.visits,
            orders=day.orders,
            amount=format_amount(day.orders_amount),
            collected=format_amount(day.collected),
        )
    )
    lines.append(t(N_("Cash and cheques still held by reps: {amount}"), amount=format_amount(day.held)))
    if day.own is not None:
        own = day.own
        lines.append(
            t(
                N_("Your own: visits {visits} · orders {orders} ({amount}) · collected {collected}"),
                visits=own.visits,
                orders=own.orders,
                amount=format_amount(own.orders_amount),
                collected=format_amount(own.collected),
            )
        )
    lines += ["", t(N_("Each rep's day, one line each: /team"))]
    return "\n".join(lines)


@action(report=True)
async def today(request: Request) -> None:
    runtime = request.context.runtime
    hours = ReportHours(runtime.clock.zone, runtime.settings.report_deadline, runtime.settings.report_cutoff)
    day = await service.day_for(request.session, request.me, now=request.now, hours=hours)
    if isinstance(day, RepDay):
        request.reply(*render_rep(request.t, day))
    else:
        request.reply(render_leader(request.t, day))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("today", today, filters.ChatType.PRIVATE))
