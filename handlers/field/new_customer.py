"""/newcustomer: register a prospect in a short guided form (name, phone, address, location).

What the rep answers is kept in the conversation (``user_data``, stored like every flow's state,
so a restart of the bot loses nothing) and written in one go at the end
(``bot/services/field/prospects.py``): ``/cancel``, another command, or leaving the form until it times
out saves nothing. Before saving, a customer of the company with the same name or phone number is
reported, with "Save anyway" and "Cancel". The saved prospect goes to the rep's manager (the new
customer report, regulations part 4, art. 30); the form ends on the customer's card.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
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
from bot.services.field import prospects
from bot.services.field.prospects import Duplicates, ProspectDetails, Registered
from bot.services.people.access import Permission, require
from handlers.base import Request, action
from handlers.field.customers import card_reply, user_data_of
from handlers.field.prospects import inline

DRAFT_KEY = "customers.new_customer"
#: Where versions that saved as the form went kept the prospect's id: nothing reads it any more.
OLD_PROSPECT_KEY = "customers.prospect"
LANGUAGE_KEY = "customers.language"
FORM_TIMEOUT = timedelta(minutes=15)
ASK_NAME, ASK_PHONE, ASK_ADDRESS, ASK_LOCATION, CONFIRM = range(5)
SKIP = N_("Skip")
STOPPED = N_("Stopped: nothing was saved.")


def _skip_button(t: Translator, step: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext(SKIP), callback_data=f"newc:skip:{step}")]])


def _location_keyboard(t: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(t.gettext(N_("📍 Share location")), request_location=True)],
            [KeyboardButton(t.gettext(SKIP))],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def _draft(request: Request) -> ProspectDetails | None:
    draft = user_data_of(request).get(DRAFT_KEY)
    return draft if isinstance(draft, ProspectDetails) else None


def _lost(request: Request) -> int:
    """No form in progress after all (a form started by an older version, whose answers it saved as
    it went): say so and end, rather than answering every message with this."""
    request.reply(
        request.t(N_("I lost track of the new customer; send /newcustomer again.")), ReplyKeyboardRemove()
    )
    return ConversationHandler.END


def _keep(request: Request, draft: ProspectDetails) -> None:
    user_data_of(request)[DRAFT_KEY] = draft


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


async def _start(request: Request, name: str) -> int:
    draft = prospects.details(name)
    _keep(request, draft)
    t = request.t
    request.reply(
        t(N_("New customer: {name}. Nothing is saved until the last step (/cancel stops)."), name=draft.name)
        + "\n\n"
        + t(N_("Their phone number? Type it, or press Skip.")),
        _skip_button(t, "phone"),
    )
    return ASK_PHONE


@action()
async def new_customer(request: Request) -> int | None:
    require(request.me, Permission.REGISTER_PROSPECT)
    user_data_of(request).pop(DRAFT_KEY, None)
    user_data_of(request).pop(OLD_PROSPECT_KEY, None)
    user_data_of(request)[LANGUAGE_KEY] = request.me.language
    name = request.text_after_command
    if not name:
        request.reply(request.t(N_("The new customer's name? (/cancel to stop)")))
        return ASK_NAME
    return await _start(request, name)


@action()
async def got_name(request: Request) -> int:
    return await _start(request, _typed(request))


def _ask_address(request: Request) -> int:
    request.reply(request.t(N_("Their address? Type it, or press Skip.")), _skip_button(request.t, "address"))
    return ASK_ADDRESS


def _ask_location(request: Request) -> int:
    request.reply(
        request.t(N_("Are you at the customer now? Share your location to store theirs, or press Skip.")),
        _location_keyboard(request.t),
    )
    return ASK_LOCATION


def _hide_buttons(request: Request) -> None:
    """Take the buttons off the pressed message (Skip, Save anyway): they are used."""
    query = request.update.callback_query
    if query is None:
        return

    async def hide() -> None:
        await query.edit_message_reply_markup(reply_markup=None)

    request.after_commit.append(hide)


@action()
async def got_phone(request: Request) -> int:
    draft = _draft(request)
    if draft is None:
        return _lost(request)
    _keep(request, prospects.with_phone(draft, _typed(request)))
    return _ask_address(request)


@action()
async def skip_phone(request: Request) -> int:
    _hide_buttons(request)
    return _ask_address(request) if _draft(request) is not None else _lost(request)


@action()
async def got_address(request: Request) -> int:
    draft = _draft(request)
    if draft is None:
        return _lost(request)
    _keep(request, prospects.with_address(draft, _typed(request)))
    return _ask_location(request)


@action()
async def skip_address(request: Request) -> int:
    _hide_buttons(request)
    return _ask_location(request) if _draft(request) is not None else _lost(request)


def _duplicates_text(t: Translator, found: Duplicates) -> str:
    lines = [t(N_("⚠️ Not saved yet: the company already has a customer with this name or phone number."))]
    for match in found.shown:
        what = (
            N_("same name and phone number")
            if match.same_name and match.same_phone
            else N_("same name")
            if match.same_name
            else N_("same phone number")
        )
        if match.customer is not None:
            lines.append(t(N_("• {customer}: {what}"), customer=match.customer.label, what=t.gettext(what)))
        else:
            lines.append(t(N_("• a customer someone else looks after: {what}"), what=t.gettext(what)))
    if found.more:
        lines.append(t(N_("• and {count} more"), count=found.more))
    return "\n".join(lines)


async def _save(request: Request, *, check_duplicates: bool) -> int:
    draft = _draft(request)
    if draft is None:
        return _lost(request)
    registered = await prospects.register(
        request.session,
        request.me,
        draft,
        now=request.now,
        zone=request.context.runtime.clock.zone,
        source_key=request.source_key,
        check_duplicates=check_duplicates,
    )
    t = request.t
    if registered.duplicates is not None:
        request.reply(_duplicates_text(t, registered.duplicates), ReplyKeyboardRemove())
        request.reply(
            t(N_("Save {name} as a new customer anyway?"), name=draft.name),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(t.gettext(N_("Save anyway")), callback_data="newc:save"),
                        InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data="newc:drop"),
                    ]
                ]
            ),
        )
        return CONFIRM
    user_data_of(request).pop(DRAFT_KEY, None)
    request.reply(_saved_text(t, registered), ReplyKeyboardRemove())
    assert registered.ref is not None
    text, markup = await card_reply(request, registered.ref.id)
    if registered.reviews_it:
        rows = [
            *inline(prospects.review_buttons(t, registered.ref.id)).inline_keyboard,
            *(markup.inline_keyboard if markup else ()),
        ]
        markup = InlineKeyboardMarkup(rows)
    request.reply(text, markup)
    return ConversationHandler.END


def _saved_text(t: Translator, registered: Registered) -> str:
    assert registered.ref is not None
    line = t(
        N_("✅ Saved: {name} is a prospect, code {code}."), name=registered.ref.name, code=registered.ref.code
    )
    if registered.reviews_it:
        return (
            line
            + "\n"
            + t(
                N_(
                    "Make it an active customer (its code and grade), or merge it into the "
                    "existing customer it is, with the buttons below."
                )
            )
        )
    if registered.told:
        return line + "\n" + t(N_("Your manager has been told: they make it an active customer."))
    return line


@action()
async def got_location(request: Request) -> int:
    message, draft = request.update.effective_message, _draft(request)
    if draft is None:
        return _lost(request)
    if message is not None and message.location is not None:
        _keep(request, prospects.with_location(draft, message.location.latitude, message.location.longitude))
    return await _save(request, check_duplicates=True)


@action()
async def location_text(request: Request) -> int | None:
    typed = _typed(request).strip().lower()
    if typed in {request.t.gettext(SKIP).lower(), SKIP.lower()}:
        return await _save(request, check_duplicates=True)
    request.reply(
        request.t(N_("Share your location with the button below, or press Skip.")),
        _location_keyboard(request.t),
    )
    return None


@action()
async def save_anyway(request: Request) -> int:
    _hide_buttons(request)
    return await _save(request, check_duplicates=False)


@action()
async def confirm_text(request: Request) -> None:
    request.reply(request.t(N_("Press Save anyway or Cancel above (or send /cancel).")))


@action()
async def cancel_new_customer(request: Request) -> int:
    draft = user_data_of(request).pop(DRAFT_KEY, None)
    _hide_buttons(request)
    t = request.t
    if isinstance(draft, ProspectDetails):
        request.reply(t(N_("Stopped: {name} was not saved."), name=draft.name), ReplyKeyboardRemove())
    else:
        request.reply(t(STOPPED), ReplyKeyboardRemove())
    return ConversationHandler.END


@action()
async def another_command(request: Request) -> int:
    """Another command in the middle of the form: say the form is closed unsaved, then run it.

    Like ``handlers.flows.another_command_ends_flow``, the update goes back on the queue once
    this reply is sent, and is handled outside this flow.
    """
    draft = user_data_of(request).pop(DRAFT_KEY, None)
    if isinstance(draft, ProspectDetails):
        request.reply(
            request.t(N_("The new customer form is closed: {name} was not saved."), name=draft.name),
            ReplyKeyboardRemove(),
        )
    update, queue = request.update, request.context.application.update_queue

    async def hand_on() -> None:
        await queue.put(update)

    request.after_commit.append(hand_on)
    return ConversationHandler.END


async def form_timed_out(update: object, context: Context) -> None:
    """The form was left open too long: say that nothing was saved, take the keyboard away.

    Not an ``@action``: PTB hands over the form's last update, perhaps a button
    press that was answered already, and nothing is written here.
    """
    data = context.user_data if context.user_data is not None else {}
    draft = data.pop(DRAFT_KEY, None)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None:
        return
    t = Translator(str(data.get(LANGUAGE_KEY, "en")))
    text = (
        t(
            N_("The new customer form timed out: {name} was not saved. Send /newcustomer to start again."),
            name=draft.name,
        )
        if isinstance(draft, ProspectDetails)
        else t(N_("The new customer form timed out; nothing was registered."))
    )
    await context.bot.send_message(chat.id, text, reply_markup=ReplyKeyboardRemove())


def new_customer_conversation() -> ConversationHandler[Any]:
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("newcustomer", new_customer, filters.ChatType.PRIVATE)],
        states={
            ASK_NAME: [MessageHandler(typed, got_name)],
            ASK_PHONE: [
                MessageHandler(typed, got_phone),
                CallbackQueryHandler(skip_phone, pattern=r"^newc:skip:phone$"),
            ],
            ASK_ADDRESS: [
                MessageHandler(typed, got_address),
                CallbackQueryHandler(skip_address, pattern=r"^newc:skip:address$"),
            ],
            ASK_LOCATION: [
                MessageHandler(private & filters.LOCATION, got_location),
                MessageHandler(typed, location_text),
            ],
            CONFIRM: [
                CallbackQueryHandler(save_anyway, pattern=r"^newc:save$"),
                CallbackQueryHandler(cancel_new_customer, pattern=r"^newc:drop$"),
                MessageHandler(typed, confirm_text),
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, form_timed_out)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel_new_customer, filters.ChatType.PRIVATE),
            MessageHandler(filters.ChatType.PRIVATE & filters.COMMAND, another_command),
        ],
        allow_reentry=True,
        conversation_timeout=FORM_TIMEOUT,
        name="newcustomer",
        persistent=True,
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(new_customer_conversation())
