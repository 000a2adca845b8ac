"""Team figures as text: the summary's lines, shared by /summary and the month-end push."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator, escape
from bot.services.field import trust
from bot.services.money.aging import BUCKET_LABELS, BUCKETS
from bot.services.money.amounts import format_amount
from bot.services.reporting.reports import METHOD_LABELS
from bot.services.reporting.summaries import RepLine, Summary
from bot.views import counts


def when(moment: datetime | None, zone: ZoneInfo, today: date) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == today else f"{local:%m-%d %H:%M}"


def figures_html(t: Translator, s: Summary, *, own: bool = False) -> list[str]:
    """The summary's figures; ``own``: a rep reading their own, worded for them ("held by you")."""
    lines = [
        t(N_("Visits: {visits} · customers {customers}"), visits=s.visits, customers=s.customers_visited)
    ]
    if s.coverage is None:
        lines.append(t(N_("Coverage: no customer was due for a visit")))
    else:
        lines.append(
            t.ngettext(
                "Coverage: {visited} of {due} due customer visited ({percent}%)",
                "Coverage: {visited} of {due} due customers visited ({percent}%)",
                s.due_customers,
                visited=s.due_visited,
                due=s.due_customers,
                percent=s.coverage,
            )
        )
    lines.append(t(N_("New customers: {count}"), count=s.new_customers))
    lines.append(t(N_("Orders: {count} · {amount}"), count=s.orders, amount=format_amount(s.orders_amount)))
    if s.returns:
        lines.append(
            t(
                N_("Returns: {count} · {amount} · sales net of returns: {net}"),
                count=s.returns,
                amount=format_amount(s.returns_amount),
                net=format_amount(s.net_sales),
            )
        )
    methods = ", ".join(
        f"{t.gettext(METHOD_LABELS[method])} {format_amount(amount)}"
        for method, amount in s.collected_by_method
    )
    lines.append(
        t(N_("Collected: {amount} ({methods})"), amount=format_amount(s.collected), methods=methods)
        if methods
        else t(N_("Collected: {amount}"), amount=format_amount(s.collected))
    )
    lines.append(
        t(N_("Still held by you: {amount}"), amount=format_amount(s.held))
        if own
        else t(N_("Still held by reps: {amount}"), amount=format_amount(s.held))
    )
    lines.append(
        t(
            N_("Receivables open: {open} · overdue: {overdue}"),
            open=format_amount(s.receivables_open),
            overdue=format_amount(s.receivables_overdue),
        )
    )
    buckets = (
        f"{escape(t.gettext(BUCKET_LABELS[b]))} {format_amount(s.aging.buckets[b])}" for b in BUCKETS[1:]
    )
    lines.append("  " + " · ".join(buckets))
    if s.credit > 0:
        lines.append(
            t.ngettext(
                "Unapplied credit: {amount} ({count} customer)",
                "Unapplied credit: {amount} ({count} customers)",
                s.credit_customers,
                amount=format_amount(s.credit),
                count=s.credit_customers,
            )
        )
    if s.trips:
        lines.append(
            t.ngettext(
                "🚗 Vehicle log: {km} km ({count} trip)",
                "🚗 Vehicle log: {km} km ({count} trips)",
                s.trips,
                km=format(s.km, ","),
                count=s.trips,
            )
        )
    lines.append(
        t(
            N_("Reports: {submitted} of {expected} · late {late}"),
            submitted=s.reports,
            expected=s.reports_expected,
            late=s.reports_late,
        )
    )
    if s.complaints_open:
        lines.append(
            t(
                N_("Customer letters and complaints open: {open} · overdue: {overdue}"),
                open=s.complaints_open,
                overdue=s.complaints_overdue,
            )
        )
    lines.append(
        t(N_("Your requests waiting for approval: {count}"), count=s.pending_approvals)
        if own
        else t(N_("Pending approvals: {count}"), count=s.pending_approvals)
    )
    return lines


def rep_line(t: Translator, line: RepLine, zone: ZoneInfo, today: date, with_team: bool) -> str:
    team = f" ({escape(line.team)})" if with_team and line.team else ""
    figures = t(
        N_(
            "visits {visits} ({customers}) · orders {orders} · collected {collected} · "
            "reports {reports}/{expected} · last {last}"
        ),
        visits=line.visits,
        customers=counts.customers(t, line.customers),
        orders=format_amount(line.orders_amount),
        collected=format_amount(line.collected),
        reports=line.reports,
        expected=line.reports_expected,
        last=when(line.last_activity, zone, today),
    )
    if line.returns_amount:
        figures += " · " + t(
            N_("returns {returns} (net {net})"),
            returns=format_amount(line.returns_amount),
            net=format_amount(line.orders_amount - line.returns_amount),
        )
    if line.flags.flagged:
        figures += " · " + escape(trust.describe_counts(t, line.flags))
    if line.trips:
        figures += " · " + t(N_("🚗 {km} km"), km=f"{line.km:,}")
    return f"• <b>{escape(line.name)}</b>{team} — {figures}"


def title(t: Translator, s: Summary) -> str:
    title = t(N_("Summary · {scope}"), scope=s.scope) if s.scope else t(N_("Summary · everyone"))
    return f"<b>{title}</b>\n{s.period.title(t)}"
