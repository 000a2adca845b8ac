"""/visit: log a customer visit, guided or in one line, with a 10-minute Undo.

Fewest taps: customer → type → notes → Save. Everything else (location, photo,
stock levels, market feedback, follow-up date) is an optional button on the
summary. The flow's data lives in ``user_data``; the visit is saved under the
key of the update that *started* the flow, so however often Save is tapped (or
redelivered) there is one visit.

A repeated button press (a double tap queued before the first was handled)
is answered with a toast, never with an edit: the second edit would change
nothing, which Telegram refuses.

Here: the commands, choosing the customer and the kind, saving, Undo and the
wiring. The draft and its helpers are in handlers/field/visit_flow.py, the optional
extras' steps in handlers/field/visit_extras.py, the texts and buttons in
handlers/field/visit_views.py.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from telegram import ReplyKeyboardRemove, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.i18n import N_, Translator
from bot.runtime import Context
from bot.services.errors import Conflict
from bot.services.field import visits
from bot.services.field.customers import CustomerRef
from bot.services.field.visits import VisitDraft
from handlers.base import Request, action
from handlers.field.check_in import here_pick, location_in_flow, near_me, photo_pick
from handlers.field.customer_choice import candidate_buttons, customer_id_of, which_one
from handlers.field.qr import start_from_code
from handlers.field.visit_extras import (
    back,
    choose_topic,
    extra,
    follow_up_button,
    got_location,
    got_photo,
    more_notes,
    skip_location,
    typed_feedback,
    typed_follow_up,
    typed_stock,
)
from handlers.field.visit_flow import (  # Flow, HeldNotes: stored drafts name this module
    CUSTOMER,
    END,
    EXTRAS,
    FEEDBACK_TEXT,
    FEEDBACK_TOPIC,
    FLOW_KEY,
    FOLLOW_UP,
    HELD_KEY,
    HELD_MAX,
    KIND,
    LOCATION,
    NOTES,
    PHOTO,
    STOCK,
    Flow,
    HeldNotes,
    current_flow,
    drafting,
    pressed_data,
    sent_at_of,
    sent_message,
    split_one_liner,
    start_flow,
    today_of,
    trailing_int,
    typed_text,
    user_data,
    zone_of,
)
from handlers.field.visit_views import (
    KIND_LABELS,
    kind_question,
    render_due,
    render_saved,
    show_summary,
    undo_markup,
)
from handlers.flows import another_command_ends_flow
from handlers.people.onboarding import QR_START
from models import VisitKind

__all__ = ["FLOW_TIMEOUT", "Flow", "HeldNotes", "register", "split_one_liner"]

log = logging.getLogger(__name__)

#: Seconds of silence after which an unfinished flow is dropped (and the rep told so).
FLOW_TIMEOUT = timedelta(minutes=15).total_seconds()


# -- starting ------------------------------------------------------------------------------------


@action()
async def visit_command(request: Request) -> object:
    """``/visit`` (choose), ``/visit <customer>`` (flow with them), ``/visit <customer>: <notes>``,
    and without the colon ``/visit E06 checked shelf`` when the first words name one customer."""
    customer_text, notes = split_one_liner(request.text_after_command)
    if notes:
        return await _quick(request, customer_text, notes)
    if customer_text:
        lead = await visits.find_leading(request.session, request.me, customer_text)
        resolution = lead.resolution
        if lead.rest:  # the words after the customer are the notes
            if resolution.customer is not None:
                return await _quick(request, lead.named, lead.rest)
            return _hold_notes(request, lead.named, lead.rest, resolution.candidates, near=resolution.near)
        if resolution.customer is not None:
            start_flow(request, resolution.customer)
            request.reply(*kind_question(request.t, resolution.customer))
            return KIND
        start_flow(request)
        request.reply(
            which_one(request.t, lead.named, resolution.near),
            candidate_buttons(resolution.candidates, "visit:pick"),
        )
        return CUSTOMER
    plan = await visits.due_today(request.session, request.me, today=today_of(request), zone=zone_of(request))
    start_flow(request)
    request.reply(*render_due(request.t, plan))
    return CUSTOMER


async def _quick(request: Request, customer_text: str, notes: str) -> object:
    result = await visits.quick_visit(
        request.session,
        request.me,
        customer_text,
        notes,
        source_key=request.source_key,
        now=request.now,
        zone=zone_of(request),
        sent_at=sent_at_of(request),
    )
    user_data(request).pop(FLOW_KEY, None)  # a one-liner ends any flow under way
    if result.saved is not None:
        request.reply(render_saved(request.t, result.saved), undo_markup(request.t, result.saved))
        return END
    return _hold_notes(request, customer_text, notes, result.candidates, near=result.near)


def _hold_notes(
    request: Request, customer_text: str, notes: str, candidates: tuple[CustomerRef, ...], *, near: bool
) -> object:
    """A one-liner whose customer is to be chosen: the notes wait in user_data for the tap."""
    user_data(request).pop(FLOW_KEY, None)  # a one-liner ends any flow under way
    held: dict[str, HeldNotes] = user_data(request).setdefault(HELD_KEY, {})
    while len(held) >= HELD_MAX:
        held.pop(next(iter(held)))
    token = secrets.token_hex(4)
    held[token] = HeldNotes(notes, request.source_key, sent_at_of(request))
    request.reply(
        which_one(request.t, customer_text, near), candidate_buttons(candidates, f"visit:note:{token}")
    )
    return END


@action()
async def start_for_customer(request: Request) -> object:
    """The Visit button of a customer card or of the morning plan: ``visit:start:<customer id>``."""
    customer_id = customer_id_of(pressed_data(request))
    if customer_id is None:
        return None
    customer = await visits.choose_customer(request.session, request.me, customer_id)
    start_flow(request, customer)
    request.reply(*kind_question(request.t, customer))
    return KIND


@action()
async def quick_pick(request: Request) -> None:
    """A candidate for a one-liner: ``visit:note:<token>:<customer id>``; the notes wait in user_data."""
    parts = pressed_data(request).split(":")
    held = user_data(request).get(HELD_KEY, {}).get(parts[2]) if len(parts) == 4 else None
    customer_id = customer_id_of(pressed_data(request))
    if held is None or customer_id is None:
        request.toast = request.t.gettext(N_("This choice has expired. Send your /visit line again."))
        return
    draft = VisitDraft(customer_id, VisitKind.VISIT, held.notes, sent_at=held.sent_at)
    saved = await visits.record(
        request.session, request.me, draft, source_key=held.key, now=request.now, zone=zone_of(request)
    )
    if saved.already_saved:
        request.toast = request.t.gettext(N_("This visit is already saved."))
        return
    request.edit(render_saved(request.t, saved), undo_markup(request.t, saved))


# -- choosing the customer and the kind ----------------------------------------------------------


@action()
async def pick_customer(request: Request) -> object:
    flow = current_flow(request)
    customer_id = customer_id_of(pressed_data(request))
    if flow is None or customer_id is None:
        return END
    flow.customer = await visits.choose_customer(request.session, request.me, customer_id)
    request.edit(*kind_question(request.t, flow.customer))
    return KIND


@action()
async def search(request: Request) -> object:
    flow = current_flow(request)
    if flow is None:
        return END
    if not flow.searching:
        flow.searching = True
        request.reply(request.t(N_("Type the customer's name or code.")))
    return CUSTOMER


@action()
async def typed_customer(request: Request) -> object:
    flow = current_flow(request)
    if flow is None:
        return END
    query = typed_text(request)
    resolution = await visits.find_customer(request.session, request.me, query)
    if resolution.customer is None:
        request.reply(
            which_one(request.t, query, resolution.near),
            candidate_buttons(resolution.candidates, "visit:pick"),
        )
        return CUSTOMER
    flow.customer = resolution.customer
    request.reply(*kind_question(request.t, flow.customer))
    return KIND


@action()
async def choose_kind(request: Request) -> object:
    flow = current_flow(request)
    if flow is None or flow.customer is None:
        return END
    flow.kind = VisitKind(pressed_data(request).rsplit(":", 1)[1])
    request.edit(
        request.t(
            N_("<b>{customer}</b> · {kind}\nType what came of it (the outcome notes)."),
            customer=flow.customer.label,
            kind=request.t.gettext(KIND_LABELS[flow.kind]),
        )
    )
    return NOTES


@action()
async def typed_notes(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    flow.notes = visits.clean_notes(typed_text(request))
    flow.saw(sent_message(request))
    if flow.check_in:  # located (or photographed) already: the notes were all that was missing
        await _save_and_show(request, flow)
        return END
    return show_summary(request, flow)


# -- saving, cancelling, undoing -----------------------------------------------------------------


@action()
async def save(request: Request) -> object:
    flow = current_flow(request)
    token = pressed_data(request).rsplit(":", 1)[1]
    if flow is None or flow.token != token or flow.customer is None or flow.kind is None or not flow.notes:
        request.toast = request.t.gettext(N_("This button has expired. Start again from the command."))
        return None
    await _save_and_show(request, flow)
    return END


async def _save_and_show(request: Request, flow: Flow) -> None:
    """Save the flow's visit (once: its key finds an earlier save) and show the confirmation."""
    assert flow.customer is not None and flow.kind is not None
    draft = VisitDraft(
        flow.customer.id,
        flow.kind,
        flow.notes,
        flow.location,
        tuple(flow.photos),
        tuple(flow.stock),
        tuple(flow.feedback),
        flow.follow_up,
        photo_unique_ids=tuple(flow.photo_keys),
        photos_forwarded=flow.photos_forwarded,
        sent_at=flow.sent_at,
    )
    saved = await visits.record(
        request.session, request.me, draft, source_key=flow.key, now=request.now, zone=zone_of(request)
    )
    flow.saved_visit_id = saved.id
    request.edit(render_saved(request.t, saved), undo_markup(request.t, saved))


#: For handlers/field/check_in.py: a photo's caption is the notes, and saves at once.
save_and_show = _save_and_show


@action()
async def save_after_end(request: Request) -> None:
    """Save pressed once the flow is over: a double tap of Save, or a button left from earlier.

    If the confirmation of the first Save never reached the rep (Telegram failed every retry),
    the message still shows the draft: show the saved visit now. The identical-edit guard makes
    a plain double tap a no-op edit.
    """
    flow = current_flow(request)
    token = pressed_data(request).rsplit(":", 1)[1]
    if flow is not None and flow.token == token and flow.saved_visit_id is not None:
        await _save_and_show(request, flow)
        request.toast = request.t.gettext(N_("This visit is already saved."))
    else:
        request.toast = request.t.gettext(N_("This button has expired. Start again from the command."))


@action()
async def cancel(request: Request) -> object:
    user_data(request).pop(FLOW_KEY, None)
    request.reply(request.t(N_("Stopped: the visit was not saved.")), ReplyKeyboardRemove())
    return END


@action()
async def unexpected(request: Request) -> object:
    request.reply(request.t(N_("Please answer the last question above, or send /cancel to stop.")))
    return None


async def timed_out(update: object, context: Context) -> None:
    """The flow was left unanswered: say so, so nobody believes an unsaved visit was logged.

    Not an ``@action``: the update here is the last one of the flow, perhaps a button press
    answered long ago, and nothing is read or written.
    """
    flow = (context.user_data or {}).get(FLOW_KEY)
    chat = update.effective_chat if isinstance(update, Update) else None
    if not isinstance(flow, Flow) or chat is None or flow.saved_visit_id is not None:
        return
    del context.user_data[FLOW_KEY]  # type: ignore[union-attr]  # tell once
    t = Translator(flow.language)
    minutes = int(FLOW_TIMEOUT // 60)
    text = (
        t(
            N_(
                "The visit to {customer} was not saved: no answer for {minutes} minutes. "
                "Send /visit to start again."
            ),
            customer=flow.customer.label,
            minutes=minutes,
        )
        if flow.customer
        else t(
            N_("Logging a visit stopped: no answer for {minutes} minutes. Send /visit to start again."),
            minutes=minutes,
        )
    )
    try:
        await context.bot.send_message(chat.id, text, reply_markup=ReplyKeyboardRemove())
    except TelegramError as error:
        log.info("could not tell a rep their visit flow timed out: %s", error)


@action()
async def undo(request: Request) -> None:
    """``visit:undo:<visit id>``: within 10 minutes, by the rep who saved it."""
    visit_id = trailing_int(pressed_data(request))
    if visit_id is None:
        return
    try:
        undone = await visits.undo(request.session, request.me, visit_id, now=request.now)
    except Conflict as refused:  # already undone, or too late: a toast, the message stays
        request.toast = request.t.gettext(refused.message).format(**refused.params)
        return
    request.edit(
        "↩️ "
        + request.t(
            N_("Visit to <b>{customer}</b> undone: nothing of it is kept."), customer=undone.customer.label
        )
    )


# -- wiring --------------------------------------------------------------------------------------


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    text = private & filters.TEXT & ~filters.COMMAND
    back_handler = CallbackQueryHandler(back, pattern=r"^visit:back$")
    conversation = ConversationHandler(
        entry_points=[
            CommandHandler("visit", visit_command, private),
            CallbackQueryHandler(start_for_customer, pattern=r"^visit:start:\d+$"),
            CommandHandler("start", start_from_code, private & QR_START),  # a customer's QR code
            # a customer tapped among those nearest to a location, or for a photo (check_in.py)
            CallbackQueryHandler(here_pick, pattern=r"^visit:here:[0-9a-f]+:\d+$"),
            CallbackQueryHandler(photo_pick, pattern=r"^visit:photo:[0-9a-f]+:\d+$"),
        ],
        states={
            CUSTOMER: [
                CallbackQueryHandler(pick_customer, pattern=r"^visit:pick:\d+$"),
                CallbackQueryHandler(search, pattern=r"^visit:search$"),
                CallbackQueryHandler(near_me, pattern=r"^visit:nearme$"),
                MessageHandler(private & filters.LOCATION, location_in_flow),
                MessageHandler(text, typed_customer),
            ],
            KIND: [CallbackQueryHandler(choose_kind, pattern=r"^visit:kind:(visit|call|stock_check)$")],
            NOTES: [MessageHandler(text, typed_notes)],
            EXTRAS: [
                CallbackQueryHandler(extra, pattern=r"^visit:add:(location|photo|stock|feedback|followup)$"),
                MessageHandler(private & filters.LOCATION, got_location),
                MessageHandler(private & filters.PHOTO, got_photo),
                MessageHandler(text, more_notes),
            ],
            LOCATION: [
                MessageHandler(private & filters.LOCATION, got_location),
                MessageHandler(text, skip_location),
            ],
            PHOTO: [MessageHandler(private & filters.PHOTO, got_photo), back_handler],
            STOCK: [MessageHandler(text, typed_stock), back_handler],
            FEEDBACK_TOPIC: [
                CallbackQueryHandler(
                    choose_topic, pattern=r"^visit:topic:(quality|price|demand|competitor|new_product)$"
                ),
                back_handler,
            ],
            FEEDBACK_TEXT: [MessageHandler(text, typed_feedback), back_handler],
            FOLLOW_UP: [
                CallbackQueryHandler(follow_up_button, pattern=r"^visit:due:\d{1,3}$"),
                MessageHandler(text, typed_follow_up),
                back_handler,
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel, private),
            CallbackQueryHandler(save, pattern=r"^visit:save:[0-9a-f]+$"),
            # files go on to the import handler: a manager may send one mid-flow
            MessageHandler(private & ~filters.COMMAND & ~filters.Document.ALL, unexpected),
            another_command_ends_flow(),
        ],
        allow_reentry=True,
        conversation_timeout=FLOW_TIMEOUT,
        name="visit",
        persistent=True,
    )
    application.add_handler(conversation)
    application.add_handler(CallbackQueryHandler(undo, pattern=r"^visit:undo:\d+$"))
    application.add_handler(CallbackQueryHandler(quick_pick, pattern=r"^visit:note:[0-9a-f]+:\d+$"))
    application.add_handler(CallbackQueryHandler(save_after_end, pattern=r"^visit:save:[0-9a-f]+$"))
