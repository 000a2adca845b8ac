"""Team figures as text: the summary's lines, shared by /summary and the month-end push."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator, escape
from bot.services.aging import BUCKET_LABELS, BUCKETS
from bot.services.amounts import format_amount
from bot.services.reports import METHOD_LABELS
from bot.services.summaries import RepLine, Summary


def when(moment: datetime | None, zone: ZoneInfo, today: date) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == today else f"{local:%m-%d %H:%M}"


def figures_html(t: Translator, s: Summary) -> list[str]:
    lines = [t(N_("Visits: {visits} · customers {customers}"), visits=s.visits,
               customers=s.customers_visited)]
    if s.coverage is None:
        lines.append(t(N_("Coverage: no customer was due for a visit")))
    else:
        lines.append(t(N_("Coverage: {visited} of {due} due customers visited ({percent}%)"),
                       visited=s.due_visited, due=s.due_customers, percent=s.coverage))
    lines.append(t(N_("New customers: {count}"), count=s.new_customers))
    lines.append(t(N_("Orders: {count} · {amount}"), count=s.orders, amount=format_amount(s.orders_amount)))
    methods = ", ".join(f"{t.gettext(METHOD_LABELS[method])} {format_amount(amount)}"
                        for method, amount in s.collected_by_method)
    lines.append(t(N_("Collected: {amount} ({methods})"), amount=format_amount(s.collected), methods=methods)
                 if methods else t(N_("Collected: {amount}"), amount=format_amount(s.collected)))
    lines.append(t(N_("Still held by reps: {amount}"), amount=format_amount(s.held)))
    lines.append(t(N_("Receivables open: {open} · overdue: {overdue}"),
                   open=format_amount(s.receivables_open), overdue=format_amount(s.receivables_overdue)))
    buckets = (f"{escape(t.gettext(BUCKET_LABELS[b]))} {format_amount(s.aging.buckets[b])}"
               for b in BUCKETS[1:])
    lines.append("  " + " · ".join(buckets))
    lines.append(t(N_("Reports: {submitted} of {expected} · late {late}"),
                   submitted=s.reports, expected=s.reports_expected, late=s.reports_late))
    lines.append(t(N_("Pending approvals: {count}"), count=s.pending_approvals))
    return lines


def rep_line(t: Translator, line: RepLine, zone: ZoneInfo, today: date, with_team: bool) -> str:
    team = f" ({escape(line.team)})" if with_team and line.team else ""
    figures = t(N_("visits {visits} ({customers} customers) · orders {orders} · collected {collected} · "
                   "reports {reports}/{expected} · last {last}"),
                visits=line.visits, customers=line.customers, orders=format_amount(line.orders_amount),
                collected=format_amount(line.collected), reports=line.reports, expected=line.reports_expected,
                last=when(line.last_activity, zone, today))
    return f"• <b>{escape(line.name)}</b>{team} — {figures}"


def title(t: Translator, s: Summary) -> str:
    title = (t(N_("Summary · {scope}"), scope=s.scope) if s.scope else t(N_("Summary · everyone")))
    return f"<b>{title}</b>\n{s.period.title(t)}"
