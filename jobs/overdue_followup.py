"""``overdue_followup``: chase overdue receivables level by level, one digest per person.

A receivable is pushed at the level its days overdue have reached (an invoice
imported 40 days late goes straight to level 3); each (receivable, level) once,
never a lower level after a higher one (``Receivable.followup_level`` only
rises, in the same transaction as the pushes). Paid, disputed and promised
(until the promise date) receivables are left alone.

Each reader gets a digest written for them (:class:`Reader`): the rep what to do and who now
knows, the manager and the director what is asked of them. A level is described by the days
set in ``/settings followup`` ("30 days or more overdue": reached on the 30th day), never by
the shipped defaults.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import case, or_, select, update

from bot.db import slices
from bot.i18n import N_, Translator, escape
from bot.services.company import FollowupLevel
from bot.services.money import overdue_rollup
from bot.services.money.amounts import format_amount
from bot.services.money.ledger import is_open
from bot.services.outbox import Buttons
from jobs.context import JobContext
from jobs.people import recipients
from models import Customer, Receivable, Role

SHOWN = 20
#: "Promise to pay" buttons on a rep's digest, for the highest-level invoices first.
PROMISE_BUTTONS = 8
BUTTON_INVOICE_SHOWN = 24


class Reader(enum.Enum):
    """Who a digest is written for: each reads what the level means for them."""

    REP = "rep"
    MANAGER = "manager"
    DIRECTOR = "director"


#: "Level 3 — 30 days or more overdue: your manager is informed." The days are the level's threshold
#: in ``/settings followup``: a level is reached on the day the invoice is that many days overdue.
LEVEL_HEADING = N_("Level {level} — {overdue}: {action}")


def overdue_for(t: Translator, days: int) -> str:
    """ "30 days or more overdue": what reaching a level's threshold means."""
    return t.ngettext("{days} day or more overdue", "{days} days or more overdue", days).format(days=days)


def level_action(t: Translator, reader: Reader, level: FollowupLevel) -> str:
    """What the level means for ``reader``: what the rep does, and who else now knows.

    Worded from the level's own flags (who is told), so the rep reads "your manager is informed"
    and the manager, who is the one informed, reads what is asked of them.
    """
    if reader is Reader.REP:
        if level.tell_director:
            return t.gettext(N_("the sales director is informed."))
        if level.tell_manager:
            return t.gettext(N_("your manager is informed."))
        if level.level == 1:
            return t.gettext(N_("remind the customer."))
        return t.gettext(N_("ask firmly for a payment date."))
    if reader is Reader.MANAGER:
        if level.tell_director:
            return t.gettext(N_("the sales director is informed too; agree a payment plan with the rep."))
        return t.gettext(N_("the rep is chasing it; see that a payment date is agreed."))
    return t.gettext(N_("the rep and their manager are chasing it."))


def level_heading(t: Translator, reader: Reader, level: FollowupLevel) -> str:
    return t(
        LEVEL_HEADING,
        level=level.level,
        overdue=overdue_for(t, level.days_overdue),
        action=level_action(t, reader, level),
    )


@dataclass(frozen=True)
class Escalation:
    receivable_id: int
    invoice_no: str
    customer: str
    rep_id: int | None
    team_id: int | None
    open: Decimal
    days: int
    level: int
    tell_manager: bool
    tell_director: bool

    def line(self, t: Translator, with_rep: dict[int, str] | None = None) -> str:
        rep = f" · {escape(with_rep.get(self.rep_id or 0, '—'))}" if with_rep is not None else ""
        overdue = t.ngettext("{days} day overdue", "{days} days overdue", self.days).format(days=self.days)
        return (
            f"• {escape(self.invoice_no)} · {escape(self.customer)}{rep} · {format_amount(self.open)} · "
            + escape(overdue)
        )


async def escalations(ctx: JobContext) -> list[Escalation]:
    """Receivables whose days overdue reached a level not pushed yet.

    The level is computed in SQL from one cut-off date per level, so only the
    receivables that escalate today come back, however many are overdue.
    """
    levels = {level.level: level for level in ctx.company.followup_levels}
    by_days = sorted(levels.values(), key=lambda level: level.days_overdue, reverse=True)
    reached = case(
        *(
            (Receivable.due_on <= ctx.today - timedelta(days=level.days_overdue), level.level)
            for level in by_days
        ),
        else_=0,
    )
    rows = await ctx.session.execute(
        select(
            Receivable.id,
            Receivable.invoice_no,
            Customer.name,
            Receivable.rep_id,
            Customer.team_id,
            Receivable.open_amount,
            Receivable.due_on,
            reached,
        )
        .join(Customer, Customer.id == Receivable.customer_id)
        .where(
            Receivable.due_on < ctx.today,
            ~Receivable.disputed,
            is_open(),
            reached > Receivable.followup_level,
            or_(Receivable.promise_date.is_(None), Receivable.promise_date < ctx.today),
        )
        .order_by(Receivable.due_on, Receivable.id)
    )
    return [
        Escalation(
            id_,
            invoice,
            customer,
            rep_id,
            team_id,
            Decimal(open_),
            (ctx.today - due_on).days,
            level,
            levels[level].tell_manager,
            levels[level].tell_director,
        )
        for id_, invoice, customer, rep_id, team_id, open_, due_on, level in rows
    ]


def digest(
    t: Translator,
    title: str,
    items: list[Escalation],
    reps: dict[int, str] | None,
    levels: dict[int, FollowupLevel],
    reader: Reader,
) -> str:
    lines = [f"<b>{title}</b>"]
    for level in sorted({item.level for item in items}, reverse=True):
        of_level = [item for item in items if item.level == level]
        lines += ["", level_heading(t, reader, levels[level])]
        lines += [item.line(t, reps) for item in of_level[:SHOWN]]
        if len(of_level) > SHOWN:
            lines.append(t(N_("…and {count} more"), count=len(of_level) - SHOWN))
    return "\n".join(lines)


def director_title(t: Translator, levels: dict[int, FollowupLevel]) -> str:
    """ "Receivables 60 days or more overdue": from the first level the director is told of."""
    days = min(level.days_overdue for level in levels.values() if level.tell_director)
    return t.ngettext(
        "Receivables {days} day or more overdue", "Receivables {days} days or more overdue", days
    ).format(days=days)


def promise_buttons(t: Translator, items: list[Escalation]) -> Buttons:
    """One "Promise to pay" button per invoice (``due:promise:<id>``).

    Handled by handlers/money/overdue.py."""
    chosen = sorted(items, key=lambda item: (-item.level, -item.days, item.receivable_id))[:PROMISE_BUTTONS]
    label = t.gettext(N_("🤝 Promise to pay · {invoice}"))
    return [
        [
            {
                "text": label.format(invoice=item.invoice_no[:BUTTON_INVOICE_SHOWN]),
                "callback_data": f"due:promise:{item.receivable_id}",
            }
        ]
        for item in chosen
    ]


async def overdue_followup(ctx: JobContext) -> None:
    # The day's move of the customers' overdue figures, before anyone opens /overdue.
    await overdue_rollup.current(ctx.session, ctx.today)
    found = await escalations(ctx)
    if not found:
        return
    staff = await recipients(ctx.session, Role.REP, Role.MANAGER, Role.DIRECTOR)
    names = {person.id: person.name for person in staff}
    per_rep: dict[int, list[Escalation]] = defaultdict(list)
    for item in found:
        if item.rep_id is not None:
            per_rep[item.rep_id].append(item)
    levels = {level.level: level for level in ctx.company.followup_levels}
    for person in staff:
        t = Translator(person.language)
        if person.role == Role.REP and per_rep.get(person.id):
            title = t(N_("Overdue receivables to chase today"))
            mine = per_rep[person.id]
            await ctx.push(
                person.id,
                ctx.today.isoformat(),
                digest(t, title, mine, None, levels, Reader.REP),
                promise_buttons(t, mine),
            )
        elif person.role == Role.MANAGER:
            mine = [i for i in found if i.tell_manager and i.team_id == person.team_id]
            if mine:
                title = t(N_("Your team's overdue receivables that need you"))
                await ctx.push(
                    person.id, ctx.today.isoformat(), digest(t, title, mine, names, levels, Reader.MANAGER)
                )
        elif person.role == Role.DIRECTOR:
            serious = [i for i in found if i.tell_director]
            if serious:
                title = escape(director_title(t, levels))
                await ctx.push(
                    person.id,
                    ctx.today.isoformat(),
                    digest(t, title, serious, names, levels, Reader.DIRECTOR),
                )
    for level in {item.level for item in found}:
        ids = [item.receivable_id for item in found if item.level == level]
        for some in slices(ids):  # a catch-up morning may escalate more than one statement can name
            await ctx.session.execute(
                update(Receivable).where(Receivable.id.in_(some)).values(followup_level=level)
            )
