"""Plan against actual as text: shared by /plan, /rep, /summary and the month-end push."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n import N_, Translator, escape
from bot.services.field.plans import KIND_LABELS, Attainment, PlanFigures, fit_lines
from bot.services.money.amounts import format_amount

NAME_SHOWN = 40
#: Characters for the plans in a summary's first page, and for the names of who filed none.
SECTION_BUDGET, UNFILED_BUDGET = 1600, 400


def percent(actual: Decimal | int, target: Decimal | int) -> str:
    """``actual`` as a whole percentage of ``target`` ("—" when there is no target)."""
    if not target or target <= 0:
        return "—"
    return f"{Decimal(actual) * 100 / Decimal(target):.0f}%"


def _short(text: str) -> str:
    return text if len(text) <= NAME_SHOWN else text[: NAME_SHOWN - 1] + "…"


def attainment_block(t: Translator, a: Attainment) -> list[str]:
    """One plan against the records, a line per measure (for one person's view)."""
    title = t(
        N_("Plan against actual · {kind} · {period} ({status})"),
        kind=t.gettext(KIND_LABELS[a.period.kind]),
        period=a.period.title(t),
        status=t.gettext(N_("approved")) if a.approved else t.gettext(N_("not approved yet")),
    )
    return [
        f"<b>{title}</b>",
        t(
            N_("Visits: {visits} of {planned} planned ({percent}); to planned customers: {to_planned}"),
            visits=a.visits,
            planned=a.planned_visits,
            percent=percent(a.visits, a.planned_visits),
            to_planned=a.visits_to_planned,
        ),
        t(
            N_("Planned customers visited: {visited} of {customers} ({percent})"),
            visited=a.planned_visited,
            customers=a.planned_customers,
            percent=percent(a.planned_visited, a.planned_customers),
        ),
        t(
            N_("Orders: {actual} of {target} ({percent})"),
            actual=format_amount(a.orders),
            target=format_amount(a.orders_target),
            percent=percent(a.orders, a.orders_target),
        ),
        t(
            N_("Collections: {actual} of {target} ({percent})"),
            actual=format_amount(a.collected),
            target=format_amount(a.collections_target),
            percent=percent(a.collected, a.collections_target),
        ),
    ]


def attainment_line(t: Translator, a: Attainment) -> str:
    """One plan in a list of people: visits, customers, orders and collections against the plan."""
    figures = t(
        N_(
            "visits {visits}/{planned} · customers {visited}/{customers} · orders {orders} ({orders_pct}) "
            "· collected {collected} ({collected_pct})"
        ),
        visits=a.visits,
        planned=a.planned_visits,
        visited=a.planned_visited,
        customers=a.planned_customers,
        orders=format_amount(a.orders),
        orders_pct=percent(a.orders, a.orders_target),
        collected=format_amount(a.collected),
        collected_pct=percent(a.collected, a.collections_target),
    )
    mark = " ✅" if a.approved else ""
    return f"• <b>{escape(_short(a.rep))}</b>{mark} — {figures}"


def figures_section(t: Translator, figures: PlanFigures, budget: int = SECTION_BUDGET) -> list[str]:
    """Plan attainment per person, and who filed no plan (nothing when nobody is concerned), in
    about ``budget`` characters: a summary's first page must leave room for the rest."""
    if not figures.plans and not figures.unfiled:
        return []
    title = t(
        N_("Plans · {kind} · {period}"),
        kind=t.gettext(KIND_LABELS[figures.period.kind]),
        period=figures.period.title(t),
    )
    lines = [f"<b>{title}</b>"]
    lines += fit_lines(t, [attainment_line(t, a) for a in figures.plans], budget - UNFILED_BUDGET)
    if figures.unfiled:
        shown: list[str] = []
        used = 0
        for name in figures.unfiled:
            used += len(_short(name)) + 2
            if used > UNFILED_BUDGET:
                break
            shown.append(_short(name))
        names = ", ".join(shown)
        if len(shown) < len(figures.unfiled):
            names += " " + t(N_("and {count} more"), count=len(figures.unfiled) - len(shown))
        lines.append(t(N_("No plan filed: {names}"), names=names))
    return lines
