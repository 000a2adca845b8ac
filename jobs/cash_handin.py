"""``cash_handin``: money reaches finance the same day (regulations part 2, item 10).

Each rep holding cash or cheques that finance has not confirmed gets the list
and total; anything held longer than a few days also goes to their manager.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select

from bot.i18n import N_, Translator, escape
from bot.services.amounts import format_amount
from bot.services.collections import held
from bot.services.policy import start_of_day
from jobs.context import JobContext
from jobs.people import recipients
from models import Collection, Customer, PaymentMethod, Role

SHOWN = 20

METHOD_NAMES = {PaymentMethod.CASH: N_("cash"), PaymentMethod.CHEQUE: N_("cheque"),
                PaymentMethod.TRANSFER: N_("transfer")}


class HeldMoney(NamedTuple):
    collection_id: int
    rep_id: int
    customer: str
    amount: Decimal
    method: PaymentMethod
    received_at: datetime


async def held_money(ctx: JobContext) -> list[HeldMoney]:
    """Cash and cheques the reps still hold (see :func:`bot.services.collections.held`), oldest first."""
    rows = await ctx.session.execute(
        select(Collection.id, Collection.rep_id, Customer.name, Collection.amount, Collection.method,
               Collection.received_at)
        .join(Customer, Customer.id == Collection.customer_id)
        .where(held())
        .order_by(Collection.received_at, Collection.id))
    return [HeldMoney(*row) for row in rows]


def rep_digest(t: Translator, items: list[HeldMoney], ctx: JobContext) -> str:
    total = sum((item.amount for item in items), Decimal("0.00"))
    lines = [t(N_("You are holding {total} that finance has not confirmed yet. Hand it in today:"),
               total=format_amount(total))]
    for item in items[:SHOWN]:
        method = t.gettext(METHOD_NAMES[item.method])
        lines.append(f"• #{item.collection_id} · {escape(item.customer)} · {format_amount(item.amount)} · "
                     f"{escape(method)} · {item.received_at.astimezone(ctx.zone):%m-%d}")
    if len(items) > SHOWN:
        lines.append(t(N_("…and {count} more"), count=len(items) - SHOWN))
    return "\n".join(lines)


async def cash_handin(ctx: JobContext) -> None:
    items = await held_money(ctx)
    if not items:
        return
    too_old = start_of_day(ctx.today - timedelta(days=ctx.company.cash_held_days_to_manager), ctx.zone)
    per_rep: dict[int, list[HeldMoney]] = defaultdict(list)
    held_too_long: dict[int, Decimal] = defaultdict(Decimal)
    for item in items:
        per_rep[item.rep_id].append(item)
        if item.received_at < too_old:
            held_too_long[item.rep_id] += item.amount
    staff = await recipients(ctx.session, Role.REP, Role.MANAGER)
    names = {person.id: person.name for person in staff}
    team_of = {person.id: person.team_id for person in staff}
    for person in staff:
        t = Translator(person.language)
        if person.role == Role.REP and person.id in per_rep:
            await ctx.push(person.id, ctx.today.isoformat(), rep_digest(t, per_rep[person.id], ctx))
            continue
        late = sorted(((total, rep_id) for rep_id, total in held_too_long.items()
                       if team_of.get(rep_id) == person.team_id), reverse=True)
        if person.role == Role.MANAGER and late:
            lines = [t(N_("Money held by your reps for more than {days} days, not yet handed in:"),
                       days=ctx.company.cash_held_days_to_manager)]
            lines += [f"• {escape(names.get(rep_id, '—'))}: {format_amount(total)}" for total, rep_id in late]
            await ctx.push(person.id, ctx.today.isoformat(), "\n".join(lines))
