"""The buttons of the suggested grade changes (the ``grade_suggestions`` push, regulations art. 13).

``grd:apply:<customer id>:<from><to>`` applies one suggestion (``bot/services/field/grading.py``
re-authorises it and applies it once) and takes its button off the message;
``grd:more:<group>:<last customer shown>`` sends the next suggestions of the same list.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler

from bot.i18n import N_
from bot.services.field import grading
from bot.services.policy import local_date
from bot.views import grades as views
from handlers.base import Request, action
from handlers.field.prospects import inline


def _pressed(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query is not None else []


def _drop_button(request: Request) -> None:
    """Take the pressed Apply button off its message (after the commit): that one is done."""
    query = request.update.callback_query
    message = query.message if query is not None else None
    markup = getattr(message, "reply_markup", None)
    if query is None or not isinstance(markup, InlineKeyboardMarkup):
        return
    rows = [
        [button for button in row if button.callback_data != query.data] for row in markup.inline_keyboard
    ]
    if sum(map(len, rows)) == sum(map(len, markup.inline_keyboard)):
        return  # a copy of the message without that button: nothing to take off
    remaining = [row for row in rows if row]

    async def drop() -> None:
        try:
            await query.edit_message_reply_markup(
                reply_markup=InlineKeyboardMarkup(remaining) if remaining else None
            )
        except BadRequest as error:  # a second tap took it off already
            if "not modified" not in error.message.lower():
                raise

    request.after_commit.append(drop)


@action()
async def apply(request: Request) -> None:
    _, _, customer_id, change = _pressed(request)
    zone = request.context.runtime.clock.zone
    applied = await grading.apply(
        request.session,
        request.me,
        int(customer_id),
        change[0],
        change[1],
        today=local_date(request.now, zone),
        zone=zone,
        now=request.now,
    )
    t = request.t
    line = (
        N_("{customer} is now grade {grade}.")
        if applied.done_now
        else N_("{customer} has grade {grade} already.")
    )
    request.toast = t.gettext(line).format(customer=applied.customer.label, grade=applied.customer.grade)
    _drop_button(request)


@action()
async def more(request: Request) -> None:
    _, _, group, after = _pressed(request)
    zone = request.context.runtime.clock.zone
    found = await grading.suggestions(
        request.session,
        request.me,
        today=local_date(request.now, zone),
        zone=zone,
        group=int(group),
        after=int(after),
    )
    if not found.items:
        request.toast = request.t.gettext(N_("No more suggested grade changes."))
        return
    text, buttons = views.render(request.t, found)
    request.reply(text, inline(buttons))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CallbackQueryHandler(apply, pattern=r"^grd:apply:\d+:[ABCD][ABCD]$"))
    application.add_handler(CallbackQueryHandler(more, pattern=r"^grd:more:\d+:\d+$"))
