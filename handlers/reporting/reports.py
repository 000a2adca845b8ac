"""/report: the daily work report, in as few messages as possible.

``/report`` shows today's records and waits for one message with the rep's own
lines; a preview follows with Submit / Edit / Cancel. ``/report <text>``
submits at once. Headings in the text (``Problems:``/``问题：`` …) are parsed by
the service; text without a heading is the report's notes.

``/report yesterday [text]`` (昨天) does the same for the previous working day's
missing report, filed late; the morning plan's button ``report:day:<YYYY-MM-DD>``
opens that day's draft. A report the day's digest will not carry is pushed to the
rep's manager as it is filed (``bot/services/reporting/report_loop.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

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
from bot.services.reporting import dates, report_loop, reports
from bot.services.reporting.reports import Draft, ReportHours, ReportLines, Section, Submitted
from handlers.base import Request, action
from handlers.flows import another_command_ends_flow

WRITING, PREVIEW = "report:writing", "report:preview"
END = ConversationHandler.END
PENDING = "report.pending"
#: user_data: the day (ISO) whose draft is showing, while it is not today's.
WRITING_FOR = "report.day"
#: ``/report yesterday …``: the previous working day's report.
PAST_WORDS = ("yesterday", "昨天", "昨日")
DAY_BUTTON = re.compile(r"^report:day:(\d{4}-\d{2}-\d{2})$")
CONVERSATION_TIMEOUT = 30 * 60
#: Telegram allows 4096 characters; stay under it with room for the counting to be rough.
MESSAGE_BUDGET = 4000
#: Items shown per section, tried in turn until the message fits; the stored summary keeps all.
ITEM_LIMITS = (15, 10, 5, 3, 1, 0)

HOW_TO_WRITE = N_(
    "Now write your report in one message: what you did, problems met, market information, plan for "
    "tomorrow.\nStart a part with Problems: / Market: / Plan: (or 问题： / 市场： / 明日计划：); "
    "text without a heading goes to the notes."
)


@dataclass(frozen=True)
class Pending:
    """Lines waiting in a preview; ``nonce`` (the rep's message id) ties them to its buttons."""

    day: date
    lines: ReportLines
    nonce: int


def _hours(request: Request) -> ReportHours:
    runtime = request.context.runtime
    return ReportHours(runtime.clock.zone, runtime.settings.report_deadline, runtime.settings.report_cutoff)


def _typed_after_command(request: Request) -> str:
    """What follows ``/report``, newlines kept (a Chinese one-liner may have no ASCII space)."""
    message = request.update.effective_message
    parts = (message.text or "").split(maxsplit=1) if message else []
    return parts[1].strip() if len(parts) > 1 else ""


_PAST = re.compile(r"(?:" + "|".join(PAST_WORDS) + r")(?:[\s:：,，]+|$)", re.IGNORECASE)


def split_past(text: str) -> tuple[bool, str]:
    """``yesterday …`` / ``昨天 …``: (True, the rest); anything else: (False, the text)."""
    match = _PAST.match(text)
    return (True, text[match.end() :].strip()) if match else (False, text)


#: A day named before the report's lines: alone, or followed by a colon or a new line.
_DAY_HEAD = re.compile(r"(?P<day>[^\n:：]{1,30}?)[ \t]*(?:[:：]\s*|\n\s*|$)")


def split_day(text: str, today: date) -> tuple[date | None, str]:
    """``friday``, ``周五: …``, ``12/4`` + a new line …: (that past day, and the rest); text that does
    not start with a past day alone on its line or before a colon, or that starts with a heading of
    the report (``明天：…`` is the plan for tomorrow, not a day): (None, text)."""
    match = _DAY_HEAD.match(text)
    if match is None or reports.starts_with_heading(text):
        return None, text
    day = dates.read_date(match["day"], today, past=True)
    if day is None or day >= today:
        return None, text
    return day, text[match.end() :].strip()


def _length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 units), of the HTML: never less than what shows."""
    return len(text.encode("utf-16-le")) // 2


# -- rendering ------------------------------------------------------------------------------------


def _section_html(t: Translator, section: Section, limit: int) -> str:
    lines = [f"<b>{escape(section.heading)}</b>"]
    lines += [f"• {escape(item)}" for item in section.items[:limit]]
    if len(section.items) > limit:
        lines.append(t(N_("…and {count} more"), count=len(section.items) - limit))
    return "\n".join(lines)


def _records_html(t: Translator, draft: Draft, budget: int) -> str:
    """The day's records, as many items per section as fit in ``budget``."""
    sections = reports.summary_sections(t, draft)
    if not sections and draft.past:
        return t(
            N_(
                "No visits, orders, collections or new customers recorded that day. "
                "You can still submit a report (an office day, for example)."
            )
        )
    if not sections:
        return t(
            N_(
                "No visits, orders, collections or new customers recorded today. "
                "You can still submit a report (an office day, for example)."
            )
        )
    for limit in ITEM_LIMITS:
        text = "\n".join(_section_html(t, section, limit) for section in sections)
        if _length(text) <= budget:
            break
    return text


def _lines_html(t: Translator, lines: ReportLines) -> str:
    """The rep's lines; the notes only when written (most reports are headed), the rest always."""
    return "\n".join(
        f"<b>{escape(t.gettext(reports.FIELD_LABELS[name]))}:</b> {escape(value) or '—'}"
        for name, value in lines.fields().items()
        if value or name != "notes"
    )


def _title(t: Translator, day: date) -> str:
    return "<b>" + t(N_("Daily report · {day}"), day=day.isoformat()) + "</b>"


def _past_note(t: Translator, draft: Draft) -> str:
    return t(
        N_(
            "This is the report for {day}, a past working day: it will be marked late, and once "
            "submitted it cannot be replaced."
        ),
        day=draft.day.isoformat(),
    )


def _closing(t: Translator, draft: Draft) -> str:
    if not draft.open and draft.past:
        return t(
            N_("The report for {day} is filed: a past day's report can no longer be replaced."),
            day=draft.day.isoformat(),
        )
    if not draft.open:
        return t(
            N_("Today's report closed at {cutoff}: it can no longer be submitted or replaced."),
            cutoff=f"{draft.cutoff:%H:%M}",
        )
    text = t(HOW_TO_WRITE)
    if draft.past:
        text += "\n" + _past_note(t, draft)
    elif draft.late_now:
        text += "\n" + t(
            N_("It is past {deadline}: the report will be marked late."), deadline=f"{draft.deadline:%H:%M}"
        )
    return text


def render_draft(t: Translator, draft: Draft) -> str:
    head, tail = _title(t, draft.day), _closing(t, draft)
    budget = MESSAGE_BUDGET - _length(head) - _length(tail) - 4
    return "\n\n".join((head, _records_html(t, draft, budget), tail))


def _submitted_line(t: Translator, draft: Draft) -> str:
    existing = draft.existing
    assert existing is not None
    when = (
        f"{existing.submitted_at:%H:%M}"
        if existing.submitted_at.date() == draft.day
        else f"{existing.submitted_at:%Y-%m-%d %H:%M}"
    )
    text = t(N_("Submitted at {time}."), time=when)
    if existing.late:
        text += " " + t(N_("Marked late."))
    return text


def _summary_html(t: Translator, summary: str, budget: int) -> str:
    """The stored records, line by line while they fit, then how many more there are."""
    lines = ["<b>" + t(N_("Records as submitted:")) + "</b>"]
    used = _length(lines[0])
    stored = summary.splitlines()
    for shown, line in enumerate(stored):
        escaped = escape(line)
        left = len(stored) - shown
        more = t.ngettext("…and {count} more line", "…and {count} more lines", left, count=left)
        if used + _length(escaped) + _length(more) + 2 > budget:
            return "\n".join([*lines, more])
        lines.append(escaped)
        used += _length(escaped) + 1
    return "\n".join(lines)


def render_existing(t: Translator, draft: Draft) -> str:
    existing = draft.existing
    assert existing is not None
    head = "\n".join((_title(t, draft.day), _submitted_line(t, draft), _lines_html(t, existing.lines)))
    tail = (
        t(
            N_(
                "To replace it, send your new lines before {cutoff} (today's records are taken again "
                "then), or /cancel to keep it."
            ),
            cutoff=f"{draft.cutoff:%H:%M}",
        )
        if draft.open
        else _closing(t, draft)
    )
    budget = MESSAGE_BUDGET - _length(head) - _length(tail) - 4
    return "\n\n".join((head, _summary_html(t, existing.summary, budget), tail))


def _counts(t: Translator, draft: Draft) -> str:
    if draft.quiet:
        return t(N_("No records that day.")) if draft.past else t(N_("No records today."))
    return t(
        N_(
            "Records: visits {visits} · orders {orders} · collections {collections} · "
            "new customers {prospects}"
        ),
        visits=len(draft.visits),
        orders=len(draft.orders),
        collections=len(draft.collections),
        prospects=len(draft.prospects),
    )


def render_preview(t: Translator, draft: Draft, lines: ReportLines) -> str:
    parts = [_title(t, draft.day), _counts(t, draft), _lines_html(t, lines)]
    notes = []
    if draft.existing is not None:
        notes.append(
            t(
                N_("This replaces the report you submitted at {time}."),
                time=f"{draft.existing.submitted_at:%H:%M}",
            )
        )
    if draft.past:
        notes.append(_past_note(t, draft))
    elif draft.late_now:
        notes.append(
            t(
                N_("It is past {deadline}: the report will be marked late."),
                deadline=f"{draft.deadline:%H:%M}",
            )
        )
    notes.append(t(N_("Submit it?")))
    return "\n\n".join([*parts, "\n".join(notes)])


def render_submitted(t: Translator, filed: report_loop.Filed, hours: ReportHours, today: date) -> str:
    outcome: Submitted = filed.submitted
    report = outcome.report
    values = {"day": report.day.isoformat(), "time": f"{report.submitted_at:%H:%M}"}
    first = (
        t(N_("✅ Daily report for {day} replaced at {time}."), **values)
        if outcome.replaced
        else t(N_("✅ Daily report for {day} submitted at {time}."), **values)
    )
    past = report.day != today
    if past:
        first += "\n" + t(N_("Marked late: it is a past day's report."))
    elif report.late:
        first += "\n" + t(N_("Marked late: the deadline is {deadline}."), deadline=f"{hours.deadline:%H:%M}")
    if filed.told:
        first += "\n" + t(N_("Sent to {names} now."), names=", ".join(filed.told))
    closing = (
        t(N_("It is final: a past day's report cannot be replaced."))
        if past
        else t(N_("You can replace it until {cutoff} with /report."), cutoff=f"{hours.cutoff:%H:%M}")
    )
    return "\n\n".join((first, _lines_html(t, report.lines), closing))


def preview_buttons(t: Translator, nonce: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t.gettext(N_("Submit")), callback_data=f"report:submit:{nonce}"),
                InlineKeyboardButton(t.gettext(N_("Edit")), callback_data=f"report:edit:{nonce}"),
                InlineKeyboardButton(t.gettext(N_("Cancel")), callback_data=f"report:cancel:{nonce}"),
            ]
        ]
    )


# -- the conversation -----------------------------------------------------------------------------


def _today(request: Request) -> date:
    return request.now.astimezone(request.context.runtime.clock.zone).date()


async def _file(request: Request, lines: ReportLines, day: date | None) -> None:
    hours = _hours(request)
    filed = await report_loop.file_report(
        request.session,
        request.me,
        lines,
        now=request.now,
        hours=hours,
        source_key=request.source_key,
        day=day,
    )
    request.reply(render_submitted(request.t, filed, hours, _today(request)))


@action()
async def start(request: Request) -> object:
    """``/report`` shows the draft and waits for lines; ``/report <text>`` submits at once.

    ``/report yesterday [text]`` does either for the previous working day; ``/report friday``,
    ``/report 周五: …`` or ``/report 12/4`` name the day (bot/services/reporting/dates.py).
    """
    past, text = split_past(_typed_after_command(request))
    day = await reports.past_day(request.session, now=request.now, hours=_hours(request)) if past else None
    if not past:
        day, text = split_day(text, _today(request))
    if not text:
        return await _show_draft(request, day)
    request.user_data.pop(PENDING, None)
    request.user_data.pop(WRITING_FOR, None)
    await _file(request, reports.parse_lines(text), day)
    return END


@action()
async def start_from_button(request: Request) -> object:
    """The reminder's "Write today's report" button: the same as ``/report``, in a new message."""
    return await _show_draft(request, None)


@action()
async def start_for_day(request: Request) -> object:
    """The morning plan's button for a missing past report: that day's draft (if still open)."""
    query = request.update.callback_query
    match = DAY_BUTTON.match(query.data or "") if query is not None else None
    assert match is not None  # the handler's pattern
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        request.toast = request.t.gettext(N_("This button has expired. Start again from the command."))
        return None
    return await _show_draft(request, day)


async def _show_draft(request: Request, day: date | None) -> object:
    data = request.user_data
    data.pop(PENDING, None)
    data.pop(WRITING_FOR, None)
    draft = await reports.draft(request.session, request.me, now=request.now, hours=_hours(request), day=day)
    request.reply(render_existing(request.t, draft) if draft.existing else render_draft(request.t, draft))
    if draft.past and draft.open:
        data[WRITING_FOR] = draft.day.isoformat()
    return WRITING if draft.open else END


def _writing_for(request: Request) -> date | None:
    value = request.user_data.get(WRITING_FOR)
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@action()
async def take_lines(request: Request) -> object:
    """The rep's text: parse it and show the preview with Submit / Edit / Cancel."""
    message = request.update.effective_message
    assert message is not None
    lines = reports.parse_lines(message.text or "")
    reports.check_lines(lines)
    draft = await reports.draft(
        request.session, request.me, now=request.now, hours=_hours(request), day=_writing_for(request)
    )
    if not draft.open:
        request.reply(_closing(request.t, draft))
        return END
    request.user_data[PENDING] = Pending(draft.day, lines, message.message_id)
    request.reply(render_preview(request.t, draft, lines), preview_buttons(request.t, message.message_id))
    return PREVIEW


def _pending_for(request: Request) -> Pending | None:
    """The lines behind the pressed preview, or None (and a toast) if it is not the newest one."""
    query = request.update.callback_query
    pending = request.user_data.get(PENDING)
    if (
        query is not None
        and isinstance(pending, Pending)
        and (query.data or "").endswith(f":{pending.nonce}")
    ):
        return pending
    request.toast = request.t.gettext(
        N_("This preview is out of date: use the newest one, or send /report again.")
    )
    return None


def _forget_pending(request: Request) -> None:
    data = request.user_data

    async def forget() -> None:
        data.pop(PENDING, None)
        data.pop(WRITING_FOR, None)

    request.after_commit.append(forget)


@action()
async def press_submit(request: Request) -> object:
    pending = _pending_for(request)
    if pending is None:
        return None
    hours = _hours(request)
    filed = await report_loop.file_report(
        request.session,
        request.me,
        pending.lines,
        now=request.now,
        hours=hours,
        source_key=request.source_key,
        day=pending.day,
    )
    request.edit(render_submitted(request.t, filed, hours, _today(request)))
    _forget_pending(request)
    return END


@action()
async def press_edit(request: Request) -> object:
    pending = _pending_for(request)
    if pending is None:
        return None
    t = request.t
    request.edit(
        t(N_("Send the corrected text. Your last version, to copy and change:"))
        + f"\n<pre>{escape(reports.format_lines(t, pending.lines))}</pre>"
    )
    return WRITING


@action()
async def press_cancel(request: Request) -> object:
    if _pending_for(request) is None:
        return None
    request.edit(request.t(N_("Report not submitted. Send /report when you are ready.")))
    _forget_pending(request)
    return END


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(PENDING, None)
    request.user_data.pop(WRITING_FOR, None)
    request.reply(request.t(N_("Report cancelled: nothing was submitted.")))
    return END


@action()
async def stale_press(request: Request) -> None:
    """A preview button after its conversation ended: a second tap on Submit, or an old preview."""
    query = request.update.callback_query
    submitted = await reports.todays_report(
        request.session, request.me, now=request.now, hours=_hours(request)
    )
    if submitted is not None and query is not None and (query.data or "").startswith("report:submit:"):
        request.toast = request.t.gettext(N_("Your report for today is already submitted."))
    else:
        request.toast = request.t.gettext(N_("This preview has expired. Send /report again."))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    typed = private & filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("report", start, private),
                CallbackQueryHandler(start_from_button, pattern=r"^report:start$"),
                CallbackQueryHandler(start_for_day, pattern=r"^report:day:\d{4}-\d{2}-\d{2}$"),
            ],
            states={
                WRITING: [MessageHandler(typed, take_lines)],
                PREVIEW: [
                    CallbackQueryHandler(press_submit, pattern=r"^report:submit:\d+$"),
                    CallbackQueryHandler(press_edit, pattern=r"^report:edit:\d+$"),
                    CallbackQueryHandler(press_cancel, pattern=r"^report:cancel:\d+$"),
                    MessageHandler(typed, take_lines),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            allow_reentry=True,
            conversation_timeout=CONVERSATION_TIMEOUT,
            name="report",
            persistent=True,
        )
    )
    application.add_handler(CallbackQueryHandler(stale_press, pattern=r"^report:"))
