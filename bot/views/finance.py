"""Finance's reports as text: the daily collections report and the outstanding-payments report.

Shared by ``/collections`` and the pushes (``jobs/collections_daily.py``,
``jobs/outstanding_report.py``, ``jobs/weekly_outstanding.py``). Each text is one Telegram
message whatever the size of the company: the totals always, then as many lines (reps, customers)
as fit, largest first, and "…and N more" pointing to ``/export`` for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator, escape
from bot.services.money.aging import BUCKET_LABELS, BUCKETS, Aging
from bot.services.money.amounts import format_amount
from bot.services.money.finance_reports import (
    CustomerAging,
    DailyCollections,
    Outstanding,
    RepCollections,
    ReportScope,
    ReversedCollection,
)
from bot.services.money.payment_methods import LABELS as METHOD_LABELS
from bot.views.counts import customers, invoices
from models import PaymentMethod

#: Telegram allows 4096 characters (UTF-16 units) after the markup is parsed; the budget counts the
#: markup too, with room to spare.
MESSAGE_BUDGET = 3800
NAME_SHOWN = 40
CUSTOMER_SHOWN = 48
REASON_SHOWN = 80


def length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (with "…"), to escape afterwards."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit(
    head: Sequence[str],
    blocks: Sequence[str],
    more: Callable[[int], str],
    budget: int = MESSAGE_BUDGET,
    *,
    unlisted: int = 0,
) -> str:
    """``head``, then as many ``blocks`` (in order) as fit in ``budget``, then ``more(n)`` for the
    ``n`` left out (those that did not fit, and ``unlisted`` ones never rendered)."""
    used = length("\n".join(head))
    reserve = length(more(len(blocks) + unlisted)) + 1  # the "…and N more" line, at its longest
    shown: list[str] = []
    for index, block in enumerate(blocks):
        size = length(block) + 1
        more_follows = index < len(blocks) - 1 or unlisted > 0
        if used + size + (reserve if more_follows else 0) > budget:
            break
        shown.append(block)
        used += size
    hidden = len(blocks) - len(shown) + unlisted
    return "\n".join([*head, *shown, *([more(hidden)] if hidden else [])])


def method_label(t: Translator, method: PaymentMethod) -> str:
    return t.gettext(METHOD_LABELS[method])


def aging_lines(t: Translator, aging: Aging) -> list[str]:
    """One indented line per bucket holding money."""
    return [
        f"  {escape(t.gettext(BUCKET_LABELS[bucket]))}: {format_amount(aging.buckets[bucket])}"
        for bucket in BUCKETS
        if aging.buckets[bucket]
    ]


def aging_inline(t: Translator, aging: Aging) -> str:
    """The buckets holding money on one line: ``1-30 days 200.00 · over 90 days 500.00``."""
    return " · ".join(
        f"{escape(t.gettext(BUCKET_LABELS[bucket]))} {format_amount(aging.buckets[bucket])}"
        for bucket in BUCKETS
        if aging.buckets[bucket]
    )


# -- the daily collections report -----------------------------------------------------------------


def _scope_title(t: Translator, scope: ReportScope, everyone: str, team: str, **values: object) -> str:
    if scope.team_id is None and not scope.nobody:
        return t(everyone, **values)
    return t(team, team=short(scope.name or "—", NAME_SHOWN), **values)


def person_name(t: Translator, name: str, team: str | None) -> str:
    """A person's name, with their team if given, not yet escaped (the template's value is)."""
    name = short(name, NAME_SHOWN)
    if not team:
        return name
    return t.gettext(N_("{name} ({team})")).format(name=name, team=short(team, NAME_SHOWN))


def rep_collections_line(t: Translator, rep: RepCollections, with_team: bool) -> str:
    methods = ", ".join(
        f"{method_label(t, method)} {format_amount(amount)}" for method, amount in rep.by_method
    )
    values = {
        "who": person_name(t, rep.name, rep.team if with_team else None),
        "amount": format_amount(rep.total),
        "count": rep.count,
        "methods": methods,
    }
    if not rep.held:
        return t(N_("• <b>{who}</b>: {amount} in {count} ({methods}) · all handed in"), **values)
    return t(
        N_("• <b>{who}</b>: {amount} in {count} ({methods}) · handed in {handed_in} · held {held}"),
        **values,
        handed_in=format_amount(rep.handed_in),
        held=format_amount(rep.held),
    )


def reversed_line(t: Translator, item: ReversedCollection) -> str:
    values = {
        "id": item.id,
        "customer": short(item.customer, CUSTOMER_SHOWN),
        "amount": format_amount(item.amount),
        "method": method_label(t, item.method),
        "rep": short(item.rep, NAME_SHOWN),
        "received": item.received_on.isoformat(),
        "reversed": item.reversed_on.isoformat(),
    }
    if not item.reason:
        return t(
            N_("• #{id} · {customer} · {amount} {method} · {rep} · received {received}, reversed {reversed}"),
            **values,
        )
    return t(
        N_(
            "• #{id} · {customer} · {amount} {method} · {rep} · received {received}, reversed "
            "{reversed}: {reason}"
        ),
        **values,
        reason=short(item.reason, REASON_SHOWN),
    )


def collections_text(
    t: Translator,
    report: DailyCollections,
    zone: ZoneInfo,
    as_of: datetime | None = None,
    *,
    pushed: bool = False,
) -> str:
    """The daily collections report; ``as_of``: the moment it was drawn, if the day was not over;
    ``pushed``: it is the evening push (later collections are then pointed to)."""
    day = report.day.isoformat()
    title = _scope_title(
        t,
        report.scope,
        N_("Collections report · {day} · everyone"),
        N_("Collections report · {day} · team {team}"),
        day=day,
    )
    head = [f"<b>{title}</b>"]
    if as_of is not None:
        moment = f"{as_of.astimezone(zone):%H:%M}"
        head.append(
            t(N_("As of {time}; anything collected later that day: /collections {day}"), time=moment, day=day)
            if pushed
            else t(N_("As of {time}."), time=moment)
        )
    head.append("")
    if report.reps:
        head.append(
            t.ngettext(
                "Collected: {amount} in {count} collection",
                "Collected: {amount} in {count} collections",
                report.count,
                amount=format_amount(report.total),
                count=report.count,
            )
        )
        for method in report.methods:
            if not method.count:
                continue
            values = {
                "method": method_label(t, method.method),
                "amount": format_amount(method.amount),
                "count": method.count,
            }
            head.append(
                t(
                    N_("• {method}: {amount} in {count} · held {held}"),
                    **values,
                    held=format_amount(method.held),
                )
                if method.held
                else t(N_("• {method}: {amount} in {count}"), **values)
            )
        head.append(
            t(
                N_("Handed in to finance: {handed_in} · still held: {held}"),
                handed_in=format_amount(report.handed_in),
                held=format_amount(report.held),
            )
        )
    else:
        head.append(t(N_("No collections on {day}."), day=day))
    tail: list[str] = []
    if report.reversed_count:
        tail += [
            "",
            "<b>"
            + t(
                N_("Reversed, not counted above: {count} · {amount}"),
                count=report.reversed_count,
                amount=format_amount(report.reversed_amount),
            )
            + "</b>",
        ]
        tail += [reversed_line(t, item) for item in report.reversed]
        if report.reversed_count > len(report.reversed):
            tail.append(t(N_("…and {count} more"), count=report.reversed_count - len(report.reversed)))
    if report.reps:
        head += ["", "<b>" + t(N_("By person who collected")) + "</b>"]
    with_team = len({rep.team for rep in report.reps}) > 1
    blocks = [rep_collections_line(t, rep, with_team) for rep in report.reps]
    body = fit(
        head,
        blocks,
        lambda left: t(N_("…and {count} more: /export {day} lists every collection."), count=left, day=day),
        MESSAGE_BUDGET - length("\n".join(tail)),
    )
    return "\n".join([body, *tail])


# -- the outstanding-payments report --------------------------------------------------------------


def customer_block(t: Translator, entry: CustomerAging) -> str:
    customer = escape(short(entry.customer.name, CUSTOMER_SHOWN))
    rep = escape(short(entry.rep, NAME_SHOWN)) if entry.rep else "—"
    head = f"• <b>{customer}</b> ({escape(entry.customer.code)}) · {rep} · " + t.ngettext(
        "{amount} on {count} invoice",
        "{amount} on {count} invoices",
        entry.aging.invoices,
        amount=format_amount(entry.aging.total),
        count=entry.aging.invoices,
    )
    return f"{head}\n  {aging_inline(t, entry.aging)}"


def outstanding_text(t: Translator, report: Outstanding) -> str:
    """The outstanding-payments report: the scope's totals by age, then customers owing most."""
    day = report.day.isoformat()
    title = _scope_title(
        t,
        report.scope,
        N_("Outstanding payments · {day} · everyone"),
        N_("Outstanding payments · {day} · team {team}"),
        day=day,
    )
    total = report.total
    head = [
        f"<b>{title}</b>",
        "",
        t(
            N_("Open: {amount} on {invoices} of {customers} · overdue {overdue}"),
            amount=format_amount(total.total),
            invoices=invoices(t, total.invoices),
            customers=customers(t, report.customers),
            overdue=format_amount(total.overdue),
        ),
        *aging_lines(t, total),
        "",
        "<b>" + t(N_("Customers owing most")) + "</b>",
    ]
    blocks = [customer_block(t, entry) for entry in report.top]
    return fit(
        head,
        blocks,
        lambda left: t.ngettext(
            "…and {count} more customer: /export lists every open invoice by age.",
            "…and {count} more customers: /export lists every open invoice by age.",
            left,
            count=left,
        ),
        unlisted=report.more,
    )
