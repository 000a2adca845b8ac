"""/summary, /team, /missing, /rep: team figures in the chat, paginated to fit a message.

Buttons (callback data, 64 bytes at most):

* ``sum:p:<period code>:<team id or 0>:<page>`` — a summary page; the Today / Week / Month
  buttons use the relative codes ``t``/``w``/``m`` (evaluated when pressed), the pager the
  anchored code of the period shown, so page 2 is the same period as page 1.
* ``sum:rep:<user id>:<period code>`` — one person's figures; the service re-checks the
  person against the presser's scope, so a forged button shows nothing.
* ``sum:photos:<user id>:<period code>`` — that person's latest photos of the period, as an
  album (re-checked the same way).
* ``sum:team:<page>``, ``sum:miss:<page>`` — /team and /missing pages; ``sum:nudge`` — remind
  every rep still missing today's report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import N_, Translator, echo, escape
from bot.services.errors import Invalid, NotFound, ServiceError
from bot.services.field import trust
from bot.services.money.amounts import format_amount
from bot.services.people.access import Permission
from bot.services.reporting import summaries
from bot.services.reporting.periods import (
    MONTH,
    RELATIVE_CODES,
    TODAY,
    WEEK,
    Period,
    parse_period,
    period_from_code,
)
from bot.services.reporting.reports import KIND_LABELS, ReportHours
from bot.services.reporting.summaries import Missing, RepFigures, RepLine, Summary, TeamDay
from bot.views import summaries as views, visit_extras as extras_view
from handlers.base import Request, action
from handlers.field import albums, plans as plan_flow
from handlers.paging import page_of, pager
from models import Role

#: Telegram allows 4096 characters (UTF-16 units); keep room for rough counting.
MESSAGE_BUDGET = 3900
REPS_PER_PAGE = 12
MISSING_PER_PAGE = 40
BUTTONS_PER_ROW = 3
BUTTON_NAME = 24
PERIOD_BUTTONS = ((TODAY, N_("Today")), (WEEK, N_("Week")), (MONTH, N_("Month")))


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _pages(lines: Sequence[str], first_budget: int, budget: int, per_page: int) -> list[list[int]]:
    """Split line indices into pages: each page's lines fit its budget, ``per_page`` at most."""
    pages: list[list[int]] = [[]]
    used = 0
    for index, line in enumerate(lines):
        room = first_budget if len(pages) == 1 else budget
        size = _length(line) + 1
        if pages[-1] and (used + size > room or len(pages[-1]) >= per_page):
            pages.append([])
            used = 0
        pages[-1].append(index)
        used += size
    return pages


def _today(request: Request) -> date:
    return request.context.runtime.clock.today()


# -- rendering: the figures -----------------------------------------------------------------------


def _rep_buttons(lines: Sequence[RepLine], code: str) -> list[list[InlineKeyboardButton]]:
    buttons = [
        InlineKeyboardButton(line.name[:BUTTON_NAME], callback_data=f"sum:rep:{line.rep_id}:{code}")
        for line in lines
    ]
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def _period_row(t: Translator, prefix: str, suffix: str = "") -> list[InlineKeyboardButton]:
    """Today / Week / Month, relative to the day the button is pressed."""
    return [
        InlineKeyboardButton(t.gettext(label), callback_data=f"{prefix}:{RELATIVE_CODES[kind]}{suffix}")
        for kind, label in PERIOD_BUTTONS
    ]


def render_summary(
    t: Translator,
    s: Summary,
    *,
    team_id: int,
    page: int,
    show_reps: bool,
    zone: ZoneInfo,
    today: date,
    plan_lines: Sequence[str] = (),
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of the summary: the figures on page 1 (and plan attainment), then as many rep lines
    as fit."""
    title = views.title(t, s)
    plan_part = ["", *plan_lines] if plan_lines else []
    head = "\n".join([title, "", *views.figures_html(t, s, own=not show_reps), *plan_part])
    rows: list[list[InlineKeyboardButton]] = [_period_row(t, "sum:p", f":{team_id}:1")]
    if not show_reps:
        return head, InlineKeyboardMarkup(rows)
    with_team = len({line.team for line in s.reps}) > 1
    rendered = [views.rep_line(t, line, zone, today, with_team) for line in s.reps]
    reserve = (
        _length(t(N_("People: {count} · page {page} of {pages}"), count=len(s.reps), page=999, pages=999)) + 8
    )
    pages = _pages(
        rendered,
        MESSAGE_BUDGET - _length(head) - reserve,
        MESSAGE_BUDGET - _length(title) - reserve,
        REPS_PER_PAGE,
    )
    page = min(max(page, 1), len(pages))
    shown = pages[page - 1]
    heading = (
        "<b>"
        + t(N_("People: {count} · page {page} of {pages}"), count=len(s.reps), page=page, pages=len(pages))
        + "</b>"
    )
    body = [rendered[i] for i in shown] or [t(N_("Nobody in this view."))]
    text = "\n".join([head if page == 1 else title, "", heading, *body])
    rows += _rep_buttons([s.reps[i] for i in shown], s.period.code)
    navigation = pager(t, f"sum:p:{s.period.code}:{team_id}", page, len(pages))
    if navigation is not None:
        rows += [list(row) for row in navigation.inline_keyboard]
    return text, InlineKeyboardMarkup(rows)


def render_rep(
    t: Translator, figures: RepFigures, zone: ZoneInfo, today: date, plan_lines: Sequence[str] = ()
) -> tuple[str, InlineKeyboardMarkup]:
    s, rep = figures.summary, figures.rep
    name = escape(rep.name) + (f" · {escape(rep.team)}" if rep.team else "")
    lines = [f"<b>{name}</b>", s.period.title(t), "", *views.figures_html(t, s)]
    own = next((line for line in s.reps if line.rep_id == rep.id), None)
    lines.append(
        t(N_("Last activity: {when}"), when=views.when(own.last_activity if own else None, zone, today))
    )
    if own is not None and own.flags.flagged:
        lines.append(escape(trust.describe_counts(t, own.flags)))
    if plan_lines:
        lines += ["", *plan_lines]
    lines += ["", "<b>" + t(N_("Latest visits")) + "</b>"]
    if not figures.latest_visits:
        lines.append(t(N_("No visits yet.")))
    for visit in figures.latest_visits:
        parts = [
            f"{visit.at.astimezone(zone):%m-%d %H:%M}",
            escape(visit.customer),
            escape(t.gettext(KIND_LABELS[visit.kind])),
        ]
        if visit.note:
            parts.append(escape(visit.note))
        if visit.flags:
            parts.append(escape(trust.describe(t, visit.flags, visit.late_hours)))
        if visit.edited:  # changed by the rep after saving (bot/services/field/visit_edits.py)
            parts.append("✏️ " + escape(t.gettext(N_("edited"))))
        lines.append("• " + " · ".join(parts))
    lines += _within(t, _rep_extras(t, figures, zone), MESSAGE_BUDGET - _length("\n".join(lines)))
    rows = [
        _period_row(t, f"sum:rep:{rep.id}"),
        [InlineKeyboardButton(t.gettext(N_("‹ Summary")), callback_data=f"sum:p:{s.period.code}:0:1")],
    ]
    if figures.photos:
        rows.insert(
            1,
            [
                InlineKeyboardButton(
                    t.gettext(extras_view.PHOTO_BUTTON).format(count=figures.photos),
                    callback_data=f"sum:photos:{rep.id}:{s.period.code}",
                )
            ],
        )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _within(t: Translator, lines: list[str], budget: int) -> list[str]:
    """As many of ``lines`` as fit in ``budget`` (long names everywhere could overflow a message)."""
    more = t(N_("…more in /export"))
    kept: list[str] = []
    used = 0
    for line in lines:
        used += _length(line) + 1
        if used > budget - _length(more) - 1:
            return [*kept, more]
        kept.append(line)
    return kept


def _rep_extras(t: Translator, figures: RepFigures, zone: ZoneInfo) -> list[str]:
    """What the person's visits brought back: stock counts, open shortfalls, feedback, photos."""
    lines: list[str] = []
    sections = (
        extras_view.stock_section(
            t, figures.stock, zone, title=t(N_("Latest stock counts")), with_customer=True
        ),
        extras_view.shortfalls_section(
            t,
            figures.shortfalls,
            zone,
            title="⚠️ <b>"
            + t(N_("Open stock shortfalls at their customers: {count}"), count=figures.shortfalls.total)
            + "</b>",
        ),
        extras_view.feedback_section(
            t,
            figures.feedback,
            zone,
            title=t(N_("Market feedback of the period, latest on each topic")),
            by_customer=True,
        ),
    )
    for section in sections:
        if section:
            lines += ["", *section]
    if figures.photos:
        lines += ["", "📷 " + t(N_("Photos of the period: {count}"), count=figures.photos)]
    if figures.km_by_month:
        lines += ["", "🚗 <b>" + t(N_("Kilometres by month")) + "</b>"]
        for month, km, count in figures.km_by_month:
            label, driven = month.strftime("%Y-%m"), format(km, ",")
            lines.append(
                "• "
                + t.ngettext(
                    "{month}: {km} km ({count} trip)",
                    "{month}: {km} km ({count} trips)",
                    count,
                    month=label,
                    km=driven,
                    count=count,
                )
            )
    return lines


def _report_status(t: Translator, line: RepLine, zone: ZoneInfo, today: date, working_day: bool) -> str:
    if line.reports:
        status = t(N_("report ✓ {time}"), time=views.when(line.last_report_at, zone, today))
        return status + (" " + t(N_("(late)")) if line.reports_late else "")
    if line.active_rep and working_day:
        return t(N_("report missing"))
    return t(N_("no report due"))


def render_team(
    t: Translator, team: TeamDay, page: int, zone: ZoneInfo
) -> tuple[str, InlineKeyboardMarkup | None]:
    title = "<b>" + t(N_("Today at a glance · {day}"), day=team.day.isoformat()) + "</b>"
    if not team.working_day:
        title += "\n" + t(N_("Today is not a working day."))
    with_team = len({line.team for line in team.reps}) > 1
    rendered = []
    for line in team.reps:
        where = f" ({escape(line.team)})" if with_team and line.team else ""
        figures = t(
            N_("visits {visits} · collected {collected} · {report} · last {last}"),
            visits=line.visits,
            collected=format_amount(line.collected),
            report=_report_status(t, line, zone, team.day, team.working_day),
            last=views.when(line.last_activity, zone, team.day),
        )
        rendered.append(f"• <b>{escape(line.name)}</b>{where} — {figures}")
    pages = _pages(
        rendered, MESSAGE_BUDGET - _length(title) - 40, MESSAGE_BUDGET - _length(title) - 40, REPS_PER_PAGE
    )
    page = min(max(page, 1), len(pages))
    shown = pages[page - 1]
    body = [rendered[i] for i in shown] or [t(N_("Nobody in this view."))]
    footer = [t(N_("Page {page} of {pages}"), page=page, pages=len(pages))] if len(pages) > 1 else []
    rows = _rep_buttons([team.reps[i] for i in shown], "t")
    navigation = pager(t, "sum:team", page, len(pages))
    if navigation is not None:
        rows += [list(row) for row in navigation.inline_keyboard]
    return "\n".join([title, "", *body, *footer]), InlineKeyboardMarkup(rows) if rows else None


def render_missing(
    t: Translator, missing: Missing, page: int, may_nudge: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    day = missing.day.isoformat()
    if not missing.working_day:
        return t(N_("Today ({day}) is not a working day: no report is expected."), day=day), None
    if not missing.reps:
        return t(N_("Everyone has reported today ({day})."), day=day), None
    title = (
        "<b>" + t(N_("Not reported yet today ({day}): {count}"), day=day, count=len(missing.reps)) + "</b>"
    )
    rendered = []
    for rep in missing.reps:
        where = f" ({escape(rep.team)})" if rep.team else ""
        unreachable = " — " + t(N_("has not opened the bot")) if not rep.reachable else ""
        rendered.append(f"• {escape(rep.name)}{where}{unreachable}")
    pages = _pages(
        rendered, MESSAGE_BUDGET - _length(title) - 40, MESSAGE_BUDGET - _length(title) - 40, MISSING_PER_PAGE
    )
    page = min(max(page, 1), len(pages))
    body = [rendered[i] for i in pages[page - 1]]
    footer = [t(N_("Page {page} of {pages}"), page=page, pages=len(pages))] if len(pages) > 1 else []
    rows: list[list[InlineKeyboardButton]] = []
    if may_nudge:
        rows.append([InlineKeyboardButton(t.gettext(N_("Nudge them now")), callback_data="sum:nudge")])
    navigation = pager(t, "sum:miss", page, len(pages))
    if navigation is not None:
        rows += [list(row) for row in navigation.inline_keyboard]
    return "\n".join([title, "", *body, *footer]), InlineKeyboardMarkup(rows) if rows else None


# -- parsing --------------------------------------------------------------------------------------


async def _period_and_team(request: Request, text: str) -> tuple[Period, int | None]:
    """``[period] [team]`` in either order; a lone word that is no period may be a team."""
    today = _today(request)
    try:
        return parse_period(text, today), None
    except Invalid as error:
        problem = error
    words = text.split()
    splits = [(words[0], " ".join(words[1:])), (words[-1], " ".join(words[:-1]))] if len(words) > 1 else []
    for period_text, team_text in splits:
        try:
            period = parse_period(period_text, today)
        except Invalid:
            continue
        return period, await summaries.find_team(request.session, request.me, team_text)
    if request.me.role != Role.REP:
        try:
            return parse_period(None, today), await summaries.find_team(request.session, request.me, text)
        except ServiceError:
            pass
    raise problem


def _callback_parts(request: Request) -> list[str]:
    query = request.update.callback_query
    return (query.data or "").split(":") if query else []


# -- handlers -------------------------------------------------------------------------------------


async def _show_summary(request: Request, period: Period, team_id: int | None, page: int, edit: bool) -> None:
    s = await summaries.summary(
        request.session, request.me, period, request.zone, _today(request), team_id=team_id
    )
    text, markup = render_summary(
        request.t,
        s,
        team_id=team_id or 0,
        page=page,
        show_reps=request.me.role != Role.REP,
        zone=request.zone,
        today=_today(request),
        plan_lines=await plan_flow.plan_lines(request, period, team_id=team_id) if page == 1 else (),
    )
    (request.edit if edit else request.reply)(text, markup)


@action(report=True)
async def summary(request: Request) -> None:
    period, team_id = await _period_and_team(request, request.text_after_command)
    await _show_summary(request, period, team_id, 1, edit=False)


@action(report=True)
async def summary_page(request: Request) -> None:
    _sum, _p, code, team, page = _callback_parts(request)
    period = period_from_code(code, _today(request))
    await _show_summary(request, period, int(team) or None, int(page), edit=True)


async def _show_rep(request: Request, rep_id: int, period: Period, edit: bool) -> None:
    figures = await summaries.rep_figures(
        request.session, request.me, rep_id, period, request.zone, _today(request)
    )
    plan_lines = await plan_flow.plan_lines(request, period, rep_id=figures.rep.id)
    text, markup = render_rep(request.t, figures, request.zone, _today(request), plan_lines)
    (request.edit if edit else request.reply)(text, markup)


@action(report=True)
async def rep_card(request: Request) -> None:
    _sum, _rep, rep_id, code = _callback_parts(request)
    await _show_rep(request, int(rep_id), period_from_code(code, _today(request)), edit=True)


@action()
async def rep_photos(request: Request) -> None:
    """The drill-down's "📷 Photos" button: the person's latest photos of the period, as an album."""
    _sum, _photos, rep_id, code = _callback_parts(request)
    album = await summaries.rep_photos(
        request.session, request.me, int(rep_id), period_from_code(code, _today(request)), request.zone
    )
    albums.send_album(request, album, albums.at_customer(request.zone))


@action(report=True)
async def rep(request: Request) -> None:
    text = request.text_after_command
    if not text:
        request.reply(request.t(N_("Usage: /rep NAME [PERIOD], e.g. /rep Li Wei week")))
        return
    period = parse_period(None, _today(request))
    words = text.split()
    if len(words) > 1:
        try:
            period = parse_period(words[-1], _today(request))
            text = " ".join(words[:-1])
        except Invalid:
            pass
    matches = await summaries.find_reps(request.session, request.me, text)
    if not matches:
        raise NotFound(N_("Nobody in your view matches {query}."), query=echo(text))
    if len(matches) == 1:
        await _show_rep(request, matches[0].id, period, edit=False)
        return
    rows = [
        [
            InlineKeyboardButton(
                (person.name + (f" · {person.team}" if person.team else ""))[:60],
                callback_data=f"sum:rep:{person.id}:{period.code}",
            )
        ]
        for person in matches
    ]
    request.reply(
        request.t(N_("Several people match {query}. Which one?"), query=echo(text)),
        InlineKeyboardMarkup(rows),
    )


async def _show_team(request: Request, page: int, edit: bool) -> None:
    team = await summaries.team_today(request.session, request.me, request.zone, _today(request))
    text, markup = render_team(request.t, team, page, request.zone)
    (request.edit if edit else request.reply)(text, markup)


@action(report=True)
async def team(request: Request) -> None:
    await _show_team(request, 1, edit=False)


@action(report=True)
async def team_page(request: Request) -> None:
    query = request.update.callback_query
    await _show_team(request, page_of(query.data if query else None), edit=True)


async def _show_missing(request: Request, page: int, edit: bool) -> None:
    missing = await summaries.missing_reports(request.session, request.me, _today(request))
    text, markup = render_missing(request.t, missing, page, request.me.can(Permission.NUDGE))
    (request.edit if edit else request.reply)(text, markup)


@action()
async def missing(request: Request) -> None:
    await _show_missing(request, 1, edit=False)


@action()
async def missing_page(request: Request) -> None:
    query = request.update.callback_query
    await _show_missing(request, page_of(query.data if query else None), edit=True)


@action()
async def nudge(request: Request) -> None:
    runtime = request.context.runtime
    hours = ReportHours(runtime.clock.zone, runtime.settings.report_deadline, runtime.settings.report_cutoff)
    done = await summaries.nudge(
        request.session, request.me, today=_today(request), now=request.now, hours=hours
    )
    t = request.t
    if not done.missing:
        text = t(N_("Everyone has reported today: nobody to nudge."))
    else:
        parts = [t(N_("Reminders sent: {count}."), count=done.queued)] if done.queued else []
        if done.already:
            parts.append(
                t(N_("{count} had already been nudged today: no second reminder."), count=done.already)
            )
        if done.unreachable:
            parts.append(
                t.ngettext(
                    "{count} has not opened the bot and cannot be reached.",
                    "{count} have not opened the bot and cannot be reached.",
                    done.unreachable,
                    count=done.unreachable,
                )
            )
        text = " ".join(parts)
    request.toast = t.gettext(N_("Done."))
    request.reply(text)


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("summary", summary, private))
    application.add_handler(CommandHandler("team", team, private))
    application.add_handler(CommandHandler("missing", missing, private))
    application.add_handler(CommandHandler("rep", rep, private))
    application.add_handler(
        CallbackQueryHandler(summary_page, pattern=r"^sum:p:[\w.-]{1,20}:\d{1,12}:\d{1,4}$")
    )
    application.add_handler(CallbackQueryHandler(rep_card, pattern=r"^sum:rep:\d{1,12}:[\w.-]{1,20}$"))
    application.add_handler(CallbackQueryHandler(rep_photos, pattern=r"^sum:photos:\d{1,12}:[\w.-]{1,20}$"))
    application.add_handler(CallbackQueryHandler(team_page, pattern=r"^sum:team:\d{1,4}$"))
    application.add_handler(CallbackQueryHandler(missing_page, pattern=r"^sum:miss:\d{1,4}$"))
    application.add_handler(CallbackQueryHandler(nudge, pattern=r"^sum:nudge$"))
