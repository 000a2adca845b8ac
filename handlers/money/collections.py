"""/collect (one line or guided), its Undo button, and /reverse.

``/collect CUSTOMER: AMOUNT [METHOD] [RECEIPT]`` records at once; ``/collect`` alone,
``/collect CUSTOMER`` and the customer card's Collect button (``collect:start:<id>``) walk
through customer → amount → method → receipt. A one-liner naming a payment method the bot does
not know (``/collect Acme: 500 paypal R-1``) is not recorded as cash: it asks for the method
with a button for each (the receipt number kept) and records when one is pressed. A guided
collection is keyed by the update that started the flow, so one flow records at most one
collection, however often a button is pressed. The flow and its draft are persistent: a
question asked before a restart is answered after it.

More than the customer owes (or anything from a customer who owes nothing) is not recorded at
once: "X owes Y; Z will be kept as credit. Record it?" with Confirm / Cancel
(``collect:over:yes|no:<token>``). The flow ends with the question; what Confirm records waits in
``user_data`` under the token (the id of the message that asked), keyed by the update that started
the collection, so Confirm pressed twice records once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_, Translator, echo
from bot.services.errors import Invalid, ServiceError
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.money import collections, payment_methods
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.money.collections import OverCollection, Recorded, ReversalPreview, Reversed, Settled
from handlers.base import Request, action
from handlers.field.customer_choice import candidate_buttons, customer_id_of, which_one
from handlers.flows import another_command_ends_flow
from models import PaymentMethod

CUSTOMER, AMOUNT, METHOD, RECEIPT = range(4)
END = ConversationHandler.END
DRAFT = "collect.draft"
FLOW_TIMEOUT = timedelta(minutes=15)
#: Invoices listed one by one in a confirmation; the rest are summed in one line.
MAX_LISTED = 20

METHOD_LABELS = payment_methods.LABELS
METHOD_BUTTONS = payment_methods.BUTTONS
#: Method buttons per row: six methods in two rows of three.
METHODS_PER_ROW = 3


@dataclass
class Draft:
    """A collection being put together in the guided flow (kept in memory, like the flow)."""

    key: str
    customer: CustomerRef | None = None
    amount: Decimal | None = None
    method: PaymentMethod | None = None
    receipt_no: str | None = None
    #: Typed in one line: once the method is known it is recorded (any receipt was in the line).
    line: bool = False
    #: The method word the rep typed that the bot does not know, as quoted back to them.
    unknown_method: str | None = None


# -- rendering -----------------------------------------------------------------------------------


def method_label(t: Translator, method: PaymentMethod) -> str:
    return t.gettext(METHOD_LABELS[method])


def _settled_lines(t: Translator, settled: tuple[Settled, ...], line: str) -> list[str]:
    lines = [
        t(line, invoice=s.invoice_no, amount=format_amount(s.applied), remaining=format_amount(s.remaining))
        for s in settled[:MAX_LISTED]
    ]
    rest = settled[MAX_LISTED:]
    if rest:
        lines.append(
            t.ngettext(
                "• … and {count} more invoice: {amount}",
                "• … and {count} more invoices: {amount}",
                len(rest),
                count=len(rest),
                amount=format_amount(sum((s.applied for s in rest), Decimal(0))),
            )
        )
    return lines


def render_recorded(t: Translator, result: Recorded) -> str:
    head = t(
        N_("✅ Collection #{id}: <b>{amount}</b> ({method}) from <b>{customer}</b>."),
        id=result.id,
        amount=format_amount(result.amount),
        method=method_label(t, result.method),
        customer=result.customer.name,
    )
    lines = [head]
    if result.receipt_no:
        lines.append(t(N_("Receipt no. {receipt}"), receipt=result.receipt_no))
    if result.settled:
        lines += ["", t(N_("Settled, oldest first:"))]
        lines += _settled_lines(
            t, result.settled, N_("• {invoice}: {amount} applied, {remaining} still open")
        )
    if result.unapplied > 0:
        lines.append("")
        lines.append(
            t(
                N_("No open invoices: all {amount} is kept as unapplied credit on the customer."),
                amount=format_amount(result.unapplied),
            )
            if not result.settled
            else t(
                N_("Unapplied credit: {amount}, kept on the customer's account."),
                amount=format_amount(result.unapplied),
            )
        )
        if result.credit > result.unapplied:
            lines.append(
                t(
                    N_("The customer's credit is now {credit}, used on their next invoice."),
                    credit=format_amount(result.credit),
                )
            )
    lines.append("")
    lines.append(_hand_in_line(t, result))
    return "\n".join(lines)


def _hand_in_line(t: Translator, result: Recorded) -> str:
    if result.held:
        return t(N_("Held by you until finance confirms the hand-in."))
    if payment_methods.is_held(result.method):  # shown again after finance confirmed it
        return t(N_("Finance has confirmed the hand-in."))
    return t(N_("Paid by {method}: nothing to hand in."), method=method_label(t, result.method))


def method_buttons(t: Translator) -> InlineKeyboardMarkup:
    """A button per payment method (``collect:method:<stored value>``)."""
    buttons = [
        InlineKeyboardButton(t.gettext(label), callback_data=f"collect:method:{method.value}")
        for method, label in METHOD_BUTTONS.items()
    ]
    return InlineKeyboardMarkup(
        [buttons[i : i + METHODS_PER_ROW] for i in range(0, len(buttons), METHODS_PER_ROW)]
    )


def undo_button(t: Translator, collection_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext(N_("↩ Undo (10 minutes)")), callback_data=f"collect:undo:{collection_id}"
                )
            ]
        ]
    )


def render_reversed(t: Translator, result: Reversed, *, undone: bool) -> str:
    values = {
        "id": result.original_id,
        "reversal": result.id,
        "amount": format_amount(result.amount),
        "customer": result.customer.name,
    }
    lines = [
        t(
            N_("↩ Undone: collection #{id} ({amount} from {customer}) is cancelled by reversal #{reversal}."),
            **values,
        )
        if undone
        else t(N_("↩ Collection #{id} ({amount} from {customer}) is reversed by #{reversal}."), **values)
    ]
    if not undone:
        lines.append(t(N_("Reason: {reason}"), reason=result.reason))
        if result.told:
            lines.append(t(N_("{name} is told."), name=result.told))
    if result.reopened:
        lines += ["", t(N_("Open again:"))]
        lines += _settled_lines(t, result.reopened, N_("• {invoice}: {amount} reopened, {remaining} open"))
    if result.credit_applied:
        lines += ["", t(N_("The customer's credit settled what reopened:"))]
        used = tuple(Settled(a.invoice_no, a.amount, a.remaining) for a in result.credit_applied)
        lines += _settled_lines(
            t, used, N_("• {invoice}: {amount} of credit applied, {remaining} still open")
        )
    return "\n".join(lines)


def _show(request: Request, text: str, markup: InlineKeyboardMarkup | None, edit: bool) -> None:
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)


def _ask_amount(request: Request, customer: CustomerRef, edit: bool) -> int:
    _show(
        request,
        request.t(
            N_("How much did <b>{customer}</b> pay? Type the amount, like 5000, 5,000.50, 1.5万 or 5k."),
            customer=customer.name,
        ),
        None,
        edit,
    )
    return AMOUNT


# -- the flow ------------------------------------------------------------------------------------


def _new_draft(request: Request) -> Draft:
    draft = Draft(key=request.source_key)
    _flow(request)[DRAFT] = draft
    return draft


def _flow(request: Request) -> dict[object, object]:
    data = request.context.user_data
    assert data is not None
    return data


def _draft(request: Request) -> Draft:
    draft = _flow(request).get(DRAFT)
    if not isinstance(draft, Draft):
        raise Invalid(N_("This collection was interrupted. Start again with /collect."))
    return draft


def _choose(request: Request, resolution: Resolution, query: str) -> int:
    request.reply(
        which_one(request.t, query, resolution.near), candidate_buttons(resolution.candidates, "collect:pick")
    )
    return CUSTOMER


async def _with_customer(request: Request, draft: Draft, customer: CustomerRef, edit: bool) -> int:
    draft.customer = customer
    if draft.amount is None:
        return _ask_amount(request, customer, edit)
    return await _save(request, draft, edit)  # a one-liner that only waited for the choice of customer


def _ask_method(request: Request, draft: Draft, edit: bool) -> int:
    """Which method? A button each; a one-liner's question quotes the unknown word and the receipt."""
    assert draft.customer is not None and draft.amount is not None
    t = request.t
    values = {"amount": format_amount(draft.amount), "customer": draft.customer.name}
    if draft.line and draft.unknown_method:
        text = t(
            N_(
                "I don't know the payment method <b>{word}</b>, so nothing is recorded yet. "
                "How did <b>{customer}</b> pay <b>{amount}</b>?"
            ),
            word=draft.unknown_method,
            **values,
        )
    else:
        text = t(N_("<b>{amount}</b> from <b>{customer}</b>. How was it paid?"), **values)
    if draft.line and draft.receipt_no:
        text += "\n" + t(N_("Receipt no. {receipt}"), receipt=draft.receipt_no)
    _show(request, text, method_buttons(t), edit)
    return METHOD


async def _save(request: Request, draft: Draft, edit: bool) -> int:
    assert draft.customer is not None and draft.amount is not None
    if draft.method is None:  # a one-liner naming a method the bot does not know: never assumed
        return _ask_method(request, draft, edit)
    result = await collections.record(
        request.session,
        request.me,
        customer_id=draft.customer.id,
        amount=draft.amount,
        method=draft.method,
        receipt_no=draft.receipt_no,
        source_key=draft.key,
        now=request.now,
    )
    if isinstance(result, OverCollection):
        token = _remember_over(request, draft)
        _show(request, render_over(request.t, result), over_buttons(request.t, token), edit)
    else:
        _show(request, render_recorded(request.t, result), undo_button(request.t, result.id), edit)
    _flow(request).pop(DRAFT, None)
    return END


@action()
async def collect_command(request: Request) -> object:
    """``/collect``, ``/collect CUSTOMER`` or ``/collect CUSTOMER: AMOUNT …``; without the colon,
    ``/collect 鑫源建材 500`` when the first words name one customer."""
    collections.check_may_collect(request.me)
    text = request.text_after_command
    draft = _new_draft(request)
    if not text:
        request.reply(request.t(N_("Which customer paid? Type their name or code. (/cancel to stop)")))
        return CUSTOMER
    if collections.split_customer(text) is None:
        lead = await collections.resolve_leading(request.session, request.me, text)
        if not lead.rest:
            if lead.resolution.customer is None:
                return _choose(request, lead.resolution, lead.named)
            return await _with_customer(request, draft, lead.resolution.customer, edit=False)
        text = f"{lead.named}: {lead.rest}"  # read as the one-liner it is
    line = collections.parse_collection_line(text)
    draft.amount, draft.method, draft.receipt_no = line.amount, line.method, line.receipt_no
    draft.line = True
    draft.unknown_method = echo(line.unknown_method) if line.unknown_method else None
    resolution = await collections.resolve_customer(request.session, request.me, line.customer)
    if resolution.customer is None:
        return _choose(request, resolution, line.customer)
    return await _with_customer(request, draft, resolution.customer, edit=False)


@action()
async def start_for_customer(request: Request) -> object:
    """The customer card's Collect button: straight to the amount."""
    query = request.update.callback_query
    customer_id = customer_id_of(query.data if query else None)
    if customer_id is None:
        return None
    customer = await collections.customer_for_collection(request.session, request.me, customer_id)
    draft = _new_draft(request)
    draft.customer = customer
    return _ask_amount(request, customer, edit=False)


@action()
async def typed_customer(request: Request) -> object:
    draft = _draft(request)
    text = request.update.effective_message.text if request.update.effective_message else ""
    resolution = await collections.resolve_customer(request.session, request.me, text or "")
    if resolution.customer is None:
        return _choose(request, resolution, text or "")
    return await _with_customer(request, draft, resolution.customer, edit=False)


@action()
async def picked_customer(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    customer_id = customer_id_of(query.data if query else None)
    if customer_id is None:
        return None
    customer = await collections.customer_for_collection(request.session, request.me, customer_id)
    return await _with_customer(request, draft, customer, edit=True)


@action()
async def typed_amount(request: Request) -> object:
    draft = _draft(request)
    message = request.update.effective_message
    draft.amount = parse_amount(message.text or "" if message else "")
    return _ask_method(request, draft, edit=False)


def _ask_receipt(request: Request, draft: Draft, edit: bool) -> int:
    assert draft.customer is not None and draft.amount is not None and draft.method is not None
    t = request.t
    skip = InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext(N_("Skip")), callback_data="collect:skip")]])
    _show(
        request,
        t(
            N_("<b>{amount}</b> ({method}) from <b>{customer}</b>. Receipt number? Type it, or press Skip."),
            amount=format_amount(draft.amount),
            method=method_label(t, draft.method),
            customer=draft.customer.name,
        ),
        skip,
        edit,
    )
    return RECEIPT


async def _with_method(request: Request, draft: Draft, edit: bool) -> int:
    """A one-liner is recorded now, with the receipt it named; the guided flow asks for one."""
    if draft.line:
        return await _save(request, draft, edit)
    return _ask_receipt(request, draft, edit)


@action()
async def chosen_method(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    draft.method = collections.parse_method((query.data or "").rsplit(":", 1)[-1] if query else "")
    if draft.method is None:
        return None
    return await _with_method(request, draft, edit=True)


@action()
async def typed_method(request: Request) -> object:
    draft = _draft(request)
    message = request.update.effective_message
    typed = message.text or "" if message else ""
    draft.method = collections.parse_method(typed)
    if draft.method is None:
        request.reply(
            request.t(
                N_("I don't know the payment method <b>{word}</b>. Press one of these:"), word=echo(typed)
            ),
            method_buttons(request.t),
        )
        return None
    return await _with_method(request, draft, edit=False)


@action()
async def typed_receipt(request: Request) -> object:
    draft = _draft(request)
    message = request.update.effective_message
    draft.receipt_no = collections.clean_receipt(message.text if message else None)
    return await _save(request, draft, edit=False)


@action()
async def skipped_receipt(request: Request) -> object:
    draft = _draft(request)
    draft.receipt_no = None
    return await _save(request, draft, edit=True)


@action()
async def cancel(request: Request) -> object:
    _flow(request).pop(DRAFT, None)
    request.reply(request.t(N_("Cancelled: no collection was recorded.")))
    return END


# -- more than the customer owes ----------------------------------------------------------------

#: user_data: token (the id of the message that asked) → the collection Confirm records.
OVER = "collect.over"
MAX_PENDING_OVER = 20
OVER_EXPIRED = N_("This question has expired: nothing was recorded. Send the collection again.")


def render_over(t: Translator, over: OverCollection) -> str:
    """ "X owes Y; Z will be kept as credit. Record it?", with what would be recorded."""
    values = {
        "customer": over.customer.name,
        "owed": format_amount(over.owed),
        "excess": format_amount(over.excess),
        "amount": format_amount(over.amount),
    }
    lines = [
        t(N_("⚠️ <b>{customer}</b> owes nothing; all {amount} will be kept as credit. Record it?"), **values)
        if over.owed <= 0
        else t(N_("⚠️ <b>{customer}</b> owes {owed}; {excess} will be kept as credit. Record it?"), **values),
        t(
            N_("Collection: <b>{amount}</b> ({method})"),
            amount=format_amount(over.amount),
            method=method_label(t, over.method),
        ),
    ]
    if over.receipt_no:
        lines.append(t(N_("Receipt no. {receipt}"), receipt=over.receipt_no))
    if over.credit > 0:
        lines.append(t(N_("They already hold {credit} of credit."), credit=format_amount(over.credit)))
    return "\n".join(lines)


def over_buttons(t: Translator, token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t.gettext(N_("Confirm")), callback_data=f"collect:over:yes:{token}"),
                InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data=f"collect:over:no:{token}"),
            ]
        ]
    )


def _over_store(request: Request) -> dict[str, dict[str, object]]:
    store: dict[str, dict[str, object]] = _flow(request).setdefault(OVER, {})  # type: ignore[assignment]
    return store


def _remember_over(request: Request, draft: Draft) -> str:
    assert draft.customer is not None and draft.amount is not None and draft.method is not None
    message = request.update.effective_message
    token = str(message.message_id if message is not None else request.update.update_id)
    store = _over_store(request)
    store[token] = {
        "key": draft.key,
        "customer_id": draft.customer.id,
        "amount": str(draft.amount),
        "method": draft.method.value,
        "receipt_no": draft.receipt_no,
    }
    while len(store) > MAX_PENDING_OVER:
        store.pop(next(iter(store)))
    return token


def _over_token(request: Request) -> str:
    query = request.update.callback_query
    return (query.data or "").rsplit(":", 1)[-1] if query else ""


@action()
async def confirm_over(request: Request) -> None:
    """Confirm: record it, keyed by the update that started the collection (twice is once)."""
    t = request.t
    pending = _over_store(request).get(_over_token(request))
    if pending is None:
        request.toast = t.gettext(OVER_EXPIRED)
        return
    if pending.get("done"):
        request.toast = t.gettext(N_("Already recorded."))
        return
    method = collections.parse_method(str(pending["method"]))
    assert method is not None
    result = await collections.record(
        request.session,
        request.me,
        customer_id=int(str(pending["customer_id"])),
        amount=Decimal(str(pending["amount"])),
        method=method,
        receipt_no=str(pending["receipt_no"]) if pending.get("receipt_no") else None,
        source_key=str(pending["key"]),
        now=request.now,
        confirmed=True,
    )
    assert isinstance(result, Recorded)
    pending["done"] = True
    if result.already:
        request.toast = t.gettext(N_("Already recorded."))
        return
    request.edit(render_recorded(t, result), undo_button(t, result.id))


@action()
async def cancel_over(request: Request) -> None:
    t = request.t
    pending = _over_store(request).pop(_over_token(request), None)
    if pending is None or pending.get("done"):
        request.toast = t.gettext(N_("Already recorded.") if pending else N_("Nothing was recorded."))
        return
    request.edit(t(N_("Cancelled: no collection was recorded.")))


# -- undo and reverse ----------------------------------------------------------------------------


@action()
async def undo(request: Request) -> None:
    query = request.update.callback_query
    collection_id = customer_id_of(query.data if query else None)  # the same "<prefix>:<id>" shape
    if collection_id is None:
        return
    result = await collections.undo(
        request.session, request.me, collection_id, source_key=request.source_key, now=request.now
    )
    if result.already:
        request.toast = request.t.gettext(N_("Already undone."))
        return
    request.toast = request.t.gettext(N_("Undone."))
    request.edit(render_reversed(request.t, result, undone=True))


REVERSE_USAGE = N_("Usage: /reverse ID REASON\nExample: /reverse 42 wrong customer")


#: user_data: token (the id of the /reverse message) → the reversal its preview asks to confirm.
REVERSALS = "reverse.pending"
MAX_PENDING_REVERSALS = 20
REVERSAL_EXPIRED = N_("This preview has expired: nothing was reversed. Send /reverse again.")


def render_reversal_preview(t: Translator, preview: ReversalPreview, zone: ZoneInfo) -> str:
    """What Confirm would reverse: the collection, whose it is, and what it settled."""
    lines = [
        t(N_("↩ Reverse collection #{id}?"), id=preview.id),
        t(
            N_("Amount: <b>{amount}</b> ({method})"),
            amount=format_amount(preview.amount),
            method=method_label(t, preview.method),
        ),
        t(N_("Customer: {customer}"), customer=preview.customer.label),
        t(N_("Rep: {name}"), name=preview.rep),
        t(N_("Received: {when}"), when=preview.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
    ]
    if preview.receipt_no:
        lines.append(t(N_("Receipt no. {receipt}"), receipt=preview.receipt_no))
    if preview.settled:
        lines += ["", t(N_("It settled these invoices, which will be open again:"))]
        lines += _settled_lines(t, preview.settled, N_("• {invoice}: {amount}"))
    if preview.unapplied > 0:
        lines.append(
            t(N_("Unapplied credit that goes with it: {amount}"), amount=format_amount(preview.unapplied))
        )
    lines += [
        "",
        t(N_("Reason: {reason}"), reason=preview.reason),
        t(N_("Reverse it? {name} will be told."), name=preview.told)
        if preview.told
        else t(N_("Reverse it?")),
    ]
    return "\n".join(lines)


def reversal_buttons(t: Translator, token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t.gettext(N_("Confirm")), callback_data=f"reverse:yes:{token}"),
                InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data=f"reverse:no:{token}"),
            ]
        ]
    )


def _reversals(request: Request) -> dict[str, dict[str, object]]:
    store: dict[str, dict[str, object]] = _flow(request).setdefault(REVERSALS, {})  # type: ignore[assignment]
    return store


def _reversal_token(request: Request) -> str:
    query = request.update.callback_query
    return (query.data or "").rsplit(":", 1)[-1] if query else ""


@action()
async def reverse(request: Request) -> None:
    """``/reverse ID REASON``: a preview with Confirm / Cancel; nothing is written yet."""
    args = request.args
    collection_id = args[0].lstrip("#") if args else ""
    message = request.update.effective_message
    if not collection_id.isdigit() or message is None:
        request.reply(request.t(REVERSE_USAGE))
        return
    preview = await collections.preview_reversal(
        request.session, request.me, int(collection_id), " ".join(args[1:])
    )
    token = str(message.message_id)
    store = _reversals(request)
    store[token] = {"collection_id": preview.id, "reason": preview.reason}
    while len(store) > MAX_PENDING_REVERSALS:
        store.pop(next(iter(store)))
    request.reply(
        render_reversal_preview(request.t, preview, request.context.runtime.clock.zone),
        reversal_buttons(request.t, token),
    )


@action()
async def confirm_reversal(request: Request) -> None:
    """Confirm: checked again and written once, keyed by the press; the preview becomes the result.

    A second press only gets a toast: the first already changed the message (see handlers/money/orders.py).
    """
    t = request.t
    store = _reversals(request)
    pending = store.get(_reversal_token(request))
    if pending is None:
        request.toast = t.gettext(REVERSAL_EXPIRED)
        return
    if pending.get("done"):
        request.toast = t.gettext(N_("Already reversed."))
        return
    try:
        result = await collections.reverse(
            request.session,
            request.me,
            int(str(pending["collection_id"])),
            str(pending["reason"]),
            source_key=request.source_key,
            now=request.now,
            zone=request.context.runtime.clock.zone,
        )
    except ServiceError as refused:  # reversed meanwhile, or no longer in the caller's scope
        store.pop(_reversal_token(request), None)
        request.edit(t(refused.message, **refused.params))
        return
    pending["done"] = True
    if result.already:  # this very press, delivered again
        request.toast = t.gettext(N_("Already reversed."))
        return
    request.edit(render_reversed(t, result, undone=False))


@action()
async def cancel_reversal(request: Request) -> None:
    t = request.t
    pending = _reversals(request).pop(_reversal_token(request), None)
    if pending is None or pending.get("done"):
        request.toast = t.gettext(N_("Already reversed.") if pending else N_("Nothing was reversed."))
        return
    request.edit(t(N_("Cancelled: collection #{id} was not reversed."), id=pending["collection_id"]))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    typed = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("collect", collect_command, private),
                CallbackQueryHandler(start_for_customer, pattern=r"^collect:start:\d+$"),
            ],
            states={
                CUSTOMER: [
                    MessageHandler(typed, typed_customer),
                    CallbackQueryHandler(picked_customer, pattern=r"^collect:pick:\d+$"),
                ],
                AMOUNT: [MessageHandler(typed, typed_amount)],
                METHOD: [
                    CallbackQueryHandler(chosen_method, pattern=r"^collect:method:[a-z]+$"),
                    MessageHandler(typed, typed_method),
                ],
                RECEIPT: [
                    MessageHandler(typed, typed_receipt),
                    CallbackQueryHandler(skipped_receipt, pattern=r"^collect:skip$"),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            per_chat=True,
            per_user=True,
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="collect",
            persistent=True,
        )
    )
    application.add_handler(CallbackQueryHandler(undo, pattern=r"^collect:undo:\d+$"))
    application.add_handler(CallbackQueryHandler(confirm_over, pattern=r"^collect:over:yes:\d+$"))
    application.add_handler(CallbackQueryHandler(cancel_over, pattern=r"^collect:over:no:\d+$"))
    application.add_handler(CommandHandler("reverse", reverse, private))
    application.add_handler(CallbackQueryHandler(confirm_reversal, pattern=r"^reverse:yes:\d+$"))
    application.add_handler(CallbackQueryHandler(cancel_reversal, pattern=r"^reverse:no:\d+$"))
