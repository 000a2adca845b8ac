"""``complaint_clock``: the three- and five-day clocks of customer letters and complaints.

Runs every day (the deadlines are calendar days, bot/services/field/complaints.py); a push made on
a day off or in quiet hours waits for the next working hour, as every push does. For each open
item and each clock not yet met (the answer; someone on site for a quality problem):

* **before the deadline** its owner (the customer's rep, or whoever logged it) is reminded, from
  the last working day before the due day (the day before, unless that is a day off) until the due
  day itself;
* **the day after the deadline** the manager of the customer's team is told;
* **a day later** the director.

Each of these is one push per item, clock and reader, keyed in the outbox
(``complaint_clock:<recipient>:<item>:<clock>:<stage>``), so a re-run or the next day's run sends
none of them again. An item answered, visited or resolved drops out of the query: its clock stops.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.i18n import N_, Translator, escape
from bot.services.company import CompanySettings
from bot.services.field import complaints
from bot.services.field.complaints import ComplaintView
from bot.services.outbox import Buttons
from bot.views.complaints import heading, short
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import Role

TEXT_SHOWN = 300
ANSWER, ONSITE = "answer", "onsite"


def reminder_day(due: date, opened: date, company: CompanySettings) -> date:
    """The last working day before ``due`` (not before the day it was logged)."""
    day = due - timedelta(days=1)
    while day > opened and not company.is_working_day(day):
        day -= timedelta(days=1)
    return max(day, opened)


def open_button(t: Translator, item: ComplaintView) -> Buttons:
    return [
        [
            {
                "text": t.gettext(N_("📮 Open #{number}")).format(number=item.id),
                "callback_data": f"cmp:show:{item.id}",
            }
        ]
    ]


def _text(t: Translator, item: ComplaintView, clock: str, stage: str, due: date) -> str:
    if stage == "remind":
        template = (
            N_("⏰ Answer the customer by {due}: the regulations give three days.")
            if clock == ANSWER
            else N_("⏰ Someone must be on site by {due}: a quality problem gets a visit within five days.")
        )
    elif clock == ANSWER:
        template = N_("⚠️ Not answered by {due}. Owner: {owner}.")
    else:
        template = N_("⚠️ Nobody was on site by {due}. Owner: {owner}.")
    lines = [heading(t, item), t(template, due=due.isoformat(), owner=item.owner)]
    if stage == "director":
        lines.append(t(N_("The manager was told a day ago.")))
    lines.append("“" + escape(short(item.text, TEXT_SHOWN)) + "”")
    return "\n".join(lines)


async def complaint_clock(ctx: JobContext) -> None:
    items = await complaints.open_items(ctx.session, ctx.now)
    if not items:
        return
    staff = await recipients(ctx.session, Role.REP, Role.MANAGER, Role.DIRECTOR, Role.ADMIN)
    by_id = {person.id: person for person in staff}
    managers = [person for person in staff if person.role == Role.MANAGER]
    directors = [person for person in staff if person.role == Role.DIRECTOR]
    today = ctx.today
    for clocked in items:
        item = clocked.view
        opened = item.opened_at.astimezone(ctx.zone).date()
        clocks: list[tuple[str, date]] = []
        if not item.answered:
            clocks.append((ANSWER, item.answer_due))
        if item.onsite_due is not None and not item.onsite_met:
            clocks.append((ONSITE, item.onsite_due))
        for clock, due in clocks:
            readers: list[tuple[Recipient, str]] = []
            if reminder_day(due, opened, ctx.company) <= today <= due and item.owner_id in by_id:
                readers.append((by_id[item.owner_id], "remind"))
            if today > due:
                readers += [(m, "manager") for m in managers if m.team_id == clocked.team_id]
            if today > due + timedelta(days=1):
                readers += [(d, "director") for d in directors]
            for person, stage in readers:
                t = Translator(person.language)
                await ctx.push(
                    person.id,
                    f"{item.id}:{clock}:{stage}",
                    _text(t, item, clock, stage, due),
                    open_button(t, item),
                )
