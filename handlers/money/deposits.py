"""/deposits: finance sees the cash and cheques reps still hold and confirms their hand-in.

One message, paged by collection (``dep:page:<n>``); each page shows the reps whose
collections are on it, with their totals and a "confirm all" button that confirms exactly
what was listed (``dep:rep:<rep>:<newest id shown>:<page>``), and a button per collection
(``dep:one:<id>:<page>``). A confirmation edits the message in place.
"""

from __future__ import annotations

from datetime import tzinfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator, fmt
from bot.services.money import collections
from bot.services.money.amounts import format_amount
from bot.services.money.collections import Confirmed, Holdings
from handlers.base import Request, action
from handlers.money.collections import method_label
from handlers.paging import page_of, pager

PER_PAGE = 8
#: Names are shortened in this listing so eight entries always fit one message.
NAME_LIMIT = 40
BUTTON_NAME_LIMIT = 24


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(
    t: Translator, zone: tzinfo, holdings: Holdings, note: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    lines = [note, ""] if note else []
    if not holdings.reps:
        lines.append(t(N_("Nothing is waiting: every cash and cheque collection has been handed in.")))
        return "\n".join(lines), None
    lines.append(
        t(
            N_("<b>Cash and cheques held by reps</b>: {count} · {total}"),
            count=holdings.count,
            total=format_amount(holdings.total),
        )
    )
    reps = {rep.rep_id: rep for rep in holdings.reps}
    shown: list[int] = []
    buttons: list[list[InlineKeyboardButton]] = []
    for item in holdings.items:
        if item.rep_id not in shown:
            shown.append(item.rep_id)
            rep = reps[item.rep_id]
            lines += [
                "",
                fmt(
                    "<b>{rep}</b>: {count} · {total}",
                    rep=_short(rep.name, NAME_LIMIT),
                    count=rep.count,
                    total=format_amount(rep.total),
                ),
            ]
        receipt = t(N_(" · receipt {receipt}"), receipt=item.receipt_no) if item.receipt_no else ""
        lines.append(
            fmt(
                "#{id} · {when} · {customer} · {amount} {method}",
                id=item.id,
                when=f"{item.received_at.astimezone(zone):%m-%d %H:%M}",
                customer=_short(item.customer, NAME_LIMIT),
                amount=format_amount(item.amount),
                method=method_label(t, item.method),
            )
            + receipt
        )
        buttons.append(
            [
                InlineKeyboardButton(
                    f"✓ #{item.id} · {format_amount(item.amount)}",
                    callback_data=f"dep:one:{item.id}:{holdings.page}",
                )
            ]
        )
    for rep_id in shown:
        rep = reps[rep_id]
        buttons.append(
            [
                InlineKeyboardButton(
                    t.gettext(N_("✓ Confirm all {rep} · {total}")).format(
                        rep=_short(rep.name, BUTTON_NAME_LIMIT), total=format_amount(rep.total)
                    ),
                    callback_data=f"dep:rep:{rep.rep_id}:{rep.last_id}:{holdings.page}",
                )
            ]
        )
    paging = pager(t, "dep:page", holdings.page, holdings.pages)
    if paging is not None:
        buttons += [list(row) for row in paging.inline_keyboard]
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def _data(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


async def _show(request: Request, page: int, note: str | None, *, edit: bool) -> None:
    holdings = await collections.holdings(request.session, request.me, page=page, per_page=PER_PAGE)
    text, markup = render(request.t, request.zone, holdings, note)
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)


@action()
async def deposits(request: Request) -> None:
    await _show(request, 1, None, edit=False)


@action()
async def deposits_page(request: Request) -> None:
    query = request.update.callback_query
    await _show(request, page_of(query.data if query else None), None, edit=True)


async def _after_confirming(request: Request, done: Confirmed, note: str, page: int) -> None:
    if done.already:  # nothing changed: a double tap, or someone confirmed first
        request.toast = request.t.gettext(N_("Already confirmed: nothing changed."))
        return
    request.toast = request.t.gettext(N_("Confirmed."))
    await _show(request, page, note, edit=True)


@action()
async def confirm_one(request: Request) -> None:
    _, _, collection_id, page = _data(request)
    done = await collections.confirm_one(request.session, request.me, int(collection_id), now=request.now)
    note = request.t(
        N_("✓ Confirmed #{id} from {rep}: {total}."),
        id=collection_id,
        rep=done.rep_name,
        total=format_amount(done.total),
    )
    await _after_confirming(request, done, note, int(page))


@action()
async def confirm_rep(request: Request) -> None:
    _, _, rep_id, up_to_id, page = _data(request)
    done = await collections.confirm_rep(
        request.session, request.me, int(rep_id), int(up_to_id), now=request.now
    )
    note = request.t(
        N_("✓ Confirmed {count} from {rep}: {total}."),
        count=done.count,
        rep=done.rep_name,
        total=format_amount(done.total),
    )
    await _after_confirming(request, done, note, int(page))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("deposits", deposits, filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(deposits_page, pattern=r"^dep:page:\d+$"))
    application.add_handler(CallbackQueryHandler(confirm_one, pattern=r"^dep:one:\d+:\d+$"))
    application.add_handler(CallbackQueryHandler(confirm_rep, pattern=r"^dep:rep:\d+:\d+:\d+$"))
