"""/overdue: overdue receivables by customer, one customer's invoices, promises to pay, disputes.

``/overdue`` lists the caller's scope, largest amount first; ``/overdue REP``
the receivables a rep carries; ``/overdue CUSTOMER`` that customer's overdue
invoices. Buttons (every press is re-authorised by the service):

- ``due:all:<page>``, ``due:rep:<rep id>:<page>``: pages of the list;
- ``due:cust:<customer id>``: one customer's invoices (also the candidates of an ambiguous name),
  ``due:inv:<customer id>:<page>`` their pages;
- ``due:promise:<receivable id>``: asks when and how much, then records the promise to pay
  (also on the rep's overdue follow-up push);
- ``due:dispute:<receivable id>``: asks why, then marks the invoice disputed;
  ``due:undispute:<receivable id>`` lifts the dispute.
"""

from __future__ import annotations

from datetime import date, timedelta
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

from bot.i18n import N_, Translator, escape
from bot.services.errors import Invalid
from bot.services.money import overdue
from bot.services.money.amounts import format_amount
from bot.services.money.overdue import CustomerOverdue, OverdueCustomer, OverdueInvoice, OverduePage
from bot.services.people.access import Caller
from bot.services.policy import local_date
from bot.views import counts
from handlers.base import Request, action
from handlers.field.customer_choice import candidate_buttons, which_one
from handlers.flows import another_command_ends_flow
from handlers.paging import page_of, pager
from models import Role

PROMISE, REASON = range(2)
END = ConversationHandler.END
FLOW_TIMEOUT = timedelta(minutes=15)
ASKING = "overdue.asking"  # user_data: {"kind": "promise" | "dispute", "receivable_id": id}
#: A list line shortens names so that a page of PER_PAGE lines stays far below Telegram's 4096
#: characters whatever is stored (the invoices view shows the customer's name whole).
NAME_SHOWN = 48
REP_NAME_SHOWN = 40
BUTTON_NAME_SHOWN = 20
BUTTON_INVOICE_SHOWN = 24
ITEM_BUTTONS_PER_ROW = 2

TRY_AGAIN = N_("Try again, or send /cancel to stop.")


def _today(request: Request) -> date:
    return local_date(request.now, request.context.runtime.clock.zone)


def _parts(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the list -------------------------------------------------------------------------------------


def _title(t: Translator, caller: Caller, listing: OverduePage) -> str:
    if listing.rep is not None:
        return t(N_("<b>Overdue receivables carried by {rep}</b>"), rep=listing.rep.name)
    if caller.role == Role.REP:
        return t(N_("<b>Your overdue receivables</b>"))
    if caller.role == Role.MANAGER:
        return t(N_("<b>Your team's overdue receivables</b>"))
    return t(N_("<b>Overdue receivables</b>"))


def _promise(t: Translator, amount: Decimal | None, day: date | None) -> str | None:
    if day is None or amount is None:
        return None
    return t(N_("promised {amount} by {date}"), amount=format_amount(amount), date=day.isoformat())


def _customer_line(t: Translator, caller: Caller, number: int, item: OverdueCustomer) -> str:
    name, code = escape(_short(item.customer.name, NAME_SHOWN)), escape(item.customer.code)
    heading = f"{number}. <b>{name}</b> ({code})"
    if caller.role != Role.REP and item.rep_name:
        heading += f" · {escape(_short(item.rep_name, REP_NAME_SHOWN))}"
    figures = [
        format_amount(item.total),
        t(N_("invoices: {count}"), count=item.invoices),
        t.ngettext("{days} day overdue", "{days} days overdue", item.days, days=item.days),
    ]
    if item.level:
        figures.append(t(N_("level {level}"), level=item.level))
    promise = _promise(t, item.promise_amount, item.promise_date)
    if promise:
        figures.append(promise)
    if item.disputed:
        figures.append(t(N_("⚠️ disputed {amount}"), amount=format_amount(item.disputed)))
    return f"{heading}\n    " + " · ".join(figures)


def _credit_line(t: Translator, listing: OverduePage) -> list[str]:
    """Unapplied credit held by customers in scope (shown apart: they owe nothing overdue)."""
    if listing.credit <= 0:
        return []
    return [
        t(
            N_("💳 Unapplied credit: {amount}, held by {customers} (applied to their next invoices)."),
            amount=format_amount(listing.credit),
            customers=counts.customers(t, listing.credit_customers),
        )
    ]


def render_list(t: Translator, caller: Caller, listing: OverduePage, per_page: int) -> str:
    if not listing.items:
        if listing.rep is not None:
            nothing = t(N_("Nothing overdue for {rep}."), rep=listing.rep.name)
        else:
            nothing = t(N_("Nothing is overdue. 👍"))
        return "\n".join([nothing, *_credit_line(t, listing)])
    first = (listing.page - 1) * per_page + 1
    lines = [
        _title(t, caller, listing),
        t(
            N_("{total} on {invoices} of {customers}, largest first."),
            total=format_amount(listing.total),
            invoices=counts.invoices(t, listing.invoices),
            customers=counts.customers(t, listing.customers),
        ),
        "",
    ]
    lines += [_customer_line(t, caller, first + n, item) for n, item in enumerate(listing.items)]
    credit = _credit_line(t, listing)
    if credit:
        lines += ["", *credit]
    lines += ["", t(N_("Tap a customer for their invoices."))]
    return "\n".join(lines)


def _list_buttons(
    t: Translator, listing: OverduePage, per_page: int, prefix: str
) -> InlineKeyboardMarkup | None:
    first = (listing.page - 1) * per_page + 1
    items = [
        InlineKeyboardButton(
            f"{first + n}. {_short(item.customer.name, BUTTON_NAME_SHOWN)}",
            callback_data=f"due:cust:{item.customer.id}",
        )
        for n, item in enumerate(listing.items)
    ]
    rows = [items[i : i + ITEM_BUTTONS_PER_ROW] for i in range(0, len(items), ITEM_BUTTONS_PER_ROW)]
    paging = pager(t, prefix, listing.page, listing.pages)
    if paging is not None:
        rows += [list(row) for row in paging.inline_keyboard]
    return InlineKeyboardMarkup(rows) if rows else None


async def _show_list(request: Request, rep_id: int | None, page: int, *, edit: bool) -> None:
    listing = await overdue.overdue_by_customer(
        request.session, request.me, today=_today(request), rep_id=rep_id, page=page
    )
    prefix = f"due:rep:{rep_id}" if rep_id is not None else "due:all"
    text = render_list(request.t, request.me, listing, overdue.PER_PAGE)
    buttons = _list_buttons(request.t, listing, overdue.PER_PAGE, prefix)
    if edit:
        request.edit(text, buttons)
    else:
        request.reply(text, buttons)


# -- one customer's invoices ----------------------------------------------------------------------


def _invoice_line(t: Translator, item: OverdueInvoice) -> str:
    first = [
        f"• <b>{escape(item.invoice_no)}</b>",
        t(N_("due {date}"), date=item.due_on.isoformat()),
        t.ngettext("{days} day overdue", "{days} days overdue", item.days, days=item.days),
    ]
    if item.level:
        first.append(t(N_("level {level}"), level=item.level))
    second = [
        t(N_("open {open} of {amount}"), open=format_amount(item.open), amount=format_amount(item.amount))
    ]
    promise = _promise(t, item.promise_amount, item.promise_date)
    if promise:
        second.append(promise)
    if item.disputed:
        second.append(t(N_("⚠️ disputed")))
    return " · ".join(first) + "\n    " + " · ".join(second)


def render_customer(t: Translator, view: CustomerOverdue) -> str:
    name = t(N_("<b>{customer}</b> ({code})"), customer=view.customer.name, code=view.customer.code)
    if view.rep_name:
        name += " · " + escape(view.rep_name)
    credit = (
        [
            t(
                N_("💳 Unapplied credit: {amount} (applied to their next invoice)."),
                amount=format_amount(view.credit),
            )
        ]
        if view.credit > 0
        else []
    )
    if not view.items:
        return "\n".join([name, t(N_("Nothing of theirs is overdue.")), *credit])
    lines = [
        name,
        t.ngettext(
            "Overdue: {total} on {count} invoice.",
            "Overdue: {total} on {count} invoices, oldest first.",
            view.invoices,
            total=format_amount(view.total),
            count=view.invoices,
        ),
        "",
    ]
    lines += [_invoice_line(t, item) for item in view.items]
    if credit:
        lines += ["", *credit]
    return "\n".join(lines)


def _customer_buttons(t: Translator, caller: Caller, view: CustomerOverdue) -> InlineKeyboardMarkup | None:
    """Per invoice: Promise to pay (reps and their leads), Dispute / Undispute (leads and finance)."""
    rows: list[list[InlineKeyboardButton]] = []
    for item in view.items:
        invoice = _short(item.invoice_no, BUTTON_INVOICE_SHOWN)
        row = []
        if caller.role in overdue.PROMISE_ROLES:
            row.append(
                InlineKeyboardButton(
                    t.gettext(N_("🤝 Promise · {invoice}")).format(invoice=invoice),
                    callback_data=f"due:promise:{item.id}",
                )
            )
        if caller.role in overdue.DISPUTE_ROLES:
            label, verb = (
                (N_("Undispute · {invoice}"), "undispute")
                if item.disputed
                else (N_("⚖️ Dispute · {invoice}"), "dispute")
            )
            row.append(
                InlineKeyboardButton(
                    t.gettext(label).format(invoice=invoice), callback_data=f"due:{verb}:{item.id}"
                )
            )
        if row:
            rows.append(row)
    paging = pager(t, f"due:inv:{view.customer.id}", view.page, view.pages)
    if paging is not None:
        rows += [list(row) for row in paging.inline_keyboard]
    return InlineKeyboardMarkup(rows) if rows else None


async def _show_customer(request: Request, customer_id: int, page: int, *, edit: bool) -> None:
    view = await overdue.customer_overdue(
        request.session, request.me, customer_id, today=_today(request), page=page
    )
    text, buttons = render_customer(request.t, view), _customer_buttons(request.t, request.me, view)
    if edit:
        request.edit(text, buttons)
    else:
        request.reply(text, buttons)


# -- handlers: viewing ----------------------------------------------------------------------------


@action(report=True)
async def show_overdue(request: Request) -> None:
    """``/overdue``, ``/overdue REP`` or ``/overdue CUSTOMER``."""
    text = request.text_after_command
    if not text:
        await _show_list(request, None, 1, edit=False)
        return
    target = await overdue.find_target(request.session, request.me, text)
    if target.rep is not None:
        await _show_list(request, target.rep.id, 1, edit=False)
    elif target.customer is not None:
        await _show_customer(request, target.customer.id, 1, edit=False)
    else:
        request.reply(
            which_one(request.t, " ".join(text.split())), candidate_buttons(target.candidates, "due:cust")
        )


@action(report=True)
async def list_page(request: Request) -> None:
    parts = _parts(request)
    rep_id = int(parts[2]) if parts[1] == "rep" else None
    await _show_list(request, rep_id, page_of(":".join(parts)), edit=True)


@action()
async def customer_chosen(request: Request) -> None:
    await _show_customer(request, int(_parts(request)[2]), 1, edit=False)


@action()
async def customer_page(request: Request) -> None:
    parts = _parts(request)
    await _show_customer(request, int(parts[2]), page_of(":".join(parts)), edit=True)


# -- handlers: promises and disputes --------------------------------------------------------------


def _asking(request: Request) -> dict[str, Any] | None:
    value = request.user_data.get(ASKING)
    return value if isinstance(value, dict) else None


@action()
async def ask_promise(request: Request) -> object:
    receivable_id = int(_parts(request)[2])
    invoice = await overdue.invoice_for_promise(request.session, request.me, receivable_id)
    t = request.t
    asked = {"kind": "promise", "receivable_id": receivable_id}
    if _asking(request) == asked:  # a second tap: the question is already showing
        return PROMISE
    request.user_data[ASKING] = asked
    example = (_today(request) + timedelta(days=7)).isoformat()
    request.reply(
        t(
            N_(
                "Promise to pay on invoice {invoice} ({customer}), {open} open.\n"
                "When will they pay, and how much? For example: {example} 5000 — or the date alone "
                "for all that is open. /cancel stops."
            ),
            invoice=invoice.invoice_no,
            customer=invoice.customer.label,
            open=format_amount(invoice.open),
            example=example,
        )
    )
    return PROMISE


@action()
async def promise_typed(request: Request) -> object:
    asking = _asking(request)
    if asking is None or asking.get("kind") != "promise":
        request.reply(request.t(N_("I lost track of that invoice. Press its button again.")))
        return END
    t = request.t
    try:
        promised_on, amount = overdue.parse_promise(_typed(request), _today(request))
        promise = await overdue.record_promise(
            request.session,
            request.me,
            asking["receivable_id"],
            promised_on,
            amount,
            request.now,
            zone=request.context.runtime.clock.zone,
        )
    except Invalid as error:  # nothing was written: say why and wait for another try
        request.reply(t(error.message, **error.params) + "\n" + t(TRY_AGAIN))
        return None
    request.user_data.pop(ASKING, None)
    request.reply(
        t(
            N_(
                "🤝 Promise recorded: {customer} will pay {amount} on invoice {invoice} by {date}. "
                "Overdue reminders for it pause until then."
            ),
            customer=promise.invoice.customer.label,
            amount=format_amount(promise.amount),
            invoice=promise.invoice.invoice_no,
            date=promise.promise_date.isoformat(),
        )
    )
    return END


@action()
async def ask_dispute(request: Request) -> object:
    receivable_id = int(_parts(request)[2])
    invoice = await overdue.invoice_for_dispute(request.session, request.me, receivable_id)
    t = request.t
    if invoice.disputed:
        request.toast = t.gettext(N_("Invoice {invoice} is already disputed.")).format(
            invoice=invoice.invoice_no
        )
        return END
    asked = {"kind": "dispute", "receivable_id": receivable_id}
    if _asking(request) == asked:
        return REASON
    request.user_data[ASKING] = asked
    request.reply(
        t(
            N_(
                "Why is invoice {invoice} ({customer}) disputed? A few words, e.g. goods returned, "
                "price in question. /cancel stops."
            ),
            invoice=invoice.invoice_no,
            customer=invoice.customer.label,
        )
    )
    return REASON


@action()
async def reason_typed(request: Request) -> object:
    asking = _asking(request)
    if asking is None or asking.get("kind") != "dispute":
        request.reply(request.t(N_("I lost track of that invoice. Press its button again.")))
        return END
    t = request.t
    try:
        change = await overdue.set_disputed(
            request.session, request.me, asking["receivable_id"], True, _typed(request), request.now
        )
    except Invalid as error:
        request.reply(t(error.message, **error.params) + "\n" + t(TRY_AGAIN))
        return None
    request.user_data.pop(ASKING, None)
    request.reply(
        t(
            N_(
                "⚖️ Invoice {invoice} ({customer}) is marked disputed: no overdue reminders for it "
                "until the dispute is lifted."
            ),
            invoice=change.invoice.invoice_no,
            customer=change.invoice.customer.label,
        )
    )
    return END


@action()
async def undispute(request: Request) -> None:
    change = await overdue.set_disputed(
        request.session, request.me, int(_parts(request)[2]), False, None, request.now
    )
    t = request.t
    if not change.changed:
        request.toast = t.gettext(N_("Invoice {invoice} is not disputed.")).format(
            invoice=change.invoice.invoice_no
        )
        return
    request.reply(
        t(
            N_("Invoice {invoice} ({customer}) is no longer disputed: overdue reminders resume."),
            invoice=change.invoice.invoice_no,
            customer=change.invoice.customer.label,
        )
    )


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(ASKING, None)
    request.reply(request.t(N_("Stopped: nothing was recorded.")))
    return END


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(CommandHandler("overdue", show_overdue, private))
    application.add_handler(CallbackQueryHandler(list_page, pattern=r"^due:(all|rep:\d+):\d+$"))
    application.add_handler(CallbackQueryHandler(customer_chosen, pattern=r"^due:cust:\d+$"))
    application.add_handler(CallbackQueryHandler(customer_page, pattern=r"^due:inv:\d+:\d+$"))
    application.add_handler(CallbackQueryHandler(undispute, pattern=r"^due:undispute:\d+$"))
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CallbackQueryHandler(ask_promise, pattern=r"^due:promise:\d+$"),
                CallbackQueryHandler(ask_dispute, pattern=r"^due:dispute:\d+$"),
            ],
            states={
                PROMISE: [MessageHandler(typed, promise_typed)],
                REASON: [MessageHandler(typed, reason_typed)],
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="overdue",
            persistent=True,
        )
    )
