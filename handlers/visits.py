"""/visit: log a customer visit, guided or in one line, with a 10-minute Undo.

Fewest taps: customer → type → notes → Save. Everything else (location, photo,
stock levels, market feedback, follow-up date) is an optional button on the
summary. The flow's data lives in ``user_data``; the visit is saved under the
key of the update that *started* the flow, so however often Save is tapped (or
redelivered) there is one visit.

A repeated button press (a double tap queued before the first was handled)
is answered with a toast, never with an edit: the second edit would change
nothing, which Telegram refuses.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
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

from bot.i18n import N_, Translator, escape
from bot.runtime import Context
from bot.services import policy, visits
from bot.services.customers import CustomerRef
from bot.services.errors import Conflict
from bot.services.visits import DuePlan, FeedbackEntry, SavedVisit, StockEntry, VisitDraft
from handlers.base import Request, action
from handlers.customer_choice import BUTTON_TEXT_LIMIT, candidate_buttons, customer_id_of, which_one
from handlers.flows import another_command_ends_flow
from models import FeedbackTopic, VisitKind

log = logging.getLogger(__name__)

(CUSTOMER, KIND, NOTES, EXTRAS, LOCATION, PHOTO, STOCK, FEEDBACK_TOPIC, FEEDBACK_TEXT,
 FOLLOW_UP) = range(10)
END = ConversationHandler.END

#: Seconds of silence after which an unfinished flow is dropped (and the rep told so).
FLOW_TIMEOUT = timedelta(minutes=15).total_seconds()
FLOW_KEY = "visits.flow"
HELD_KEY = "visits.held_notes"
HELD_MAX = 5
NOTES_PREVIEW = 300
LINES_SHOWN = 10

KIND_LABELS = {
    VisitKind.VISIT: N_("On-site visit"),
    VisitKind.CALL: N_("Phone call"),
    VisitKind.STOCK_CHECK: N_("Stock check"),
}
TOPIC_LABELS = {
    FeedbackTopic.QUALITY: N_("Quality"),
    FeedbackTopic.PRICE: N_("Price"),
    FeedbackTopic.DEMAND: N_("Demand"),
    FeedbackTopic.COMPETITOR: N_("Competitor"),
    FeedbackTopic.NEW_PRODUCT: N_("New product"),
}
FOLLOW_UP_CHOICES = ((1, N_("Tomorrow")), (7, N_("Next week")), (14, N_("In 2 weeks")))


@dataclass
class Flow:
    """One guided visit being put together."""

    token: str  # tells this flow's Save button from an older flow's
    key: str  # source key of the update that started the flow: the saved visit's key
    language: str
    customer: CustomerRef | None = None
    kind: VisitKind | None = None
    notes: str = ""
    location: tuple[float, float] | None = None
    photos: list[str] = field(default_factory=list)
    stock: list[StockEntry] = field(default_factory=list)
    feedback: list[FeedbackEntry] = field(default_factory=list)
    follow_up: date | None = None
    topic: FeedbackTopic | None = None
    searching: bool = False
    saved_visit_id: int | None = None


@dataclass(frozen=True)
class HeldNotes:
    """A one-liner's notes waiting for the rep to pick among candidate customers."""

    notes: str
    key: str


# -- small helpers -------------------------------------------------------------------------------

def _user_data(request: Request) -> dict[Any, Any]:
    data = request.context.user_data
    assert data is not None  # private chats always have a user
    return data


def _flow(request: Request) -> Flow | None:
    flow = _user_data(request).get(FLOW_KEY)
    return flow if isinstance(flow, Flow) else None


def _start_flow(request: Request, customer: CustomerRef | None = None) -> Flow:
    flow = Flow(token=secrets.token_hex(4), key=request.source_key, language=request.me.language,
                customer=customer)
    _user_data(request)[FLOW_KEY] = flow
    return flow


def _zone(request: Request) -> ZoneInfo:
    return request.context.runtime.clock.zone


def _today(request: Request) -> date:
    return policy.local_date(request.now, _zone(request))


def _data(request: Request) -> str:
    query = request.update.callback_query
    return (query.data or "") if query else ""


def _trailing_int(data: str) -> int | None:
    """The number after the last ``:`` of callback data (None if there is none)."""
    tail = data.rsplit(":", 1)[-1]
    return int(tail) if tail.isascii() and tail.isdigit() else None


def _text(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


def _short(text: str, limit: int = NOTES_PREVIEW) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(day: date) -> str:
    return f"{day:%Y-%m-%d}"


def _distance(metres: int) -> str:
    return f"{metres} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text[:BUTTON_TEXT_LIMIT], callback_data=data)


def split_one_liner(text: str) -> tuple[str, str | None]:
    """``customer: notes`` (ASCII or full-width colon) → (customer, notes); no colon → notes None."""
    cut = min((i for i in (text.find(":"), text.find("：")) if i >= 0), default=-1)
    if cut < 0:
        return text.strip(), None
    return text[:cut].strip(), text[cut + 1:].strip()


# -- rendering -----------------------------------------------------------------------------------

def render_due(t: Translator, plan: DuePlan) -> tuple[str, InlineKeyboardMarkup]:
    rows = []
    for due in plan.customers:
        mark = "🆕 " if due.never_visited else "📅 " if due.follow_up else "⚠️ " if due.overdue_days else ""
        rows.append([_button(mark + due.customer.label, f"visit:pick:{due.customer.id}")])
    rows.append([_button("🔎 " + t.gettext(N_("Search")), "visit:search")])
    text = (t(N_("Which customer? {count} due today, most overdue first. Tap one, or type a name to search."),
              count=plan.total) if plan.total
            else t(N_("Which customer? Nobody is due today: type the customer's name or code.")))
    return text, InlineKeyboardMarkup(rows)


def kind_question(t: Translator, customer: CustomerRef) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[_button(t.gettext(label), f"visit:kind:{kind.value}")] for kind, label in KIND_LABELS.items()]
    return (t(N_("Customer: <b>{customer}</b>\nWhat kind of contact was it?"), customer=customer.label),
            InlineKeyboardMarkup(rows))


def render_draft(t: Translator, flow: Flow, *, footer: bool = True) -> str:
    assert flow.customer is not None and flow.kind is not None
    lines = [f"<b>{escape(flow.customer.label)}</b> · {escape(t.gettext(KIND_LABELS[flow.kind]))}",
             t(N_("Notes: {notes}"), notes=_short(flow.notes))]
    if flow.location:
        lines.append("📍 " + t(N_("Location shared")))
    if flow.photos:
        lines.append("📷 " + t(N_("Photos: {count}"), count=len(flow.photos)))
    lines += [f"📦 {escape(line.product)}: {line.quantity}" for line in flow.stock[:LINES_SHOWN]]
    if len(flow.stock) > LINES_SHOWN:
        lines.append(t(N_("… and {count} more stock lines"), count=len(flow.stock) - LINES_SHOWN))
    lines += [f"💬 {escape(t.gettext(TOPIC_LABELS[item.topic]))}: {escape(_short(item.text, 100))}"
              for item in flow.feedback[:LINES_SHOWN]]
    if len(flow.feedback) > LINES_SHOWN:
        lines.append(t(N_("… and {count} more feedback notes"), count=len(flow.feedback) - LINES_SHOWN))
    if flow.follow_up:
        lines.append("📅 " + t(N_("Follow-up: {date}"), date=_day(flow.follow_up)))
    if footer:
        lines += ["", t(N_("Add more with the buttons, or tap Save."))]
    return "\n".join(lines)


def extras_keyboard(t: Translator, flow: Flow) -> InlineKeyboardMarkup:
    location = _button("📍 " + t.gettext(N_("Location")), "visit:add:location")
    photo = _button("📷 " + t.gettext(N_("Photo")), "visit:add:photo")
    stock = _button("📦 " + t.gettext(N_("Stock levels")), "visit:add:stock")
    feedback = _button("💬 " + t.gettext(N_("Market feedback")), "visit:add:feedback")
    follow_up = _button("📅 " + t.gettext(N_("Follow-up date")), "visit:add:followup")
    save = _button("✅ " + t.gettext(N_("Save")), f"visit:save:{flow.token}")
    if flow.kind == VisitKind.STOCK_CHECK:
        rows = [[stock], [location, photo], [feedback, follow_up], [save]]
    else:
        rows = [[location, photo], [stock, feedback], [follow_up], [save]]
    return InlineKeyboardMarkup(rows)


def back_button(t: Translator) -> list[InlineKeyboardButton]:
    return [_button("‹ " + t.gettext(N_("Back")), "visit:back")]


def render_saved(t: Translator, saved: SavedVisit) -> str:
    lines = ["✅ " + t(N_("Visit saved: <b>{customer}</b>"), customer=saved.customer.label),
             t(N_("Type: {kind}"), kind=t.gettext(KIND_LABELS[saved.kind])),
             t(N_("Notes: {notes}"), notes=_short(saved.notes))]
    if saved.located and saved.distance_m is None:
        lines.append("📍 " + t(N_("Location saved; the customer has no location on file.")))
    elif saved.distance_m is not None and saved.far_away:
        lines.append("⚠️ " + t(N_("{distance} from the customer's location: flagged as far away."),
                               distance=_distance(saved.distance_m)))
    elif saved.distance_m is not None:
        lines.append("📍 " + t(N_("{distance} from the customer's location."),
                               distance=_distance(saved.distance_m)))
    if saved.photos:
        lines.append("📷 " + t(N_("Photos: {count}"), count=saved.photos))
    if saved.stock_lines:
        lines.append("📦 " + t(N_("Stock lines: {count}"), count=saved.stock_lines))
    if saved.feedback:
        lines.append("💬 " + t(N_("Market feedback: {count}"), count=saved.feedback))
    if saved.next_follow_up:
        lines.append("📅 " + t(N_("Follow-up: {date}"), date=_day(saved.next_follow_up)))
    lines.append(t(N_("Next visit due: {date}"), date=_day(saved.next_due)))
    lines.append(t(N_("You can undo this for {minutes} minutes."),
                   minutes=int(visits.UNDO_WINDOW.total_seconds() // 60)))
    return "\n".join(lines)


def undo_markup(t: Translator, saved: SavedVisit) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button("↩️ " + t.gettext(N_("Undo")), f"visit:undo:{saved.id}")]])


def _show_summary(request: Request, flow: Flow, *, edit: bool = False) -> int:
    text, markup = render_draft(request.t, flow), extras_keyboard(request.t, flow)
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)
    return EXTRAS


# -- starting ------------------------------------------------------------------------------------

@action()
async def visit_command(request: Request) -> object:
    """``/visit`` (choose), ``/visit <customer>`` (flow with them), ``/visit <customer>: <notes>``."""
    customer_text, notes = split_one_liner(request.text_after_command)
    if notes:
        return await _quick(request, customer_text, notes)
    if customer_text:
        resolution = await visits.find_customer(request.session, request.me, customer_text)
        if resolution.customer is not None:
            _start_flow(request, resolution.customer)
            request.reply(*kind_question(request.t, resolution.customer))
            return KIND
        _start_flow(request)
        request.reply(which_one(request.t, customer_text),
                      candidate_buttons(resolution.candidates, "visit:pick"))
        return CUSTOMER
    plan = await visits.due_today(request.session, request.me, today=_today(request), zone=_zone(request))
    _start_flow(request)
    request.reply(*render_due(request.t, plan))
    return CUSTOMER


async def _quick(request: Request, customer_text: str, notes: str) -> object:
    result = await visits.quick_visit(request.session, request.me, customer_text, notes,
                                      source_key=request.source_key, now=request.now, zone=_zone(request))
    _user_data(request).pop(FLOW_KEY, None)  # a one-liner ends any flow under way
    if result.saved is not None:
        request.reply(render_saved(request.t, result.saved), undo_markup(request.t, result.saved))
        return END
    held: dict[str, HeldNotes] = _user_data(request).setdefault(HELD_KEY, {})
    while len(held) >= HELD_MAX:
        held.pop(next(iter(held)))
    token = secrets.token_hex(4)
    held[token] = HeldNotes(notes, request.source_key)
    request.reply(which_one(request.t, customer_text),
                  candidate_buttons(result.candidates, f"visit:note:{token}"))
    return END


@action()
async def start_for_customer(request: Request) -> object:
    """The Visit button of a customer card or of the morning plan: ``visit:start:<customer id>``."""
    customer_id = customer_id_of(_data(request))
    if customer_id is None:
        return None
    customer = await visits.choose_customer(request.session, request.me, customer_id)
    _start_flow(request, customer)
    request.reply(*kind_question(request.t, customer))
    return KIND


@action()
async def quick_pick(request: Request) -> None:
    """A candidate for a one-liner: ``visit:note:<token>:<customer id>``; the notes wait in user_data."""
    parts = _data(request).split(":")
    held = _user_data(request).get(HELD_KEY, {}).get(parts[2]) if len(parts) == 4 else None
    customer_id = customer_id_of(_data(request))
    if held is None or customer_id is None:
        request.toast = request.t.gettext(N_("This choice has expired. Send your /visit line again."))
        return
    draft = VisitDraft(customer_id, VisitKind.VISIT, held.notes)
    saved = await visits.record(request.session, request.me, draft, source_key=held.key, now=request.now,
                                zone=_zone(request))
    if saved.already_saved:
        request.toast = request.t.gettext(N_("This visit is already saved."))
        return
    request.edit(render_saved(request.t, saved), undo_markup(request.t, saved))


# -- choosing the customer and the kind ----------------------------------------------------------

@action()
async def pick_customer(request: Request) -> object:
    flow = _flow(request)
    customer_id = customer_id_of(_data(request))
    if flow is None or customer_id is None:
        return END
    flow.customer = await visits.choose_customer(request.session, request.me, customer_id)
    request.edit(*kind_question(request.t, flow.customer))
    return KIND


@action()
async def search(request: Request) -> object:
    flow = _flow(request)
    if flow is None:
        return END
    if not flow.searching:
        flow.searching = True
        request.reply(request.t(N_("Type the customer's name or code.")))
    return CUSTOMER


@action()
async def typed_customer(request: Request) -> object:
    flow = _flow(request)
    if flow is None:
        return END
    query = _text(request)
    resolution = await visits.find_customer(request.session, request.me, query)
    if resolution.customer is None:
        request.reply(which_one(request.t, query), candidate_buttons(resolution.candidates, "visit:pick"))
        return CUSTOMER
    flow.customer = resolution.customer
    request.reply(*kind_question(request.t, flow.customer))
    return KIND


@action()
async def choose_kind(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.customer is None:
        return END
    flow.kind = VisitKind(_data(request).rsplit(":", 1)[1])
    request.edit(request.t(N_("<b>{customer}</b> · {kind}\nType what came of it (the outcome notes)."),
                           customer=flow.customer.label, kind=request.t.gettext(KIND_LABELS[flow.kind])))
    return NOTES


@action()
async def typed_notes(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    flow.notes = visits.clean_notes(_text(request))
    return _show_summary(request, flow)


# -- the optional extras -------------------------------------------------------------------------

@action()
async def extra(request: Request) -> object:
    """One of the summary's buttons: ``visit:add:<location|photo|stock|feedback|followup>``."""
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    t, which = request.t, _data(request).rsplit(":", 1)[1]
    if which == "location":
        request.edit(render_draft(t, flow, footer=False))
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton("📍 " + t.gettext(N_("Send my location")), request_location=True)],
             [KeyboardButton(t.gettext(N_("Skip")))]], resize_keyboard=True, one_time_keyboard=True)
        request.reply(t(N_("Tap “Send my location” below.")), keyboard)
        return LOCATION
    if which == "photo":
        request.edit(t(N_("Send the photo now (as a photo, not as a file).")),
                     InlineKeyboardMarkup([back_button(t)]))
        return PHOTO
    if which == "stock":
        request.edit(t(N_("Send the stock levels, one product per line, e.g.\nProduct A 12\n产品B：5")),
                     InlineKeyboardMarkup([back_button(t)]))
        return STOCK
    if which == "feedback":
        rows = [[_button(t.gettext(label), f"visit:topic:{topic.value}")]
                for topic, label in TOPIC_LABELS.items()]
        request.edit(t(N_("Market feedback: what is it about?")),
                     InlineKeyboardMarkup([*rows, back_button(t)]))
        return FEEDBACK_TOPIC
    today = _today(request)
    rows = [[_button(t.gettext(label), f"visit:due:{days}") for days, label in FOLLOW_UP_CHOICES],
            back_button(t)]
    request.edit(t(N_("When will you follow up? Tap a button or type a date: {example} or {month_day} "
                      "(month-day), 明天, 下周."),
                   example=_day(today + timedelta(days=10)), month_day=f"{today + timedelta(days=10):%m-%d}"),
                 InlineKeyboardMarkup(rows))
    return FOLLOW_UP


@action()
async def back(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    return _show_summary(request, flow, edit=True)


@action()
async def got_location(request: Request) -> object:
    flow = _flow(request)
    message = request.update.effective_message
    if flow is None or flow.kind is None or message is None or message.location is None:
        return END
    flow.location = (message.location.latitude, message.location.longitude)
    request.reply(request.t(N_("Location received.")), ReplyKeyboardRemove())
    return _show_summary(request, flow)


@action()
async def skip_location(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    request.reply(request.t(N_("No location added.")), ReplyKeyboardRemove())
    return _show_summary(request, flow)


@action()
async def got_photo(request: Request) -> object:
    flow = _flow(request)
    message = request.update.effective_message
    if flow is None or flow.kind is None or message is None or not message.photo:
        return END
    if len(flow.photos) >= visits.MAX_PHOTOS:
        request.reply(request.t(N_("At most {count} photos per visit."), count=visits.MAX_PHOTOS))
    else:
        flow.photos.append(message.photo[-1].file_id)  # the largest size
    return _show_summary(request, flow)


@action()
async def typed_stock(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    flow.stock.extend(visits.parse_stock_lines(_text(request)))
    return _show_summary(request, flow)


@action()
async def choose_topic(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    flow.topic = FeedbackTopic(_data(request).rsplit(":", 1)[1])
    topic = request.t.gettext(TOPIC_LABELS[flow.topic])
    request.edit(request.t(N_("Type the feedback on {topic}."), topic=topic),
                 InlineKeyboardMarkup([back_button(request.t)]))
    return FEEDBACK_TEXT


@action()
async def typed_feedback(request: Request) -> object:
    flow = _flow(request)
    text = _text(request).strip()
    if flow is None or flow.kind is None or flow.topic is None:
        return END
    if not text:
        return FEEDBACK_TEXT
    flow.feedback.append(FeedbackEntry(flow.topic, text))
    flow.topic = None
    return _show_summary(request, flow)


@action()
async def follow_up_button(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    flow.follow_up = _today(request) + timedelta(days=int(_data(request).rsplit(":", 1)[1]))
    return _show_summary(request, flow, edit=True)


@action()
async def typed_follow_up(request: Request) -> object:
    flow = _flow(request)
    if flow is None or flow.kind is None:
        return END
    flow.follow_up = visits.parse_follow_up(_text(request), _today(request))
    return _show_summary(request, flow)


@action()
async def more_notes(request: Request) -> object:
    """Text typed on the summary step is more of the outcome notes."""
    flow = _flow(request)
    text = _text(request).strip()
    if flow is None or flow.kind is None:
        return END
    if text:
        flow.notes = f"{flow.notes}\n{text}"
        request.reply(request.t(N_("Added to the notes.")))
    return _show_summary(request, flow)


# -- saving, cancelling, undoing -----------------------------------------------------------------

@action()
async def save(request: Request) -> object:
    flow = _flow(request)
    token = _data(request).rsplit(":", 1)[1]
    if flow is None or flow.token != token or flow.customer is None or flow.kind is None or not flow.notes:
        request.toast = request.t.gettext(N_("This button has expired. Start again from the command."))
        return None
    await _save_and_show(request, flow)
    return END


async def _save_and_show(request: Request, flow: Flow) -> None:
    """Save the flow's visit (once: its key finds an earlier save) and show the confirmation."""
    assert flow.customer is not None and flow.kind is not None
    draft = VisitDraft(flow.customer.id, flow.kind, flow.notes, flow.location, tuple(flow.photos),
                       tuple(flow.stock), tuple(flow.feedback), flow.follow_up)
    saved = await visits.record(request.session, request.me, draft, source_key=flow.key, now=request.now,
                                zone=_zone(request))
    flow.saved_visit_id = saved.id
    request.edit(render_saved(request.t, saved), undo_markup(request.t, saved))


@action()
async def save_after_end(request: Request) -> None:
    """Save pressed once the flow is over: a double tap of Save, or a button left from earlier.

    If the confirmation of the first Save never reached the rep (Telegram failed every retry),
    the message still shows the draft: show the saved visit now. The identical-edit guard makes
    a plain double tap a no-op edit.
    """
    flow = _flow(request)
    token = _data(request).rsplit(":", 1)[1]
    if flow is not None and flow.token == token and flow.saved_visit_id is not None:
        await _save_and_show(request, flow)
        request.toast = request.t.gettext(N_("This visit is already saved."))
    else:
        request.toast = request.t.gettext(N_("This button has expired. Start again from the command."))


@action()
async def cancel(request: Request) -> object:
    _user_data(request).pop(FLOW_KEY, None)
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
    text = (t(N_("The visit to {customer} was not saved: no answer for {minutes} minutes. "
                 "Send /visit to start again."), customer=flow.customer.label, minutes=minutes)
            if flow.customer else
            t(N_("Logging a visit stopped: no answer for {minutes} minutes. Send /visit to start again."),
              minutes=minutes))
    try:
        await context.bot.send_message(chat.id, text, reply_markup=ReplyKeyboardRemove())
    except TelegramError as error:
        log.info("could not tell a rep their visit flow timed out: %s", error)


@action()
async def undo(request: Request) -> None:
    """``visit:undo:<visit id>``: within 10 minutes, by the rep who saved it."""
    visit_id = _trailing_int(_data(request))
    if visit_id is None:
        return
    try:
        undone = await visits.undo(request.session, request.me, visit_id, now=request.now)
    except Conflict as refused:  # already undone, or too late: a toast, the message stays
        request.toast = request.t.gettext(refused.message).format(**refused.params)
        return
    request.edit("↩️ " + request.t(N_("Visit to <b>{customer}</b> undone: nothing of it is kept."),
                                   customer=undone.customer.label))


# -- wiring --------------------------------------------------------------------------------------

def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    text = private & filters.TEXT & ~filters.COMMAND
    back_handler = CallbackQueryHandler(back, pattern=r"^visit:back$")
    conversation = ConversationHandler(
        entry_points=[
            CommandHandler("visit", visit_command, private),
            CallbackQueryHandler(start_for_customer, pattern=r"^visit:start:\d+$"),
        ],
        states={
            CUSTOMER: [CallbackQueryHandler(pick_customer, pattern=r"^visit:pick:\d+$"),
                       CallbackQueryHandler(search, pattern=r"^visit:search$"),
                       MessageHandler(text, typed_customer)],
            KIND: [CallbackQueryHandler(choose_kind, pattern=r"^visit:kind:(visit|call|stock_check)$")],
            NOTES: [MessageHandler(text, typed_notes)],
            EXTRAS: [CallbackQueryHandler(extra,
                                          pattern=r"^visit:add:(location|photo|stock|feedback|followup)$"),
                     MessageHandler(private & filters.LOCATION, got_location),
                     MessageHandler(private & filters.PHOTO, got_photo),
                     MessageHandler(text, more_notes)],
            LOCATION: [MessageHandler(private & filters.LOCATION, got_location),
                       MessageHandler(text, skip_location)],
            PHOTO: [MessageHandler(private & filters.PHOTO, got_photo), back_handler],
            STOCK: [MessageHandler(text, typed_stock), back_handler],
            FEEDBACK_TOPIC: [CallbackQueryHandler(
                choose_topic, pattern=r"^visit:topic:(quality|price|demand|competitor|new_product)$"),
                back_handler],
            FEEDBACK_TEXT: [MessageHandler(text, typed_feedback), back_handler],
            FOLLOW_UP: [CallbackQueryHandler(follow_up_button, pattern=r"^visit:due:\d{1,3}$"),
                        MessageHandler(text, typed_follow_up), back_handler],
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
        name="visit", persistent=True,
    )
    application.add_handler(conversation)
    application.add_handler(CallbackQueryHandler(undo, pattern=r"^visit:undo:\d+$"))
    application.add_handler(CallbackQueryHandler(quick_pick, pattern=r"^visit:note:[0-9a-f]+:\d+$"))
    application.add_handler(CallbackQueryHandler(save_after_end, pattern=r"^visit:save:[0-9a-f]+$"))
