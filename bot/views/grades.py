"""Suggested grade changes as one message: shared by the monthly push and its "More" button.

A message lists at most :data:`MAX_SHOWN` suggestions, largest sales first, as many as fit in
Telegram's 4,096 characters, each with its own Apply button (``grd:apply:<customer id>:<from><to>``),
then "… and N more" with a "More" button (``grd:more:<group>:<last customer shown>``) that lists the
next ones.
"""

from __future__ import annotations

from bot.i18n import N_, Translator, escape
from bot.services.field.grading import SalesThresholds, Suggestions
from bot.services.money.amounts import format_amount
from bot.services.outbox import Buttons
from bot.views.finance import fit, short

#: Suggestions in one message (each is a line and an Apply button).
MAX_SHOWN = 15
NAME_SHOWN = 40


def standard_line(t: Translator, standard: SalesThresholds) -> str:
    template = (
        N_(
            "Grade by average monthly sales: A from {a} · B from {b} · C from {c} · D below. (Shipped "
            "defaults, not your company's standard: an admin sets it with /settings sales A B C.)"
        )
        if standard.default
        else N_("Grade by average monthly sales: A from {a} · B from {b} · C from {c} · D below.")
    )
    return t(template, a=format_amount(standard.a), b=format_amount(standard.b), c=format_amount(standard.c))


def render(t: Translator, found: Suggestions) -> tuple[str, Buttons]:
    """The message and its buttons (``found.items`` must not be empty)."""
    group = (
        t(N_("team {team}"), team=found.group_name)
        if found.group_name is not None
        else t(N_("customers without a manager"))
    )
    head = [
        t(
            N_("📊 <b>Suggested grades</b> · {group} · sales {months}"),
            group=group,
            months=found.window.label,
        ),
        standard_line(t, found.standard),
        "",
    ]
    blocks = [
        t(
            N_("{n}. {customer}{rep}: {current} → {suggested} · {monthly} a month"),
            n=number,
            customer=short(item.customer.label, 2 * NAME_SHOWN),
            rep=f" · {short(item.rep_name, NAME_SHOWN)}" if item.rep_name else "",
            current=item.current,
            suggested=item.suggested,
            monthly=format_amount(item.monthly),
        )
        for number, item in enumerate(found.items[:MAX_SHOWN], start=1)
    ]
    text = fit(
        head,
        blocks,
        lambda hidden: t(N_("… and {count} more: More ▶ lists them."), count=hidden),
        unlisted=max(0, len(found.items) - MAX_SHOWN),
    )
    lines = set(text.split("\n"))
    shown = found.items[: sum(1 for block in blocks if block in lines)]
    apply = t.gettext(N_("✅ {n}. {code}: grade {grade}"))
    buttons: Buttons = [
        [
            {
                "text": apply.format(n=number, code=item.customer.code, grade=item.suggested)[:60],
                "callback_data": f"grd:apply:{item.customer.id}:{item.current}{item.suggested}",
            }
        ]
        for number, item in enumerate(shown, start=1)
    ]
    if shown and len(shown) < len(found.items):
        buttons.append(
            [
                {
                    "text": t.gettext(N_("More ▶")),
                    "callback_data": f"grd:more:{found.group}:{shown[-1].customer.id}",
                }
            ]
        )
    return text, buttons


def setting_lines(t: Translator, standard: SalesThresholds) -> list[str]:
    """``/settings``' lines on the standard grades are suggested by (``bot/services/field/grading.py``)."""
    return [
        standard_line(t, standard),
        escape(
            t.gettext(
                N_(
                    "/settings sales 100000 30000 5000 (the least average monthly sales for "
                    "grades A, B and C; less is D)"
                )
            )
        ),
    ]
