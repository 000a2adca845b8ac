"""``weekly_outstanding``: the regulations' weekly outstanding-payments report (part 4, art. 28).

Reps get their open receivables by age; managers their team's, one line per rep.
"""

from __future__ import annotations

from bot.i18n import N_, Translator, escape
from bot.services.aging import BUCKET_LABELS, BUCKETS, Aging, aging_by_rep
from bot.services.amounts import format_amount
from jobs.context import JobContext
from jobs.people import recipients
from models import Role


def aging_lines(t: Translator, aging: Aging) -> list[str]:
    return [f"  {escape(t.gettext(BUCKET_LABELS[bucket]))}: {format_amount(aging.buckets[bucket])}"
            for bucket in BUCKETS if aging.buckets[bucket]]


async def weekly_outstanding(ctx: JobContext) -> None:
    by_rep = await aging_by_rep(ctx.session, ctx.today)
    if not by_rep:
        return
    staff = await recipients(ctx.session, Role.REP, Role.MANAGER)
    names = {person.id: person.name for person in staff}
    team_of = {person.id: person.team_id for person in staff}
    for person in staff:
        t = Translator(person.language)
        if person.role == Role.REP and person.id in by_rep:
            aging = by_rep[person.id]
            lines = [t(N_("Your outstanding payments this week: {total} on {count} invoices."),
                       total=format_amount(aging.total), count=aging.invoices), *aging_lines(t, aging)]
            await ctx.push(person.id, ctx.today.isoformat(), "\n".join(lines))
        elif person.role == Role.MANAGER:
            team = sorted(((aging.total, rep_id, aging) for rep_id, aging in by_rep.items()
                           if rep_id is not None and team_of.get(rep_id) == person.team_id), reverse=True)
            if not team:
                continue
            lines = [t(N_("Your team's outstanding payments this week:"))]
            for _total, rep_id, aging in team:
                lines.append(f"<b>{escape(names.get(rep_id, '—'))}</b>: {format_amount(aging.total)} · "
                             + t(N_("overdue {amount}"), amount=format_amount(aging.overdue)))
                lines += aging_lines(t, aging)
            await ctx.push(person.id, ctx.today.isoformat(), "\n".join(lines))
