"""The daily work report (工作日報表): today's records, the rep's own lines, one report a day.

Rules decided here (the issue left them open):

* **Today** is the company's local date; a record belongs to it by its local
  time (visits ``visited_at``, collections ``received_at``, prospects
  ``created_at``) or, for orders, by ``issued_on``. Collections count when the
  rep received them (``rep_id``), reversals and reversed ones left out.
* **One report per rep per day.** Submitting again before the cut-off replaces
  the day's row (new lines, a fresh summary, the new ``source_key``); at or
  after the cut-off — or once the day is over — the day is closed.
* **A report for a past day** (``/report yesterday``, or the morning plan's
  button): only the previous working day's, only while it is missing, and only
  until that next working day is over; it is always late and, once filed,
  final. The regulations want the report day by day (part 4, art. 29): one
  missed day is caught up the next morning, an older gap is the manager's to
  take up, not something to backfill.
* **Late is sticky.** A report is late when it is submitted after the deadline;
  a replacement after the deadline makes it late, and replacing a late report
  never clears the mark (the manager got nothing complete on time).
* **The summary** is the day's records rendered as plain text in the rep's
  language at submission, so the stored report stays a record of the day.
* **The rep's lines**: text before any heading is the report's notes (a one-line
  report is all notes); a heading (``Problems:``/``问题：``, ``Market:``/``市场：``,
  ``Plan:``/``明日计划：``, ``Notes:``/``备注：`` and a few synonyms, with a
  half-width or full-width colon) starts a section that runs until the next heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, Translator
from bot.services import audit, company
from bot.services.company import CompanySettings
from bot.services.errors import Conflict, Invalid
from bot.services.field.customers import first_line
from bot.services.field.trust import Flag
from bot.services.money import payment_methods
from bot.services.money.amounts import format_amount
from bot.services.people.access import Caller, Permission, require
from models import (
    AuditLog,
    Collection,
    Customer,
    CustomerStatus,
    DailyReport,
    Money,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Visit,
    VisitKind,
)

ZERO = Decimal("0.00")
#: The rep's own lines together, counted as Telegram counts (UTF-16 units): the regulations
#: ask for a brief report, and the preview must fit one message with room for the rest.
MAX_OWN_TEXT = 3000
NOTE_LINE_LIMIT = 120
HELD_METHODS = payment_methods.HELD_METHODS
SUBMIT, REPLACE = "report.submit", "report.replace"

KIND_LABELS: dict[VisitKind, str] = {
    VisitKind.VISIT: N_("on-site visit"),
    VisitKind.CALL: N_("phone call"),
    VisitKind.STOCK_CHECK: N_("stock check"),
}
METHOD_LABELS = payment_methods.LABELS
#: Headings shown to the rep (and written back when they edit), in this order; each parses again.
FIELD_LABELS = {
    "notes": N_("Notes"),
    "problems": N_("Problems met"),
    "market_info": N_("Market information"),
    "plan_tomorrow": N_("Plan for tomorrow"),
}


@dataclass(frozen=True)
class ReportHours:
    """The company's clock rules for reports: its zone, the deadline and the cut-off."""

    zone: ZoneInfo
    deadline: time
    cutoff: time


@dataclass(frozen=True)
class ReportLines:
    """What the rep writes themselves."""

    problems: str = ""
    market_info: str = ""
    plan_tomorrow: str = ""
    #: Text before any heading.
    notes: str = ""

    @property
    def empty(self) -> bool:
        return not any(self.fields().values())

    def fields(self) -> dict[str, str]:
        """By column name, in the order shown (:data:`FIELD_LABELS`)."""
        return {
            "notes": self.notes,
            "problems": self.problems,
            "market_info": self.market_info,
            "plan_tomorrow": self.plan_tomorrow,
        }


@dataclass(frozen=True)
class VisitLine:
    at: datetime  # local time
    customer: str
    kind: VisitKind
    note: str  # first line of the notes
    far_away: bool
    #: The visit's id (its ✏️ Edit button on /today), and whether its rep changed it after saving.
    visit_id: int | None = None
    edited: bool = False
    #: Trust flags, for the manager's views (bot/services/field/trust.py); left out where unread.
    flags: tuple[Flag, ...] = ()
    #: Hours between the visit's earliest message and its save, when it is flagged logged late.
    late_hours: int = 0


@dataclass(frozen=True)
class OrderLine:
    invoice_no: str
    customer: str
    amount: Decimal


@dataclass(frozen=True)
class CollectionLine:
    customer: str
    amount: Decimal
    method: PaymentMethod
    receipt_no: str | None
    held: bool  # cash or cheque not yet confirmed by finance


@dataclass(frozen=True)
class ProspectLine:
    name: str
    code: str


@dataclass(frozen=True)
class SubmittedReport:
    day: date
    submitted_at: datetime  # local time
    late: bool
    summary: str
    lines: ReportLines
    id: int


@dataclass(frozen=True)
class Draft:
    """A day's records for one rep (today's, or the previous working day's), and where the day's
    report stands."""

    day: date
    visits: tuple[VisitLine, ...]
    orders: tuple[OrderLine, ...]
    collections: tuple[CollectionLine, ...]
    collected_by_method: tuple[tuple[PaymentMethod, Decimal], ...]
    held_total: Decimal
    prospects: tuple[ProspectLine, ...]
    existing: SubmittedReport | None
    #: A report can still be submitted (or replaced): today's before the cut-off, a past day's
    #: while it is missing.
    open: bool
    #: Submitting now would mark the report late.
    late_now: bool
    deadline: time
    cutoff: time
    #: A past day's report (``/report yesterday``): late, and final once filed.
    past: bool = False

    @property
    def quiet(self) -> bool:
        """No records at all that day (an office day, say)."""
        return not (self.visits or self.orders or self.collections or self.prospects)

    @property
    def far_away_visits(self) -> int:
        return sum(1 for visit in self.visits if visit.far_away)

    @property
    def orders_total(self) -> Decimal:
        return sum((order.amount for order in self.orders), ZERO)

    @property
    def collected_total(self) -> Decimal:
        return sum((amount for _method, amount in self.collected_by_method), ZERO)


@dataclass(frozen=True)
class Submitted:
    report: SubmittedReport
    replaced: bool


@dataclass(frozen=True)
class Section:
    """One block of the summary: a heading line and its item lines, plain text."""

    heading: str
    items: tuple[str, ...]


# -- the rep's lines ------------------------------------------------------------------------------

_ALIASES: dict[str, tuple[str, ...]] = {
    "notes": (
        "notes",
        "note",
        "work done",
        "备注",
        "備註",
        "今日工作",
        "今天工作",
        "工作内容",
        "工作內容",
        "工作总结",
        "工作總結",
    ),
    "problems": (
        "problems met",
        "problems",
        "problem",
        "issues",
        "issue",
        "遇到的问题",
        "遇到的問題",
        "存在问题",
        "问题",
        "問題",
        "困难",
        "困難",
    ),
    "market_info": (
        "market information",
        "market info",
        "market feedback",
        "market",
        "市场信息",
        "市场情况",
        "市场反馈",
        "市场",
        "市場信息",
        "市場情況",
        "市場反饋",
        "市場",
    ),
    "plan_tomorrow": (
        "plan for tomorrow",
        "tomorrow's plan",
        "tomorrow’s plan",
        "tomorrow",
        "plan",
        "明日计划",
        "明天计划",
        "明日計劃",
        "明天計劃",
        "明天",
        "明日",
        "计划",
        "計劃",
    ),
}


def _longest_first(aliases: tuple[str, ...]) -> str:
    return "|".join(re.escape(alias) for alias in sorted(aliases, key=len, reverse=True))


#: Colons a heading may end with: half-width, full-width, and the small and vertical forms.
_COLONS = ":：﹕︰"
#: Any alias followed by a colon (spaces between allowed, an ideographic one too, but no line
#: break); the named group that matched says which field.
_HEADING = re.compile(
    "(?:"
    + "|".join(f"(?P<{field}>{_longest_first(aliases)})" for field, aliases in _ALIASES.items())
    + rf")[^\S\n]*[{_COLONS}]",
    re.IGNORECASE,
)


def starts_with_heading(text: str) -> bool:
    """Whether ``text`` begins with a heading of the report (``明天：``, ``Problems:``)."""
    return _HEADING.match(text.lstrip()) is not None


#: Punctuation after which a heading may follow on the same line ("none; Market: …").
_SEPARATORS = ";；。.,，|" + _COLONS
_LINE_LEAD = re.compile(r"[\s•*·-]*")
_EDGES = re.compile(r"^[\s;；,，|]+|[\s;；,，|]+$")


def _heading_start(text: str, match: re.Match[str]) -> int | None:
    """Where the heading ``match`` begins (its bullet included), or None if it is just text.

    A heading starts a line, follows a separator or another heading's colon, or follows a
    space when it cannot be prose (a Chinese heading, or a capitalised English one:
    "none Market: …", not "the plan: …").
    """
    before = text[: match.start()]
    line = before.rsplit("\n", 1)[-1]
    if _LINE_LEAD.fullmatch(line):
        return match.start() - len(line)
    if not (before[-1].isspace() or before[-1] in _SEPARATORS):
        return None  # inside a word: "replan:", "说明天："
    alias = match.group(match.lastgroup or 0)
    if before.rstrip()[-1] in _SEPARATORS or not alias.isascii() or alias[0].isupper():
        return match.start()
    return None


def segments(text: str) -> list[tuple[str, str]]:
    """(field, text) in the order written; text before any heading belongs to the notes."""
    found: list[tuple[str, str]] = []
    field, start = "notes", 0
    for match in _HEADING.finditer(text):
        begins = _heading_start(text, match)
        if begins is None:
            continue
        found.append((field, text[start:begins]))
        field, start = match.lastgroup or "notes", match.end()
    found.append((field, text[start:]))
    return [(name, _EDGES.sub("", piece)) for name, piece in found]


def parse_lines(text: str) -> ReportLines:
    """Split free text into problems, market information and plan (see the module doc).

    A heading used twice adds its text on a new line.
    """
    parts: dict[str, list[str]] = {field: [] for field in _ALIASES}
    for field, piece in segments(text):
        if piece:
            parts[field].append(piece)
    return ReportLines(**{field: "\n".join(pieces) for field, pieces in parts.items()})


def format_lines(t: Translator, lines: ReportLines) -> str:
    """The lines written back with their headings, ready to copy, edit and send again."""
    return "\n".join(
        f"{t.gettext(FIELD_LABELS[name])}: {value}" for name, value in lines.fields().items() if value
    )


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_lines(lines: ReportLines) -> None:
    """Refuse a report with no lines of the rep's own, or one far longer than brief."""
    if lines.empty:
        raise Invalid(
            N_("Write at least one line: problems met, market information or your plan for tomorrow.")
        )
    length = sum(_utf16_length(value) for value in lines.fields().values())
    if length > MAX_OWN_TEXT:
        raise Invalid(
            N_("Your report is {length} characters long; keep it under {limit}."),
            length=length,
            limit=MAX_OWN_TEXT,
        )


# -- today's records ------------------------------------------------------------------------------


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` begins and ends in the company's zone."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def _visits(
    session: AsyncSession, rep_id: int, start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[VisitLine, ...]:
    rows = await session.execute(
        select(
            Visit.visited_at,
            Customer.name,
            Visit.kind,
            Visit.notes,
            Visit.far_away,
            Visit.id,
            Visit.edited_at,
        )
        .join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.rep_id == rep_id, Visit.visited_at >= start, Visit.visited_at < end)
        .order_by(Visit.visited_at, Visit.id)
    )
    return tuple(
        VisitLine(
            at.astimezone(zone),
            name,
            kind,
            first_line(notes or "", NOTE_LINE_LIMIT),
            far,
            visit_id=visit_id,
            edited=edited_at is not None,
        )
        for at, name, kind, notes, far, visit_id, edited_at in rows
    )


async def _orders(session: AsyncSession, rep_id: int, day: date) -> tuple[OrderLine, ...]:
    rows = await session.execute(
        select(Receivable.invoice_no, Customer.name, Receivable.amount)
        .join(Customer, Customer.id == Receivable.customer_id)
        .where(
            Receivable.rep_id == rep_id,
            Receivable.source == ReceivableSource.ORDER,
            Receivable.issued_on == day,
            Receivable.voided_at.is_(None),
        )
        .order_by(Receivable.created_at, Receivable.id)
    )
    return tuple(OrderLine(invoice, name, amount) for invoice, name, amount in rows)


def _standing_collections(rep_id: int, start: datetime, end: datetime) -> Any:
    """The rep's collections received in [start, end) that are neither reversals nor reversed."""
    reversal = aliased(Collection)
    return (
        select()
        .select_from(Collection)
        .outerjoin(reversal, reversal.reverses_id == Collection.id)
        .where(
            Collection.rep_id == rep_id,
            Collection.received_at >= start,
            Collection.received_at < end,
            Collection.reverses_id.is_(None),
            reversal.id.is_(None),
        )
    )


def _held() -> Any:
    return and_(Collection.method.in_(HELD_METHODS), Collection.handed_in_at.is_(None))


async def _collections(
    session: AsyncSession, rep_id: int, start: datetime, end: datetime
) -> tuple[tuple[CollectionLine, ...], tuple[tuple[PaymentMethod, Decimal], ...], Decimal]:
    standing = _standing_collections(rep_id, start, end)
    rows = await session.execute(
        standing.add_columns(
            Customer.name,
            Collection.amount,
            Collection.method,
            Collection.receipt_no,
            case((_held(), True), else_=False),
        )
        .join(Customer, Customer.id == Collection.customer_id)
        .order_by(Collection.received_at, Collection.id)
    )
    lines = tuple(
        CollectionLine(name, amount, method, receipt, bool(held))
        for name, amount, method, receipt, held in rows
    )
    totals = await session.execute(
        standing.add_columns(
            Collection.method,
            type_coerce(func.sum(Collection.amount), Money()),
            type_coerce(func.sum(case((_held(), Collection.amount), else_=0)), Money()),
        ).group_by(Collection.method)
    )
    by_method: dict[PaymentMethod, Decimal] = {}
    held_total = ZERO
    for method, amount, held in totals:
        by_method[method] = amount or ZERO
        held_total += held or ZERO
    ordered = tuple((method, by_method[method]) for method in PaymentMethod if method in by_method)
    return lines, ordered, held_total


async def _prospects(
    session: AsyncSession, rep_id: int, start: datetime, end: datetime
) -> tuple[ProspectLine, ...]:
    rows = await session.execute(
        select(Customer.name, Customer.code)
        .where(
            Customer.rep_id == rep_id,
            Customer.status == CustomerStatus.PROSPECT,
            Customer.created_at >= start,
            Customer.created_at < end,
        )
        .order_by(Customer.created_at, Customer.id)
    )
    return tuple(ProspectLine(name, code) for name, code in rows)


def stored_lines(row: DailyReport) -> ReportLines:
    return ReportLines(row.problems, row.market_info, row.plan_tomorrow, row.notes)


def _submitted(row: DailyReport, zone: ZoneInfo) -> SubmittedReport:
    return SubmittedReport(
        row.day, row.submitted_at.astimezone(zone), row.late, row.summary, stored_lines(row), row.id
    )


async def _report_of(session: AsyncSession, rep_id: int, day: date) -> DailyReport | None:
    return await session.scalar(
        select(DailyReport).where(DailyReport.rep_id == rep_id, DailyReport.day == day)
    )


async def _gather(
    session: AsyncSession,
    caller: Caller,
    day: date,
    now: datetime,
    hours: ReportHours,
    existing: DailyReport | None,
    *,
    past: bool = False,
) -> Draft:
    local = now.astimezone(hours.zone)
    start, end = _day_bounds(day, hours.zone)
    collections, by_method, held_total = await _collections(session, caller.id, start, end)
    return Draft(
        day=day,
        visits=await _visits(session, caller.id, start, end, hours.zone),
        orders=await _orders(session, caller.id, day),
        collections=collections,
        collected_by_method=by_method,
        held_total=held_total,
        prospects=await _prospects(session, caller.id, start, end),
        existing=_submitted(existing, hours.zone) if existing is not None else None,
        open=existing is None if past else local.time() < hours.cutoff,
        late_now=past or local.time() > hours.deadline,
        deadline=hours.deadline,
        cutoff=hours.cutoff,
        past=past,
    )


def previous_working_day(today: date, settings: CompanySettings) -> date:
    """The last working day before ``today`` (within a month; days off and holidays skipped)."""
    day = today - timedelta(days=1)
    for _ in range(30):
        if settings.is_working_day(day):
            return day
        day -= timedelta(days=1)
    return day


async def past_day(session: AsyncSession, *, now: datetime, hours: ReportHours) -> date:
    """The one past day whose report may still be filed: the previous working day."""
    return previous_working_day(now.astimezone(hours.zone).date(), await company.load(session))


async def _is_past(session: AsyncSession, day: date, *, now: datetime, hours: ReportHours) -> bool:
    """Whether ``day`` is the previous working day (True) or today (False); any other day is closed."""
    today = now.astimezone(hours.zone).date()
    if day == today:
        return False
    allowed = await past_day(session, now=now, hours=hours)
    if day != allowed:
        raise Conflict(
            N_(
                "The report for {day} is closed: only today's and the previous working day's "
                "({allowed}) can be filed."
            ),
            day=day.isoformat(),
            allowed=allowed.isoformat(),
        )
    return True


async def draft(
    session: AsyncSession, caller: Caller, *, now: datetime, hours: ReportHours, day: date | None = None
) -> Draft:
    """The records of ``day`` (default today; else the previous working day) for the caller, with
    that day's report if they already submitted one."""
    require(caller, Permission.FILE_REPORT)
    day = day or now.astimezone(hours.zone).date()
    past = await _is_past(session, day, now=now, hours=hours)
    existing = await _report_of(session, caller.id, day)
    return await _gather(session, caller, day, now, hours, existing, past=past)


async def todays_report(
    session: AsyncSession, caller: Caller, *, now: datetime, hours: ReportHours
) -> SubmittedReport | None:
    require(caller, Permission.FILE_REPORT)
    row = await _report_of(session, caller.id, now.astimezone(hours.zone).date())
    return _submitted(row, hours.zone) if row is not None else None


# -- the summary ----------------------------------------------------------------------------------


def _clock(moment: datetime | time) -> str:
    return f"{moment:%H:%M}"


def _when(local: datetime, day: date) -> str:
    """A local moment as seen from ``day``: its time that day, else its date and time."""
    return f"{local:%H:%M}" if local.date() == day else f"{local:%Y-%m-%d %H:%M}"


def summary_sections(t: Translator, draft: Draft) -> list[Section]:
    """The day's records as plain-text sections (translated, not escaped); empty on a quiet day."""
    sections = []
    if draft.visits:
        heading = (
            t.gettext(N_("Visits: {count}, {far} far from the customer")).format(
                count=len(draft.visits), far=draft.far_away_visits
            )
            if draft.far_away_visits
            else t.gettext(N_("Visits: {count}")).format(count=len(draft.visits))
        )
        items = []
        for visit in draft.visits:
            parts = [f"{_clock(visit.at)} {visit.customer}", t.gettext(KIND_LABELS[visit.kind])]
            if visit.note:
                parts.append(visit.note)
            if visit.far_away:
                parts.append(t.gettext(N_("far away")))
            items.append(" · ".join(parts))
        sections.append(Section(heading, tuple(items)))
    if draft.orders:
        sections.append(
            Section(
                t.gettext(N_("Orders: {count}, total {total}")).format(
                    count=len(draft.orders), total=format_amount(draft.orders_total)
                ),
                tuple(f"{o.invoice_no} · {o.customer} · {format_amount(o.amount)}" for o in draft.orders),
            )
        )
    if draft.collections:
        methods = ", ".join(
            f"{t.gettext(METHOD_LABELS[m])} {format_amount(a)}" for m, a in draft.collected_by_method
        )
        heading = t.gettext(N_("Collections: {count}, total {total} ({methods})")).format(
            count=len(draft.collections), total=format_amount(draft.collected_total), methods=methods
        )
        if draft.held_total:
            heading += "; " + t.gettext(N_("still held: {amount}")).format(
                amount=format_amount(draft.held_total)
            )
        items = []
        for c in draft.collections:
            parts = [c.customer, format_amount(c.amount), t.gettext(METHOD_LABELS[c.method])]
            if c.receipt_no:
                parts.append(t.gettext(N_("receipt {number}")).format(number=c.receipt_no))
            if c.held:
                parts.append(t.gettext(N_("held")))
            items.append(" · ".join(parts))
        sections.append(Section(heading, tuple(items)))
    if draft.prospects:
        sections.append(
            Section(
                t.gettext(N_("New customers: {count}")).format(count=len(draft.prospects)),
                tuple(f"{p.name} ({p.code})" for p in draft.prospects),
            )
        )
    return sections


def summary_text(t: Translator, draft: Draft) -> str:
    """Everything, plain text: what the stored report keeps."""
    sections = summary_sections(t, draft)
    if not sections and draft.past:
        return t.gettext(N_("No visits, orders, collections or new customers that day."))
    if not sections:
        return t.gettext(N_("No visits, orders, collections or new customers today."))
    return "\n".join(line for s in sections for line in (s.heading, *(f"- {item}" for item in s.items)))


# -- submitting -----------------------------------------------------------------------------------


def _as_audit(row: DailyReport) -> dict[str, Any]:
    return {
        "day": row.day.isoformat(),
        "submitted_at": row.submitted_at.isoformat(),
        "late": row.late,
        "summary": row.summary,
        "notes": row.notes,
        "problems": row.problems,
        "market_info": row.market_info,
        "plan_tomorrow": row.plan_tomorrow,
        "source_key": row.source_key,
    }


async def _already(session: AsyncSession, row: DailyReport, zone: ZoneInfo) -> Submitted:
    """Answer a redelivered submission as it was answered the first time."""
    replaced = await session.scalar(
        select(AuditLog.id)
        .where(
            AuditLog.entity == "daily_report",
            AuditLog.entity_id == row.id,
            AuditLog.action == REPLACE,
            AuditLog.at == row.submitted_at,
        )
        .limit(1)
    )
    return Submitted(_submitted(row, zone), replaced=replaced is not None)


async def submit(
    session: AsyncSession,
    caller: Caller,
    lines: ReportLines,
    *,
    now: datetime,
    hours: ReportHours,
    source_key: str,
    day: date | None = None,
) -> Submitted:
    """Store (or replace) the caller's report for ``day`` (default: today).

    ``day`` is the day the rep was writing for: once its cut-off has passed the report is
    refused rather than filed under another day; the previous working day's is filed late while
    it is missing (see the module doc). :func:`bot.services.reporting.report_loop.file_report` submits and
    then tells the supervisor of a report the day's digest will not carry.
    """
    require(caller, Permission.FILE_REPORT)
    done = await session.scalar(select(DailyReport).where(DailyReport.source_key == source_key))
    if done is not None:
        return await _already(session, done, hours.zone)
    check_lines(lines)
    local = now.astimezone(hours.zone)
    day = day or local.date()
    past = await _is_past(session, day, now=now, hours=hours)
    if not past and local.time() >= hours.cutoff:
        raise Conflict(
            N_("The report for {day} closed at {cutoff}: it can no longer be submitted or replaced."),
            day=day.isoformat(),
            cutoff=_clock(hours.cutoff),
        )
    existing = await _report_of(session, caller.id, day)
    if past and existing is not None:
        raise Conflict(
            N_("The report for {day} was filed at {time}: it can no longer be replaced."),
            day=day.isoformat(),
            time=_when(existing.submitted_at.astimezone(hours.zone), day),
        )
    gathered = await _gather(session, caller, day, now, hours, existing, past=past)
    summary = summary_text(Translator(caller.language), gathered)
    late = gathered.late_now
    if existing is None:
        row = DailyReport(
            rep_id=caller.id,
            day=day,
            summary=summary,
            submitted_at=now,
            late=late,
            source_key=source_key,
            **lines.fields(),
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor_id=caller.id,
            action=SUBMIT,
            entity="daily_report",
            entity_id=row.id,
            at=now,
            after=_as_audit(row),
        )
        return Submitted(_submitted(row, hours.zone), replaced=False)
    before = _as_audit(existing)
    existing.summary, existing.submitted_at, existing.source_key = summary, now, source_key
    existing.notes, existing.problems = lines.notes, lines.problems
    existing.market_info, existing.plan_tomorrow = lines.market_info, lines.plan_tomorrow
    existing.late = existing.late or late
    await session.flush()
    audit.record(
        session,
        actor_id=caller.id,
        action=REPLACE,
        entity="daily_report",
        entity_id=existing.id,
        at=now,
        before=before,
        after=_as_audit(existing),
    )
    return Submitted(_submitted(existing, hours.zone), replaced=True)
