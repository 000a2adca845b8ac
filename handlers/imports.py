"""Importing by sending a CSV or XLSX file to the bot: customers, receivables or people.

The kind is recognised from the header; the role is checked by the importer.
A report too long for one message comes back as a text file, so every bad
row is always listed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, MessageHandler, filters

from bot.i18n import N_, Translator
from bot.runtime import Context
from bot.services import users
from bot.services.importing import ImportReport
from bot.services.imports import importer, kind_of
from bot.tabular import MAX_FILE_BYTES, Table, TableError, read_table
from handlers.base import Request, action

SHOWN_ERRORS = 25
#: Characters of report in a message, leaving room for the last line under Telegram's 4096.
MESSAGE_BUDGET = 3500
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".txt")


@dataclass(frozen=True)
class Upload:
    file_name: str
    table: Table | None = None
    problem: str | None = None  # English source marked with N_
    params: dict[str, object] | None = None


async def download(update: Update, context: Context) -> Upload | None:
    """Fetch and parse the file before the transaction; strangers' files are not even fetched."""
    message = update.effective_message
    if message is None or message.document is None or update.effective_user is None:
        return None
    async with context.runtime.db.reading() as session:
        if not await users.is_known(session, update.effective_user.id):
            return None
    document = message.document
    name = document.file_name or "upload"
    if (document.file_size or 0) > MAX_FILE_BYTES:
        return Upload(name, problem=N_("The file is too large (20 MB at most)."))
    try:
        telegram_file = await document.get_file()
        content = bytes(await telegram_file.download_as_bytearray())
    except TelegramError:
        return Upload(name, problem=N_("I could not download the file; please send it again."))
    try:
        return Upload(name, table=read_table(content, name))
    except TableError as error:
        return Upload(name, problem=error.message, params=error.params)


def render_report(t: Translator, kind: str, report: ImportReport) -> str:
    if report.ok:
        lines = [t(N_("Imported {kind}: {created} new, {updated} updated."), kind=t.gettext(KIND_NAMES[kind]),
                   created=report.created, updated=report.updated)]
        if report.teams_created:
            lines.append(t(N_("New teams: {teams}"), teams=", ".join(report.teams_created)))
        return "\n".join(lines)
    lines = [t(N_("Nothing was imported: {count} problem(s). Fix them and send the whole file again."),
               count=len(report.errors))]
    lines += [t(N_("line {line}:"), line=e.line) + " " + e.render(t) for e in report.errors]
    return "\n".join(lines)


def first_lines(text: str, count: int) -> str:
    """Up to ``count`` whole lines of ``text`` within :data:`MESSAGE_BUDGET` characters.

    Whole lines only: cutting one could split an HTML entity and Telegram would refuse it.
    """
    kept: list[str] = []
    used = 0
    for line in text.splitlines()[:count]:
        if used + len(line) + 1 > MESSAGE_BUDGET:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


KIND_NAMES = {"users": N_("people"), "customers": N_("customers"), "receivables": N_("receivables")}


@action(prepare=download, heavy=True)
async def import_document(request: Request) -> None:
    upload = request.prepared
    t = request.t
    if not isinstance(upload, Upload):
        return
    if upload.table is None:
        reason = t(upload.problem or "", **(upload.params or {}))
        request.reply(t(N_("I could not read {file}:"), file=upload.file_name) + " " + reason)
        return
    kind = kind_of(upload.table.header)
    if kind is None:
        request.reply(t(N_(
            "I don't recognise this file. Customers need the columns code,name,…; receivables "
            "invoice_no,customer_code,amount,issued_on; people telegram_id,name,role,team.")))
        return
    report = await importer(kind)(request.session, upload.table, request.now, request.me)
    text = render_report(t, kind, report)
    if len(text) <= MESSAGE_BUDGET or report.ok:
        request.reply(text)
        return
    request.reply(first_lines(text, SHOWN_ERRORS + 1) + "\n"
                  + t(N_("…the full list of {count} problems is in the attached file."),
                      count=len(report.errors)))
    line_label = t.gettext(N_("line {line}:"))
    plain = "\n".join(f"{line_label.format(line=e.line)} {t.gettext(e.reason).format(**e.params)}"
                      for e in report.errors)

    async def send_full_report() -> None:
        await request.context.bot.send_document(
            request.identity.telegram_id, io.BytesIO(plain.encode()), filename="import-problems.txt")

    request.after_commit.append(send_full_report)


def register(application: Application) -> None:  # type: ignore[type-arg]
    documents = filters.ChatType.PRIVATE & filters.Document.ALL & ~filters.UpdateType.EDITED
    application.add_handler(MessageHandler(documents, import_document))
