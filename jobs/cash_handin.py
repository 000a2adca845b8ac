"""``cash_handin``: money reaches finance the same day (regulations part 2, item 10).

A ladder, every working day until finance confirms the hand-in: each rep holding cash
or cheques gets the list and total; money held more than ``cash_held_days_to_manager``
days (3) also goes to their manager; money held ``cash_held_days_to_director`` days (90)
or more goes to the director and finance, by rep and amount, because money not handed
in within three months is embezzlement (part 5, item 15). One push per person per day
(the outbox key is the job, the person and the date), so each is told once a day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select

from bot.i18n import N_, Translator, escape
from bot.services.money.amounts import format_amount
from bot.services.money.collections import held
from bot.services.policy import start_of_day
from jobs.context import JobContext
from jobs.people import recipients
from models import Collection, Customer, PaymentMethod, Role, Team, User

SHOWN = 20

METHOD_NAMES = {
    PaymentMethod.CASH: N_("cash"),
    PaymentMethod.CHEQUE: N_("cheque"),
    PaymentMethod.TRANSFER: N_("transfer"),
}


class HeldMoney(NamedTuple):
    collection_id: int
    rep_id: int
    customer: str
    amount: Decimal
    method: PaymentMethod
    received_at: datetime


async def held_money(ctx: JobContext) -> list[HeldMoney]:
    """Cash and cheques the reps still hold, oldest first.

    See :func:`bot.services.money.collections.held`."""
    rows = await ctx.session.execute(
        select(
            Collection.id,
            Collection.rep_id,
            Customer.name,
            Collection.amount,
            Collection.method,
            Collection.received_at,
        )
        .join(Customer, Customer.id == Collection.customer_id)
        .where(held())
        .order_by(Collection.received_at, Collection.id)
    )
    return [HeldMoney(*row) for row in rows]


def rep_digest(t: Translator, items: list[HeldMoney], ctx: JobContext) -> str:
    total = sum((item.amount for item in items), Decimal("0.00"))
    lines = [
        t(
            N_("You are holding {total} that finance has not confirmed yet. Hand it in today:"),
            total=format_amount(total),
        )
    ]
    for item in items[:SHOWN]:
        method = t.gettext(METHOD_NAMES[item.method])
        lines.append(
            f"• #{item.collection_id} · {escape(item.customer)} · {format_amount(item.amount)} · "
            f"{escape(method)} · {item.received_at.astimezone(ctx.zone):%m-%d}"
        )
    if len(items) > SHOWN:
        lines.append(t(N_("…and {count} more"), count=len(items) - SHOWN))
    return "\n".join(lines)


@dataclass
class RepOverdue:
    """One rep's money held past the director's threshold: since when (the oldest), and how much."""

    oldest: date
    days: int
    total: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Holder:
    """A rep holding money, as the managers' and the director's lists name them."""

    name: str
    team_id: int | None
    team: str | None


async def holders(ctx: JobContext, rep_ids: set[int]) -> dict[int, Holder]:
    """Every rep holding money, reachable or not: a rep who left with cash is named too."""
    rows = await ctx.session.execute(
        select(User.id, User.name, User.team_id, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.id.in_(rep_ids))
    )
    return {id_: Holder(name, team_id, team) for id_, name, team_id, team in rows}


def overdue_digest(
    t: Translator, overdue: dict[int, RepOverdue], people: dict[int, Holder], ctx: JobContext
) -> str:
    """For the director and finance: who holds money past the threshold, how much, since when."""
    total = sum((rep.total for rep in overdue.values()), Decimal("0.00"))
    days = ctx.company.cash_held_days_to_director
    lines = [
        t.ngettext(
            "⚠️ Money held {days} day or more and still not handed in to finance: {total}. "
            "Money not handed in within three months is embezzlement (regulations part 5, item 15).",
            "⚠️ Money held {days} days or more and still not handed in to finance: {total}. "
            "Money not handed in within three months is embezzlement (regulations part 5, item 15).",
            days,
            days=days,
            total=format_amount(total),
        )
    ]
    ranked = sorted(overdue.items(), key=lambda entry: (-entry[1].total, entry[0]))
    for rep_id, rep in ranked[:SHOWN]:
        holder = people.get(rep_id)
        who = "—" if holder is None else holder.name
        if holder is not None and holder.team:  # the template, not yet escaped: t() escapes it once
            who = t.gettext(N_("{name} ({team})")).format(name=holder.name, team=holder.team)
        lines.append(
            t.ngettext(
                "• {rep}: {amount}, held since {day} ({days} day)",
                "• {rep}: {amount}, held since {day} ({days} days)",
                rep.days,
                rep=who,
                amount=format_amount(rep.total),
                day=rep.oldest.isoformat(),
                days=rep.days,
            )
        )
    if len(ranked) > SHOWN:
        lines.append(t(N_("…and {count} more"), count=len(ranked) - SHOWN))
    lines.append(
        t(N_("Finance confirms the hand-in with /deposits; until then this comes every working day."))
    )
    return "\n".join(lines)


async def cash_handin(ctx: JobContext) -> None:
    items = await held_money(ctx)
    if not items:
        return
    too_old = start_of_day(ctx.today - timedelta(days=ctx.company.cash_held_days_to_manager), ctx.zone)
    per_rep: dict[int, list[HeldMoney]] = defaultdict(list)
    held_too_long: dict[int, Decimal] = defaultdict(Decimal)
    overdue: dict[int, RepOverdue] = {}
    for item in items:  # oldest first
        per_rep[item.rep_id].append(item)
        if item.received_at < too_old:
            held_too_long[item.rep_id] += item.amount
        received_on = item.received_at.astimezone(ctx.zone).date()
        days = (ctx.today - received_on).days
        if days >= ctx.company.cash_held_days_to_director:
            rep = overdue.setdefault(item.rep_id, RepOverdue(oldest=received_on, days=days))
            rep.total += item.amount
    people = await holders(ctx, set(held_too_long) | set(overdue))
    staff = await recipients(
        ctx.session, Role.REP, Role.MANAGER, *((Role.DIRECTOR, Role.FINANCE) if overdue else ())
    )
    for person in staff:
        t = Translator(person.language)
        if person.role == Role.REP and person.id in per_rep:
            await ctx.push(person.id, ctx.today.isoformat(), rep_digest(t, per_rep[person.id], ctx))
        elif person.role in (Role.DIRECTOR, Role.FINANCE):
            await ctx.push(person.id, ctx.today.isoformat(), overdue_digest(t, overdue, people, ctx))
        elif person.role == Role.MANAGER:
            late = sorted(
                (
                    (total, rep_id)
                    for rep_id, total in held_too_long.items()
                    if people[rep_id].team_id == person.team_id
                ),
                reverse=True,
            )
            if late:
                days = ctx.company.cash_held_days_to_manager
                lines = [
                    t.ngettext(
                        "Money held by your reps for more than {days} day, not yet handed in:",
                        "Money held by your reps for more than {days} days, not yet handed in:",
                        days,
                        days=days,
                    )
                ]
                lines += [
                    f"• {escape(people[rep_id].name)}: {format_amount(total)}" for total, rep_id in late
                ]
                await ctx.push(person.id, ctx.today.isoformat(), "\n".join(lines))
