"""/newcustomer: register a prospect in a short guided form (name, phone, address, location).

The prospect is written at once, as soon as it has a name, and each later
answer updates it in its own transaction: a rep who is interrupted, a timeout
or a restart of the bot never loses the "new customer report" itself, only
the details not yet given. The form ends on the customer's card.
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
from bot.services import customers
from bot.services.access import Permission, require
from bot.services.errors import NotFound
from handlers.base import Request, action
from handlers.customers import card_reply, local_today, user_data_of
from handlers.flows import another_command_ends_flow

PROSPECT_KEY = "customers.prospect"
LANGUAGE_KEY = "customers.language"
FORM_TIMEOUT = timedelta(minutes=15)
ASK_NAME, ASK_PHONE, ASK_ADDRESS, ASK_LOCATION = range(4)
SKIP = N_("Skip")


def _skip_button(t: Translator, step: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext(SKIP), callback_data=f"newc:skip:{step}")]])


def _location_keyboard(t: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(t.gettext(N_("📍 Share location")), request_location=True)],
         [KeyboardButton(t.gettext(SKIP))]],
        resize_keyboard=True, one_time_keyboard=True)


def _prospect_id(request: Request) -> int | None:
    value = user_data_of(request).get(PROSPECT_KEY)
    return value if isinstance(value, int) else None


async def _register(request: Request, name: str) -> int:
    prospect = await customers.register_prospect(request.session, request.me, name, now=request.now,
                                                 today=local_today(request), source_key=request.source_key)
    user_data_of(request)[PROSPECT_KEY] = prospect.ref.id
    t = request.t
    request.reply(t(N_("Prospect {name} registered as {code}."), name=prospect.ref.name,
                    code=prospect.ref.code) + "\n\n"
                  + t(N_("Their phone number? Type it, or press Skip.")), _skip_button(t, "phone"))
    return ASK_PHONE


@action()
async def new_customer(request: Request) -> int | None:
    require(request.me, Permission.REGISTER_PROSPECT)
    user_data_of(request).pop(PROSPECT_KEY, None)
    user_data_of(request)[LANGUAGE_KEY] = request.me.language
    name = request.text_after_command
    if not name:
        request.reply(request.t(N_("The new customer's name? (/cancel to stop)")))
        return ASK_NAME
    return await _register(request, name)


@action()
async def got_name(request: Request) -> int:
    return await _register(request, _typed(request))


def _ask_address(request: Request) -> int:
    request.reply(request.t(N_("Their address? Type it, or press Skip.")), _skip_button(request.t, "address"))
    return ASK_ADDRESS


def _ask_location(request: Request) -> int:
    request.reply(request.t(N_("Are you at the customer now? Share your location to store theirs, "
                               "or press Skip.")), _location_keyboard(request.t))
    return ASK_LOCATION


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


async def _update(request: Request, **fields: Any) -> None:
    customer_id = _prospect_id(request)
    if customer_id is None:
        raise NotFound(N_("I lost track of the new customer; send /newcustomer again."))
    await customers.update_contact(request.session, request.me, customer_id, **fields)


def _hide_skip_button(request: Request) -> None:
    query = request.update.callback_query
    if query is None:
        return

    async def hide() -> None:
        await query.edit_message_reply_markup(reply_markup=None)

    request.after_commit.append(hide)


@action()
async def got_phone(request: Request) -> int:
    await _update(request, phone=_typed(request))
    return _ask_address(request)


@action()
async def skip_phone(request: Request) -> int:
    _hide_skip_button(request)
    return _ask_address(request)


@action()
async def got_address(request: Request) -> int:
    await _update(request, address=_typed(request))
    return _ask_location(request)


@action()
async def skip_address(request: Request) -> int:
    _hide_skip_button(request)
    return _ask_location(request)


async def _finish(request: Request) -> int:
    customer_id = _prospect_id(request)
    user_data_of(request).pop(PROSPECT_KEY, None)
    request.reply(request.t(N_("Done: the new customer is saved.")), ReplyKeyboardRemove())
    if customer_id is not None:
        request.reply(*await card_reply(request, customer_id))
    return ConversationHandler.END


@action()
async def got_location(request: Request) -> int:
    message = request.update.effective_message
    if message is not None and message.location is not None:
        await _update(request, location=(message.location.latitude, message.location.longitude))
    return await _finish(request)


@action()
async def location_text(request: Request) -> int | None:
    typed = _typed(request).strip().lower()
    if typed in {request.t.gettext(SKIP).lower(), SKIP.lower()}:
        return await _finish(request)
    request.reply(request.t(N_("Share your location with the button below, or press Skip.")),
                  _location_keyboard(request.t))
    return None


@action()
async def cancel_new_customer(request: Request) -> int:
    customer_id = _prospect_id(request)
    user_data_of(request).pop(PROSPECT_KEY, None)
    t = request.t
    if customer_id is None:
        request.reply(t(N_("Stopped: no customer was registered.")), ReplyKeyboardRemove())
    else:
        ref = await customers.customer_ref(request.session, request.me, customer_id)
        request.reply(t(N_("Stopped. {name} ({code}) is registered with what you gave so far."),
                        name=ref.name, code=ref.code), ReplyKeyboardRemove())
    return ConversationHandler.END


async def form_timed_out(update: object, context: Context) -> None:
    """The form was left open too long: say so and take the location keyboard away.

    Not an ``@action``: PTB hands over the form's last update, perhaps a button
    press that was answered already, and nothing is written here.
    """
    data = context.user_data if context.user_data is not None else {}
    saved = data.pop(PROSPECT_KEY, None) is not None
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None:
        return
    t = Translator(str(data.get(LANGUAGE_KEY, "en")))
    text = (t(N_("The new customer form timed out. What you gave so far is saved.")) if saved
            else t(N_("The new customer form timed out; nothing was registered.")))
    await context.bot.send_message(chat.id, text, reply_markup=ReplyKeyboardRemove())


def new_customer_conversation() -> ConversationHandler[Any]:
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("newcustomer", new_customer, filters.ChatType.PRIVATE)],
        states={
            ASK_NAME: [MessageHandler(typed, got_name)],
            ASK_PHONE: [MessageHandler(typed, got_phone),
                        CallbackQueryHandler(skip_phone, pattern=r"^newc:skip:phone$")],
            ASK_ADDRESS: [MessageHandler(typed, got_address),
                          CallbackQueryHandler(skip_address, pattern=r"^newc:skip:address$")],
            ASK_LOCATION: [MessageHandler(private & filters.LOCATION, got_location),
                           MessageHandler(typed, location_text)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, form_timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel_new_customer, filters.ChatType.PRIVATE),
                   another_command_ends_flow()],
        allow_reentry=True,
        conversation_timeout=FORM_TIMEOUT,
        name="newcustomer", persistent=True,
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(new_customer_conversation())
