"""/reports: reading daily reports, and the supervisor's read receipts and comments.

``/reports [DAY] [REP]``: a rep reads their own (their latest, or DAY's); a manager the team's
reports of DAY (today by default) or one rep's (their latest, or DAY's); the director and admins
every team's. DAY is ``today``, ``yesterday`` (今天, 昨天) or a date like ``2026-11-23``.

Buttons under a report shown to a supervisor (the digest, a late report's push, ``/reports``):

* ``rpt:read:<report id>`` — mark it read; answered with a toast.
* ``rpt:comment:<report id>`` — asks for the comment (one message; /cancel stops), which is
  stored and pushed to the rep.

Each press is re-authorised by the service: a report outside the presser's reach is answered as
one that does not exist.
"""

from __future__ import annotations

from datetime import date, timedelta

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
from bot.services.errors import Invalid
from bot.services.outbox import Buttons
from bot.services.reporting import report_loop
from bot.services.reporting.periods import UNKNOWN, parse_period
from handlers.base import Request, action
from handlers.flows import another_command_ends_flow

END = ConversationHandler.END
COMMENTING = "rpt:commenting"
ASKED = "report_loop.comment"  # user_data: the id of the report being commented on
FLOW_TIMEOUT = timedelta(minutes=15)
TOAST_NAME = 40

USAGE = N_(
    "/reports shows one day's reports: /reports, /reports yesterday or /reports 2026-11-23; "
    "add a rep's name for theirs, e.g. /reports 2026-11-23 Li."
)
TRY_AGAIN = N_("Try again, or send /cancel to stop.")


def _markup(buttons: Buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button["text"], callback_data=button["callback_data"]) for button in row]
            for row in buttons
        ]
    )


def _today(request: Request) -> date:
    return request.context.runtime.clock.today()


def read_arguments(text: str, today: date) -> tuple[date | None, str]:
    """``[DAY] [REP]``: the day if the first word is one, and the rest as the rep's name."""
    first, _, rest = text.strip().partition(" ")
    if not first:
        return None, ""
    try:
        period = parse_period(first, today)
    except Invalid as error:
        if error.message == UNKNOWN:
            return None, text.strip()  # not a day: all of it names a rep
        raise  # a real date that is wrong (in the future, impossible): says so
    if period.days != 1:
        raise Invalid(USAGE)
    return period.start, rest.strip()


def _report_id(request: Request) -> int:
    query = request.update.callback_query
    return int((query.data or "").split(":")[2]) if query is not None else 0


# -- /reports -------------------------------------------------------------------------------------


@action(report=True)
async def show_reports(request: Request) -> None:
    t, session, me, zone = request.t, request.session, request.me, request.zone
    own = report_loop.own_only(me)
    day, name = read_arguments(request.text_after_command, _today(request))
    if name:
        rep = await report_loop.find_rep(session, me, name)
    elif own:
        rep = report_loop.RepRef(me.id, me.name, None)
    else:
        reports = await report_loop.day_reports(session, me, day or _today(request), zone)
        text, buttons = report_loop.day_text(t, reports, viewer_id=me.id)
        request.reply(text, _markup(buttons))
        return
    if day is None:
        found = await report_loop.history(session, me, rep.id, zone)
        request.reply(report_loop.history_text(t, found, own=own))
        return
    rep, report = await report_loop.report_on(session, me, rep.id, day, zone)
    if report is None:
        template = N_("You filed no report for {day}.") if own else N_("{rep} filed no report for {day}.")
        request.reply(t(template, rep=rep.name, day=day.isoformat()))
        return
    buttons = [] if own else report_loop.answer_buttons(t, report, viewer_id=me.id)
    request.reply(report_loop.report_text(t, report), _markup(buttons))


# -- read receipts --------------------------------------------------------------------------------


def _who(report: report_loop.ReportView) -> str:
    name = report.rep
    return name if len(name) <= TOAST_NAME else name[: TOAST_NAME - 1] + "…"


@action()
async def press_read(request: Request) -> None:
    marked = await report_loop.mark_read(
        request.session, request.me, _report_id(request), now=request.now, zone=request.zone
    )
    t, report = request.t, marked.report
    template = (
        N_("You had already marked {rep}'s report for {day} read.")
        if marked.already
        else N_("✓ Marked read: {rep}'s report for {day}. They see it in /reports.")
    )
    request.toast = t.gettext(template).format(rep=_who(report), day=report.day.isoformat())


# -- comments -------------------------------------------------------------------------------------


@action()
async def ask_comment(request: Request) -> object:
    report_id = _report_id(request)
    report = await report_loop.comment_target(request.session, request.me, report_id, request.zone)
    data = request.user_data
    if data.get(ASKED) == report_id:  # a second tap: the question is already showing
        return COMMENTING
    data[ASKED] = report_id
    request.reply(
        request.t(
            N_(
                "💬 Your comment on {rep}'s report for {day}: type it in one message "
                "(up to {limit} characters). {rep} gets it at once. /cancel stops."
            ),
            rep=report.rep,
            day=report.day.isoformat(),
            limit=report_loop.MAX_COMMENT,
        )
    )
    return COMMENTING


@action()
async def comment_typed(request: Request) -> object:
    report_id = request.user_data.get(ASKED)
    t = request.t
    if not isinstance(report_id, int):
        request.reply(t(N_("I lost track of that report. Press its 💬 Comment button again.")))
        return END
    message = request.update.effective_message
    try:
        commented = await report_loop.add_comment(
            request.session,
            request.me,
            report_id,
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
            N_("💬 Comment sent to {rep} on their report for {day}. The report is marked read."),
            rep=commented.report.rep,
            day=commented.report.day.isoformat(),
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
    # The comment step first: any command (this module's /reports too) ends it before it runs.
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_comment, pattern=r"^rpt:comment:\d+$")],
            states={COMMENTING: [MessageHandler(typed, comment_typed)]},
            fallbacks=[
                CommandHandler("cancel", cancel, filters.ChatType.PRIVATE),
                another_command_ends_flow(),
            ],
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="report_comment",
            persistent=True,
        )
    )
    application.add_handler(CommandHandler("reports", show_reports, private))
    application.add_handler(CallbackQueryHandler(press_read, pattern=r"^rpt:read:\d+$"))
