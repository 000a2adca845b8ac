"""/qr: printable QR codes per customer, and ``/start <code>``: a scanned code opens the visit.

``/qr`` prints every customer of the caller's scope (a rep: their own, so they can stick a code
up at each of their shops; a manager: the team's), ``/qr CUSTOMER`` one customer, and
``/qr renew CUSTOMER`` (managers, the director, admins) gives the customer a new code, so the one
printed before opens nothing. The sheet is a PDF sent after the commit (the codes made for it are
saved first).

A scanned code arrives as ``/start qr…`` (bot/services/field/qr.py). It is an entry point of the
/visit conversation (handlers/field/visits.py): for a user who may log a visit to that customer
it starts the guided visit with the customer chosen. Anyone else gets the answer an unknown code
gets: a stranger or someone deactivated the invite answer of handlers/people/onboarding.py, a
registered user one sentence that is the same whether the code is unknown, renewed, or a
customer not theirs.
"""

from __future__ import annotations

import asyncio
import io

from telegram import InputFile
from telegram.constants import ChatAction
from telegram.ext import Application, CommandHandler, filters

from bot.i18n import N_, Translator, escape
from bot.services.field import qr, qr_sheet
from bot.services.field.customers import Resolution
from bot.services.field.qr import QrCode
from handlers.base import Request, action
from handlers.field.visit_flow import KIND, start_flow
from handlers.field.visit_views import kind_question
from handlers.people import onboarding
from handlers.reporting.exports import showing

NOT_FOR_YOU = N_(
    "This QR code does not open a visit for you. Scan the code of one of your own customers, or send /visit."
)


@action(registered=False)
async def start_from_code(request: Request) -> object:
    """``/start qr…``: the visit to the code's customer, or exactly an unknown code's answer."""
    param = request.args[0] if request.args else ""
    if request.caller is None:  # a stranger, or someone deactivated: as for any unknown invite
        await onboarding.answer_start(request)
        return None
    customer = await qr.customer_for(request.session, request.caller, param)
    if customer is None:
        request.reply(request.t(NOT_FOR_YOU))
        return None
    start_flow(request, customer)
    request.reply(*kind_question(request.t, customer))
    return KIND


def _candidates(t: Translator, resolution: Resolution) -> str:
    names = "\n".join(f"• {escape(c.label)}" for c in resolution.candidates)
    return t(N_("Several customers match. Send /qr with one of these codes:")) + "\n" + names


def _send_sheet(request: Request, codes: list[QrCode], title: str, file_name: str, caption: str) -> None:
    """After the commit (the codes are saved): draw the sheet in a thread and send it."""
    bot, chat_id = request.context.bot, request.me.telegram_id

    async def send() -> None:
        async with showing(bot, chat_id, ChatAction.UPLOAD_DOCUMENT):
            sheet = await asyncio.to_thread(qr_sheet.draw_sheet, bot.username, codes, title)
            content = await asyncio.to_thread(sheet.pdf)
        await bot.send_document(chat_id, InputFile(io.BytesIO(content), filename=file_name), caption=caption)

    request.after_commit.append(send)


@action()
async def qr_command(request: Request) -> None:
    """``/qr``, ``/qr CUSTOMER``, ``/qr renew CUSTOMER``."""
    t, text = request.t, request.text_after_command
    first, _, rest = text.partition(" ")
    renewing = first.lower() in ("renew", "更新") and rest.strip() != ""
    if renewing:
        found = await qr.renew(request.session, request.me, rest.strip(), now=request.now)
    elif text:
        found = await qr.code_for(request.session, request.me, text)
    else:
        codes = await qr.codes_in_scope(request.session, request.me)
        if not codes:
            request.reply(t(N_("You have no customers to print codes for.")))
            return
        title = t.gettext(N_("Scan in the shop to log a visit"))
        caption = t.ngettext(
            "QR codes: {count} customer. Print the sheet and put each code up at its shop.",
            "QR codes: {count} customers. Print the sheet and put each code up at its shop.",
            len(codes),
            count=len(codes),
        )
        _send_sheet(request, codes, title, "qr-codes.pdf", caption)
        return
    if isinstance(found, Resolution):
        request.reply(_candidates(t, found))
        return
    title = t.gettext(N_("Scan in the shop to log a visit"))
    caption = (
        t(
            N_("New QR code for {customer}: the code printed before opens nothing any more."),
            customer=found.name,
        )
        if renewing
        else t(N_("QR code for {customer}. Print it and put it up at the shop."), customer=found.name)
    )
    _send_sheet(request, [found], title, "qr-code.pdf", caption)


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("qr", qr_command, filters.ChatType.PRIVATE))
