"""Importing receivables: from the command line and by finance sending the file to the bot."""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.cli import main
from bot.clock import FixedClock
from bot.db import Database
from bot.services.intake.receivable_import import parse_date
from models import AuditLog, Customer, Receivable, ReceivableSource
from tests import factories
from tests.factories import Company
from tests.harness import Harness

HEADER = "invoice_no,customer_code,amount,issued_on,due_on\n"


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    return tmp_path


async def two_customers(db: Database, clock: FixedClock) -> tuple[Company, Customer, Customer]:
    """C-1: grade C (30 days), Li Wei's; C-2: own 15 days, Bob South's."""
    now = clock.now()
    people = await factories.company(db, now)
    shop = await factories.customer(db, now, name="Shop One", code="C-1", rep=people.rep)
    other = await factories.customer(
        db, now, name="Shop Two", code="C-2", rep=people.other_rep, grade="A", credit_days=15
    )
    return people, shop, other


async def invoices(db: Database) -> dict[str, Receivable]:
    async with db.reading() as session:
        return {r.invoice_no: r for r in await session.scalars(select(Receivable))}


async def import_cli(operator_env: Path, content: str, name: str = "open.csv") -> int:
    (operator_env / name).write_text(content, encoding="utf-8")
    result: int = await asyncio.to_thread(main, ["import", "receivables", name])
    return result


async def test_cli_import_computes_missing_due_dates(
    db: Database, clock: FixedClock, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people, shop, other = await two_customers(db, clock)
    content = (
        "\ufeff" + HEADER + 'INV-1,c-1,"5,000.50",2026-11-01,2026-12-15\n'
        "INV-2,C-2,1200,2026/11/01,\nINV-3,C-1,¥300,2026-11-20,\n"
    )
    assert await import_cli(operator_env, content) == 0
    assert "imported: 3 new, 0 updated" in capsys.readouterr().out
    found = await invoices(db)
    assert {n: (r.customer_id, r.rep_id, r.amount, r.issued_on, r.due_on) for n, r in found.items()} == {
        "INV-1": (shop.id, people.rep.id, Decimal("5000.50"), date(2026, 11, 1), date(2026, 12, 15)),
        "INV-2": (other.id, people.other_rep.id, Decimal("1200.00"), date(2026, 11, 1), date(2026, 11, 16)),
        "INV-3": (shop.id, people.rep.id, Decimal("300.00"), date(2026, 11, 20), date(2026, 12, 20)),
    }
    assert all(r.source == ReceivableSource.IMPORT and not r.over_limit for r in found.values())
    async with db.reading() as session:
        (logged,) = await session.scalars(select(AuditLog).where(AuditLog.action == "import_receivables"))
    assert logged.actor_id is None and logged.after is not None and logged.after["created"] == 3


async def test_bad_rows_write_nothing_and_each_is_reported(
    db: Database, clock: FixedClock, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await two_customers(db, clock)
    content = HEADER + (
        "INV-1,C-1,100,2026-11-01,\n"  # 2: good
        "INV-2,NOPE,100,2026-11-01,\n"  # 3
        "INV-3,C-1,100,2026-11-10,2026-11-01\n"  # 4
        "INV-1,C-1,100,2026-11-01,\n"  # 5
        "INV-5,C-1,0,2026-11-01,\n"  # 6
        "INV-6,C-1,1.234,2026-11-01,\n"  # 7
        "INV-7,C-1,abc,31/11/2026,\n"  # 8
        ",C-1,100,2026-11-01,\n"  # 9
        "INV-8,C-1,100,2026-02-30,\n"  # 10
        "INV-9,C-1,1e11,2026-11-01,soon\n"  # 11
        "INV-10,,-5,2026-11-01,\n"  # 12
    )
    assert await import_cli(operator_env, content) == 1
    err = capsys.readouterr().err
    assert "nothing imported: 13 problems" in err
    for expected in (
        "line 3: no customer has the code NOPE",
        "line 4: due_on 2026-11-01 is before issued_on 2026-11-10",
        "line 5: invoice INV-1 already appears on line 2",
        "line 6: The amount must be more than zero.",
        "line 7: Amounts have at most 2 decimals.",
        "line 8: abc is not an amount.",
        "line 8: issued_on 31/11/2026 is not a date",
        "line 9: invoice_no must have 1 to 60 characters",
        "line 10: issued_on 2026-02-30 is not a date",
        "line 11: 1e11 is not an amount.",
        "line 11: due_on soon is not a date",
        "line 12: customer_code is empty",
        "line 12: The amount must be more than zero.",
    ):
        assert expected in err
    assert "line 2:" not in err
    assert await invoices(db) == {}

    assert await import_cli(operator_env, "invoice_no,customer_code,due_on\nX,C-1,\n") == 1
    assert "missing columns: amount, issued_on" in capsys.readouterr().err
    assert await import_cli(operator_env, HEADER) == 1
    assert "the file has a header but no invoices" in capsys.readouterr().err


async def test_reimport_updates_by_invoice_but_never_below_collected(
    db: Database, clock: FixedClock, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people, shop, other = await two_customers(db, clock)
    first = HEADER + "INV-1,C-1,1000,2026-11-01,\nINV-2,C-1,500,2026-11-01,\n"
    assert await import_cli(operator_env, first) == 0
    capsys.readouterr()
    await factories.payment(
        db, clock.now(), receivable=(await invoices(db))["INV-1"], amount="300.00", rep=people.rep
    )

    refused = HEADER + "INV-1,C-1,200,2026-11-01,\nINV-2,C-2,500,2026-11-01,\nINV-1b,C-1,1,2026-11-01,\n"
    assert await import_cli(operator_env, refused) == 1
    err = capsys.readouterr().err
    assert "line 2: amount 200.00 is less than the 300.00 already collected on invoice INV-1" in err
    assert "nothing imported: 1 problem" in err
    assert await import_cli(operator_env, HEADER + "INV-1,C-2,1000,2026-11-01,\n") == 1
    assert (
        "line 2: invoice INV-1 already has collections from another customer: its customer cannot change"
    ) in capsys.readouterr().err
    found = await invoices(db)
    assert set(found) == {"INV-1", "INV-2"} and found["INV-2"].customer_id == shop.id

    accepted = (
        HEADER + "INV-1,C-1,300,2026-11-01,2026-11-30\nINV-2,C-2,500,2026-11-01,\nINV-4,C-2,9,2026-11-02,\n"
    )
    assert await import_cli(operator_env, accepted) == 0
    assert "imported: 1 new, 2 updated" in capsys.readouterr().out
    found = await invoices(db)
    assert (found["INV-1"].amount, found["INV-1"].due_on) == (Decimal("300.00"), date(2026, 11, 30))
    assert (found["INV-2"].customer_id, found["INV-2"].rep_id, found["INV-2"].due_on) == (
        other.id,
        people.other_rep.id,
        date(2026, 11, 16),
    )
    assert await import_cli(operator_env, accepted) == 0
    assert "imported: 0 new, 0 updated" in capsys.readouterr().out
    async with db.reading() as session:
        logged = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == "import_receivables").order_by(AuditLog.id)
            )
        )
    assert len(logged) == 3 and logged[1].before is not None and logged[1].after is not None
    assert logged[1].before["INV-1"]["amount"] == "1000.00"
    assert logged[1].after["changed"]["INV-1"]["amount"] == "300.00"
    assert logged[1].before["INV-2"]["customer_id"] == shop.id


async def send_file(harness: Harness, telegram_id: int, name: str, content: bytes, mime: str) -> str:
    update = harness.api.message(telegram_id, document=(name, content, mime))
    await harness.settle(update)
    return harness.api.last(telegram_id).plain_text()


async def test_finance_sends_the_file_to_the_bot(harness: Harness) -> None:
    people, shop, _ = await two_customers(harness.db, harness.clock)
    harness.person(6001, "Fay")
    harness.person(2001, "Li")
    good = (HEADER + "INV-1,C-1,1000,2026-11-01,\nINV-2,C-2,500,2026-11-01,2026-11-05\n").encode()
    assert await send_file(harness, 2001, "open.csv", good, "text/csv") == "Your role does not allow this."
    assert await invoices(harness.db) == {}

    bad = (
        HEADER + "INV-1,C-1,1000,2026-11-01,\nINV-2,NOPE,5,2026-11-01,\nINV-3,C-1,5,2026-11-09,2026-11-01\n"
    ).encode()
    said = await send_file(harness, 6001, "open.csv", bad, "text/csv")
    assert "Nothing was imported: 2 problems." in said
    assert "line 3: no customer has the code NOPE" in said
    assert "line 4: due_on 2026-11-01 is before issued_on 2026-11-09" in said
    assert await invoices(harness.db) == {}

    said = await send_file(harness, 6001, "open.csv", good, "text/csv")
    assert said == "Imported receivables: 2 new, 0 updated."
    found = await invoices(harness.db)
    assert found["INV-1"].customer_id == shop.id and found["INV-1"].due_on == date(2026, 12, 1)
    async with harness.db.reading() as session:
        (logged,) = await session.scalars(select(AuditLog).where(AuditLog.action == "import_receivables"))
    assert logged.actor_id == people.finance.id


async def test_xlsx_with_real_date_cells(harness: Harness) -> None:
    await two_customers(harness.db, harness.clock)
    harness.person(6001, "Fay")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Invoice_No", "Customer_Code", "Amount", "Issued_On", "Due_On"])
    sheet.append(["X-1", "C-1", 1234.5, datetime(2026, 11, 1), datetime(2026, 12, 31)])
    sheet.append(["X-2", "C-2", 99, date(2026, 11, 2), None])
    sheet.append([20261103, "c-1", "8,000", datetime(2026, 11, 3, 14, 30), "2026/11/30"])
    buffer = io.BytesIO()
    book.save(buffer)
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    said = await send_file(harness, 6001, "open.xlsx", buffer.getvalue(), mime)
    assert said == "Imported receivables: 3 new, 0 updated."
    found = await invoices(harness.db)
    assert (found["X-1"].amount, found["X-1"].issued_on, found["X-1"].due_on) == (
        Decimal("1234.50"),
        date(2026, 11, 1),
        date(2026, 12, 31),
    )
    assert (found["X-2"].issued_on, found["X-2"].due_on) == (date(2026, 11, 2), date(2026, 11, 17))
    assert (found["20261103"].amount, found["20261103"].issued_on, found["20261103"].due_on) == (
        Decimal("8000.00"),
        date(2026, 11, 3),
        date(2026, 11, 30),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", date(2026, 11, 1)),
        ("2026/11/1", date(2026, 11, 1)),
        ("2026.1.05", date(2026, 1, 5)),
        ("2026年11月1日", date(2026, 11, 1)),
        ("2026-11-01T10:30:00", date(2026, 11, 1)),
        ("2026-11-01 00:00:00", date(2026, 11, 1)),
        (" 2026-11-01 ", date(2026, 11, 1)),
        ("2026-02-30", None),
        ("01/11/2026", None),
        ("20261101", None),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected
