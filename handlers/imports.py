"""Importing by sending a CSV or XLSX file to the bot: customers, receivables or people.

A file is fetched only from someone who may import something (an active admin,
director, manager or finance user): a stranger's, a deactivated user's or a
rep's file gets the usual refusal and is never downloaded. It is read in a child
process with a memory and a time limit (:mod:`bot.parsing_sandbox`), so no file
can stall the other chats or swell the bot. The kind is recognised from the
header and checked against the sender's role before anything is imported.

Every reply fits in one Telegram message: a report too long for one comes back
as a summary, with the whole report attached as a text file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, MessageHandler, filters

from bot.i18n import N_, Translator, echo
from bot.parsing_sandbox import read_upload
from bot.runtime import Context
from bot.services.intake import imports
from bot.services.intake.importing import ImportReport, RowError
from bot.services.intake.imports import importer, kind_of
from bot.tabular import MAX_FILE_BYTES, Table, TableError
from handlers.base import Request, action

#: Lines of a long report shown in the message; all of them are in the attached file.
SHOWN_LINES = 25
#: Characters of report in a message (UTF-16 code units of its HTML, as Telegram counts, and never
#: fewer than it shows), leaving room for the last line under Telegram's 4,096.
MESSAGE_BUDGET = 3500
#: Characters of the "New teams" line in a summary; the attached report names them all.
TEAMS_BUDGET = 1000
KIND_NAMES = {"users": N_("people"), "customers": N_("customers"), "receivables": N_("receivables")}


@dataclass(frozen=True)
class Upload:
    file_name: str
    table: Table | None = None
    problem: str | None = None  # English source marked with N_
    params: dict[str, object] | None = None


async def download(update: Update, context: Context) -> Upload | None:
    """Fetch and read the file before the transaction, only for someone who may import something.

    Anyone else's file is not fetched at all (None): the action then answers a stranger
    or a deactivated user as it answers them anything, and anyone else that their role
    does not allow this.
    """
    message = update.effective_message
    if message is None or message.document is None or update.effective_user is None:
        return None
    async with context.runtime.db.reading() as session:
        if not await imports.may_send_files(session, update.effective_user.id):
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
        return Upload(name, table=await read_upload(content, name))
    except TableError as error:
        return Upload(name, problem=error.message, params=error.params)


@action(prepare=download, heavy=True)
async def import_document(request: Request) -> None:
    imports.require_some_import(request.me)  # a rep's file (never fetched): the usual refusal
    upload = request.prepared
    t = request.t
    if not isinstance(upload, Upload):  # the role allows imports only since the file came in
        request.reply(t(N_("I could not download the file; please send it again.")))
        return
    if upload.table is None:
        reason = t(upload.problem or "", **(upload.params or {}))
        request.reply(t(N_("I could not read {file}:"), file=echo(upload.file_name)) + " " + reason)
        return
    kind = kind_of(upload.table.header)
    if kind is None:
        request.reply(
            t(
                N_(
                    "I don't recognise this file. Customers need the columns code,name,…; receivables "
                    "invoice_no,customer_code,amount,issued_on; people telegram_id,name,role,team."
                )
            )
        )
        return
    imports.require_import(request.me, kind)
    report = await importer(kind)(request.session, upload.table, request.now, request.me)
    reply = report_reply(t, kind, report)
    request.reply(reply.text)
    if reply.attachment is None:
        return
    attachment, file_name = reply.attachment, reply.file_name

    async def send_full_report() -> None:
        await request.context.bot.send_document(
            request.identity.telegram_id, io.BytesIO(attachment.encode()), filename=file_name
        )

    request.after_commit.append(send_full_report)


# -- the report ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportReply:
    """What answers an import: one message, and the whole report as a file when the message is a summary."""

    text: str  # HTML, within MESSAGE_BUDGET
    attachment: str | None = None  # plain text
    file_name: str = "import-report.txt"


def report_reply(t: Translator, kind: str, report: ImportReport) -> ReportReply:
    """The whole report if it fits in a message; else its head, its first lines and the file."""
    if report.ok:
        head = [
            t(
                N_("Imported {kind}: {created} new, {updated} updated."),
                kind=t.gettext(KIND_NAMES[kind]),
                created=report.created,
                updated=report.updated,
            )
        ]
        lines = report.notes
    else:
        head = [
            t.ngettext(
                "Nothing was imported: {count} problem. Fix it and send the whole file again.",
                "Nothing was imported: {count} problems. Fix them and send the whole file again.",
                len(report.errors),
                count=len(report.errors),
            )
        ]
        lines = report.errors
    shown = [_line(t, item) for item in lines]
    whole = "\n".join(
        head
        + (
            [t(N_("New teams: {teams}"), teams=", ".join(report.teams_created))]
            if report.teams_created
            else []
        )
        + shown
    )
    if length(whole) <= MESSAGE_BUDGET:
        return ReportReply(whole)
    if report.ok:
        if report.teams_created:
            head.append(_teams_summary(t, report.teams_created))
        footer = t(N_("…the full report is in the attached file."))
        attachment = _plain_report(t, kind, report)
        file_name = "import-report.txt"
    else:
        footer = t.ngettext(
            "…the full list of {count} problem is in the attached file.",
            "…the full list of {count} problems is in the attached file.",
            len(report.errors),
            count=len(report.errors),
        )
        attachment = "\n".join(_plain_line(t, error) for error in report.errors)
        file_name = "import-problems.txt"
    budget = MESSAGE_BUDGET - length("\n".join(head)) - length(footer) - 2
    body = first_lines("\n".join(shown), SHOWN_LINES, budget)
    return ReportReply("\n".join([*head, *([body] if body else []), footer]), attachment, file_name)


def _line(t: Translator, item: RowError) -> str:
    return t(N_("line {line}:"), line=item.line) + " " + item.render(t)


def _plain_line(t: Translator, item: RowError) -> str:
    """A report line for the text file: translated, nothing escaped (it is not HTML)."""
    label = t.gettext(N_("line {line}:")).format(line=item.line)
    return f"{label} {t.gettext(item.reason).format(**item.params)}"


def _teams_summary(t: Translator, teams: list[str]) -> str:
    """ "New teams (90): A, B, …" naming as many as fit in :data:`TEAMS_BUDGET`."""
    named: list[str] = []
    for team in teams:
        if length(", ".join([*named, team])) > TEAMS_BUDGET:
            break
        named.append(team)
    if len(named) == len(teams):
        return t(N_("New teams: {teams}"), teams=", ".join(teams))
    return t(N_("New teams ({count}): {teams}, …"), count=len(teams), teams=", ".join(named))


def _plain_report(t: Translator, kind: str, report: ImportReport) -> str:
    lines = [
        t.gettext(N_("Imported {kind}: {created} new, {updated} updated.")).format(
            kind=t.gettext(KIND_NAMES[kind]), created=report.created, updated=report.updated
        )
    ]
    if report.teams_created:
        lines.append(t.gettext(N_("New teams: {teams}")).format(teams=", ".join(report.teams_created)))
    lines += [_plain_line(t, note) for note in report.notes]
    return "\n".join(lines)


def length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji or a rare CJK character is two)."""
    return len(text.encode("utf-16-le")) // 2


def first_lines(text: str, count: int, budget: int = MESSAGE_BUDGET) -> str:
    """Up to ``count`` whole lines of ``text`` within ``budget`` characters.

    Whole lines only: cutting one could split an HTML entity and Telegram would refuse it.
    """
    kept: list[str] = []
    used = 0
    for line in text.splitlines()[:count]:
        if used + length(line) + 1 > budget:
            break
        kept.append(line)
        used += length(line) + 1
    return "\n".join(kept)


def register(application: Application) -> None:  # type: ignore[type-arg]
    documents = filters.ChatType.PRIVATE & filters.Document.ALL & ~filters.UpdateType.EDITED
    application.add_handler(MessageHandler(documents, import_document))
