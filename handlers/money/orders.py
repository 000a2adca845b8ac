"""/order: record a sale as a receivable, in one line or from the customer card's Order button.

``/order CUSTOMER: AMOUNT [INVOICE NO]`` records at once; ``/order CUSTOMER`` and
the card's button (``order:start:<customer id>``) ask for the amount. An
ambiguous customer gets candidate buttons; an order past the credit limit gets
Confirm / Cancel. Whatever the path, the write is keyed on the message that
carried the order, so a redelivery or a second tap records nothing new. What
a button must remember (amount, invoice no) waits in ``user_data`` under a
short token: the id of that message.

A recorded order carries "↩ Undo (10 minutes)" (``order:undo:<receivable id>``),
as a collection does: it voids the invoice (see ``bot/services/money/orders.py``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

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
from bot.services.field.customers import CustomerRef
from bot.services.money import orders
from bot.services.money.amounts import format_amount
from bot.services.money.orders import (
    NeedsConfirmation,
    OrderDetails,
    OrderOutcome,
    RecordedOrder,
    UndoneOrder,
)
from handlers.base import Request, action
from handlers.field.customer_choice import candidate_buttons, which_one
from handlers.flows import another_command_ends_flow

AMOUNT = 1
END = ConversationHandler.END
TIMEOUT_SECONDS = 15 * 60
PENDING = "orders.pending"  # user_data: token → what a button needs to finish an order
ASKING = "orders.asking"  # user_data: the customer id whose amount we are waiting for
MAX_PENDING = 20
COLON = re.compile(r"[:：]")

USAGE = N_(
    "Record an order like this:\n"
    "/order CUSTOMER: AMOUNT [INVOICE NO]\n"
    "For example: /order Acme: 5000 or /order 华东五金: 1.5万 INV-2026-118\n"
    "Without an invoice number I number the order myself. "
    "/order CUSTOMER alone asks for the amount."
)
ASK_AMOUNT = N_(
    "Amount for {customer}? For example 5000 or 1.5万, with the invoice number after it "
    "if there is one. /cancel stops."
)
EXPIRED = N_("This choice has expired: nothing was recorded. Send the order again.")
CANCELLED = N_("Order cancelled: nothing was recorded.")
ALREADY = N_("Already recorded: invoice {invoice}.")
VOIDED = N_("Order {invoice} was voided.")


def split_order(text: str) -> tuple[str, str | None]:
    """``"Acme: 5000 INV-1"`` → ``("Acme", "5000 INV-1")``; no colon → ``(text, None)``.

    The first colon (ASCII or full-width) separates, so a customer name cannot
    contain one but an invoice number may.
    """
    parts = COLON.split(text, maxsplit=1)
    if len(parts) == 1:
        return text.strip(), None
    return parts[0].strip(), parts[1].strip()


# -- rendering ---------------------------------------------------------------------------------


def render_recorded(t: Translator, done: RecordedOrder) -> str:
    lines = [
        t(N_("Order recorded for <b>{customer}</b>."), customer=done.customer.label),
        t(
            N_("Invoice {invoice}: {amount}, due {due}."),
            invoice=done.invoice_no,
            amount=format_amount(done.amount),
            due=done.due_on.isoformat(),
        ),
        t(N_("Open balance now: {open}."), open=format_amount(done.open_balance)),
    ]
    if done.credit_applied > 0:
        lines.insert(
            2,
            t(
                N_("💳 {amount} of the customer's credit applied to {invoice}."),
                amount=format_amount(done.credit_applied),
                invoice=done.invoice_no,
            ),
        )
    if done.over_limit:
        lines.append(t(N_("⚠️ Over the credit limit: marked for your manager to approve.")))
    return "\n".join(lines)


def undo_button(t: Translator, receivable_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext(N_("↩ Undo (10 minutes)")), callback_data=f"order:undo:{receivable_id}"
                )
            ]
        ]
    )


def render_undone(t: Translator, undone: UndoneOrder) -> str:
    lines = [
        t(
            N_(
                "↩ Undone: order {invoice} for <b>{customer}</b> ({amount}) is voided. It no longer counts "
                "in the customer's balance."
            ),
            invoice=undone.invoice_no,
            customer=undone.customer.label,
            amount=format_amount(undone.amount),
        ),
        t(N_("Open balance now: {open}."), open=format_amount(undone.open_balance)),
    ]
    if undone.credit_released > 0:
        lines.append(
            t(
                N_("💳 The {amount} of credit applied to it is the customer's again (credit now {credit})."),
                amount=format_amount(undone.credit_released),
                credit=format_amount(undone.credit),
            )
        )
    if undone.withdrawn_approval is not None:
        lines.append(t(N_("The request to your manager is withdrawn.")))
    return "\n".join(lines)


def render_warning(t: Translator, check: NeedsConfirmation) -> str:
    credit = check.credit
    return "\n".join(
        [
            t(
                N_("⚠️ This order of {amount} takes <b>{customer}</b> over the credit limit."),
                amount=format_amount(check.details.amount),
                customer=check.customer.label,
            ),
            t(N_("Open balance: {open}"), open=format_amount(credit.open)),
            t(N_("Credit limit: {limit}"), limit=format_amount(credit.limit)),
            t(N_("After this order: {after}"), after=format_amount(credit.after)),
            t(N_("Record it anyway? Your manager will be asked to approve it.")),
        ]
    )


def confirm_buttons(t: Translator, token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t.gettext(N_("Confirm")), callback_data=f"order:confirm:{token}"),
                InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data=f"order:cancel:{token}"),
            ]
        ]
    )


# -- what buttons remember ---------------------------------------------------------------------


def _pending(request: Request) -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, Any]] = request.user_data.setdefault(PENDING, {})
    return store


def remember(request: Request, details: OrderDetails | None, customer_id: int | None = None) -> str:
    """Keep an unfinished order under a token (the id of the message that carried it)."""
    message = request.update.effective_message
    assert message is not None
    token = str(message.message_id)
    store = _pending(request)
    store[token] = {
        "source_key": request.source_key,
        "amount": str(details.amount) if details else None,
        "invoice_no": details.invoice_no if details else None,
        "customer_id": customer_id,
    }
    while len(store) > MAX_PENDING:
        store.pop(next(iter(store)))
    return token


def details_of(pending: dict[str, Any]) -> OrderDetails:
    return OrderDetails(Decimal(pending["amount"]), pending["invoice_no"])


def callback_parts(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


async def _record(
    request: Request, customer_id: int, details: OrderDetails, source_key: str, *, confirmed: bool = False
) -> OrderOutcome:
    return await orders.record_order(
        request.session,
        request.me,
        customer_id,
        details,
        now=request.now,
        zone=request.context.runtime.clock.zone,
        source_key=source_key,
        confirmed=confirmed,
    )


def _show(request: Request, outcome: OrderOutcome, token: str, *, edit: bool) -> None:
    """The saved order, or the over-limit warning with Confirm / Cancel.

    A button pressed again after it did its work only gets a toast: the first
    press already changed the message, and the copy of the message a second
    press carries is older than that, so an edit could repeat the first.
    """
    t = request.t
    if edit and isinstance(outcome, RecordedOrder) and outcome.repeated:
        request.toast = t(ALREADY, invoice=outcome.invoice_no)
        return
    if isinstance(outcome, RecordedOrder):
        undoable = outcome.undo_until is not None and request.now < outcome.undo_until
        text = render_recorded(t, outcome)
        markup = undo_button(t, outcome.receivable_id) if undoable and not outcome.voided else None
    else:
        text, markup = render_warning(t, outcome), confirm_buttons(t, token)
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)


def _ask_amount(request: Request, customer: CustomerRef, *, edit: bool) -> int:
    request.user_data[ASKING] = customer.id
    text = request.t(ASK_AMOUNT, customer=customer.label)
    if edit:
        request.edit(text)
    else:
        request.reply(text)
    return AMOUNT


# -- handlers ----------------------------------------------------------------------------------


@action()
async def order(request: Request) -> object:
    """``/order``, ``/order CUSTOMER`` or ``/order CUSTOMER: AMOUNT [INVOICE NO]``; without the colon,
    ``/order 鑫源建材 5000`` when the first words name one customer."""
    request.user_data.pop(ASKING, None)  # a new order replaces one we were asking the amount of
    text = request.text_after_command
    if not text:
        request.reply(request.t(USAGE))
        return END
    customer_text, rest = split_order(text)
    if rest is None:  # no colon: the first words that name a customer, then the amount
        lead = await orders.resolve_leading(request.session, request.me, customer_text)
        customer_text, rest, resolution = lead.named, lead.rest or None, lead.resolution
        details = orders.read_details(rest) if rest is not None else None
    else:
        details = orders.read_details(rest)
        resolution = await orders.resolve_customer(request.session, request.me, customer_text)
    if resolution.customer is None:
        token = remember(request, details)
        request.reply(
            which_one(request.t, customer_text, resolution.near),
            candidate_buttons(resolution.candidates, f"order:pick:{token}"),
        )
        return END
    if details is None:
        return _ask_amount(request, resolution.customer, edit=False)
    outcome = await _record(request, resolution.customer.id, details, request.source_key)
    token = (
        remember(request, details, resolution.customer.id) if isinstance(outcome, NeedsConfirmation) else ""
    )
    _show(request, outcome, token, edit=False)
    return END


@action()
async def start_from_card(request: Request) -> object:
    """The customer card's Order button: ask for the amount."""
    customer = await orders.customer_for_order(request.session, request.me, int(callback_parts(request)[2]))
    return _ask_amount(request, customer, edit=False)


@action()
async def pick(request: Request) -> object:
    """A candidate button: ``order:pick:<token>:<customer id>``."""
    _, _, token, customer_id = callback_parts(request)
    pending = _pending(request).get(token)
    if pending is None:
        request.toast = request.t(EXPIRED)
        return None
    if pending["amount"] is None:
        customer = await orders.customer_for_order(request.session, request.me, int(customer_id))
        if pending.get("asked") == customer.id:  # a second tap: the question is already showing
            request.user_data[ASKING] = customer.id
            return AMOUNT
        pending["asked"] = customer.id
        return _ask_amount(request, customer, edit=True)
    pending["customer_id"] = int(customer_id)
    outcome = await _record(request, int(customer_id), details_of(pending), pending["source_key"])
    _show(request, outcome, token, edit=True)
    return None


@action()
async def amount_typed(request: Request) -> object:
    """The typed answer to "Amount for …?"; a bad amount says why and asks again."""
    customer_id = request.user_data.get(ASKING)
    message = request.update.effective_message
    if customer_id is None or message is None:
        request.reply(request.t(N_("I lost track of that order. Start again with /order.")))
        return END
    details = orders.read_details(message.text or "")
    outcome = await _record(request, customer_id, details, request.source_key)
    token = remember(request, details, customer_id) if isinstance(outcome, NeedsConfirmation) else ""
    _show(request, outcome, token, edit=False)
    request.user_data.pop(ASKING, None)
    return END


@action()
async def cancel_asking(request: Request) -> object:
    request.user_data.pop(ASKING, None)
    request.reply(request.t(CANCELLED))
    return END


@action()
async def confirm(request: Request) -> None:
    """Confirm past the credit limit; written under the original order's key, so twice is once."""
    token = callback_parts(request)[2]
    pending = _pending(request).get(token)
    if pending is None or pending["customer_id"] is None:
        request.toast = request.t(EXPIRED)
        return
    outcome = await _record(
        request, pending["customer_id"], details_of(pending), pending["source_key"], confirmed=True
    )
    _show(request, outcome, token, edit=True)


@action()
async def cancel(request: Request) -> None:
    """Drop the order; a second tap, or a Cancel after Confirm, only gets a toast (see ``_show``)."""
    token = callback_parts(request)[2]
    pending = _pending(request).pop(token, None)
    if pending is None:
        request.toast = request.t(CANCELLED)
        return
    recorded = await orders.find_recorded(
        request.session,
        request.me,
        pending["source_key"],
        now=request.now,
        zone=request.context.runtime.clock.zone,
    )
    if recorded is not None:
        request.toast = request.t(VOIDED if recorded.voided else ALREADY, invoice=recorded.invoice_no)
        return
    request.edit(request.t(CANCELLED))


@action()
async def undo(request: Request) -> None:
    """``order:undo:<receivable id>``: whoever placed the order voids it, within 10 minutes."""
    undone = await orders.undo(
        request.session,
        request.me,
        int(callback_parts(request)[2]),
        now=request.now,
        zone=request.context.runtime.clock.zone,
    )
    if undone.already:
        request.toast = request.t.gettext(N_("Already undone."))
        return
    request.toast = request.t.gettext(N_("Undone."))
    request.edit(render_undone(request.t, undone))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("order", order, private),
                CallbackQueryHandler(start_from_card, pattern=r"^order:start:\d+$"),
                CallbackQueryHandler(pick, pattern=r"^order:pick:\d+:\d+$"),
            ],
            states={AMOUNT: [MessageHandler(private & filters.TEXT & ~filters.COMMAND, amount_typed)]},
            fallbacks=[CommandHandler("cancel", cancel_asking, private), another_command_ends_flow()],
            allow_reentry=True,
            conversation_timeout=TIMEOUT_SECONDS,
            name="orders",
            persistent=True,
        )
    )
    application.add_handler(CallbackQueryHandler(confirm, pattern=r"^order:confirm:\d+$"))
    application.add_handler(CallbackQueryHandler(cancel, pattern=r"^order:cancel:\d+$"))
    application.add_handler(CallbackQueryHandler(undo, pattern=r"^order:undo:\d+$"))
