"""``weekly_outstanding``: the regulations' weekly outstanding-payments report (part 4, art. 28).

Reps get their open receivables by age; managers their team's, one line per rep; finance (checking
them, as the regulations ask) the whole company's, one line per rep, largest first. Every rep with
money open is named, whether or not they use the bot (a rep who left still carries receivables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator, escape
from bot.services.money.aging import BUCKETS, Aging, aging_by_rep
from bot.services.money.amounts import format_amount
from bot.views.finance import aging_lines, fit, person_name
from jobs.collections_daily import finance_readers
from jobs.context import JobContext
from jobs.people import recipients
from models import Role, Team, User


@dataclass(frozen=True)
class Carrier:
    """Someone carrying open receivables."""

    name: str
    team_id: int | None
    team: str | None


async def carriers(session: AsyncSession, rep_ids: set[int]) -> dict[int, Carrier]:
    rows = await session.execute(
        select(User.id, User.name, User.team_id, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.id.in_(rep_ids))
    )
    return {id_: Carrier(name, team_id, team) for id_, name, team_id, team in rows}


def rep_block(t: Translator, name: str, aging: Aging, team: str | None = None) -> str:
    line = f"<b>{escape(person_name(t, name, team))}</b>: {format_amount(aging.total)} · " + t(
        N_("overdue {amount}"), amount=format_amount(aging.overdue)
    )
    return "\n".join([line, *aging_lines(t, aging)])


def more_reps(t: Translator) -> Callable[[int], str]:
    return lambda left: t(N_("…and {count} more: /export lists every open invoice by age."), count=left)


def company_digest(t: Translator, by_rep: dict[int | None, Aging], people: dict[int, Carrier]) -> str:
    """Finance's copy: the company's totals by age, then one block per rep, largest first."""
    total = Aging()
    for aging in by_rep.values():
        for bucket in BUCKETS:
            total.buckets[bucket] += aging.buckets[bucket]
        total.invoices += aging.invoices
    head = [
        t.ngettext(
            "Outstanding payments this week, everyone: {total} on {count} invoice · overdue {overdue}",
            "Outstanding payments this week, everyone: {total} on {count} invoices · overdue {overdue}",
            total.invoices,
            total=format_amount(total.total),
            count=total.invoices,
            overdue=format_amount(total.overdue),
        ),
        *aging_lines(t, total),
        "",
    ]
    ranked = sorted(by_rep.items(), key=lambda entry: (-entry[1].total, entry[0] or 0))
    blocks = []
    for rep_id, aging in ranked:
        carrier = people.get(rep_id) if rep_id is not None else None
        name = carrier.name if carrier else t.gettext(N_("no rep"))
        blocks.append(rep_block(t, name, aging, carrier.team if carrier else None))
    return fit(head, blocks, more_reps(t))


async def weekly_outstanding(ctx: JobContext) -> None:
    by_rep = await aging_by_rep(ctx.session, ctx.today)
    if not by_rep:
        return
    people = await carriers(ctx.session, {rep_id for rep_id in by_rep if rep_id is not None})
    for person in await recipients(ctx.session, Role.REP, Role.MANAGER):
        t = Translator(person.language)
        if person.role == Role.REP and person.id in by_rep:
            aging = by_rep[person.id]
            lines = [
                t.ngettext(
                    "Your outstanding payments this week: {total} on {count} invoice.",
                    "Your outstanding payments this week: {total} on {count} invoices.",
                    aging.invoices,
                    total=format_amount(aging.total),
                    count=aging.invoices,
                ),
                *aging_lines(t, aging),
            ]
            await ctx.push(person.id, ctx.today.isoformat(), "\n".join(lines))
        elif person.role == Role.MANAGER and person.team_id is not None:
            team = sorted(
                (
                    (aging.total, rep_id, aging)
                    for rep_id, aging in by_rep.items()
                    if rep_id is not None and rep_id in people and people[rep_id].team_id == person.team_id
                ),
                reverse=True,
            )
            if not team:
                continue
            blocks = [rep_block(t, people[rep_id].name, aging) for _total, rep_id, aging in team]
            text = fit([t(N_("Your team's outstanding payments this week:"))], blocks, more_reps(t))
            await ctx.push(person.id, ctx.today.isoformat(), text)
    for reader in await finance_readers(ctx.session):
        await ctx.push(
            reader.id, ctx.today.isoformat(), company_digest(Translator(reader.language), by_rep, people)
        )
