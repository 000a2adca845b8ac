"""/complaint and /complaints: customer letters and complaints, logged, answered and resolved.

``/complaint <customer>: <text>`` logs a customer's enquiry, letter or complaint; the kind and the
tag may be typed before the text (``/complaint Shop: complaint quality caps leak``, ``投诉 质量``),
else buttons ask for them. ``/complaint <customer>`` (or 📮 Complaint under a saved visit) asks for
the text first. The item is saved under the key of the update that started it, so a redelivered
update or a second tap logs it once.

``/complaints [open|all|PERIOD]`` is the register (open items by default); the open ones carry
buttons: ✍️ Answer, 🚗 On site (quality problems) and 🏁 Resolve, each asking for one message.

Callback data: ``cmp:start:<customer>``, ``cmp:pick:<customer>``, ``cmp:kind:<kind>``,
``cmp:tag:<tag>``, ``cmp:show:<item>``, ``cmp:ans:<item>``, ``cmp:site:<item>``, ``cmp:done:<item>``;
every id is re-checked against the presser's scope by the service.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
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

from bot.i18n import N_, Translator
from bot.services.errors import Invalid, ServiceError
from bot.services.field import complaints
from bot.services.field.complaints import ComplaintView
from bot.services.field.customers import CustomerRef
from bot.services.reporting.periods import parse_period
from bot.views.complaints import KIND_LABELS, TAG_LABELS, item_html, register_html, saved_html
from handlers.base import Request, action
from handlers.field.customer_choice import BUTTON_TEXT_LIMIT, candidate_buttons, customer_id_of, which_one
from handlers.flows import another_command_ends_flow
from models import ComplaintKind, ComplaintTag

CUSTOMER, TEXT, KIND, TAG, CLOSING = range(5)
END = ConversationHandler.END
FLOW_KEY = "complaints.flow"
CLOSING_KEY = "complaints.closing"
FLOW_TIMEOUT = timedelta(minutes=15).total_seconds()

USAGE = N_(
    "Log what a customer wrote or asked: /complaint CUSTOMER: TEXT, e.g. "
    "/complaint Shop: complaint quality the caps leak. The kind (enquiry, letter, complaint) and the "
    "tag (quality, delivery, price, service, other) may come first; else I ask."
)
REGISTER_USAGE = N_("/complaints shows the open ones; /complaints all, or a period such as month or 2026-11.")
OPEN_WORDS = {"open", "未结", "未結", "未处理", "未處理", "待办", "待辦"}
ALL_WORDS = {"all", "全部", "所有"}


@dataclass
class Draft:
    """One item being logged, between the updates of the flow."""

    key: str  # source key of the update that started it: the saved item's key
    token: str
    customer: CustomerRef | None = None
    text: str = ""
    kind: ComplaintKind | None = None
    tag: ComplaintTag | None = None


def _draft(request: Request) -> Draft | None:
    draft = request.user_data.get(FLOW_KEY)
    return draft if isinstance(draft, Draft) else None


def _today(request: Request) -> date:
    return request.context.runtime.clock.today()


def _pressed(request: Request) -> str:
    query = request.update.callback_query
    return (query.data or "") if query is not None else ""


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message is not None else ""


def _trailing_id(request: Request) -> int | None:
    try:
        return int(_pressed(request).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text[:BUTTON_TEXT_LIMIT], callback_data=data)


def split_one_liner(text: str) -> tuple[str, str | None]:
    """``customer: text`` (ASCII or full-width colon) → (customer, text); no colon → text None."""
    cut = min((i for i in (text.find(":"), text.find("：")) if i >= 0), default=-1)
    if cut < 0:
        return text.strip(), None
    return text[:cut].strip(), text[cut + 1 :].strip()


# -- the questions -----------------------------------------------------------------------------------


def kind_markup(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[_button(t.gettext(label), f"cmp:kind:{kind.value}") for kind, label in KIND_LABELS.items()]]
    )


def tag_markup(t: Translator) -> InlineKeyboardMarkup:
    buttons = [_button(t.gettext(label), f"cmp:tag:{tag.value}") for tag, label in TAG_LABELS.items()]
    return InlineKeyboardMarkup([buttons[:3], buttons[3:]])


async def _next_step(request: Request, draft: Draft, *, edit: bool = False) -> object:
    """Ask what the draft still lacks (text, kind, tag), or save it."""
    t = request.t
    assert draft.customer is not None
    say = request.edit if edit else request.reply
    if not draft.text:
        request.reply(
            t(
                N_("📮 {customer}: type what the customer wrote or asked, in one message. /cancel stops."),
                customer=draft.customer.label,
            )
        )
        return TEXT
    if draft.kind is None:
        say(
            t(N_("📮 {customer}: is it an enquiry, a letter or a complaint?"), customer=draft.customer.label),
            kind_markup(t),
        )
        return KIND
    if draft.tag is None:
        say(t(N_("📮 {customer}: what is it about?"), customer=draft.customer.label), tag_markup(t))
        return TAG
    saved = await complaints.log(
        request.session,
        request.me,
        draft.customer.id,
        draft.kind,
        draft.tag,
        draft.text,
        source_key=draft.key,
        now=request.now,
        zone=request.zone,
    )
    request.user_data.pop(FLOW_KEY, None)
    say(saved_html(t, saved, request.zone, _today(request)), item_markup(t, saved))
    return END


def _start(request: Request, customer: CustomerRef | None, text: str = "") -> Draft:
    kind, tag, rest = complaints.split_words(text)
    draft = Draft(request.source_key, secrets.token_hex(4), customer, rest, kind, tag)
    request.user_data[FLOW_KEY] = draft
    return draft


# -- logging -------------------------------------------------------------------------------------------


@action()
async def complaint_command(request: Request) -> object:
    """``/complaint CUSTOMER[: [KIND] [TAG] TEXT]``."""
    customer_text, text = split_one_liner(request.text_after_command)
    if not customer_text:
        complaints.check_may_log(request.me)
        request.reply(request.t(USAGE))
        request.user_data.pop(FLOW_KEY, None)
        return END
    resolution = await complaints.find_customer(request.session, request.me, customer_text)
    draft = _start(request, resolution.customer, text or "")
    if resolution.customer is None:
        request.reply(
            which_one(request.t, customer_text), candidate_buttons(resolution.candidates, "cmp:pick")
        )
        return CUSTOMER
    return await _next_step(request, draft)


@action()
async def start_for_customer(request: Request) -> object:
    """📮 Complaint under a saved visit: ``cmp:start:<customer id>``."""
    customer_id = customer_id_of(_pressed(request))
    if customer_id is None:
        return END
    customer = await complaints.choose_customer(request.session, request.me, customer_id)
    return await _next_step(request, _start(request, customer))


@action()
async def pick_customer(request: Request) -> object:
    draft = _draft(request)
    customer_id = customer_id_of(_pressed(request))
    if draft is None or customer_id is None:
        return END
    draft.customer = await complaints.choose_customer(request.session, request.me, customer_id)
    return await _next_step(request, draft, edit=True)


@action()
async def typed_text(request: Request) -> object:
    draft = _draft(request)
    if draft is None or draft.customer is None:
        return END
    kind, tag, rest = complaints.split_words(_typed(request))
    draft.text = complaints.clean_text(rest)
    draft.kind, draft.tag = draft.kind or kind, draft.tag or tag
    return await _next_step(request, draft)


@action()
async def choose_kind(request: Request) -> object:
    draft = _draft(request)
    if draft is None or draft.customer is None:
        return END
    draft.kind = ComplaintKind(_pressed(request).rsplit(":", 1)[1])
    return await _next_step(request, draft, edit=True)


@action()
async def choose_tag(request: Request) -> object:
    draft = _draft(request)
    if draft is None or draft.customer is None or draft.kind is None:
        return END
    draft.tag = ComplaintTag(_pressed(request).rsplit(":", 1)[1])
    return await _next_step(request, draft, edit=True)


# -- showing and closing --------------------------------------------------------------------------------


def item_markup(t: Translator, item: ComplaintView) -> InlineKeyboardMarkup | None:
    """Answer / On site / Resolve for an open item (what it still lacks)."""
    if not item.open:
        return None
    row = []
    if not item.answered:
        row.append(_button("✍️ " + t.gettext(N_("Answer")) + f" #{item.id}", f"cmp:ans:{item.id}"))
    if item.onsite_needed and not item.onsite_met:
        row.append(_button("🚗 " + t.gettext(N_("On site")) + f" #{item.id}", f"cmp:site:{item.id}"))
    row.append(_button("🏁 " + t.gettext(N_("Resolve")) + f" #{item.id}", f"cmp:done:{item.id}"))
    return InlineKeyboardMarkup([row])


def register_markup(t: Translator, items: tuple[ComplaintView, ...]) -> InlineKeyboardMarkup | None:
    rows = [row for item in items if (markup := item_markup(t, item)) for row in markup.inline_keyboard]
    return InlineKeyboardMarkup(rows) if rows else None


@action()
async def complaints_command(request: Request) -> None:
    """``/complaints [open|all|PERIOD]``."""
    argument = " ".join(request.text_after_command.split())
    which: str | None = "open"
    period = None
    if argument.lower() in ALL_WORDS:
        which = "all"
    elif argument and argument.lower() not in OPEN_WORDS:
        which = None
        try:
            period = parse_period(argument, _today(request))
        except Invalid as error:
            request.reply(request.t(error.message, **error.params) + "\n" + request.t(REGISTER_USAGE))
            return
    register = await complaints.register(
        request.session,
        request.me,
        which=which,
        period=period,
        zone=request.zone,
        today=_today(request),
        now=request.now,
    )
    markup = (
        register_markup(request.t, tuple(i for i in register.items if i.open))
        if complaints.may_close(request.me)
        else None
    )
    request.reply(register_html(request.t, register, request.zone, _today(request)), markup)


@action()
async def show(request: Request) -> None:
    """``cmp:show:<id>``: one item, from a reminder."""
    item_id = _trailing_id(request)
    if item_id is None:
        return
    item = await complaints.get(request.session, request.me, item_id, now=request.now)
    markup = item_markup(request.t, item) if complaints.may_close(request.me) else None
    request.reply(item_html(request.t, item, request.zone, _today(request), full=True), markup)


ASK = {
    "ans": N_(
        "✍️ #{number} · {customer}: type the answer given to the customer, in one message. /cancel stops."
    ),
    "site": N_(
        "🚗 #{number} · {customer}: nobody logged an on-site visit yet. If someone went (the quality "
        "department, say), type who went and what they found. A visit you log with /visit counts by itself. "
        "/cancel stops."
    ),
    "done": N_("🏁 #{number} · {customer}: type how it was resolved, in one message. /cancel stops."),
}


@action()
async def ask_closing(request: Request) -> object:
    """``cmp:ans|site|done:<id>``: ask for the text to record."""
    item_id = _trailing_id(request)
    what = _pressed(request).split(":")[1] if _pressed(request).count(":") == 2 else ""
    if item_id is None or what not in ASK:
        return END
    complaints.check_may_log(request.me)
    item = await complaints.get(request.session, request.me, item_id, now=request.now)
    if not item.open:
        request.toast = request.t.gettext(N_("Item #{number} is already resolved.")).format(number=item.id)
        return END
    if what == "ans" and item.answered:
        request.toast = request.t.gettext(N_("Item #{number} is already answered.")).format(number=item.id)
        return END
    if what == "site" and not item.onsite_needed:
        request.toast = request.t.gettext(
            N_("Item #{number} needs nobody on site: it is not a quality problem.")
        ).format(number=item.id)
        return END
    if what == "site" and item.onsite_met:
        request.reply(
            item_html(request.t, item, request.zone, _today(request), full=True),
            item_markup(request.t, item),
        )
        return END
    request.user_data[CLOSING_KEY] = {"id": item.id, "what": what}
    request.reply(request.t(ASK[what], number=item.id, customer=item.customer.label))
    return CLOSING


@action()
async def closing_text(request: Request) -> object:
    asked = request.user_data.get(CLOSING_KEY)
    if not isinstance(asked, dict) or asked.get("what") not in ASK or not isinstance(asked.get("id"), int):
        request.reply(
            request.t(N_("I lost track of that item. Send /complaints and press its button again."))
        )
        return END
    record = {
        "ans": complaints.record_answer,
        "site": complaints.record_onsite,
        "done": complaints.resolve,
    }[asked["what"]]
    try:
        item = await record(request.session, request.me, asked["id"], _typed(request), now=request.now)
    except Invalid as error:  # nothing was written: say why and wait for another try
        request.reply(
            request.t(error.message, **error.params)
            + "\n"
            + request.t(N_("Try again, or send /cancel to stop."))
        )
        return None
    except ServiceError as error:  # answered, resolved or moved out of reach meanwhile: stop here
        request.user_data.pop(CLOSING_KEY, None)
        request.reply(request.t(error.message, **error.params))
        return END
    request.user_data.pop(CLOSING_KEY, None)
    done = {
        "ans": N_("✍️ Answer recorded."),
        "site": N_("🚗 On-site visit recorded."),
        "done": N_("🏁 Resolved and closed: its reminders stop."),
    }[asked["what"]]
    request.reply(
        request.t(done) + "\n" + item_html(request.t, item, request.zone, _today(request), full=True),
        item_markup(request.t, item),
    )
    return END


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(FLOW_KEY, None)
    request.user_data.pop(CLOSING_KEY, None)
    request.reply(request.t(N_("Stopped: nothing was recorded.")))
    return END


@action()
async def unexpected(request: Request) -> object:
    request.reply(request.t(N_("Please answer the last question above, or send /cancel to stop.")))
    return None


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("complaint", complaint_command, private),
                CallbackQueryHandler(start_for_customer, pattern=r"^cmp:start:\d+$"),
                CallbackQueryHandler(ask_closing, pattern=r"^cmp:(ans|site|done):\d+$"),
            ],
            states={
                CUSTOMER: [CallbackQueryHandler(pick_customer, pattern=r"^cmp:pick:\d+$")],
                TEXT: [MessageHandler(typed, typed_text)],
                KIND: [CallbackQueryHandler(choose_kind, pattern=r"^cmp:kind:(enquiry|letter|complaint)$")],
                TAG: [
                    CallbackQueryHandler(
                        choose_tag, pattern=r"^cmp:tag:(quality|delivery|price|service|other)$"
                    )
                ],
                CLOSING: [MessageHandler(typed, closing_text)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel, private),
                MessageHandler(private & ~filters.COMMAND & ~filters.Document.ALL, unexpected),
                another_command_ends_flow(),
            ],
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="complaint",
            persistent=True,
        )
    )
    application.add_handler(CommandHandler("complaints", complaints_command, private))
    application.add_handler(CallbackQueryHandler(show, pattern=r"^cmp:show:\d+$"))
