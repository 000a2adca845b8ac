"""The supervisor's answer to a work plan: ✅ Approve and 💬 Comment under the plan's push.

* ``plan:ok:<plan id>:<version>`` — approve the plan as filed (recorded, audited, the rep told); a
  button under a version replaced since approves nothing.
* ``plan:cm:<plan id>`` — asks for the comment (one message; /cancel stops), which is stored and
  pushed to the rep.

Each press is re-authorised by the service: a plan outside the presser's reach is answered as one
that does not exist. Registered early (as ``report_reads``): a supervisor who presses 💬 Comment
in the middle of another flow has their next message taken as the comment.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_
from bot.services.errors import Conflict, Invalid
from bot.services.field import plans
from bot.services.outbox import Buttons
from handlers.base import Request, action
from handlers.flows import another_command_ends_flow

END = ConversationHandler.END
COMMENTING = "plan:commenting"
ASKED = "plans.comment"  # user_data: the id of the plan being commented on
FLOW_TIMEOUT = timedelta(minutes=15)
TRY_AGAIN = N_("Try again, or send /cancel to stop.")


def _markup(buttons: Buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row] for row in buttons]
    )


def _plan_id(request: Request) -> int:
    query = request.update.callback_query
    return int((query.data or "").split(":")[2]) if query is not None else 0


@action()
async def press_approve(request: Request) -> None:
    query = request.update.callback_query
    stamp = int((query.data or "").split(":")[3]) if query is not None else 0
    try:
        approved = await plans.approve(
            request.session, request.me, _plan_id(request), stamp, now=request.now, zone=request.zone
        )
    except Conflict as error:
        request.toast = request.t.gettext(error.message).format(**error.params)[:190]
        return
    t, plan = request.t, approved.plan
    template = (
        N_("{rep}'s plan was approved already.")
        if approved.already
        else N_("✅ Approved: {rep}'s plan. They are told.")
    )
    request.toast = t.gettext(template).format(rep=plan.rep[:40])
    request.edit(plans.plan_html(t, plan), _markup(plans.answer_buttons(t, plan)))


@action()
async def ask_comment(request: Request) -> object:
    plan_id = _plan_id(request)
    plan = await plans.answerable(request.session, request.me, plan_id, request.zone)
    data = request.user_data
    if data.get(ASKED) == plan_id:  # a second tap: the question is already showing
        return COMMENTING
    data[ASKED] = plan_id
    request.reply(
        request.t(
            N_(
                "💬 Your comment on {rep}'s plan for the {period}: type it in one message "
                "(up to {limit} characters). {rep} gets it at once. /cancel stops."
            ),
            rep=plan.rep,
            period=plan.period.title(request.t),
            limit=plans.MAX_COMMENT,
        )
    )
    return COMMENTING


@action()
async def comment_typed(request: Request) -> object:
    plan_id = request.user_data.get(ASKED)
    t = request.t
    if not isinstance(plan_id, int):
        request.reply(t(N_("I lost track of that plan. Press its 💬 Comment button again.")))
        return END
    message = request.update.effective_message
    try:
        commented = await plans.add_comment(
            request.session,
            request.me,
            plan_id,
            (message.text or "") if message else "",
            now=request.now,
            zone=request.zone,
            source_key=request.source_key,
        )
    except Invalid as error:  # nothing was written: say why and wait for another try
        request.reply(t(error.message, **error.params) + "\n" + t(TRY_AGAIN))
        return None
    request.user_data.pop(ASKED, None)
    request.reply(
        t(
            N_("💬 Comment sent to {rep} on their plan for the {period}."),
            rep=commented.plan.rep,
            period=commented.plan.period.title(t),
        )
    )
    return END


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(ASKED, None)
    request.reply(request.t(N_("Comment cancelled: nothing was sent.")))
    return END


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_comment, pattern=r"^plan:cm:\d+$")],
            states={COMMENTING: [MessageHandler(typed, comment_typed)]},
            fallbacks=[
                CommandHandler("cancel", cancel, filters.ChatType.PRIVATE),
                another_command_ends_flow(),
            ],
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="plan_comment",
            persistent=True,
        )
    )
    application.add_handler(CallbackQueryHandler(press_approve, pattern=r"^plan:ok:\d+:\d+$"))
