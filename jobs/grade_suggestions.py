"""``grade_suggestions``: on the 1st, each manager gets the grade changes their team's customers'
last three months of sales suggest (regulations part 4, art. 13), each with an Apply button.

The customers no manager looks after (a team without a manager who can be reached, or no team)
go to the directors. Only customers whose suggested grade differs from their grade are listed;
nobody is pushed an empty list. The rules are ``bot/services/field/grading.py``'s, the text
``bot/views/grades.py``'s (shared with the "More" button).
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.services.field import grading
from bot.views import grades as views
from jobs.context import JobContext
from jobs.people import Recipient, recipients
from models import Role


async def grade_suggestions(ctx: JobContext) -> None:
    for person in await recipients(ctx.session, Role.MANAGER, Role.DIRECTOR):
        if person.role == Role.MANAGER and person.team_id is None:
            continue
        group = person.team_id if person.role == Role.MANAGER else grading.UNMANAGED
        assert group is not None
        await _tell(ctx, person, group)


async def _tell(ctx: JobContext, person: Recipient, group: int) -> None:
    found = await grading.suggestions(
        ctx.session, person.as_caller(), today=ctx.today, zone=ctx.zone, group=group
    )
    if not found.items:
        return
    text, buttons = views.render(Translator(person.language), found)
    await ctx.push(person.id, f"{found.window.first:%Y-%m}:{group}", text, buttons)
