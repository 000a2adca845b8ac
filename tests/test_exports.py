"""/export and ``fieldbot export``: the workbook's sheets, types, figures, scope and safety.

The data is written straight to the tables from the specs below; every expected figure is
computed from the same specs in plain Python, never by the code under test.
"""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import literal_column, select
from sqlalchemy.exc import DBAPIError
from telegram.error import TimedOut

import handlers.reporting.exports
from bot.cli import main
from bot.db import Database
from bot.i18n import Translator
from bot.services.errors import AccessDenied
from bot.services.people.access import Caller
from bot.services.reporting import exports, xlsx
from bot.services.reporting.periods import parse_period
from models import (
    Allocation,
    Collection,
    Customer,
    DailyReport,
    Feedback,
    FeedbackTopic,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Role,
    StockLine,
    User,
    Visit,
    VisitKind,
)
from tests import factories
from tests.conftest import MONDAY_MORNING, ZONE
from tests.harness import Harness

TODAY = MONDAY_MORNING.date()  # 2026-11-23
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
CENT = Decimal("0.01")
CASH, TRANSFER, CHEQUE = PaymentMethod.CASH, PaymentMethod.TRANSFER, PaymentMethod.CHEQUE
ORDER, IMPORT = ReceivableSource.ORDER, ReceivableSource.IMPORT
FORMULA_NAME = '=HYPERLINK("http://x")'

#: rep key → (Telegram id, name, team); li and bob come from tests.factories.company.
REPS = {
    "li": (2001, "Li Wei", "North"),
    "wang": (2003, "王芳", "North"),
    "bob": (2002, "Bob South", "South"),
    "sam": (2004, "Sam South", "South"),
}
#: customer key → (name, code, rep key); a customer belongs to its rep's team.
#: Work belongs to the rep who did it (their team's export), receivables to the customer's team.
CUSTOMERS = {
    "acme": ("Acme 北方", "N1", "li"),
    "formula": (FORMULA_NAME, "N2", "wang"),
    "shop": ("South Shop", "S1", "bob"),
    "plus": ("+Plus Mart", "S2", "sam"),
}


def nov(day: int, hour: int, minute: int = 0) -> datetime:
    """A local (company zone) wall-clock time in November 2026, naive as in the workbook."""
    return datetime(2026, 11, day, hour, minute)


#: (rep, customer, local time, notes)
VISITS = [
    ("li", "acme", nov(1, 0, 30), "first hour of the month"),
    ("li", "acme", nov(20, 10), ""),
    ("li", "acme", datetime(2026, 10, 31, 23, 30), "October, local time"),
    ("wang", "formula", nov(22, 15), "-stock low"),
    ("wang", "acme", nov(22, 16), "met the buyer"),
    ("bob", "shop", nov(5, 9), ""),
    ("bob", "shop", nov(23, 8), ""),
    ("bob", "acme", nov(21, 9), "covering for Li"),  # a South rep at a North customer
    ("sam", "plus", nov(10, 11), "@boss asked for a call"),
]
#: (index in VISITS, product, quantity): stock counted on those visits.
STOCK = [
    (1, "Cola 330ml", 12),
    (1, "产品B", 0),
    (2, "Cola 330ml", 30),  # October
    (3, "=SUM(A1:A9)", 5),
    (6, "Tea", 7),
    (7, "Cola 330ml", 4),
]
#: (index in VISITS, topic, text): market feedback gathered on those visits.
FEEDBACK = [
    (1, FeedbackTopic.PRICE, "Competitor X is 5% cheaper"),
    (2, FeedbackTopic.DEMAND, "October: out of the period"),
    (5, FeedbackTopic.COMPETITOR, "+new brand in town"),
    (8, FeedbackTopic.QUALITY, "boxes arrive dented"),
]
#: (invoice, customer, source, amount, issued, due)
RECEIVABLES = [
    ("SO-1", "acme", ORDER, "1200.50", date(2026, 11, 3), date(2026, 12, 3)),
    ("SO-2", "formula", ORDER, "800.00", date(2026, 11, 15), date(2026, 11, 20)),
    ("SO-3", "shop", ORDER, "5000.00", date(2026, 11, 21), date(2026, 12, 21)),
    ("SO-0", "acme", ORDER, "999.00", date(2026, 10, 30), date(2026, 11, 29)),
    ("INV-A", "acme", IMPORT, "3000.00", date(2026, 9, 1), date(2026, 10, 1)),
    ("INV-B", "shop", IMPORT, "2000.00", date(2026, 7, 1), date(2026, 8, 1)),
    ("INV-C", "plus", IMPORT, "700.00", date(2026, 10, 1), date(2026, 11, 10)),
    ("INV-D", "acme", IMPORT, "100.00", date(2026, 9, 15), date(2026, 10, 15)),
]


@dataclass(frozen=True)
class CollectionSpec:
    key: str
    rep: str
    customer: str
    method: PaymentMethod
    amount: str
    received: datetime  # local
    handed_in: datetime | None  # local
    reverses: str | None
    allocations: dict[str, str]


COLLECTIONS = [
    CollectionSpec("c1", "li", "acme", CASH, "500.00", nov(10, 10), None, None, {"INV-A": "500.00"}),
    CollectionSpec("c2", "li", "acme", TRANSFER, "100.00", nov(12, 9), nov(12, 9), None, {"INV-D": "100.00"}),
    CollectionSpec(
        "c3", "bob", "shop", CHEQUE, "1000.00", nov(15, 14), nov(16, 10), None, {"INV-B": "1000.00"}
    ),
    CollectionSpec(
        "c4", "sam", "plus", TRANSFER, "200.00", nov(18, 9), nov(18, 9), None, {"INV-C": "200.00"}
    ),
    CollectionSpec("c5", "bob", "shop", CASH, "300.00", nov(19, 11), None, None, {"INV-B": "300.00"}),
    CollectionSpec(
        "c6", "bob", "shop", CASH, "-300.00", nov(19, 20), nov(19, 20), "c5", {"INV-B": "-300.00"}
    ),
    CollectionSpec(
        "c0", "li", "acme", CASH, "50.00", datetime(2026, 10, 28, 10), None, None, {"INV-A": "50.00"}
    ),
    CollectionSpec("c7", "wang", "formula", CASH, "80.00", nov(22, 17), None, None, {}),
]
#: (rep, day, submitted local, late, problems)
REPORTS = [
    ("li", date(2026, 11, 20), nov(20, 18, 30), False, "none"),
    ("li", date(2026, 11, 21), nov(21, 21, 45), True, ""),
    ("wang", date(2026, 11, 22), nov(22, 18), False, "=1+1"),
    ("bob", date(2026, 11, 20), nov(20, 22), True, ""),
    ("bob", date(2026, 10, 31), datetime(2026, 10, 31, 18), False, ""),
]


def aware(local: datetime) -> datetime:
    return local.replace(tzinfo=ZONE)


@dataclass(frozen=True)
class World:
    company: factories.Company
    reps: dict[str, User]
    db: Database

    def caller(self, user: User, language: str = "en") -> Caller:
        return Caller.of(user, language)


async def populate(db: Database) -> World:
    now = MONDAY_MORNING
    company = await factories.company(db, now)
    async with db.transaction() as session:
        wang = factories.user(session, 2003, "王芳", Role.REP, company.north, now)
        sam = factories.user(session, 2004, "Sam South", Role.REP, company.south, now)
        await session.flush()
        reps = {"li": company.rep, "wang": wang, "bob": company.other_rep, "sam": sam}
        customers = {}
        for key, (name, code, rep) in CUSTOMERS.items():
            customers[key] = Customer(
                code=code,
                name=name,
                grade="B",
                rep_id=reps[rep].id,
                team_id=reps[rep].team_id,
                created_at=now,
            )
        session.add_all(customers.values())
        await session.flush()
        visits = [
            Visit(
                rep_id=reps[rep].id,
                customer_id=customers[customer].id,
                visited_at=aware(at),
                kind=VisitKind.VISIT,
                notes=notes,
                source_key=f"v{number}",
                created_at=now,
            )
            for number, (rep, customer, at, notes) in enumerate(VISITS)
        ]
        session.add_all(visits)
        await session.flush()
        session.add_all(
            StockLine(visit_id=visits[visit].id, product=product, quantity=quantity)
            for visit, product, quantity in STOCK
        )
        session.add_all(
            Feedback(visit_id=visits[visit].id, topic=topic, text=text) for visit, topic, text in FEEDBACK
        )
        invoices = {}
        for invoice, customer, source, amount, issued, due in RECEIVABLES:
            invoices[invoice] = Receivable(
                invoice_no=invoice,
                customer_id=customers[customer].id,
                rep_id=customers[customer].rep_id,
                amount=Decimal(amount),
                issued_on=issued,
                due_on=due,
                source=source,
                created_at=now,
            )
        session.add_all(invoices.values())
        await session.flush()
        rows: dict[str, Collection] = {}
        for spec in COLLECTIONS:
            row = Collection(
                rep_id=reps[spec.rep].id,
                customer_id=customers[spec.customer].id,
                amount=Decimal(spec.amount),
                method=spec.method,
                received_at=aware(spec.received),
                handed_in_at=aware(spec.handed_in) if spec.handed_in else None,
                reverses_id=rows[spec.reverses].id if spec.reverses else None,
                recorded_by=reps[spec.rep].id,
                source_key=spec.key,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            rows[spec.key] = row
            session.add_all(
                Allocation(collection_id=row.id, receivable_id=invoices[invoice].id, amount=Decimal(amount))
                for invoice, amount in spec.allocations.items()
            )
        for number, (rep, day, submitted, late, problems) in enumerate(REPORTS):
            session.add(
                DailyReport(
                    rep_id=reps[rep].id,
                    day=day,
                    submitted_at=aware(submitted),
                    late=late,
                    problems=problems,
                    source_key=f"r{number}",
                )
            )
    return World(company, reps, db)


# -- what the workbook must say, from the specs alone ----------------------------------------------


def team_of_customer(customer: str) -> str:
    return REPS[CUSTOMERS[customer][2]][2]


def in_november(day: date) -> bool:
    return NOVEMBER[0] <= day <= NOVEMBER[1]


def expected(team: str | None) -> dict[str, Any]:
    """Every figure of the November workbook for one team (None: everyone)."""

    def by_team(rep: str) -> bool:
        return team is None or REPS[rep][2] == team

    def mine(customer: str) -> bool:
        return team is None or team_of_customer(customer) == team

    visits = [v for v in VISITS if by_team(v[0]) and in_november(v[2].date())]
    stock = [line for line in STOCK if VISITS[line[0]] in visits]
    feedback = [item for item in FEEDBACK if VISITS[item[0]] in visits]
    orders = [r for r in RECEIVABLES if by_team(CUSTOMERS[r[1]][2]) and r[2] == ORDER and in_november(r[4])]
    collections = [c for c in COLLECTIONS if by_team(c.rep) and in_november(c.received.date())]
    reversed_keys = {c.reverses for c in COLLECTIONS if c.reverses}
    kept = [c for c in collections if c.reverses is None and c.key not in reversed_keys]
    by_method = {
        method: sum((Decimal(c.amount) for c in kept if c.method == method), Decimal(0))
        for method in PaymentMethod
    }
    held = sum(
        (Decimal(c.amount) for c in kept if c.method in (CASH, CHEQUE) and c.handed_in is None), Decimal(0)
    )
    paid: dict[str, Decimal] = {}
    for c in COLLECTIONS:
        for invoice, amount in c.allocations.items():
            paid[invoice] = paid.get(invoice, Decimal(0)) + Decimal(amount)
    open_rows = []
    for invoice, customer, _source, amount, _issued, due in RECEIVABLES:
        remaining = Decimal(amount) - paid.get(invoice, Decimal(0))
        if mine(customer) and remaining > 0:
            open_rows.append((invoice, remaining, max(0, (TODAY - due).days)))
    overdue = [row for row in open_rows if row[2] > 0]

    def bucket(low: int, high: int) -> Decimal:
        return sum((r[1] for r in overdue if low <= r[2] <= high), Decimal(0))

    reports = [r for r in REPORTS if by_team(r[0]) and in_november(r[1])]
    # Unapplied credit today, per collection (a reversal counted with the collection it reverses).
    left: dict[str, tuple[str, Decimal]] = {}
    for c in COLLECTIONS:
        group = c.reverses or c.key
        customer, before = left.get(group, (c.customer, Decimal(0)))
        spent = sum((Decimal(amount) for amount in c.allocations.values()), Decimal(0))
        left[group] = (customer, before + Decimal(c.amount) - spent)
    credits = [(customer, amount) for customer, amount in left.values() if amount > 0 and mine(customer)]
    return {
        "Visits": len(visits),
        "Customers visited": len({v[1] for v in visits}),
        "Stock lines counted": len(stock),
        "Market feedback notes": len(feedback),
        "Orders": len(orders),
        "Orders amount": sum((Decimal(r[3]) for r in orders), Decimal(0)),
        "Returns (certificates issued)": 0,
        "Returns amount": Decimal(0),
        "Orders less returns": sum((Decimal(r[3]) for r in orders), Decimal(0)),
        "Customers holding unapplied credit": len({customer for customer, _ in credits}),
        "Unapplied credit": sum((amount for _, amount in credits), Decimal(0)),
        "Collected in cash": by_method[CASH],
        "Collected by transfer": by_method[TRANSFER],
        "Collected by cheque": by_method[CHEQUE],
        "Collected in total (reversals left out)": sum(by_method.values(), Decimal(0)),
        "Of which still held by reps": held,
        "Open invoices": len(open_rows),
        "Open receivables": sum((r[1] for r in open_rows), Decimal(0)),
        "Overdue invoices": len(overdue),
        "Overdue receivables": sum((r[1] for r in overdue), Decimal(0)),
        "Overdue 1-30 days": bucket(1, 30),
        "Overdue 31-60 days": bucket(31, 60),
        "Overdue 61-90 days": bucket(61, 90),
        "Overdue over 90 days": bucket(91, 10_000),
        "Daily reports submitted": len(reports),
        "Daily reports late": sum(1 for r in reports if r[3]),
        # row counts of the data sheets
        "rows": {
            "Visits": len(visits),
            "Stock": len(stock),
            "Feedback": len(feedback),
            "Orders": len(orders),
            "Returns": 0,
            "Collections": len(collections),
            "Credits": len(credits),
            "Receivables": len(open_rows),
            "Reports": len(reports),
            "Expenses": 0,  # tests/test_expenses.py fills the sheet
            "Vehicle log": 0,  # tests/test_trips.py fills the sheet
            "Complaints": 0,  # tests/test_complaints.py fills the sheet
            "Plans": 0,  # tests/test_plans.py fills the sheet
        },
        "open_by_invoice": {r[0]: (r[1], r[2]) for r in open_rows},
    }


# -- reading a workbook back -----------------------------------------------------------------------


def open_book(content: bytes) -> Workbook:
    return load_workbook(io.BytesIO(content))


def summary_of(book: Workbook) -> dict[str, object]:
    sheet = book.worksheets[0]  # "Summary", "汇总": first in every language
    return {row[0].value: row[1].value for row in sheet.iter_rows(min_row=2)}


def records(sheet: Worksheet) -> list[dict[str, Any]]:
    """Data rows as {header: cell}."""
    header = [cell.value for cell in sheet[1]]
    return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]


def money(value: object) -> Decimal:
    assert isinstance(value, int | float), value
    return Decimal(str(value)).quantize(CENT)


def assert_figures(summary: dict[str, object], figures: dict[str, Any]) -> None:
    for label, value in figures.items():
        if label in ("rows", "open_by_invoice"):
            continue
        if isinstance(value, Decimal):
            assert money(summary[label]) == value, label
        else:
            assert summary[label] == value and isinstance(summary[label], int), label


async def workbook_for(
    world: World, caller: Caller | None, text: str = "2026-11", **kwargs: Any
) -> exports.ExportedWorkbook:
    async with world.db.reading() as session:
        return await exports.build_workbook(session, caller, parse_period(text, TODAY), ZONE, TODAY, **kwargs)


@pytest.fixture
async def world(db: Database) -> World:
    return await populate(db)


# -- the tests --------------------------------------------------------------------------------------


async def test_the_directors_workbook_has_every_sheet_typed_and_every_figure_right(world: World) -> None:
    exported = await workbook_for(world, world.caller(world.company.director))
    book = open_book(exported.content)
    assert book.sheetnames == [
        "Summary",
        "Visits",
        "Stock",
        "Feedback",
        "Orders",
        "Returns",
        "Collections",
        "Credits",
        "Receivables",
        "Reports",
        "Expenses",
        "Vehicle log",
        "Complaints",
        "Plans",
    ]
    figures = expected(None)
    assert exported.rows == figures["rows"]
    for title, count in figures["rows"].items():
        sheet = book[title]
        assert sheet.max_row == count + 1, title
        assert sheet.freeze_panes == "A2", title
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{count + 1}"
        assert all(sheet.column_dimensions[letter].width >= 7 for letter in "ABC")
        assert all(cell.font.bold for cell in sheet[1])
    assert book["Summary"].freeze_panes == "A2"
    summary = summary_of(book)
    assert_figures(summary, figures)
    assert summary["Period"] == "2026-11" and summary["Scope"] == "All teams"
    assert summary["From"] == datetime(2026, 11, 1) and summary["To"] == datetime(2026, 11, 30)
    assert summary["Time zone of all times"] == "Asia/Shanghai"

    visits = records(book["Visits"])
    first = visits[0]
    # 00:30 local on 1 November is 16:30 UTC on 31 October: in November, written as local time.
    assert first["Visited at (Asia/Shanghai)"].value == nov(1, 0, 30)
    assert first["Visited at (Asia/Shanghai)"].is_date
    assert first["Visited at (Asia/Shanghai)"].number_format == xlsx.DATETIME_FORMAT
    assert first["Customer"].value == "Acme 北方" and first["Rep"].value == "Li Wei"
    assert first["Team"].value == "North" and first["Kind"].value == "on-site visit"
    assert "October, local time" not in {row["Notes"].value for row in visits}

    orders = {row["Invoice"].value: row for row in records(book["Orders"])}
    assert set(orders) == {"SO-1", "SO-2", "SO-3"}
    so1 = orders["SO-1"]
    assert so1["Issued"].value == datetime(2026, 11, 3) and so1["Issued"].is_date
    assert so1["Amount"].number_format == xlsx.MONEY_FORMAT
    assert money(so1["Amount"].value) == Decimal("1200.50")
    assert money(orders["SO-2"]["Open now"].value) == Decimal("800.00")

    collections = {row["Collection no."].value: row for row in records(book["Collections"])}
    reversal = next(row for row in collections.values() if row["Reverses no."].value is not None)
    original = collections[reversal["Reverses no."].value]
    assert money(reversal["Amount"].value) == Decimal("-300.00") and original["Reversed"].value == "Yes"
    assert original["Held by rep"].value == "No"
    assert isinstance(reversal["Collection no."].value, int)
    total = sum((money(row["Amount"].value) for row in collections.values()), Decimal(0))
    november = [c for c in COLLECTIONS if in_november(c.received.date())]
    assert total == sum((Decimal(c.amount) for c in november), Decimal(0))
    held = [row for row in collections.values() if row["Held by rep"].value == "Yes"]
    held_total = sum((money(row["Amount"].value) for row in held), Decimal(0))
    assert held_total == figures["Of which still held by reps"]
    handed = next(row for row in collections.values() if row["Method"].value == "cheque")
    assert handed["Handed in at (Asia/Shanghai)"].value == nov(16, 10)

    receivables = {row["Invoice"].value: row for row in records(book["Receivables"])}
    assert {k: (money(r["Open"].value), r["Days overdue"].value) for k, r in receivables.items()} == figures[
        "open_by_invoice"
    ]
    inv_b = receivables["INV-B"]
    assert inv_b["Aging"].value == "over 90 days" and inv_b["Due"].value == datetime(2026, 8, 1)
    assert inv_b["Customer"].value == "South Shop" and inv_b["Rep"].value == "Bob South"
    assert inv_b["Disputed"].value == "No" and inv_b["Follow-up level"].value == 0
    so1 = receivables["SO-1"]
    assert so1["Aging"].value == "not yet due" and so1["Days overdue"].value == 0

    reports = records(book["Reports"])
    assert [(row["Day"].value, row["Rep"].value, row["Late"].value) for row in reports] == [
        (datetime(2026, 11, 20), "Bob South", "Yes"),
        (datetime(2026, 11, 20), "Li Wei", "No"),
        (datetime(2026, 11, 21), "Li Wei", "Yes"),
        (datetime(2026, 11, 22), "王芳", "No"),
    ]
    assert reports[0]["Submitted at (Asia/Shanghai)"].value == nov(20, 22)


async def test_stock_and_feedback_sheets_have_a_row_per_line(world: World) -> None:
    """Issue 18: what reps counted and heard on their visits, one row per line, in the period."""
    book = open_book((await workbook_for(world, world.caller(world.company.director))).content)
    stock = records(book["Stock"])
    assert [tuple(cell.value for cell in row.values()) for row in stock] == [
        (nov(20, 10), "Li Wei", "North", "N1", "Acme 北方", "Cola 330ml", 12, None),  # no unit
        (nov(20, 10), "Li Wei", "North", "N1", "Acme 北方", "产品B", 0, None),
        (nov(21, 9), "Bob South", "South", "N1", "Acme 北方", "Cola 330ml", 4, None),
        (nov(22, 15), "王芳", "North", "N2", FORMULA_NAME, "=SUM(A1:A9)", 5, None),
        (nov(23, 8), "Bob South", "South", "S1", "South Shop", "Tea", 7, None),
    ]
    assert list(stock[0]) == [
        "Counted at (Asia/Shanghai)",
        "Rep",
        "Team",
        "Customer code",
        "Customer",
        "Product",
        "Quantity",
        "Unit",
    ]
    assert stock[0]["Counted at (Asia/Shanghai)"].number_format == xlsx.DATETIME_FORMAT
    assert stock[0]["Quantity"].data_type == "n"
    formula = stock[3]["Product"]
    assert formula.data_type == "s" and formula.quotePrefix  # a product is never a formula
    feedback = records(book["Feedback"])
    assert [tuple(cell.value for cell in row.values()) for row in feedback] == [
        (nov(5, 9), "Bob South", "South", "S1", "South Shop", "Competitor", "+new brand in town"),
        (nov(10, 11), "Sam South", "South", "S2", "+Plus Mart", "Quality", "boxes arrive dented"),
        (nov(20, 10), "Li Wei", "North", "N1", "Acme 北方", "Price", "Competitor X is 5% cheaper"),
    ]
    assert feedback[0]["Feedback"].quotePrefix
    summary = summary_of(book)
    assert summary["Stock lines counted"] == 5 and summary["Market feedback notes"] == 3

    north = open_book((await workbook_for(world, world.caller(world.company.manager))).content)
    assert {row["Rep"].value for row in records(north["Stock"])} == {"Li Wei", "王芳"}
    assert [row["Feedback"].value for row in records(north["Feedback"])] == ["Competitor X is 5% cheaper"]

    chinese = open_book((await workbook_for(world, world.caller(world.company.director, "zh"))).content)
    assert [cell.value for cell in chinese["库存"][1]][5:] == ["产品", "数量", "单位"]
    assert [cell.value for cell in chinese["反馈内容"][1]][5:] == ["主题", "反馈内容"]
    assert [row["主题"].value for row in records(chinese["反馈内容"])] == ["竞争对手", "质量", "价格"]


async def test_a_manager_exports_their_team_only(world: World) -> None:
    exported = await workbook_for(world, world.caller(world.company.manager))
    book = open_book(exported.content)
    figures = expected("North")
    assert exported.rows == figures["rows"]
    summary = summary_of(book)
    assert_figures(summary, figures)
    assert summary["Scope"] == "Team North"
    south_names = {"South Shop", "+Plus Mart", "Bob South", "Sam South"}
    for title in ("Visits", "Stock", "Feedback", "Orders", "Collections", "Receivables", "Reports"):
        seen = {cell.value for row in book[title].iter_rows(min_row=2) for cell in row}
        assert not seen & south_names, title
        teams = {row["Team"].value for row in records(book[title])}
        assert teams <= {"North"}, title
    # Bob's visit to a North customer is South's work: in South's export, not North's.
    south_manager = Caller(
        id=0,
        telegram_id=0,
        name="South's manager",
        role=Role.MANAGER,
        team_id=world.company.south.id,
        language="en",
    )
    south = open_book((await workbook_for(world, south_manager)).content)
    assert_figures(summary_of(south), expected("South"))
    assert "covering for Li" in {row["Notes"].value for row in records(south["Visits"])}
    assert "covering for Li" not in {row["Notes"].value for row in records(book["Visits"])}


async def test_finance_sees_everyone_and_a_rep_is_refused(world: World) -> None:
    exported = await workbook_for(world, world.caller(world.company.finance))
    assert exported.rows == expected(None)["rows"]
    with pytest.raises(AccessDenied):
        await workbook_for(world, world.caller(world.company.rep))


async def test_formula_like_text_stays_text(world: World) -> None:
    exported = await workbook_for(world, world.caller(world.company.director))
    book = open_book(exported.content)
    customers = [row["Customer"] for row in records(book["Receivables"])]
    hyperlink = next(cell for cell in customers if cell.value == FORMULA_NAME)
    assert hyperlink.data_type == "s" and hyperlink.quotePrefix
    plus = next(cell for cell in customers if cell.value == "+Plus Mart")
    assert plus.data_type == "s" and plus.quotePrefix
    notes = {row["Notes"].value: row["Notes"] for row in records(book["Visits"])}
    assert notes["-stock low"].data_type == "s" and notes["-stock low"].quotePrefix
    assert notes["@boss asked for a call"].quotePrefix
    assert not notes["met the buyer"].quotePrefix  # ordinary text is left alone
    problems = [row["Problems met"] for row in records(book["Reports"])]
    assert any(cell.value == "=1+1" and cell.data_type == "s" for cell in problems)
    # No formula anywhere in the file: the raw sheet XML has no <f> element.
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=40), min_size=1, max_size=20))
def test_any_text_comes_back_as_the_same_text_never_a_formula(texts: list[str]) -> None:
    buffer = io.BytesIO()
    book = xlsx.XlsxFile(buffer)
    column = exports.Column("Text", exports.Kind.TEXT, 10)
    sheet = book.open(book.place("T"), [column], ["Text"], "Yes", "No")
    for text in texts:
        sheet.append([text])
    sheet.close()
    book.close()
    back = load_workbook(io.BytesIO(buffer.getvalue()))["T"]
    for row, text in enumerate(texts, start=2):
        cell = back.cell(row, 1)
        cleaned = xlsx.clean_text(text)
        if not cleaned:
            assert cell.value is None
            continue
        assert cell.data_type == "s" and cell.value == cleaned
        assert cell.quotePrefix == cleaned.startswith(xlsx.FORMULA_STARTS)


def test_text_excel_cannot_hold_is_cleaned() -> None:
    assert xlsx.clean_text("bell\x07 and null\x00") == "bell and null"
    assert xlsx.clean_text("tab\tand\nnewline\r\nand\rreturn") == "tab\tand\nnewline\nand\nreturn"
    long = xlsx.clean_text("x" * 40_000)
    assert len(long) == xlsx.MAX_CELL_TEXT and long.endswith("…")


async def test_sheet_names_headers_and_yes_no_are_in_the_callers_language(world: World) -> None:
    """Issue 22: a Chinese export had English sheet names and TRUE/FALSE cells under Chinese headers."""
    exported = await workbook_for(world, world.caller(world.company.director, "zh"))
    book = open_book(exported.content)
    zh = Translator("zh")
    assert book.sheetnames == [
        "汇总",
        "拜访",
        "库存",
        "反馈内容",
        "订单",
        "退货",
        "收款",
        "未核销余额",
        "应收账款",
        "日报",
        "费用报销",
        "行车记录",
        "投诉",
        "计划",
    ]
    assert book.sheetnames == [zh.gettext(title) for title in exports.SHEETS]
    assert book["拜访"]["A1"].value == "拜访时间（Asia/Shanghai）"
    assert [cell.value for cell in book["日报"][1]][:5] == [
        "日期",
        "销售员",
        "团队",
        "提交时间（Asia/Shanghai）",
        "迟交",
    ]
    assert zh.gettext("Open receivables") in summary_of(book) and "未结应收账款" in summary_of(book)
    late = [row["迟交"].value for row in records(book["日报"])]
    assert late == ["是", "否", "是", "否"]
    flags = {
        cell.value
        for sheet in book
        for row in sheet.iter_rows(min_row=2)
        for cell in row
        if isinstance(cell.value, bool)
    }
    assert not flags  # no TRUE/FALSE left anywhere
    english = open_book((await workbook_for(world, world.caller(world.company.director))).content)
    assert english.sheetnames == list(exports.SHEETS)
    assert [row["Late"].value for row in records(english["Reports"])] == ["Yes", "No", "Yes", "No"]


async def test_small_batches_give_the_same_workbook(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows stream in batches through a bounded queue to the writer thread."""
    monkeypatch.setattr(exports, "BATCH_ROWS", 1)
    monkeypatch.setattr(exports, "QUEUED_BATCHES", 1)
    exported = await workbook_for(world, world.caller(world.company.director))
    assert exported.rows == expected(None)["rows"]
    assert_figures(summary_of(open_book(exported.content)), expected(None))


async def test_a_failure_in_the_writer_reaches_the_caller(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_context: exports.ExportContext) -> exports.Sheet:
        sheet = original(_context)

        def shape(row: Any) -> list[object]:
            raise RuntimeError("cannot shape")

        return exports.Sheet(sheet.title, sheet.columns, sheet.query, shape)

    original = exports.visits_sheet
    monkeypatch.setattr(exports, "BATCH_ROWS", 1)
    monkeypatch.setattr(exports, "QUEUED_BATCHES", 1)
    monkeypatch.setattr(exports, "SHEET_BUILDERS", (broken, *exports.SHEET_BUILDERS[1:]))
    with pytest.raises(RuntimeError, match="cannot shape"):
        await asyncio.wait_for(workbook_for(world, world.caller(world.company.director)), timeout=10)


async def test_a_failing_query_stops_the_writer_thread(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(context: exports.ExportContext) -> exports.Sheet:
        sheet = original(context)
        wrong = select(literal_column("no_such_column"))
        return exports.Sheet(sheet.title, sheet.columns, wrong, sheet.shape)

    original = exports.reports_sheet
    monkeypatch.setattr(exports, "SHEET_BUILDERS", (*exports.SHEET_BUILDERS[:-1], broken))
    with pytest.raises(DBAPIError):
        await asyncio.wait_for(workbook_for(world, world.caller(world.company.director)), timeout=10)
    for _ in range(100):
        if not any(thread.name == "fieldbot-export" for thread in threading.enumerate()):
            break
        await asyncio.sleep(0.05)
    assert not any(thread.name == "fieldbot-export" for thread in threading.enumerate())


# -- through Telegram -------------------------------------------------------------------------------


async def test_export_command_sends_the_managers_workbook(harness: Harness, world: World) -> None:
    manager = harness.person(5001, "Mia")
    await manager.send("/export 2026-11")
    document = harness.api.last(5001)
    assert document.kind == "document" and document.file_name == "fieldbot-2026-11.xlsx"
    assert document.file_bytes is not None
    figures = expected("North")
    caption = document.plain_text()
    assert "Month 2026-11" in caption and "Team North" in caption
    rows = figures["rows"]
    assert (
        f"Visits: {rows['Visits']} · orders: {rows['Orders']} · collections: {rows['Collections']} · "
        f"open receivables: {rows['Receivables']} · daily reports: {rows['Reports']}"
    ) in caption
    book = open_book(document.file_bytes)
    assert book.sheetnames == list(exports.SHEETS)
    assert_figures(summary_of(book), figures)
    # done within a second: no "sending a file…" and no progress message (test_export_progress.py)
    assert not any(call.method == "sendChatAction" for call in harness.api.calls)
    assert [message.kind for message in harness.api.chat(5001)] == ["document"]


async def test_the_chat_shows_progress_until_the_file_is_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[int, str]] = []

    class Bot:
        async def send_chat_action(self, chat_id: int, chat_action: str) -> None:
            shown.append((chat_id, chat_action))
            if len(shown) == 2:
                raise TimedOut()  # a hint that fails is no reason to stop

    monkeypatch.setattr(handlers.reporting.exports, "CHAT_ACTION_EVERY", 0.01)
    async with handlers.reporting.exports.showing(Bot(), 42, "upload_document"):  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
    count = len(shown)
    assert count >= 3 and set(shown) == {(42, "upload_document")}
    await asyncio.sleep(0.05)
    assert len(shown) == count  # stopped with the work


async def test_export_in_chinese_and_default_period(harness: Harness, world: World) -> None:
    director = harness.person(7001, "Dee", language_code="zh-hans")
    async with world.db.transaction() as session:
        user = await session.get_one(User, world.company.director.id)
        user.language = "zh"
    await director.send("/export")
    document = harness.api.last(7001)
    assert document.file_name == f"fieldbot-{TODAY.isoformat()}.xlsx"
    assert Translator("zh").gettext("All teams") in document.plain_text()
    summary = summary_of(open_book(document.file_bytes or b""))
    zh = Translator("zh")
    assert summary[zh.gettext("Visits")] == 1  # today: Bob's 08:00 visit


async def test_a_rep_may_not_export(harness: Harness, world: World) -> None:
    rep = harness.person(2001, "Li")
    reply = await rep.says("/export 2026-11")
    assert reply == "Your role does not allow this."
    assert all(message.kind == "text" for message in harness.api.chat(2001))


async def test_a_bad_period_is_explained(harness: Harness, world: World) -> None:
    manager = harness.person(5001, "Mia")
    reply = await manager.says("/export someday")
    assert "I don't understand the period someday" in reply
    assert "2026-11-01..2026-11-15" in reply
    reply = await manager.says("/export 2027-01")
    assert "has not begun yet" in reply
    assert all(message.kind == "text" for message in harness.api.chat(5001))


# -- the command line -------------------------------------------------------------------------------


async def test_fieldbot_export_writes_the_file(
    world: World,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("FIELDBOT_TIMEZONE", "Asia/Shanghai")
    target = tmp_path / "november.xlsx"
    assert await asyncio.to_thread(main, ["export", "--period", "2026-11", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {target}: 2026-11, All teams" in out
    book = open_book(target.read_bytes())
    assert book.sheetnames == list(exports.SHEETS)
    figures = expected(None)
    # the command line's "today" is the real one: check what does not depend on it
    for title in ("Visits", "Orders", "Collections", "Reports"):
        assert f"  {title}: {figures['rows'][title]} rows" in out
        assert book[title].max_row == figures["rows"][title] + 1
    summary = summary_of(book)
    assert summary["Visits"] == figures["Visits"] and summary["Scope"] == "All teams"
    assert await asyncio.to_thread(main, ["export", "--period", "someday", "-o", str(target)]) == 2
    assert "I don't understand the period someday" in capsys.readouterr().err


async def test_fieldbot_export_names_the_file_after_the_period(
    world: World, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    assert (
        await asyncio.to_thread(main, ["export", "--period", "2026-11-01..2026-11-15", "--language", "zh"])
        == 0
    )
    written = tmp_path / "fieldbot-2026-11-01..2026-11-15.xlsx"
    book = open_book(written.read_bytes())
    assert Translator("zh").gettext("Visits") in summary_of(book)
