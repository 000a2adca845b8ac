"""The Excel export (/export, ``fieldbot export``): a period's work in one workbook.

Sheets, always in this order: Summary, Visits, Stock, Feedback, Orders, Returns, Collections,
Credits, Receivables, Reports, Expenses. Sheet names, headers and yes/no cells are in the caller's language
(or the one asked for: ``fieldbot export --language zh``): 汇总, 拜访 … and 是/否 in Chinese.

Rules decided here (the issue left them open):

* **Scope** (as /summary): a manager gets their team, the director, admins and finance
  everyone, the command line (``caller=None``) everything. Activity — visits, orders,
  collections, daily reports — belongs to the rep who did it, so a team's sheets hold its
  people's work (and the Team column is the rep's team). Receivables follow the customers'
  scope (:func:`bot.services.field.customers.in_scope`), as /customers and /overdue do.
* **Period.** Visits and collections belong to the local day they happened (stock counts and
  market feedback to their visit's), orders to their issue date, reports to their day.
  Receivables are not a period figure: the sheet lists every receivable still open *today*,
  with its aging on ``today``.
* **Stock** and **Feedback** have one row per line a rep recorded on a visit (a product and
  its count; a topic and what was said), with the visit's customer, rep, team and time.
* **Returns** lists the return certificates (銷售退貨證明單) issued in the period — returns a
  manager approved, with their credit notes: number, customer, rep, invoice, products, amount,
  reason, who asked and who approved, what it settled and what it left as credit. They count
  against the customer's rep, as orders do; the Summary gives the orders less the returns.
* **Credits** is not a period figure: as Receivables, it lists what stands *today*, the
  unapplied credit of the customers in scope, one row per collection or credit note still
  holding some (an overpayment, a return beyond what was owed), oldest first per customer.
* **Orders** lists every order issued in the period, voided ones too (undone, or rejected
  over the credit limit: marked, open 0); the Summary counts the ones that stand.
* **Collections** lists every row of the period, reversals included (negative, with the
  number of the collection they reverse), so the sheet sums to the net. The Summary counts
  the money that stays collected — neither a reversal nor reversed — as the daily report
  does, and how much of it reps still hold (:func:`bot.services.money.collections.held`).
* **Expenses** lists the expense claims made in the period that were approved (what finance
  pays), with the budget month each counts in; pending and rejected ones are in /expenses.
* **Complaints** lists the customer letters and complaints logged in the period, of the customers
  in scope (as Receivables), quality problems first: each deadline met in time (yes), missed (no),
  or still running (empty) on the day of the export (bot/services/field/complaints.py).
* **Plans** lists every weekly and monthly work plan with a day in the period, of the planners in
  scope, measured against the records of its own week or month (as /rep and /summary measure it).
* **Times.** Excel has no time zones: instants are written as naive local times of the
  company's zone, and each such header names the zone.
* **Formula injection.** A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is written as a string with Excel's *quote prefix* — exactly what Excel
  stores when someone types a leading apostrophe: the text is kept as it was, displayed
  as text, and stays text even when the cell is edited. It is never a formula.
* **Totals.** The Summary is the sum of the rows written below it, accumulated while they
  are written: one pass over the data, and the Summary always agrees with the sheets.
* **Memory and the event loop.** Each sheet is one streamed query (``yield_per``: a
  server-side cursor on PostgreSQL); batches of rows go to one writer thread, which shapes them
  and writes their XML straight into the zip (bot/services/reporting/xlsx.py), so a year of
  data is never in memory at once (only the finished file is) and the CPU work never blocks the
  bot's event loop.
  The XML is written by hand rather than through openpyxl or XlsxWriter: measured, they cost
  about 10 and 6 µs a cell, 37 and 23 s for the full bench company's month against 7 s
  (docs/PERFORMANCE.md, "Export, streamed"). ``progress`` hears of each sheet handed over (the
  chat's progress message).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import io
import logging
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from bot.i18n import N_, Translator
from bot.services.field import plans as plan_rules, trips as trip_rules, trust
from bot.services.field.complaints import KIND_LABELS as COMPLAINT_KINDS, TAG_LABELS as COMPLAINT_TAGS
from bot.services.field.customers import in_scope
from bot.services.field.units import unit_name
from bot.services.field.visit_extras import TOPIC_LABELS
from bot.services.money.aging import BUCKET_LABELS, bucket_of
from bot.services.money.amounts import format_amount
from bot.services.money.collections import held
from bot.services.money.expense_rules import CATEGORY_LABELS as EXPENSE_CATEGORY_LABELS
from bot.services.money.ledger import holds_credit, is_open
from bot.services.money.payment_methods import LABELS as METHOD_LABELS
from bot.services.money.returns import items_text
from bot.services.people.access import Caller, Permission, require
from bot.services.reporting.periods import Period, parse_period
from bot.services.reporting.reports import KIND_LABELS
from bot.services.reporting.xlsx import Column, Kind, SheetStream, XlsxFile
from models import (
    Allocation,
    Approval,
    Collection,
    Complaint,
    ComplaintTag,
    CreditNote,
    Customer,
    DailyReport,
    Expense,
    ExpenseCategory,
    ExpenseStatus,
    Feedback,
    Money,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Role,
    SalesReturn,
    StockLine,
    Team,
    Trip,
    TripCustomer,
    User,
    Visit,
    WorkPlan,
)

if TYPE_CHECKING:
    from bot.services.reporting.export_helper import Helped

log = logging.getLogger(__name__)

#: The sheets in their order, by their English names (:attr:`Sheet.title`, the keys of
#: :attr:`ExportedWorkbook.rows`); a workbook shows each in its language.
SHEETS = (
    N_("Summary"),
    N_("Visits"),
    N_("Stock"),
    N_("Feedback"),
    N_("Orders"),
    N_("Returns"),
    N_("Collections"),
    N_("Credits"),
    N_("Receivables"),
    N_("Reports"),
    N_("Expenses"),
    N_("Vehicle log"),
    N_("Complaints"),
    N_("Plans"),
)
#: What a yes/no cell says (translated): words, not Excel's TRUE/FALSE, which no language changes.
YES, NO = N_("Yes"), N_("No")
#: Rows fetched per round trip, and batches waiting for the writer thread at most.
BATCH_ROWS = 2_000
QUEUED_BATCHES = 4
ZERO = Decimal("0.00")
OVERDUE_BUCKETS = ("1-30", "31-60", "61-90", "90+")


VISIT_COLUMNS = (
    Column(N_("Visited at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Grade"), Kind.TEXT, 7),
    Column(N_("Kind"), Kind.TEXT, 14),
    Column(N_("Distance (m)"), Kind.INT, 12),
    Column(N_("Far away"), Kind.BOOL, 10),
    Column(N_("Flags"), Kind.TEXT, 30),
    Column(N_("Next follow-up"), Kind.DATE, 14),
    Column(N_("Notes"), Kind.TEXT, 50),
    #: Empty unless the rep changed the visit after saving (bot/services/field/visit_edits.py).
    Column(N_("Edited at ({zone})"), Kind.DATETIME, 17),
)
STOCK_COLUMNS = (
    Column(N_("Counted at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Product"), Kind.TEXT, 28),
    Column(N_("Quantity"), Kind.INT, 10),
    Column(N_("Unit"), Kind.TEXT, 10),
)
FEEDBACK_COLUMNS = (
    Column(N_("Visited at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Topic"), Kind.TEXT, 14),
    Column(N_("Feedback"), Kind.TEXT, 60),
)
ORDER_COLUMNS = (
    Column(N_("Issued"), Kind.DATE, 12),
    Column(N_("Invoice"), Kind.TEXT, 16),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Amount"), Kind.MONEY, 14),
    Column(N_("Due"), Kind.DATE, 12),
    Column(N_("Open now"), Kind.MONEY, 14),
    Column(N_("Over credit limit"), Kind.BOOL, 12),
    Column(N_("Voided"), Kind.BOOL, 9),
)
COLLECTION_COLUMNS = (
    Column(N_("Received at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Collection no."), Kind.INT, 12),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Method"), Kind.TEXT, 10),
    Column(N_("Amount"), Kind.MONEY, 14),
    Column(N_("Receipt no."), Kind.TEXT, 14),
    Column(N_("Handed in at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Held by rep"), Kind.BOOL, 11),
    Column(N_("Reverses no."), Kind.INT, 12),
    Column(N_("Reversed"), Kind.BOOL, 10),
    Column(N_("Reason"), Kind.TEXT, 30),
)
RETURN_COLUMNS = (
    Column(N_("Certificate no."), Kind.TEXT, 15),
    Column(N_("Issued at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Invoice"), Kind.TEXT, 16),
    Column(N_("Products"), Kind.TEXT, 30),
    Column(N_("Amount"), Kind.MONEY, 14),
    Column(N_("Reason"), Kind.TEXT, 30),
    Column(N_("Requested by"), Kind.TEXT, 18),
    Column(N_("Approved by"), Kind.TEXT, 18),
    Column(N_("Credited to invoices"), Kind.TEXT, 30),
    Column(N_("Kept as credit"), Kind.MONEY, 14),
)
CREDIT_COLUMNS = (
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("From"), Kind.TEXT, 22),
    Column(N_("Received at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Amount"), Kind.MONEY, 14),
    Column(N_("Applied"), Kind.MONEY, 14),
    Column(N_("Unapplied credit"), Kind.MONEY, 15),
)
RECEIVABLE_COLUMNS = (
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Invoice"), Kind.TEXT, 16),
    Column(N_("Issued"), Kind.DATE, 12),
    Column(N_("Due"), Kind.DATE, 12),
    Column(N_("Amount"), Kind.MONEY, 14),
    Column(N_("Open"), Kind.MONEY, 14),
    Column(N_("Days overdue"), Kind.INT, 12),
    Column(N_("Aging"), Kind.TEXT, 14),
    Column(N_("Follow-up level"), Kind.INT, 14),
    Column(N_("Disputed"), Kind.BOOL, 10),
    Column(N_("Promised on"), Kind.DATE, 13),
    Column(N_("Promised amount"), Kind.MONEY, 15),
)
REPORT_COLUMNS = (
    Column(N_("Day"), Kind.DATE, 12),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Submitted at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Late"), Kind.BOOL, 8),
    Column(N_("Problems met"), Kind.TEXT, 40),
    Column(N_("Market information"), Kind.TEXT, 40),
    Column(N_("Plan for tomorrow"), Kind.TEXT, 40),
)
#: The vehicle log (行車記錄表, regulations part 4 art. 32): one row per trip started in the period.
TRIP_COLUMNS = (
    Column(N_("Date"), Kind.DATE, 12),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Started at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Odometer at start (km)"), Kind.INT, 14),
    Column(N_("Ended at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Odometer at end (km)"), Kind.INT, 14),
    Column(N_("Kilometres"), Kind.INT, 11),
    Column(N_("Purpose"), Kind.TEXT, 30),
    Column(N_("Customers on the trip"), Kind.TEXT, 40),
    Column(N_("Fuel receipts"), Kind.INT, 11),
    Column(N_("Fuel cost"), Kind.MONEY, 14),
)
#: Weekly and monthly work plans overlapping the period, against the records of their own period (the
#: figures /rep and /summary show: bot/services/field/plans.py attainment_select).
PLAN_COLUMNS = (
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Kind"), Kind.TEXT, 12),
    Column(N_("Period from"), Kind.DATE, 12),
    Column(N_("Period to"), Kind.DATE, 12),
    Column(N_("Filed at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Late"), Kind.BOOL, 8),
    Column(N_("Approved by"), Kind.TEXT, 18),
    Column(N_("Approved at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Customers planned"), Kind.INT, 11),
    Column(N_("Of them visited"), Kind.INT, 11),
    Column(N_("Visits planned"), Kind.INT, 11),
    Column(N_("Visits done"), Kind.INT, 11),
    Column(N_("Of them to planned customers"), Kind.INT, 13),
    Column(N_("Orders target"), Kind.MONEY, 14),
    Column(N_("Orders"), Kind.MONEY, 14),
    Column(N_("Collections target"), Kind.MONEY, 14),
    Column(N_("Collections"), Kind.MONEY, 14),
)
SUMMARY_COLUMNS = (Column(N_("Figure"), Kind.TEXT, 44), Column(N_("Value"), Kind.TEXT, 26))


# -- who sees what ---------------------------------------------------------------------------------


#: A column holding the user id of the rep who did the work.
RepColumn = (
    ColumnElement[int] | ColumnElement[int | None] | QueryableAttribute[int] | QueryableAttribute[int | None]
)


@dataclass(frozen=True)
class Scope:
    """The rows a caller may export: work by the people in scope, receivables of the customers."""

    customers: ColumnElement[bool]
    team_id: int | None  # None: every team
    nobody: bool = False  # a manager without a team

    def people(self, column: RepColumn) -> ColumnElement[bool]:
        """Rows done by someone in scope (``column``: the rep's user id)."""
        if self.nobody:
            return false()
        if self.team_id is None:
            return true()
        member = aliased(User)
        return column.in_(select(member.id).where(member.team_id == self.team_id))


def scope_of(caller: Caller | None) -> Scope:
    """Everything for the command line (``None``); otherwise what the caller's role allows."""
    if caller is None:
        return Scope(true(), None)
    require(caller, Permission.EXPORT)
    if caller.role == Role.MANAGER:
        return Scope(in_scope(caller), caller.team_id, nobody=caller.team_id is None)
    return Scope(in_scope(caller), None)


def requested_period(caller: Caller, text: str | None, today: date) -> Period:
    """The period a caller asks to export or chart (default today); refused without the permission."""
    require(caller, Permission.EXPORT)
    return parse_period(text, today)


async def scope_label(session: AsyncSession, scope: Scope, t: Translator) -> str:
    """ "All teams", "Team North" or "No team": plain text, not HTML."""
    if scope.nobody:
        return t.gettext(N_("No team"))
    if scope.team_id is None:
        return t.gettext(N_("All teams"))
    name = await session.scalar(select(Team.name).where(Team.id == scope.team_id))
    return t.gettext(N_("Team {team}")).format(team=name or "?")


# -- the summary, accumulated while rows are written ----------------------------------------------


@dataclass
class Totals:
    visits: int = 0
    customers_visited: set[int] = field(default_factory=set)
    stock_lines: int = 0
    feedback: int = 0
    orders: int = 0
    ordered: Decimal = ZERO
    returns: int = 0
    returned: Decimal = ZERO
    credit: Decimal = ZERO
    credit_customers: set[int] = field(default_factory=set)
    collections: int = 0  # that stay collected: neither a reversal nor reversed
    collected: dict[PaymentMethod, Decimal] = field(
        default_factory=lambda: dict.fromkeys(PaymentMethod, ZERO)
    )
    held: Decimal = ZERO
    open_invoices: int = 0
    open: Decimal = ZERO
    overdue_invoices: int = 0
    overdue: Decimal = ZERO
    aging: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(OVERDUE_BUCKETS, ZERO))
    reports: int = 0
    late_reports: int = 0
    expenses: int = 0  # approved expense claims
    expensed: Decimal = ZERO
    trips: int = 0
    km: int = 0
    fuel: Decimal = ZERO
    plans: int = 0  # work plans overlapping the period
    late_plans: int = 0
    approved_plans: int = 0

    def merge(self, other: Totals) -> None:
        """Add ``other``'s figures (the sheets a helper process wrote: export_helper.py)."""
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, set):
                mine |= value
            elif isinstance(mine, dict):
                for key, amount in value.items():
                    mine[key] += amount
            else:
                setattr(self, name, mine + value)


# -- the sheets: one streamed query each, and how a row becomes cells -----------------------------

#: A statement of any columns (SQLAlchemy 2.1 types a select by its columns' types).
AnySelect = Select[*tuple[Any, ...]]
#: A fetched row → its cells' values (a :class:`sqlalchemy.Row`, typed as the sequence it is).
Shape = Callable[[Sequence[Any]], Sequence[object]]
#: Awaited as the export goes: (sheets handed to the writer, sheets in all).
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: tuple[Column, ...]
    query: AnySelect
    #: Row → cell values in column order; runs in the writer thread and adds to the totals.
    shape: Shape


@dataclass(frozen=True)
class ExportContext:
    scope: Scope
    period: Period
    zone: ZoneInfo
    today: date
    t: Translator
    totals: Totals

    def local(self, instant: datetime | None) -> datetime | None:
        """A UTC instant as the company's wall-clock time, naive (Excel has no time zones)."""
        return None if instant is None else instant.astimezone(self.zone).replace(tzinfo=None)


def headers(c: ExportContext, columns: Sequence[Column]) -> list[str]:
    """The columns' headers in the export's language, the zone named where a header says so."""
    return [c.t.gettext(column.header).format(zone=c.zone.key) for column in columns]


async def batches(session: AsyncSession, sheet: Sheet) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The sheet's rows, fetched ``BATCH_ROWS`` at a time (a server-side cursor on PostgreSQL)."""
    query = sheet.query.execution_options(yield_per=BATCH_ROWS)
    # columns only: the Core connection's rows skip the ORM's per-row work (an eighth of the fetch)
    runner = await session.connection() if _columns_only(query) else session
    result = await runner.stream(query)
    try:
        async for batch in result.partitions():
            yield batch
    finally:
        await result.close()


def visits_sheet(c: ExportContext) -> Sheet:
    start, end = c.period.bounds(c.zone)
    query = (
        select(
            Visit.visited_at,
            User.name,
            Team.name,
            Customer.code,
            Customer.name,
            Customer.grade,
            Visit.kind,
            Visit.distance_m,
            Visit.far_away,
            Visit.next_follow_up,
            Visit.notes,
            Visit.customer_id,
            Visit.edited_at,
            Visit.sent_at,
            *trust.COLUMNS[1:],  # the trust flags beside far_away (bot/services/field/trust.py)
        )
        .join(Customer, Customer.id == Visit.customer_id)
        .join(User, User.id == Visit.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(c.scope.people(Visit.rep_id), Visit.visited_at >= start, Visit.visited_at < end)
        .order_by(Visit.visited_at, Visit.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        at, rep, team, code, customer, grade, kind, distance, far, follow_up, notes, customer_id = row[:12]
        edited_at, sent_at, *flags = row[12:]
        flag_text = trust.describe(
            c.t, trust.flags_of([far, *flags]), trust.lag_hours(sent_at, at), sign=False
        )
        c.totals.visits += 1
        c.totals.customers_visited.add(customer_id)
        return (
            c.local(at),
            rep,
            team,
            code,
            customer,
            grade,
            c.t.gettext(KIND_LABELS[kind]),
            distance,
            far,
            flag_text,
            follow_up,
            notes,
            c.local(edited_at),
        )

    return Sheet("Visits", VISIT_COLUMNS, query, shape)


def stock_sheet(c: ExportContext) -> Sheet:
    start, end = c.period.bounds(c.zone)
    query = (
        select(
            Visit.visited_at,
            User.name,
            Team.name,
            Customer.code,
            Customer.name,
            StockLine.product,
            StockLine.quantity,
            StockLine.unit,
        )
        .join(Visit, Visit.id == StockLine.visit_id)
        .join(Customer, Customer.id == Visit.customer_id)
        .join(User, User.id == Visit.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(c.scope.people(Visit.rep_id), Visit.visited_at >= start, Visit.visited_at < end)
        .order_by(Visit.visited_at, Visit.id, StockLine.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        at, *rest, quantity, unit = row
        c.totals.stock_lines += 1
        return (c.local(at), *rest, quantity, unit_name(c.t, unit, quantity))

    return Sheet("Stock", STOCK_COLUMNS, query, shape)


def feedback_sheet(c: ExportContext) -> Sheet:
    start, end = c.period.bounds(c.zone)
    query = (
        select(
            Visit.visited_at,
            User.name,
            Team.name,
            Customer.code,
            Customer.name,
            Feedback.topic,
            Feedback.text,
        )
        .join(Visit, Visit.id == Feedback.visit_id)
        .join(Customer, Customer.id == Visit.customer_id)
        .join(User, User.id == Visit.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(c.scope.people(Visit.rep_id), Visit.visited_at >= start, Visit.visited_at < end)
        .order_by(Visit.visited_at, Visit.id, Feedback.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        at, rep, team, code, customer, topic, text = row
        c.totals.feedback += 1
        return (c.local(at), rep, team, code, customer, c.t.gettext(TOPIC_LABELS[topic]), text)

    return Sheet("Feedback", FEEDBACK_COLUMNS, query, shape)


def orders_sheet(c: ExportContext) -> Sheet:
    rep = aliased(User)
    query = (
        select(
            Receivable.issued_on,
            Receivable.invoice_no,
            Customer.code,
            Customer.name,
            rep.name,
            Team.name,
            Receivable.amount,
            Receivable.due_on,
            Receivable.open_amount,
            Receivable.over_limit,
            Receivable.voided_at.is_not(None),
        )
        .join(Customer, Customer.id == Receivable.customer_id)
        .outerjoin(rep, rep.id == Receivable.rep_id)
        .outerjoin(Team, Team.id == rep.team_id)
        .where(
            c.scope.people(Receivable.rep_id),
            Receivable.source == ReceivableSource.ORDER,
            Receivable.issued_on >= c.period.start,
            Receivable.issued_on <= c.period.end,
        )
        .order_by(Receivable.issued_on, Receivable.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        voided = bool(row[-1])
        if not voided:
            c.totals.orders += 1
            c.totals.ordered += row[6]
        return (*row[:-1], voided)

    return Sheet("Orders", ORDER_COLUMNS, query, shape)


def collections_sheet(c: ExportContext) -> Sheet:
    start, end = c.period.bounds(c.zone)
    reversal = aliased(Collection)
    query = (
        select(
            Collection.received_at,
            Collection.id,
            User.name,
            Team.name,
            Customer.code,
            Customer.name,
            Collection.method,
            Collection.amount,
            Collection.receipt_no,
            Collection.handed_in_at,
            type_coerce(held(), Boolean()),
            Collection.reverses_id,
            reversal.id.is_not(None),
            Collection.reason,
        )
        .join(Customer, Customer.id == Collection.customer_id)
        .join(User, User.id == Collection.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(reversal, reversal.reverses_id == Collection.id)
        .where(
            c.scope.people(Collection.rep_id), Collection.received_at >= start, Collection.received_at < end
        )
        .order_by(Collection.received_at, Collection.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        (
            at,
            number,
            rep,
            team,
            code,
            customer,
            method,
            amount,
            receipt,
            handed_in,
            is_held,
            reverses,
            was_reversed,
            reason,
        ) = row
        if reverses is None and not was_reversed:
            c.totals.collections += 1
            c.totals.collected[method] += amount
        if is_held:
            c.totals.held += amount
        return (
            c.local(at),
            number,
            rep,
            team,
            code,
            customer,
            c.t.gettext(METHOD_LABELS[method]),
            amount,
            receipt,
            c.local(handed_in),
            bool(is_held),
            reverses,
            bool(was_reversed),
            reason,
        )

    return Sheet("Collections", COLLECTION_COLUMNS, query, shape)


def returns_sheet(c: ExportContext) -> Sheet:
    start, end = c.period.bounds(c.zone)
    rep, asker, approver = aliased(User), aliased(User), aliased(User)
    query = (
        select(
            CreditNote.number,
            CreditNote.issued_at,
            Customer.code,
            Customer.name,
            rep.name,
            Team.name,
            Receivable.invoice_no,
            SalesReturn.items,
            CreditNote.amount,
            SalesReturn.reason,
            asker.name,
            approver.name,
            Approval.payload,
        )
        .join(SalesReturn, SalesReturn.id == CreditNote.return_id)
        .join(Customer, Customer.id == CreditNote.customer_id)
        .outerjoin(rep, rep.id == CreditNote.rep_id)
        .outerjoin(Team, Team.id == rep.team_id)
        .outerjoin(Receivable, Receivable.id == SalesReturn.receivable_id)
        .join(asker, asker.id == SalesReturn.requested_by)
        .join(approver, approver.id == CreditNote.issued_by)
        .outerjoin(Approval, Approval.id == SalesReturn.approval_id)
        .where(c.scope.people(CreditNote.rep_id), CreditNote.issued_at >= start, CreditNote.issued_at < end)
        .order_by(CreditNote.issued_at, CreditNote.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        (
            number,
            issued,
            code,
            customer,
            rep_name,
            team,
            invoice,
            items,
            amount,
            reason,
            asked,
            approved,
            payload,
        ) = row
        payload = dict(payload or {})
        c.totals.returns += 1
        c.totals.returned += amount
        settled = "; ".join(
            f"{line.get('invoice_no', '')} {_money_text(line.get('amount'))}"
            for line in payload.get("settled", [])
        )
        return (
            number,
            c.local(issued),
            code,
            customer,
            rep_name,
            team,
            invoice,
            items_text(items or []),
            amount,
            reason,
            asked,
            approved,
            settled,
            Decimal(str(payload.get("kept", "0"))),
        )

    return Sheet("Returns", RETURN_COLUMNS, query, shape)


def _money_text(value: object) -> str:
    return format_amount(Decimal(str(value or 0)))


def credits_sheet(c: ExportContext) -> Sheet:
    """Unapplied credit today, per collection (a reversed one and its reversal as one) and credit note."""
    original = func.coalesce(Collection.reverses_id, Collection.id)
    paid = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.collection_id == Collection.id)
        .scalar_subquery()
    )
    left = type_coerce(func.sum(Collection.amount - paid), Money())
    holders = c.scope.customers & holds_credit()
    collected = (
        select(
            Collection.customer_id.label("customer_id"),
            original.label("ref"),
            literal(None, String()).label("number"),
            func.min(Collection.received_at).label("at"),
            type_coerce(func.max(Collection.amount), Money()).label("amount"),
            left.label("left"),
        )
        .join(Customer, Customer.id == Collection.customer_id)
        .where(holders)
        .group_by(Collection.customer_id, original)
        .having(left > 0)
    )
    noted = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.credit_note_id == CreditNote.id)
        .scalar_subquery()
    )
    note_left = type_coerce(CreditNote.amount - noted, Money())
    notes = (
        select(
            CreditNote.customer_id,
            CreditNote.id,
            CreditNote.number,
            CreditNote.issued_at,
            CreditNote.amount,
            note_left,
        )
        .join(Customer, Customer.id == CreditNote.customer_id)
        .where(holders, note_left > 0)
    )
    sources = union_all(collected, notes).subquery("sources")
    rep = aliased(User)
    query = (
        select(
            Customer.code,
            Customer.name,
            rep.name,
            Team.name,
            sources.c.ref,
            sources.c.number,
            sources.c.at,
            type_coerce(sources.c.amount, Money()),
            type_coerce(sources.c.left, Money()),
            Customer.id,
        )
        .select_from(sources)
        .join(Customer, Customer.id == sources.c.customer_id)
        .outerjoin(rep, rep.id == Customer.rep_id)
        .outerjoin(Team, Team.id == Customer.team_id)
        .order_by(Customer.code, sources.c.at, sources.c.ref)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        code, customer, rep_name, team, ref, number, at, amount, left_over, customer_id = row
        c.totals.credit += left_over
        c.totals.credit_customers.add(customer_id)
        source = (
            c.t.gettext(N_("Credit note {number}")).format(number=number)
            if number
            else c.t.gettext(N_("Collection #{id}")).format(id=ref)
        )
        return (code, customer, rep_name, team, source, c.local(at), amount, amount - left_over, left_over)

    return Sheet("Credits", CREDIT_COLUMNS, query, shape)


def receivables_sheet(c: ExportContext) -> Sheet:
    rep = aliased(User)
    query = (
        select(
            Customer.code,
            Customer.name,
            rep.name,
            Team.name,
            Receivable.invoice_no,
            Receivable.issued_on,
            Receivable.due_on,
            Receivable.amount,
            Receivable.open_amount,
            bucket_of(c.today),
            Receivable.followup_level,
            Receivable.disputed,
            Receivable.promise_date,
            Receivable.promise_amount,
        )
        .join(Customer, Customer.id == Receivable.customer_id)
        .outerjoin(rep, rep.id == Receivable.rep_id)
        .outerjoin(Team, Team.id == Customer.team_id)
        .where(c.scope.customers, is_open())
        .order_by(Receivable.due_on, Receivable.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        (
            code,
            customer,
            rep_name,
            team,
            invoice,
            issued,
            due,
            amount,
            open_,
            bucket,
            level,
            disputed,
            promised_on,
            promised,
        ) = row
        days_overdue = max(0, (c.today - due).days)
        c.totals.open_invoices += 1
        c.totals.open += open_
        if days_overdue:
            c.totals.overdue_invoices += 1
            c.totals.overdue += open_
            c.totals.aging[bucket] += open_
        return (
            code,
            customer,
            rep_name,
            team,
            invoice,
            issued,
            due,
            amount,
            open_,
            days_overdue,
            c.t.gettext(BUCKET_LABELS[bucket]),
            level,
            disputed,
            promised_on,
            promised,
        )

    return Sheet("Receivables", RECEIVABLE_COLUMNS, query, shape)


def reports_sheet(c: ExportContext) -> Sheet:
    query = (
        select(
            DailyReport.day,
            User.name,
            Team.name,
            DailyReport.submitted_at,
            DailyReport.late,
            DailyReport.problems,
            DailyReport.market_info,
            DailyReport.plan_tomorrow,
        )
        .join(User, User.id == DailyReport.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(
            c.scope.people(DailyReport.rep_id),
            DailyReport.day >= c.period.start,
            DailyReport.day <= c.period.end,
        )
        .order_by(DailyReport.day, User.name, DailyReport.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        day, rep, team, submitted_at, late, problems, market, plan = row
        c.totals.reports += 1
        c.totals.late_reports += bool(late)
        return (day, rep, team, c.local(submitted_at), late, problems, market, plan)

    return Sheet("Reports", REPORT_COLUMNS, query, shape)


EXPENSE_COLUMNS = (
    Column(N_("Claim no."), Kind.INT, 10),
    Column(N_("Claimed at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Budget month"), Kind.TEXT, 12),
    Column(N_("Rep"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Category"), Kind.TEXT, 14),
    Column(N_("Amount"), Kind.MONEY, 14),
    Column(N_("Note"), Kind.TEXT, 36),
    Column(N_("Receipt photo"), Kind.BOOL, 12),
    Column(N_("Over budget"), Kind.BOOL, 12),
    Column(N_("Approved by"), Kind.TEXT, 18),
    Column(N_("Approved at ({zone})"), Kind.DATETIME, 17),
)


def expenses_sheet(c: ExportContext) -> Sheet:
    """The approved expense claims made in the period (regulations part 4 art. 3–5): what finance
    pays. Pending, rejected and withdrawn claims are not money owed: /expenses lists them."""
    start, end = c.period.bounds(c.zone)
    approver = aliased(User)
    query = (
        select(
            Expense.id,
            Expense.claimed_at,
            Expense.month,
            User.name,
            Team.name,
            Expense.category,
            Expense.amount,
            Expense.note,
            Expense.receipt_file_id.is_not(None),
            Expense.over_budget,
            approver.name,
            Expense.decided_at,
        )
        .join(User, User.id == Expense.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(approver, approver.id == Expense.decided_by)
        .where(
            c.scope.people(Expense.rep_id),
            Expense.status == ExpenseStatus.APPROVED,
            Expense.claimed_at >= start,
            Expense.claimed_at < end,
        )
        .order_by(Expense.claimed_at, Expense.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        id_, at, month, rep, team, category, amount, note, receipt, over, approved_by, approved_at = row
        c.totals.expenses += 1
        c.totals.expensed += amount
        return (
            id_,
            c.local(at),
            f"{month:%Y-%m}",
            rep,
            team,
            c.t.gettext(EXPENSE_CATEGORY_LABELS[category]),
            amount,
            note,
            bool(receipt),
            over,
            approved_by,
            c.local(approved_at),
        )

    return Sheet("Expenses", EXPENSE_COLUMNS, query, shape)


def trips_sheet(c: ExportContext) -> Sheet:
    """The vehicle log: trips started in the period. A trip's fuel is the fuel receipts linked to it,
    and those claimed while it was open not linked yet (the export only reads: the link is made when
    the trip ends or is shown, bot/services/field/trips.py); rejected and withdrawn ones cost nothing."""
    start, end = c.period.bounds(c.zone)
    fuel = or_(
        Expense.trip_id == Trip.id,
        and_(
            Expense.trip_id.is_(None),
            Expense.category == ExpenseCategory.FUEL,
            Expense.rep_id == Trip.rep_id,
            Expense.claimed_at >= Trip.started_at,
            or_(Trip.ended_at.is_(None), Expense.claimed_at <= Trip.ended_at),
        ),
    ) & Expense.status.in_(trip_rules.COUNTED)
    visited = (
        select(Customer.name.label("name"))
        .join(TripCustomer, TripCustomer.customer_id == Customer.id)
        .where(TripCustomer.trip_id == Trip.id)
        .order_by(TripCustomer.position)
        .correlate(Trip)
        .subquery()
    )
    query = (
        select(
            Trip.started_at,
            User.name,
            Team.name,
            Trip.odometer_start,
            Trip.ended_at,
            Trip.odometer_end,
            Trip.purpose,
            select(func.aggregate_strings(visited.c.name, ", ")).scalar_subquery(),
            select(func.count()).select_from(Expense).where(fuel).correlate(Trip).scalar_subquery(),
            select(type_coerce(func.sum(Expense.amount), Money()))
            .where(fuel)
            .correlate(Trip)
            .scalar_subquery(),
        )
        .join(User, User.id == Trip.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(c.scope.people(Trip.rep_id), Trip.started_at >= start, Trip.started_at < end)
        .order_by(Trip.started_at, Trip.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        started, rep, team, first, ended, last, purpose, customers, receipts, cost = row
        km = None if last is None else last - first
        c.totals.trips += 1
        c.totals.km += km or 0
        c.totals.fuel += cost or ZERO
        local = c.local(started)
        assert local is not None
        return (
            local.date(),
            rep,
            team,
            local,
            first,
            c.local(ended),
            last,
            km,
            purpose,
            customers,
            receipts,
            cost or ZERO,
        )

    return Sheet("Vehicle log", TRIP_COLUMNS, query, shape)


COMPLAINT_COLUMNS = (
    Column(N_("No."), Kind.INT, 7),
    Column(N_("Logged at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Customer code"), Kind.TEXT, 14),
    Column(N_("Customer"), Kind.TEXT, 28),
    Column(N_("Owner"), Kind.TEXT, 18),
    Column(N_("Team"), Kind.TEXT, 14),
    Column(N_("Kind"), Kind.TEXT, 12),
    Column(N_("Tag"), Kind.TEXT, 12),
    Column(N_("What the customer said"), Kind.TEXT, 50),
    Column(N_("Logged by"), Kind.TEXT, 18),
    Column(N_("Answer due"), Kind.DATE, 12),
    Column(N_("Answered at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Answered in time"), Kind.BOOL, 12),
    Column(N_("Answer"), Kind.TEXT, 40),
    Column(N_("On site due"), Kind.DATE, 12),
    Column(N_("On site at ({zone})"), Kind.DATETIME, 17),
    Column(N_("On site in time"), Kind.BOOL, 12),
    Column(N_("On-site visit by"), Kind.TEXT, 18),
    Column(N_("On site (recorded by hand)"), Kind.TEXT, 30),
    Column(N_("Resolved at ({zone})"), Kind.DATETIME, 17),
    Column(N_("Resolved by"), Kind.TEXT, 18),
    Column(N_("Resolution"), Kind.TEXT, 40),
)


def complaints_sheet(c: ExportContext) -> Sheet:
    """Customer letters and complaints logged in the period, in the customers' scope: quality
    problems first, then the others, oldest first; each deadline met (yes), missed (no) or pending
    (empty), as on the day of the export."""
    start, end = c.period.bounds(c.zone)
    logger, owner, visitor, resolver = aliased(User), aliased(User), aliased(User), aliased(User)
    query = (
        select(Complaint, Customer.code, Customer.name, func.coalesce(owner.name, logger.name))
        .add_columns(Team.name, logger.name, visitor.name, resolver.name)
        .join(Customer, Customer.id == Complaint.customer_id)
        .join(logger, logger.id == Complaint.logged_by)
        .outerjoin(owner, owner.id == Customer.rep_id)
        .outerjoin(Team, Team.id == Customer.team_id)
        .outerjoin(visitor, visitor.id == Complaint.onsite_by)
        .outerjoin(resolver, resolver.id == Complaint.resolved_by)
        .where(c.scope.customers, Complaint.opened_at >= start, Complaint.opened_at < end)
        .order_by(Complaint.tag != ComplaintTag.QUALITY, Complaint.opened_at, Complaint.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        item, code, customer, owner_name, team, logged_by, onsite_by, resolved_by = row
        onsite_met = item.onsite_visit_id is not None or item.onsite_note is not None
        return (
            item.id,
            c.local(item.opened_at),
            code,
            customer,
            owner_name,
            team,
            c.t.gettext(COMPLAINT_KINDS[item.kind]),
            c.t.gettext(COMPLAINT_TAGS[item.tag]),
            item.text,
            logged_by,
            item.answer_due,
            c.local(item.answered_at),
            _met(item.answered_at, item.answer_due, item.resolved_at, c),
            item.answer,
            item.onsite_due,
            c.local(item.onsite_at) if onsite_met else None,
            _met(item.onsite_at if onsite_met else None, item.onsite_due, item.resolved_at, c)
            if item.onsite_due
            else None,
            onsite_by if onsite_met and item.onsite_visit_id is not None else None,
            item.onsite_note,
            c.local(item.resolved_at),
            resolved_by,
            item.resolution,
        )

    return Sheet("Complaints", COMPLAINT_COLUMNS, query, shape)


def _met(at: datetime | None, due: date, closed: datetime | None, c: ExportContext) -> bool | None:
    """Met in time, missed, or nothing to say yet (pending, or closed in time without it)."""
    if at is not None:
        return at.astimezone(c.zone).date() <= due
    if closed is not None and closed.astimezone(c.zone).date() <= due:
        return None
    return False if c.today > due or closed is not None else None


def plans_sheet(c: ExportContext) -> Sheet:
    """Every weekly and monthly plan with a day in the period, of the planners in scope, against the
    records of the plan's own week or month (so a week running past the period's end counts all of
    it): one statement, the same figures as /rep and /summary."""
    periods = plan_rules.periods_overlapping(c.period.start, c.period.end)
    query = plan_rules.attainment_select(periods, c.scope.people(WorkPlan.rep_id), c.zone).order_by(
        WorkPlan.starts_on, WorkPlan.kind, User.name, WorkPlan.id
    )

    def shape(row: Sequence[Any]) -> Sequence[object]:
        figures = plan_rules.attainment_of(row)
        team, filed_at, late, approved_by, approved_at = row[3], row[7], row[8], row[9], row[10]
        c.totals.plans += 1
        c.totals.late_plans += bool(late)
        c.totals.approved_plans += approved_at is not None
        return (
            figures.rep,
            team,
            c.t.gettext(plan_rules.KIND_LABELS[figures.period.kind]),
            figures.period.start,
            figures.period.end,
            c.local(filed_at),
            late,
            approved_by,
            c.local(approved_at),
            figures.planned_customers,
            figures.planned_visited,
            figures.planned_visits,
            figures.visits,
            figures.visits_to_planned,
            figures.orders_target,
            figures.orders,
            figures.collections_target,
            figures.collected,
        )

    return Sheet("Plans", PLAN_COLUMNS, query, shape)


SHEET_BUILDERS = (
    visits_sheet,
    stock_sheet,
    feedback_sheet,
    orders_sheet,
    returns_sheet,
    collections_sheet,
    credits_sheet,
    receivables_sheet,
    reports_sheet,
    expenses_sheet,
    trips_sheet,
    complaints_sheet,
    plans_sheet,
)


def summary_rows(c: ExportContext, scope: str) -> list[tuple[str, Kind, object]]:
    """(figure, kind, value) lines of the Summary sheet, translated, from the other sheets' totals."""
    t, totals = c.t.gettext, c.totals
    methods = (
        (N_("Collected in cash"), PaymentMethod.CASH),
        (N_("Collected by transfer"), PaymentMethod.TRANSFER),
        (N_("Collected by cheque"), PaymentMethod.CHEQUE),
        (N_("Collected by WeChat Pay"), PaymentMethod.WECHAT),
        (N_("Collected by Alipay"), PaymentMethod.ALIPAY),
        (N_("Collected by card"), PaymentMethod.CARD),
    )
    return [
        (t(N_("Period")), Kind.TEXT, c.period.label),
        (t(N_("From")), Kind.DATE, c.period.start),
        (t(N_("To")), Kind.DATE, c.period.end),
        (t(N_("Scope")), Kind.TEXT, scope),
        (t(N_("Time zone of all times")), Kind.TEXT, c.zone.key),
        (t(N_("Visits")), Kind.INT, totals.visits),
        (t(N_("Customers visited")), Kind.INT, len(totals.customers_visited)),
        (t(N_("Stock lines counted")), Kind.INT, totals.stock_lines),
        (t(N_("Market feedback notes")), Kind.INT, totals.feedback),
        (t(N_("Orders")), Kind.INT, totals.orders),
        (t(N_("Orders amount")), Kind.MONEY, totals.ordered),
        (t(N_("Returns (certificates issued)")), Kind.INT, totals.returns),
        (t(N_("Returns amount")), Kind.MONEY, totals.returned),
        (t(N_("Orders less returns")), Kind.MONEY, totals.ordered - totals.returned),
        *((t(label), Kind.MONEY, totals.collected[method]) for label, method in methods),
        (t(N_("Collected in total (reversals left out)")), Kind.MONEY, sum(totals.collected.values(), ZERO)),
        (t(N_("Of which still held by reps")), Kind.MONEY, totals.held),
        (t(N_("Receivables as of")), Kind.DATE, c.today),
        (t(N_("Open invoices")), Kind.INT, totals.open_invoices),
        (t(N_("Open receivables")), Kind.MONEY, totals.open),
        (t(N_("Overdue invoices")), Kind.INT, totals.overdue_invoices),
        (t(N_("Overdue receivables")), Kind.MONEY, totals.overdue),
        (t(N_("Customers holding unapplied credit")), Kind.INT, len(totals.credit_customers)),
        (t(N_("Unapplied credit")), Kind.MONEY, totals.credit),
        *(
            (t(N_("Overdue {days}")).format(days=t(BUCKET_LABELS[bucket])), Kind.MONEY, totals.aging[bucket])
            for bucket in OVERDUE_BUCKETS
        ),
        (t(N_("Daily reports submitted")), Kind.INT, totals.reports),
        (t(N_("Daily reports late")), Kind.INT, totals.late_reports),
        (t(N_("Expense claims approved")), Kind.INT, totals.expenses),
        (t(N_("Expenses approved")), Kind.MONEY, totals.expensed),
        (t(N_("Trips by car")), Kind.INT, totals.trips),
        (t(N_("Kilometres driven")), Kind.INT, totals.km),
        (t(N_("Fuel cost of the trips")), Kind.MONEY, totals.fuel),
        (t(N_("Work plans filed")), Kind.INT, totals.plans),
        (t(N_("Work plans filed late")), Kind.INT, totals.late_plans),
        (t(N_("Work plans approved")), Kind.INT, totals.approved_plans),
    ]


# -- the writer thread ----------------------------------------------------------------------------


class _Signal(enum.Enum):
    DONE = "done"  # every sheet has been handed over: write the Summary and close the file
    ABORT = "abort"  # the producer gave up


#: What the writer thread is handed: a batch of a sheet's rows, or None when the sheet is complete;
#: or the sheets a helper process wrote.
_Item: TypeAlias = "tuple[Sheet, Sequence[Sequence[Any]] | None] | Helped | _Signal"


class ExportAbandoned(Exception):
    """The producer gave up (its query failed or it was cancelled): nothing to save."""


class WorkbookWriter:
    """Owns the workbook file in one dedicated thread; the event loop hands it batches.

    At most ``QUEUED_BATCHES`` batches wait at a time (the producer awaits a free slot),
    so memory stays bounded however long the period is. No executor thread ever blocks.
    """

    def __init__(self, context: ExportContext, sheets: Sequence[Sheet], scope: str) -> None:
        self.context, self.sheets, self.scope = context, sheets, scope
        self.rows: dict[str, int] = {}
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._slots = asyncio.Semaphore(QUEUED_BATCHES)
        self._loop = asyncio.get_running_loop()
        self._result: concurrent.futures.Future[bytes] = concurrent.futures.Future()
        self._closed = False  # the writer thread has read DONE or ABORT
        self._book: XlsxFile | None = None
        threading.Thread(target=self._run, name="fieldbot-export", daemon=True).start()

    @property
    def failed(self) -> bool:
        """The writer stopped early (an error): stop feeding it, :meth:`finish` raises the error."""
        return self._result.done()

    async def put(self, sheet: Sheet, rows: Sequence[Sequence[Any]] | None) -> None:
        """Hand over a batch of ``sheet``'s rows; ``None``: the sheet has no more."""
        await self._slots.acquire()
        self._queue.put((sheet, rows))

    async def put_helped(self, helped: Helped) -> None:
        """Hand over a helper's finished sheets, to be copied into the workbook."""
        await self._slots.acquire()
        self._queue.put(helped)

    def abort(self) -> None:
        self._queue.put(_Signal.ABORT)

    async def finish(self) -> bytes:
        self._queue.put(_Signal.DONE)
        return await asyncio.wrap_future(self._result)

    def _next(self) -> _Item:
        item = self._queue.get()
        if isinstance(item, _Signal):
            self._closed = True
        else:
            self._free_slot()
        return item

    def _free_slot(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._slots.release)

    def _run(self) -> None:
        try:
            self._result.set_result(self._write())
        except BaseException as error:  # handed over to the awaiting coroutine
            self._result.set_exception(error)
            while not self._closed:  # free the producer until it notices and stops
                self._next()
            if self._book is not None:
                self._book.discard()

    def _write(self) -> bytes:
        c = self.context
        yes, no = c.t.gettext(YES), c.t.gettext(NO)
        buffer = io.BytesIO()
        book = self._book = XlsxFile(buffer)
        summary_at = book.place(c.t.gettext("Summary"))
        positions = {sheet.title: book.place(c.t.gettext(sheet.title)) for sheet in self.sheets}
        streams: dict[str, SheetStream] = {}
        while (item := self._next()) is not _Signal.DONE:
            if item is _Signal.ABORT:
                raise ExportAbandoned
            if not isinstance(item, tuple):  # a helper's sheets (export_helper.py)
                for helped in item.sheets:
                    book.copy(positions[helped.title], helped.path, helped.filter_range)
                    self.rows[helped.title] = helped.rows
                c.totals.merge(item.totals)
                continue
            sheet, rows = item
            stream = streams.get(sheet.title)
            if stream is None:
                stream = streams[sheet.title] = book.open(
                    positions[sheet.title], sheet.columns, headers(c, sheet.columns), yes, no
                )
            if rows is None:
                stream.close()
                book.finished(positions[sheet.title], stream.filter_range)
                self.rows[sheet.title] = stream.rows
                del streams[sheet.title]
                continue
            shape, append = sheet.shape, stream.append
            for row in rows:
                append(shape(row))
        summary = book.open(summary_at, SUMMARY_COLUMNS, headers(c, SUMMARY_COLUMNS), yes, no, filtered=False)
        for label, kind, value in summary_rows(c, self.scope):
            summary.append_typed([(Kind.TEXT, label), (kind, value)])
        summary.close()
        book.close()
        return buffer.getvalue()


# -- the service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedWorkbook:
    content: bytes  # the .xlsx file
    period: Period
    scope: str
    #: Data rows per sheet (headers not counted), Summary left out.
    rows: dict[str, int]
    #: The Summary's figures: what stands (orders not voided, collections neither reversal nor reversed).
    totals: Totals


async def build_workbook(
    session: AsyncSession,
    caller: Caller | None,
    period: Period,
    zone: ZoneInfo,
    today: date,
    *,
    language: str | None = None,
    progress: Progress | None = None,
) -> ExportedWorkbook:
    """The period's workbook for ``caller`` (``None``: the command line, everything).

    Headers are in ``language``, else the caller's, else English. Run it in a read-only
    session (``Database.reading``): a long export must not hold SQLite's write lock.
    ``progress(done, sheets)`` is awaited after each sheet's rows have been handed to the writer.
    """
    # Imported here: the helper's module imports this one (it builds the same sheets).
    from bot.services.reporting import export_helper

    scope = scope_of(caller)
    t = Translator(language or (caller.language if caller else "en"))
    context = ExportContext(scope, period, zone, today, t, Totals())
    sheets = [build(context) for build in SHEET_BUILDERS]
    writer = WorkbookWriter(context, sheets, await scope_label(session, scope, t))
    helper = None
    try:
        helper = await export_helper.start(session, context, caller)
        here = [sheet for sheet in sheets if helper is None or sheet.title not in helper.titles]
        for done, sheet in enumerate(here, start=1):
            await _hand_over(writer, session, sheet)
            if writer.failed:
                break
            if progress is not None:
                await progress(done, len(sheets))
        if helper is not None and not writer.failed:
            try:
                await writer.put_helped(await helper.result())
            except export_helper.HelperFailed as error:
                log.warning("export helper failed, writing its sheets here: %s", error)
                for sheet in sheets:
                    if sheet.title in helper.titles and not writer.failed:
                        await _hand_over(writer, session, sheet)
            if progress is not None:
                await progress(len(sheets), len(sheets))
        content = await writer.finish()
    except BaseException:
        writer.abort()
        if helper is not None:
            helper.stop()
        raise
    finally:
        if helper is not None:
            helper.remove()  # the workbook holds its sheets now (finish() has returned), or failed
    rows = {sheet.title: writer.rows[sheet.title] for sheet in sheets}  # in the workbook's order
    return ExportedWorkbook(content, period, writer.scope, rows, context.totals)


async def _hand_over(writer: WorkbookWriter, session: AsyncSession, sheet: Sheet) -> None:
    """Stream ``sheet``'s rows to the writer thread, then say the sheet is complete."""
    async for batch in batches(session, sheet):
        if writer.failed:
            return
        await writer.put(sheet, batch)
    await writer.put(sheet, None)


def _columns_only(query: AnySelect) -> bool:
    """No ORM entity among what ``query`` selects (an entity's rows need the session)."""
    return not any(isinstance(column["type"], type) for column in query.column_descriptions)


def file_name(period: Period) -> str:
    return f"fieldbot-{period.label}.xlsx"
