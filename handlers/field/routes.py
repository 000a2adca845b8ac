"""/route: the order a rep goes round their customers (客戶路序), reordered with buttons.

The order being edited lives in ``user_data`` (a :class:`RouteDraft`) under a token that every
button carries, so a button of an older /route message does nothing. Nothing is stored until
💾 Save; ↺ Automatic deletes the rep's own order. The names are read afresh on each press, so a
customer that moved to another rep meanwhile drops out and a new one joins at the end.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.services.field import routes
from bot.services.field.customers import CustomerRef
from bot.services.field.routes import Route
from handlers.base import Request, action
from handlers.field.customer_choice import BUTTON_TEXT_LIMIT

DRAFT_KEY = "routes.draft"
PAGE_SIZE = 8
NAME_ON_BUTTON = 24


@dataclass
class RouteDraft:
    """The order on the rep's screen, not saved yet."""

    token: str
    customer_ids: list[int] = field(default_factory=list)
    page: int = 0
    saved: bool = False


def _pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def _render(
    t: Translator, draft: RouteDraft, refs: dict[int, CustomerRef], note: str = ""
) -> tuple[str, InlineKeyboardMarkup]:
    ids = draft.customer_ids
    pages = _pages(len(ids))
    draft.page = min(max(draft.page, 0), pages - 1)
    first = draft.page * PAGE_SIZE
    shown = ids[first : first + PAGE_SIZE]
    how = (
        t(N_("your own order"))
        if draft.saved
        else t(N_("automatic: nearest next, from the most overdue customer"))
    )
    lines = [note, ""] if note else []
    lines.append("<b>" + t(N_("Your route ({how})"), how=how) + "</b>")
    lines.append(
        t.ngettext("{count} customer", "{count} customers", len(ids), count=len(ids))
        + (" · " + t(N_("page {page} of {pages}"), page=draft.page + 1, pages=pages) if pages > 1 else "")
    )
    lines += [f"{first + n}. {escape(refs[i].label)}" for n, i in enumerate(shown, start=1)]
    lines += [
        "",
        t(
            N_(
                "Move customers with ⬆ and ⬇, then tap Save. "
                "The morning plan lists your due customers in this order."
            )
        ),
    ]
    token = draft.token
    rows: list[list[InlineKeyboardButton]] = []
    for n, customer_id in enumerate(shown, start=first):
        name = refs[customer_id].name[:NAME_ON_BUTTON]
        rows.append(
            [
                InlineKeyboardButton(
                    f"⬆ {n + 1}. {name}"[:BUTTON_TEXT_LIMIT], callback_data=f"route:up:{token}:{n}"
                ),
                InlineKeyboardButton(f"⬇ {n + 1}", callback_data=f"route:down:{token}:{n}"),
            ]
        )
    if pages > 1:
        rows.append(
            [
                InlineKeyboardButton(
                    "‹ " + t.gettext(N_("Previous")), callback_data=f"route:page:{token}:{draft.page - 1}"
                ),
                InlineKeyboardButton(
                    t.gettext(N_("Next")) + " ›", callback_data=f"route:page:{token}:{draft.page + 1}"
                ),
            ]
        )
    rows.append(
        [
            InlineKeyboardButton("💾 " + t.gettext(N_("Save")), callback_data=f"route:save:{token}"),
            InlineKeyboardButton("↺ " + t.gettext(N_("Automatic")), callback_data=f"route:auto:{token}"),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _start(request: Request, route: Route) -> RouteDraft:
    draft = RouteDraft(secrets.token_hex(4), [ref.id for ref in route.customers], 0, route.saved)
    user = request.context.user_data
    assert user is not None
    user[DRAFT_KEY] = draft
    return draft


@action()
async def route_command(request: Request) -> None:
    route = await routes.rep_route(request.session, request.me)
    if not route.customers:
        request.reply(request.t(N_("You have no customers yet, so there is no route to order.")))
        return
    draft = _start(request, route)
    request.reply(*_render(request.t, draft, {ref.id: ref for ref in route.customers}))


def _pressed(request: Request) -> tuple[RouteDraft, str, int | None] | None:
    """The draft a press is for (its token matches), the verb, and the number it carries."""
    query = request.update.callback_query
    parts = ((query.data or "") if query else "").split(":")
    user = request.context.user_data or {}
    draft = user.get(DRAFT_KEY)
    if len(parts) not in (3, 4) or not isinstance(draft, RouteDraft) or parts[2] != draft.token:
        return None
    if len(parts) == 3:
        return draft, parts[1], None
    if not parts[3].isascii() or not parts[3].lstrip("-").isdigit() or len(parts[3]) > 6:
        return None
    return draft, parts[1], int(parts[3])


def _expired(request: Request) -> None:
    request.toast = request.t.gettext(N_("This button has expired. Send /route again."))


@action()
async def move(request: Request) -> None:
    """``route:up|down:<token>:<index>``: swap a customer with the one before or after."""
    pressed = _pressed(request)
    if pressed is None or (index := pressed[2]) is None:
        _expired(request)
        return
    draft, verb, _ = pressed
    route = await routes.rep_route(request.session, request.me)
    refs = _current(draft, route)
    ids = draft.customer_ids
    other = index - 1 if verb == "up" else index + 1
    if not 0 <= index < len(ids):
        _expired(request)
        return
    if not 0 <= other < len(ids):
        request.toast = request.t.gettext(N_("Already first.") if verb == "up" else N_("Already last."))
        return
    ids[index], ids[other] = ids[other], ids[index]
    draft.page = other // PAGE_SIZE
    request.edit(*_render(request.t, draft, refs))


@action()
async def page(request: Request) -> None:
    pressed = _pressed(request)
    if pressed is None or (number := pressed[2]) is None:
        _expired(request)
        return
    draft = pressed[0]
    route = await routes.rep_route(request.session, request.me)
    refs = _current(draft, route)
    draft.page = number
    request.edit(*_render(request.t, draft, refs))


@action()
async def save(request: Request) -> None:
    pressed = _pressed(request)
    if pressed is None:
        _expired(request)
        return
    draft = pressed[0]
    route = await routes.save_route(request.session, request.me, draft.customer_ids, now=request.now)
    fresh = _start(request, route)
    note = "✅ " + request.t(N_("Route saved: the morning plan lists your due customers in this order."))
    request.edit(*_render(request.t, fresh, {ref.id: ref for ref in route.customers}, note))


@action()
async def automatic(request: Request) -> None:
    pressed = _pressed(request)
    if pressed is None:
        _expired(request)
        return
    route = await routes.reset_route(request.session, request.me, now=request.now)
    fresh = _start(request, route)
    note = "↺ " + request.t(N_("Back to the automatic order: nearest next, from the most overdue customer."))
    request.edit(*_render(request.t, fresh, {ref.id: ref for ref in route.customers}, note))


def _current(draft: RouteDraft, route: Route) -> dict[int, CustomerRef]:
    """The rep's customers now: the draft keeps its order, loses those gone, gains new ones."""
    refs = {ref.id: ref for ref in route.customers}
    kept = [i for i in draft.customer_ids if i in refs]
    draft.customer_ids = kept + [ref.id for ref in route.customers if ref.id not in set(kept)]
    return refs


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("route", route_command, filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(move, pattern=r"^route:up:[0-9a-f]+:\d+$"))
    application.add_handler(CallbackQueryHandler(move, pattern=r"^route:down:[0-9a-f]+:\d+$"))
    application.add_handler(CallbackQueryHandler(page, pattern=r"^route:page:[0-9a-f]+:-?\d+$"))
    application.add_handler(CallbackQueryHandler(save, pattern=r"^route:save:[0-9a-f]+$"))
    application.add_handler(CallbackQueryHandler(automatic, pattern=r"^route:auto:[0-9a-f]+$"))
