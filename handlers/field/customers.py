"""/customers (the list) and /customer (one card, with Visit / Collect / Order buttons).

The card also shows what visits brought back: the latest stock count of each product with its
change and any shortfall, the latest market feedback on each topic, and a "📷 Photos (N)" button
(``cust:photos:<customer id>``, re-checked against the presser's scope) that sends the latest ten
as an album.

The list pages with ‹ › buttons; a search is remembered under a short number
in the user's data so the page buttons stay within Telegram's 64 bytes.
/newcustomer (handlers/field/new_customer.py) ends on the card built here.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator, echo, escape
from bot.services.field import customers
from bot.services.field.customers import CustomerCard, CustomerLine, CustomerList
from bot.services.money.amounts import format_amount
from bot.services.people.access import Caller, Permission
from bot.services.policy import local_date
from bot.views import visit_extras as extras_view
from handlers.base import Request, action
from handlers.field import albums
from handlers.field.customer_choice import candidate_buttons, customer_id_of, which_one
from handlers.paging import page_of, pager
from models import CustomerStatus, Role, VisitKind

PER_PAGE = 15
SEARCHES_KEY = "customers.searches"
MAX_SEARCHES = 20
DUE_MARK = "⏰"

KIND_LABELS = {
    VisitKind.VISIT: N_("on-site visit"),
    VisitKind.CALL: N_("phone call"),
    VisitKind.STOCK_CHECK: N_("dealer stock check"),
}


def local_today(request: Request) -> date:
    """Today in the company's time zone (also used by /newcustomer)."""
    return local_date(request.now, request.zone)


def _pressed(request: Request) -> str:
    """The callback data of the pressed button."""
    query = request.update.callback_query
    return (query.data or "") if query is not None else ""


def user_data_of(request: Request) -> dict[Any, Any]:
    """The user's ``user_data`` (also used by /newcustomer)."""
    data = request.context.user_data
    assert data is not None  # every update we handle has a user
    return data


# -- the list -----------------------------------------------------------------------------------


def remember_search(user_data: dict[Any, Any], text: str) -> int:
    """A short number standing for ``text`` in page buttons; the last few searches are kept."""
    searches: dict[int, str] = user_data.setdefault(SEARCHES_KEY, {})
    for key, value in searches.items():
        if value == text:
            return key
    key = max(searches, default=0) + 1
    searches[key] = text
    while len(searches) > MAX_SEARCHES:
        del searches[min(searches)]
    return key


def _visited(t: Translator, days: int | None) -> str:
    """Plain text (not yet HTML-escaped): how long since the last visit."""
    if days is None:
        return t.gettext(N_("never visited"))
    if days == 0:
        return t.gettext(N_("visited today"))
    if days == 1:
        return t.gettext(N_("visited yesterday"))
    return t.ngettext("visited {days} day ago", "visited {days} days ago", days).format(days=days)


def _list_line(t: Translator, line: CustomerLine) -> str:
    parts = [
        f"<b>{escape(line.name)}</b> <code>{escape(line.code)}</code>",
        escape(line.grade),
        escape(_visited(t, line.days_since_visit)),
    ]
    if line.status == CustomerStatus.PROSPECT:
        parts.append(t(N_("prospect")))
    return (f"{DUE_MARK} " if line.due else "") + " · ".join(parts)


def _list_title(t: Translator, caller: Caller, listing: CustomerList, search: str | None) -> str:
    if search:
        return t(N_("Customers matching {query}: {total}"), query=echo(search), total=listing.total)
    if caller.role == Role.REP:
        return t(N_("Your customers: {total}"), total=listing.total)
    if caller.role == Role.MANAGER:
        return t(N_("Your team's customers: {total}"), total=listing.total)
    return t(N_("All customers: {total}"), total=listing.total)


def render_list(t: Translator, caller: Caller, listing: CustomerList, search: str | None) -> str:
    if not listing.items:
        if search:
            return t(N_("No customer matches {query}. Try part of the name or the code."), query=echo(search))
        return t(N_("You have no customers yet. /newcustomer registers a prospect."))
    lines = [_list_title(t, caller, listing, search)]
    if any(line.due for line in listing.items):
        lines.append(t(N_("{mark} = due for a visit"), mark=DUE_MARK))
    lines.append("")
    lines += [_list_line(t, line) for line in listing.items]
    lines += ["", t(N_("/customer CODE shows a customer's card."))]
    return "\n".join(lines)


async def _show_list(request: Request, search: str | None, page: int, prefix: str, *, edit: bool) -> None:
    listing = await customers.list_customers(
        request.session,
        request.me,
        search=search,
        today=local_today(request),
        zone=request.zone,
        page=page,
        per_page=PER_PAGE,
    )
    text = render_list(request.t, request.me, listing, search)
    buttons = pager(request.t, prefix, listing.page, listing.pages)
    if edit:
        request.edit(text, buttons)
    else:
        request.reply(text, buttons)


@action()
async def list_customers(request: Request) -> None:
    search = " ".join(request.text_after_command.split()) or None
    prefix = f"cust:find:{remember_search(user_data_of(request), search)}" if search else "cust:all"
    await _show_list(request, search, 1, prefix, edit=False)


@action()
async def list_page(request: Request) -> None:
    await _show_list(request, None, page_of(_pressed(request)), "cust:all", edit=True)


@action()
async def search_page(request: Request) -> None:
    data = _pressed(request)
    key = int(data.split(":")[2])
    search = user_data_of(request).get(SEARCHES_KEY, {}).get(key)
    if search is None:  # the bot restarted, or many searches since: the search text is gone
        request.toast = request.t.gettext(N_("This list has expired. Send /customers again."))
        return
    await _show_list(request, search, page_of(data), f"cust:find:{key}", edit=True)


# -- the card -----------------------------------------------------------------------------------


def _due_text(t: Translator, due: date, today: date) -> str:
    """Plain text (not yet HTML-escaped): the due date, flagged when it is today or past."""
    if due < today:
        return t.gettext(N_("{date} (overdue)")).format(date=due.isoformat())
    if due == today:
        return t.gettext(N_("{date} (today)")).format(date=due.isoformat())
    return due.isoformat()


def _credit_text(t: Translator, card: CustomerCard) -> str:
    if card.credit_limit <= 0:
        return t(N_("Credit: cash only (limit 0); {used} open"), used=format_amount(card.balance.open))
    return t.ngettext(
        "Credit used: {used} of {limit} ({percent}%), term {days} day",
        "Credit used: {used} of {limit} ({percent}%), term {days} days",
        card.credit_days,
        used=format_amount(card.balance.open),
        limit=format_amount(card.credit_limit),
        percent=card.credit_used_percent,
        days=card.credit_days,
    )


def render_extras(t: Translator, card: CustomerCard, zone: ZoneInfo) -> list[str]:
    """Stock levels, feedback by topic and the photo count: what the card's visits brought back."""
    lines: list[str] = []
    stock_title, feedback_title = (
        t(N_("Stock, latest count of each product")),
        t(N_("Market feedback, latest on each topic")),
    )
    for section in (
        extras_view.stock_section(t, card.stock, zone, title=stock_title),
        extras_view.feedback_section(t, card.feedback, zone, title=feedback_title),
    ):
        if section:
            lines += ["", *section]
    if card.photos:
        lines += ["", "📷 " + t(N_("Photos: {count}"), count=card.photos)]
    return lines


def render_card(t: Translator, card: CustomerCard, today: date, zone: ZoneInfo) -> str:
    ref = card.ref
    heading = f"<b>{escape(ref.name)}</b> · <code>{escape(ref.code)}</code>"
    grade = t(N_("Grade {grade}"), grade=ref.grade)
    if card.status == CustomerStatus.PROSPECT:
        grade += " · " + t(N_("prospect"))
    elif card.status == CustomerStatus.INACTIVE:
        grade += " · " + t(N_("inactive"))
    lines = [
        heading,
        grade,
        t(N_("Rep: {name}"), name=card.rep_name) if card.rep_name else t(N_("Rep: not assigned")),
    ]
    if card.phone:
        lines.append(t(N_("Phone: {phone}"), phone=card.phone))
    if card.address:
        lines.append(t(N_("Address: {address}"), address=card.address))
    if card.location:
        lines.append(
            t(
                N_("Location: {latitude}, {longitude}"),
                latitude=f"{card.location[0]:.5f}",
                longitude=f"{card.location[1]:.5f}",
            )
        )
    if card.last_visit_on is None:
        lines.append(t(N_("Last visit: never")))
    else:
        lines.append(
            t(
                N_("Last visit: {date} ({ago})"),
                date=card.last_visit_on.isoformat(),
                ago=_visited(t, card.days_since_visit),
            )
        )
    lines.append(t(N_("Next visit due: {due}"), due=_due_text(t, card.next_due, today)))
    lines.append(
        t(
            N_("Open balance: {open} · overdue: {overdue}"),
            open=format_amount(card.balance.open),
            overdue=format_amount(card.balance.overdue),
        )
    )
    if card.credit > 0:
        lines.append(
            t(
                N_("💳 Unapplied credit: {credit} (applied to their next invoice)"),
                credit=format_amount(card.credit),
            )
        )
    lines.append(_credit_text(t, card))
    if card.recent:
        lines += ["", t(N_("Last visits:"))]
        for visit in card.recent:
            note = f" · {escape(visit.note)}" if visit.note else ""
            lines.append(f"• {visit.day.isoformat()} · {escape(t.gettext(KIND_LABELS[visit.kind]))}{note}")
    return "\n".join(lines + render_extras(t, card, zone))


def card_buttons(
    t: Translator, caller: Caller, customer_id: int, photos: int = 0
) -> InlineKeyboardMarkup | None:
    """Visit / Collect / Order, only for roles that may do them (the services check again); and
    the photos, when there are any."""
    offered = (
        (Permission.LOG_VISIT, N_("Visit"), "visit"),
        (Permission.RECORD_COLLECTION, N_("Collect"), "collect"),
        (Permission.RECORD_ORDER, N_("Order"), "order"),
    )
    row = [
        InlineKeyboardButton(t.gettext(label), callback_data=f"{feature}:start:{customer_id}")
        for permission, label, feature in offered
        if caller.can(permission)
    ]
    rows = [row] if row else []
    if photos:
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext(extras_view.PHOTO_BUTTON).format(count=photos),
                    callback_data=f"cust:photos:{customer_id}",
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def card_reply(request: Request, customer_id: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card's text and buttons, ready for ``request.reply`` or ``request.edit``."""
    today = local_today(request)
    card = await customers.customer_card(
        request.session, request.me, customer_id, today=today, zone=request.zone
    )
    return (
        render_card(request.t, card, today, request.zone),
        card_buttons(request.t, request.me, card.ref.id, card.photos),
    )


@action()
async def show_customer(request: Request) -> None:
    query = " ".join(request.text_after_command.split())
    if not query:
        request.reply(request.t(N_("Usage: /customer NAME or CODE\nExample: /customer 华东五金")))
        return
    resolution = await customers.resolve_one(request.session, request.me, query)
    if resolution.customer is None:
        request.reply(
            which_one(request.t, query, resolution.near),
            candidate_buttons(resolution.candidates, "cust:card"),
        )
        return
    request.reply(*await card_reply(request, resolution.customer.id))


@action()
async def card_chosen(request: Request) -> None:
    customer_id = customer_id_of(_pressed(request))
    if customer_id is None:
        return
    request.edit(*await card_reply(request, customer_id))


@action()
async def card_photos(request: Request) -> None:
    """The card's "📷 Photos" button: the latest photos of the customer's visits, as an album."""
    customer_id = customer_id_of(_pressed(request))
    if customer_id is None:
        return
    album = await customers.customer_photos(request.session, request.me, customer_id)
    albums.send_album(request, album, albums.by_rep(request.zone))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("customers", list_customers, private))
    application.add_handler(CallbackQueryHandler(list_page, pattern=r"^cust:all:\d+$"))
    application.add_handler(CallbackQueryHandler(search_page, pattern=r"^cust:find:\d+:\d+$"))
    application.add_handler(CommandHandler("customer", show_customer, private))
    application.add_handler(CallbackQueryHandler(card_chosen, pattern=r"^cust:card:\d+$"))
    application.add_handler(CallbackQueryHandler(card_photos, pattern=r"^cust:photos:\d{1,12}$"))
