"""/return: goods a customer returns (銷售退貨證明單), asked in one line or step by step; a return's
certificate shown and printed.

``/return CUSTOMER: AMOUNT [INVOICE] [REASON]`` asks at once; ``/return`` alone or ``/return
CUSTOMER`` walks through customer → amount → invoice (the customer's newest invoices as buttons,
``ret:inv:<receivable id>``, or "none": ``ret:inv:0``; or typed) → products and quantities → reason
(each of the last two skippable, ``ret:skip``). An ambiguous customer gets candidate buttons
(``ret:pick:<customer id>``). However it is asked, the request is keyed by the update that started
it: one flow asks once, whatever is pressed twice. The flow and its draft are persistent.

The manager approves or rejects with the approval push's buttons (``bot/services/people/approvals.py``);
approving issues the numbered certificate and its credit note. ``/return 12`` (a return's number)
or ``/return RT-2026-0001`` (a certificate's) shows where a return stands; an approved one has
"🖨 Certificate (PDF)" / "🖼 Certificate (image)" buttons (``ret:pdf:<id>`` / ``ret:png:<id>``, also on
the rep's notice of the approval), which send the printable page in the reader's language, drawn
after the commit in a thread.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_, Translator
from bot.services.errors import Invalid
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.money import returns
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.money.returns import Certificate, ReturnItem, ReturnRequest
from bot.views import certificates
from handlers.base import Request, action
from handlers.field.customer_choice import candidate_buttons, customer_id_of, which_one
from handlers.flows import another_command_ends_flow
from handlers.reporting.exports import showing
from models import ApprovalStatus

CUSTOMER, AMOUNT, INVOICE, ITEMS, REASON = range(5)
END = ConversationHandler.END
DRAFT = "return.draft"
FLOW_TIMEOUT = timedelta(minutes=15)


@dataclass
class ReturnDraft:
    """A return being put together (kept in ``user_data``, like the flow)."""

    key: str
    customer: CustomerRef | None = None
    amount: Decimal | None = None
    #: A one-liner's words after the amount (invoice, reason), read once the customer is known.
    words: tuple[str, ...] | None = None
    receivable_id: int | None = None
    invoice_no: str | None = None
    items: tuple[ReturnItem, ...] = ()


# -- rendering -----------------------------------------------------------------------------------


def render_requested(t: Translator, made: ReturnRequest) -> str:
    payload = made.view.payload
    lines = [
        t(
            N_("↩️ Return request #{id} sent: {customer}, {amount}."),
            id=made.return_id,
            customer=made.view.customer.label,
            amount=format_amount(Decimal(str(payload["amount"]))),
        ),
        t(N_("Invoice: {invoice}"), invoice=payload["invoice_no"])
        if payload.get("invoice_no")
        else t(N_("Invoice: none named (the oldest open invoices are credited first)")),
    ]
    if payload.get("items"):
        lines.append(t(N_("Products: {items}"), items=returns.items_text(payload["items"])))
    if payload.get("reason"):
        lines.append(t(N_("Reason: {reason}"), reason=payload["reason"]))
    lines.append(t(N_("Nothing is credited until your manager approves it; I will tell you the decision.")))
    if not made.repeated and not made.approvers:
        lines.append(t(N_("Nobody who can approve it can be reached right now: it waits for them.")))
    return "\n".join(lines)


def render_certificate(t: Translator, cert: Certificate, zone: ZoneInfo) -> str:
    """A return as the chat shows it: its certificate once approved, or where it stands."""

    def when(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    if cert.number is not None:
        head = t(
            N_("📄 <b>Return certificate {number}</b> (return #{id})"), number=cert.number, id=cert.return_id
        )
    else:
        head = t(N_("↩️ <b>Return #{id}</b>"), id=cert.return_id)
    lines = [head, t(N_("Customer: {customer}"), customer=cert.customer.label)]
    if cert.rep:
        lines.append(t(N_("Rep: {name}"), name=cert.rep))
    lines.append(t(N_("Requested by {name}, {when}"), name=cert.requested_by, when=when(cert.requested_at)))
    lines.append(
        t(N_("Invoice: {invoice}"), invoice=cert.invoice_no)
        if cert.invoice_no
        else t(N_("Invoice: none named (the oldest open invoices are credited first)"))
    )
    if cert.items:
        lines.append(t(N_("Products: {items}"), items=returns.items_text(cert.items)))
    lines.append(t(N_("Amount: {amount}"), amount=format_amount(cert.amount)))
    if cert.reason:
        lines.append(t(N_("Reason: {reason}"), reason=cert.reason))
    lines.append("")
    if cert.status == ApprovalStatus.PENDING:
        lines.append(t(N_("⏳ Waiting for approval: nothing is credited yet.")))
    elif cert.status == ApprovalStatus.APPROVED and cert.decided_at is not None:
        lines.append(
            t(N_("✅ Approved by {name}, {when}"), name=cert.decided_by or "—", when=when(cert.decided_at))
        )
        lines += [
            t(
                N_("• {invoice}: {amount} credited"),
                invoice=line.invoice_no,
                amount=format_amount(line.amount),
            )
            for line in cert.settled
        ]
        if cert.kept > 0:
            lines.append(t(N_("{amount} kept as the customer's credit."), amount=format_amount(cert.kept)))
    elif cert.decided_at is not None:
        lines.append(
            t(
                N_("❌ Rejected by {name}, {when}: nothing is credited."),
                name=cert.decided_by or "—",
                when=when(cert.decided_at),
            )
        )
    return "\n".join(lines)


def print_buttons(t: Translator, return_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext(N_("🖨 Certificate (PDF)")), callback_data=f"ret:pdf:{return_id}"
                ),
                InlineKeyboardButton(
                    t.gettext(N_("🖼 Certificate (image)")), callback_data=f"ret:png:{return_id}"
                ),
            ]
        ]
    )


def invoice_buttons(t: Translator, choices: list[returns.InvoiceChoice]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                t.gettext(N_("{invoice} · {date} · {amount}")).format(
                    invoice=choice.invoice_no, date=choice.issued_on, amount=format_amount(choice.amount)
                )[:60],
                callback_data=f"ret:inv:{choice.id}",
            )
        ]
        for choice in choices
    ]
    rows.append([InlineKeyboardButton(t.gettext(N_("No particular invoice")), callback_data="ret:inv:0")])
    return InlineKeyboardMarkup(rows)


def skip_button(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext(N_("Skip")), callback_data="ret:skip")]])


# -- the draft -----------------------------------------------------------------------------------


def _new_draft(request: Request) -> ReturnDraft:
    draft = ReturnDraft(key=request.source_key)
    request.user_data[DRAFT] = draft
    return draft


def _draft(request: Request) -> ReturnDraft:
    draft = request.user_data.get(DRAFT)
    if not isinstance(draft, ReturnDraft):
        raise Invalid(N_("This return was interrupted. Start again with /return."))
    return draft


def _show(request: Request, text: str, markup: InlineKeyboardMarkup | None, edit: bool) -> None:
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


# -- the steps -----------------------------------------------------------------------------------


async def _with_customer(request: Request, draft: ReturnDraft, customer: CustomerRef, edit: bool) -> int:
    draft.customer = customer
    if draft.words is not None:  # a one-liner that only waited for the choice of customer
        receivable, reason = await returns.read_terms(
            request.session, request.me, customer.id, list(draft.words)
        )
        if receivable is not None:
            draft.receivable_id, draft.invoice_no = receivable.id, receivable.invoice_no
        return await _send(request, draft, reason, edit)
    _show(
        request,
        request.t(
            N_("How much is returned by <b>{customer}</b>, in money? Type the amount, like 500 or 1.5万."),
            customer=customer.name,
        ),
        None,
        edit,
    )
    return AMOUNT


async def _ask_invoice(request: Request, draft: ReturnDraft) -> int:
    assert draft.customer is not None
    choices = await returns.invoice_choices(request.session, request.me, draft.customer.id)
    request.reply(
        request.t(
            N_(
                "Which invoice were the goods sold on? Press one, type its number, or press "
                '"No particular invoice" (the oldest open invoices are credited first).'
            )
        ),
        invoice_buttons(request.t, choices),
    )
    return INVOICE


def _ask_items(request: Request, edit: bool) -> int:
    _show(
        request,
        request.t(
            N_(
                "Products and quantities returned? For example: Cement 42.5: 10 bags, "
                "Tiles: 20. Or press Skip."
            )
        ),
        skip_button(request.t),
        edit,
    )
    return ITEMS


def _ask_reason(request: Request, edit: bool) -> int:
    _show(
        request,
        request.t(N_("Why are the goods returned? A few words, or press Skip.")),
        skip_button(request.t),
        edit,
    )
    return REASON


async def _send(request: Request, draft: ReturnDraft, reason: str | None, edit: bool) -> int:
    assert draft.customer is not None and draft.amount is not None
    made = await returns.request_return(
        request.session,
        request.me,
        draft.customer.id,
        amount=draft.amount,
        receivable_id=draft.receivable_id,
        reason=reason,
        items=draft.items,
        now=request.now,
        zone=request.context.runtime.clock.zone,
        source_key=draft.key,
    )
    if made.repeated and edit:
        request.toast = request.t.gettext(N_("Already sent to your manager."))
    else:
        _show(request, render_requested(request.t, made), None, edit)
    request.user_data.pop(DRAFT, None)
    return END


def _choose(request: Request, resolution: Resolution, query: str) -> int:
    request.reply(
        which_one(request.t, query, resolution.near), candidate_buttons(resolution.candidates, "ret:pick")
    )
    return CUSTOMER


# -- handlers ------------------------------------------------------------------------------------


@action()
async def return_command(request: Request) -> object:
    """``/return``, ``/return CUSTOMER``, ``/return CUSTOMER: AMOUNT …``; ``/return 12|RT-…`` shows one
    (to anyone who may see its customer: finance too)."""
    text = request.text_after_command
    reference = returns.parse_reference(text) if text else None
    if reference is not None:
        request.user_data.pop(DRAFT, None)
        return await _show_certificate(request, reference)
    returns.check_may_request(request.me)
    draft = _new_draft(request)
    if not text:
        request.reply(
            request.t(N_("Which customer is returning goods? Type their name or code. (/cancel to stop)"))
        )
        return CUSTOMER
    customer_text, rest = returns.split_line(text)
    if rest is not None:
        if not customer_text:
            request.reply(request.t(returns.USAGE))
            request.user_data.pop(DRAFT, None)
            return END
        draft.amount, words = returns.read_amount(rest)
        draft.words = tuple(words)
    resolution = await returns.resolve_customer(request.session, request.me, customer_text)
    if resolution.customer is None:
        return _choose(request, resolution, customer_text)
    await returns.customer_for_return(request.session, request.me, resolution.customer.id)
    return await _with_customer(request, draft, resolution.customer, edit=False)


async def _show_certificate(request: Request, reference: int | str) -> object:
    cert = await returns.certificate(request.session, request.me, reference)
    request.reply(
        render_certificate(request.t, cert, request.context.runtime.clock.zone),
        print_buttons(request.t, cert.return_id) if cert.number else None,
    )
    return END


@action()
async def typed_customer(request: Request) -> object:
    draft = _draft(request)
    text = _typed(request)
    resolution = await returns.resolve_customer(request.session, request.me, text)
    if resolution.customer is None:
        return _choose(request, resolution, text)
    await returns.customer_for_return(request.session, request.me, resolution.customer.id)
    return await _with_customer(request, draft, resolution.customer, edit=False)


@action()
async def picked_customer(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    customer_id = customer_id_of(query.data if query else None)
    if customer_id is None:
        return None
    customer = await returns.customer_for_return(request.session, request.me, customer_id)
    return await _with_customer(request, draft, customer, edit=True)


@action()
async def typed_amount(request: Request) -> object:
    draft = _draft(request)
    draft.amount = parse_amount(_typed(request))
    return await _ask_invoice(request, draft)


@action()
async def chosen_invoice(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    receivable_id = customer_id_of(query.data if query else None)
    if receivable_id is None or draft.customer is None:
        return None
    if receivable_id:
        choices = await returns.invoice_choices(request.session, request.me, draft.customer.id)
        choice = next((c for c in choices if c.id == receivable_id), None)
        if choice is None:
            raise Invalid(N_("That invoice is not one of this customer's standing invoices."))
        draft.receivable_id, draft.invoice_no = choice.id, choice.invoice_no
    else:
        draft.receivable_id = draft.invoice_no = None
    return _ask_items(request, edit=True)


@action()
async def typed_invoice(request: Request) -> object:
    draft = _draft(request)
    assert draft.customer is not None
    receivable = await returns.invoice_of(request.session, request.me, draft.customer.id, _typed(request))
    draft.receivable_id, draft.invoice_no = receivable.id, receivable.invoice_no
    return _ask_items(request, edit=False)


@action()
async def typed_items(request: Request) -> object:
    draft = _draft(request)
    draft.items = returns.read_items(_typed(request))
    return _ask_reason(request, edit=False)


@action()
async def skipped_items(request: Request) -> object:
    _draft(request).items = ()
    return _ask_reason(request, edit=True)


@action()
async def skipped_reason(request: Request) -> object:
    return await _send(request, _draft(request), None, edit=True)


@action()
async def typed_reason(request: Request) -> object:
    draft = _draft(request)
    return await _send(request, draft, returns.clean_reason(_typed(request)), edit=False)


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(DRAFT, None)
    request.reply(request.t(N_("Cancelled: no return was asked for.")))
    return END


# -- printing ------------------------------------------------------------------------------------


@action()
async def print_certificate(request: Request) -> None:
    """``ret:pdf:<id>`` / ``ret:png:<id>``: the certificate as a file, re-checked against the presser."""
    query = request.update.callback_query
    parts = (query.data or "").split(":") if query else []
    if len(parts) != 3 or not parts[2].isdigit():
        return
    cert = await returns.printable(request.session, request.me, int(parts[2]))
    kind, t, caller = parts[1], request.t, request.me
    zone, bot = request.context.runtime.clock.zone, request.context.bot
    request.toast = t.gettext(N_("Preparing the certificate…"))

    async def send() -> None:
        render = certificates.render_pdf if kind == "pdf" else certificates.render_png
        async with showing(bot, caller.telegram_id, ChatAction.UPLOAD_DOCUMENT):
            content = await asyncio.to_thread(render, t, cert, zone)
        await bot.send_document(
            caller.telegram_id,
            InputFile(io.BytesIO(content), filename=certificates.file_name(cert, kind)),
            caption=t(
                N_("Return certificate {number}: {customer}, {amount}"),
                number=cert.number,
                customer=cert.customer.label,
                amount=format_amount(cert.amount),
            ),
        )

    request.after_commit.append(send)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("return", return_command, private)],
            states={
                CUSTOMER: [
                    MessageHandler(typed, typed_customer),
                    CallbackQueryHandler(picked_customer, pattern=r"^ret:pick:\d+$"),
                ],
                AMOUNT: [MessageHandler(typed, typed_amount)],
                INVOICE: [
                    CallbackQueryHandler(chosen_invoice, pattern=r"^ret:inv:\d+$"),
                    MessageHandler(typed, typed_invoice),
                ],
                ITEMS: [
                    MessageHandler(typed, typed_items),
                    CallbackQueryHandler(skipped_items, pattern=r"^ret:skip$"),
                ],
                REASON: [
                    MessageHandler(typed, typed_reason),
                    CallbackQueryHandler(skipped_reason, pattern=r"^ret:skip$"),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            per_chat=True,
            per_user=True,
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="return",
            persistent=True,
        )
    )
    application.add_handler(CallbackQueryHandler(print_certificate, pattern=r"^ret:(pdf|png):\d+$"))
