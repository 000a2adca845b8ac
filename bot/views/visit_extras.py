"""Stock levels, shortfalls and market feedback as text (HTML), wherever they are shown again:
the customer's card, the rep drill-down of /rep and /summary, the morning plan, the manager's digest.

Names and texts are cut (:data:`NAME_CHARS`, :data:`TEXT_CHARS`) so that a section of a bounded
number of lines stays well within a Telegram message, whatever reps typed.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator, escape
from bot.services.field.customers import first_line
from bot.services.field.stock import Shortfall, Shortfalls, StockLevel, StockLevels
from bot.services.field.units import quantity_text
from bot.services.field.visit_extras import TOPIC_LABELS, TopicFeedback

NAME_CHARS = 40
TEXT_CHARS = 100
MINUS = "\u2212"
PHOTO_BUTTON = N_("📷 Photos ({count})")


def short_name(text: str, limit: int = NAME_CHARS) -> str:
    """A name or product cut to ``limit`` characters, as HTML."""
    return escape(first_line(text, limit))


def day(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d}"


def signed(change: int) -> str:
    """``+4``, ``−12`` (a true minus sign), ``±0``."""
    if change > 0:
        return f"+{change}"
    return f"{MINUS}{-change}" if change < 0 else "±0"


def _shortness(t: Translator, quantity: int, usual: int | None, minimum: int | None) -> str:
    if quantity <= 0:
        return t(N_("⚠️ out of stock"))
    if minimum is not None:
        return t(N_("⚠️ below the minimum of {minimum}"), minimum=minimum)
    return t(N_("⚠️ below half the usual {usual}"), usual=usual)


def level_line(t: Translator, level: StockLevel, zone: ZoneInfo, *, with_customer: bool = False) -> str:
    """``• Cola 330ml: 0 (−12) ⚠️ out of stock · 2026-11-23`` (with the customer first, for a rep)."""
    where = f"{short_name(level.customer_name)} — " if with_customer else ""
    change = t(N_("first count")) if level.change is None else signed(level.change)
    amount = quantity_text(t, level.quantity, level.unit, bold=True)
    parts = [f"• {where}{short_name(level.product)}: {amount} ({change})"]
    if level.short:
        parts.append(_shortness(t, level.quantity, level.usual, level.minimum))
    parts.append(f"· {day(level.checked_at, zone)}")
    return " ".join(parts)


def stock_section(
    t: Translator, levels: StockLevels, zone: ZoneInfo, *, title: str, with_customer: bool = False
) -> list[str]:
    """A titled list of stock levels, and how many more there are; nothing when there are none."""
    if not levels.total:
        return []
    heading = "📦 <b>" + title + "</b>"
    if levels.short:
        heading += " · " + t(N_("{count} short"), count=levels.short)
    lines = [heading, *(level_line(t, level, zone, with_customer=with_customer) for level in levels.levels)]
    if levels.total > len(levels.levels):
        more = levels.total - len(levels.levels)
        lines.append(t.ngettext("…and {count} more product", "…and {count} more products", more, count=more))
    return lines


def shortfall_line(t: Translator, item: Shortfall, zone: ZoneInfo, *, with_rep: bool = False) -> str:
    """``• Shop (S1) — Cola 330ml: 0 ⚠️ out of stock · counted 2026-11-20``."""
    rep = f" [{short_name(item.rep_name, 24)}]" if with_rep and item.rep_name else ""
    return (
        f"• {short_name(item.customer_name)} ({escape(item.customer_code)}){rep} — "
        f"{short_name(item.product)}: {quantity_text(t, item.quantity, item.unit, bold=True)} "
        f"{_shortness(t, item.quantity, item.usual, item.minimum)} · "
        + t(N_("counted {date}"), date=day(item.checked_at, zone))
    )


def shortfalls_section(
    t: Translator, shortfalls: Shortfalls, zone: ZoneInfo, *, title: str, with_rep: bool = False
) -> list[str]:
    """A titled list of open shortfalls, and how many more there are; nothing when there are none."""
    if not shortfalls.total:
        return []
    lines = [title, *(shortfall_line(t, item, zone, with_rep=with_rep) for item in shortfalls.items)]
    if shortfalls.total > len(shortfalls.items):
        more = shortfalls.total - len(shortfalls.items)
        lines.append(
            t.ngettext("…and {count} more shortfall", "…and {count} more shortfalls", more, count=more)
        )
    return lines


def feedback_line(t: Translator, item: TopicFeedback, zone: ZoneInfo, *, who: str) -> str:
    """``• Price (2): Competitor X is 5% cheaper — Li Wei, 2026-11-23``; ``who``: the rep's or the
    customer's name, whichever the reader does not know already."""
    return (
        f"• <b>{escape(t.gettext(TOPIC_LABELS[item.topic]))}</b> ({item.count}): "
        f"{escape(first_line(item.text, TEXT_CHARS))} — {short_name(who, 30)}, {day(item.at, zone)}"
    )


def feedback_section(
    t: Translator,
    feedback: tuple[TopicFeedback, ...],
    zone: ZoneInfo,
    *,
    title: str,
    by_customer: bool = False,
) -> list[str]:
    """A titled list, one line per topic; nothing when there is no feedback."""
    if not feedback:
        return []
    return [
        "💬 <b>" + title + "</b>",
        *(
            feedback_line(t, item, zone, who=item.customer_name if by_customer else item.rep_name)
            for item in feedback
        ),
    ]


def team_shortfalls(t: Translator, day: date, shortfalls: Shortfalls, zone: ZoneInfo) -> str:
    """The managers' digest's part on stock (sent with the day's reports): the open shortfalls at
    the team's customers, each with its rep, until a count shows it restocked."""
    title = (
        "<b>"
        + t(
            N_("⚠️ Stock shortfalls at your team's customers · {day}: {count}"),
            day=day.isoformat(),
            count=shortfalls.total,
        )
        + "</b>"
    )
    return "\n".join(
        [
            *shortfalls_section(t, shortfalls, zone, title=title, with_rep=True),
            t(N_("Each stays listed until a later count shows it restocked.")),
        ]
    )
