"""Importing customers: from the command line and by sending the file to the bot, all or nothing."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st
from openpyxl import Workbook
from sqlalchemy import event, func, select

from bot.cli import main
from bot.clock import FixedClock
from bot.db import Database
from bot.services.errors import Invalid
from bot.services.intake.customer_import import import_customers, parse_credit_limit
from bot.tabular import read_table
from handlers.imports import first_lines
from models import AuditLog, Customer, CustomerStatus, Role, User
from tests import factories
from tests.factories import Company
from tests.harness import Harness

HEADER = "code,name,grade,rep,phone,address,latitude,longitude,credit_limit,credit_days\n"
GOOD = (
    'C001,华东五金店,a,2001,021-5555 1234,上海市 浦东新区 1 号,31.2304,121.4737,"50,000",45\n'
    "C002,<Müller & Söhne>,,@Li_Wei,,,,,0,\n"
    "C003,Quiet Shop,D,,,,,,,\n"
)


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    return tmp_path


async def company(db: Database, clock: FixedClock) -> Company:
    """The factory company, with usernames for the reps and one deactivated rep."""
    people = await factories.company(db, clock.now())
    async with db.transaction() as session:
        (await session.get_one(User, people.rep.id)).username = "li_wei"
        (await session.get_one(User, people.other_rep.id)).username = "bob_south"
        factories.user(session, 2003, "Gone Rep", Role.REP, people.north, clock.now()).active = False
    return people


async def customers_by_code(db: Database) -> dict[str, Customer]:
    async with db.reading() as session:
        return {c.code: c for c in await session.scalars(select(Customer))}


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_cli_csv_with_bom_then_reimport_updates(
    db: Database, clock: FixedClock, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = await company(db, clock)
    (operator_env / "customers.csv").write_bytes(("\ufeff" + HEADER + GOOD).encode())
    assert await cli("import", "customers", "customers.csv") == 0
    assert "3 new, 0 updated" in capsys.readouterr().out
    found = await customers_by_code(db)
    shop, muller, quiet = found["C001"], found["C002"], found["C003"]
    assert (shop.name, shop.grade, shop.rep_id, shop.team_id) == (
        "华东五金店",
        "A",
        people.rep.id,
        people.north.id,
    )
    assert (shop.phone, shop.address) == ("021-5555 1234", "上海市 浦东新区 1 号")
    assert (shop.latitude, shop.longitude) == (31.2304, 121.4737)
    assert (shop.credit_limit, shop.credit_days) == (Decimal("50000.00"), 45)
    assert shop.status == CustomerStatus.ACTIVE
    assert muller.name == "<Müller & Söhne>" and muller.grade == "C" and muller.rep_id == people.rep.id
    assert muller.credit_limit == Decimal("0.00") and muller.credit_days is None  # 0 = cash only
    assert quiet.grade == "D" and quiet.rep_id is None and quiet.team_id is None

    # Without a BOM, a code in other case, fewer columns: credit terms are left as they were.
    # Another rep takes the customer over: named by Telegram id (a username could have drifted).
    (operator_env / "again.csv").write_text(
        "code,name,grade,rep\nc001,华东五金总店,B,2002\nC002,<Müller & Söhne>,,@li_wei\nC004,New Shop,,\n",
        encoding="utf-8",
    )
    assert await cli("import", "customers", "again.csv") == 0
    assert "1 new, 2 updated" in capsys.readouterr().out
    found = await customers_by_code(db)
    assert len(found) == 4 and found["C002"].rep_id == people.rep.id  # the same rep, by username
    shop = found["C001"]
    assert (shop.name, shop.grade, shop.rep_id, shop.team_id) == (
        "华东五金总店",
        "B",
        people.other_rep.id,
        people.south.id,
    )
    assert (shop.credit_limit, shop.credit_days, shop.phone) == (Decimal("50000.00"), 45, "021-5555 1234")
    async with db.reading() as session:
        audits = list(await session.scalars(select(AuditLog).where(AuditLog.action == "import_customers")))
    assert [(a.actor_id, a.after["created"], a.after["updated"]) for a in audits] == [
        (None, 3, 0),
        (None, 1, 2),
    ]


BAD_ROWS = [
    (",No code,,,,,,,,", "line 2: code must have 1 to 40 characters"),
    ("B1,,,,,,,,,", "line 3: name must have 1 to 200 characters"),
    ("B2,Shop,E,,,,,,,", "line 4: grade E is not one of A, B, C, D"),
    ("B3,Shop,A,9999,,,,,,", "line 5: rep 9999 is not a registered user"),
    ("B4,Shop,A,@nobody_here,,,,,,", "line 6: rep @nobody_here is not a registered user"),
    ("B5,Shop,,6001,,,,,,", "line 7: rep 6001 does not do field work"),
    ("B6,Shop,,2003,,,,,,", "line 8: rep 2003 is deactivated"),
    ("B7,Shop,,,,,91,10,,", "line 9: latitude 91 is not a number between -90 and 90"),
    ("B8,Shop,,,,,10,,,", "line 10: latitude and longitude go together"),
    ("B9,Shop,,,,,,,-5,", "line 11: credit_limit -5 is negative"),
    ("B10,Shop,,,,,,,1.234,", "line 12: Amounts have at most 2 decimals."),
    ("B11,Shop,,,,,,,abc,-1", "line 13: abc is not an amount"),
    ("B12,Shop,,,,,,,,-1", "line 13: credit_days -1 is not a whole number"),
    ("b2,Again,,,,,,,,", "line 15: code b2 already appears on line 4"),
    ("B13,Shop,,,,,,,,,extra", "line 16: more cells than columns in the header"),
    ("B14,Shop,,li wei,,,,,,", "line 17: rep li wei is not a Telegram id or @username"),
    ("B15,Shop,,,,,x,10,,", "line 18: latitude x is not a number"),
]


async def test_cli_bad_rows_write_nothing_and_are_all_listed(
    db: Database, clock: FixedClock, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await company(db, clock)
    rows = [row for row, _ in BAD_ROWS]
    rows.insert(13, "OK1,A good row among bad ones,A,2001,,,,,1.5万,30")  # line 15 is then "b2,Again"
    rows.remove("B12,Shop,,,,,,,,-1")  # B11 on line 13 carries both its credit problems
    (operator_env / "bad.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert await cli("import", "customers", "bad.csv") == 1
    err = capsys.readouterr().err
    assert "nothing imported: 17 problems" in err
    for _, expected in BAD_ROWS:
        assert expected in err
    assert "line 14" not in err
    assert await customers_by_code(db) == {}

    (operator_env / "cols.csv").write_text("code,name,credit_limt\nX1,Shop,5\n", encoding="utf-8")
    assert await cli("import", "customers", "cols.csv") == 1
    assert "line 1: unknown columns: credit_limt" in capsys.readouterr().err
    (operator_env / "nocode.csv").write_text("name,grade\nShop,A\n", encoding="utf-8")
    assert await cli("import", "customers", "nocode.csv") == 1
    assert "line 1: missing columns: code" in capsys.readouterr().err
    (operator_env / "empty.csv").write_text(HEADER, encoding="utf-8")
    assert await cli("import", "customers", "empty.csv") == 1
    assert "header but no customers" in capsys.readouterr().err


def customer_workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.strip().split(","))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_cli_xlsx(
    db: Database, clock: FixedClock, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = await company(db, clock)
    (operator_env / "customers.xlsx").write_bytes(
        customer_workbook(
            [
                ["X001", "华南五金城", "b", 2001, 13800138000, "广州", 23.1291, 113.2644, 80000, 60],
                [1002, "Numbers Only", None, None, None, None, None, None, 12.5, 0],
            ]
        )
    )
    assert await cli("import", "customers", "customers.xlsx") == 0
    assert "2 new" in capsys.readouterr().out
    found = await customers_by_code(db)
    city, numbers = found["X001"], found["1002"]
    assert (city.grade, city.rep_id, city.phone, city.latitude) == (
        "B",
        people.rep.id,
        "13800138000",
        23.1291,
    )
    assert (city.credit_limit, city.credit_days) == (Decimal("80000.00"), 60)
    assert (numbers.credit_limit, numbers.credit_days, numbers.grade) == (Decimal("12.50"), 0, "C")


@given(st.sampled_from(["0", "0.00", "¥0", "０", "0元"]))
def test_a_zero_credit_limit_means_cash_only(text: str) -> None:
    assert parse_credit_limit(text) == Decimal("0.00")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999"), places=2))
def test_credit_limits_read_like_amounts(amount: Decimal) -> None:
    assert parse_credit_limit(f"{amount:,.2f}") == amount
    assert parse_credit_limit(str(amount)) == amount


@pytest.mark.parametrize("text", ["-1", "-0", "abc", "1.001", "nan", "inf", "1e5", "20000000000"])
def test_bad_credit_limits_are_refused(text: str) -> None:
    with pytest.raises(Invalid):
        parse_credit_limit(text)


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the engine sends, to prove the import does not query per row."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", note)


async def test_a_large_file_takes_a_few_bulk_statements(
    db: Database, clock: FixedClock, statements: list[str]
) -> None:
    await company(db, clock)
    size = 12_000
    existing = [
        {"code": f"K{n:06d}", "name": f"Old {n}", "grade": "C", "created_at": clock.now()}
        for n in range(0, size, 2)
    ]
    async with db.transaction() as session:
        await session.execute(Customer.__table__.insert(), existing)
    reps = ["2001", "@li_wei", "2002", ""]
    lines = [f"k{n:06d},Shop {n},{'ABCD'[n % 4]},{reps[n % 4]},,,,,{n}.5,{n % 90}" for n in range(size)]
    table = read_table((HEADER + "\n".join(lines) + "\n").encode(), "big.csv")
    statements.clear()
    started = time.monotonic()
    async with db.transaction() as session:
        report = await import_customers(session, table, clock.now(), None)
    elapsed = time.monotonic() - started
    assert report.ok and (report.created, report.updated) == (size // 2, size // 2)
    assert len(statements) < 40, len(statements)
    assert elapsed < 30
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == size
        sample = await session.scalar(select(Customer).where(Customer.code == "K000006"))
    assert sample is not None and sample.name == "Shop 6" and sample.credit_limit == Decimal("6.50")


# -- the same import, by sending the file to the bot -------------------------------------------------


def upload(
    harness: Harness, telegram_id: int, name: str, content: bytes, mime: str = "text/csv"
) -> dict[str, Any]:
    return harness.api.message(telegram_id, None, document=(name, content, mime))


async def test_admin_and_director_import_by_sending_the_file(harness: Harness) -> None:
    people = await company(harness.db, harness.clock)
    admin = await harness.admin()
    await harness.settle(upload(harness, admin.id, "customers.csv", (HEADER + GOOD).encode()))
    assert "Imported customers: 3 new, 0 updated." in admin.last.plain_text()
    found = await customers_by_code(harness.db)
    assert found["C001"].rep_id == people.rep.id and found["C002"].credit_limit == Decimal("0.00")

    director = harness.person(7001, "Dee")
    await director.send("/lang zh")
    book = customer_workbook([["C003", "安静小店", "A", "@bob_south", None, None, None, None, None, None]])
    await harness.settle(
        upload(
            harness,
            director.id,
            "客户.xlsx",
            book,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    )
    assert "已导入客户：新增 0 条，更新 1 条。" in director.last.plain_text()
    quiet = (await customers_by_code(harness.db))["C003"]
    assert (quiet.name, quiet.grade, quiet.team_id) == ("安静小店", "A", people.south.id)
    async with harness.db.reading() as session:
        admin_user = await session.scalar(select(User.id).where(User.telegram_id == admin.id))
        actors = list(
            await session.scalars(
                select(AuditLog.actor_id).where(AuditLog.action == "import_customers").order_by(AuditLog.id)
            )
        )
    assert actors == [admin_user, people.director.id]


async def test_bad_file_from_the_bot_writes_nothing_and_lists_every_row(harness: Harness) -> None:
    await company(harness.db, harness.clock)
    admin = await harness.admin()
    rows = "\n".join(row for row, _ in BAD_ROWS[:6])
    await harness.settle(upload(harness, admin.id, "bad.csv", (HEADER + rows + "\n").encode()))
    said = admin.last.plain_text()
    assert "Nothing was imported: 6 problems" in said
    for _, expected in BAD_ROWS[:6]:
        assert expected in said
    assert await customers_by_code(harness.db) == {}


async def test_a_long_report_comes_back_as_a_file(harness: Harness) -> None:
    await company(harness.db, harness.clock)
    admin = await harness.admin()
    rows = "\n".join(f"L{n},Shop {n},Z,,,,,,," for n in range(150))
    await harness.settle(upload(harness, admin.id, "many.csv", (HEADER + rows + "\n").encode()))
    text, document = admin.chat[-2:]
    assert "Nothing was imported: 150 problems" in text.plain_text()
    assert "full list of 150 problems is in the attached file" in text.plain_text()
    assert len(text.plain_text()) < 4096
    assert document.kind == "document" and document.file_name == "import-problems.txt"
    assert document.file_bytes is not None
    full = document.file_bytes.decode()
    assert len(full.splitlines()) == 150
    assert "line 2: grade Z is not one of A, B, C, D" in full and "line 151:" in full
    assert await customers_by_code(harness.db) == {}


async def test_managers_import_into_their_own_team_only(harness: Harness) -> None:
    people = await company(harness.db, harness.clock)
    await factories.customer(
        harness.db, harness.clock.now(), name="South Shop", rep=people.other_rep, code="S001"
    )
    manager = harness.person(5001, "Mia")
    content = (
        HEADER + "M001,Own Shop,A,2001,,,,,,\nM002,Far Shop,A,@bob_south,,,,,,\n"
        "s001,Taken Over,A,2001,,,,,,\n"
    ).encode()
    await harness.settle(upload(harness, manager.id, "mine.csv", content))
    said = manager.last.plain_text()
    assert "Nothing was imported: 2 problems" in said
    assert "line 3: rep @bob_south is not in your team" in said
    assert "line 4: customer s001 belongs to another team" in said
    assert set(await customers_by_code(harness.db)) == {"S001"}

    await harness.settle(
        upload(
            harness,
            manager.id,
            "mine.csv",
            (HEADER + "M001,Own Shop,A,2001,,,,,,\nM002,Unassigned,B,,,,,,,\n").encode(),
        )
    )
    assert "2 new" in manager.last.plain_text()
    found = await customers_by_code(harness.db)
    assert (found["M001"].rep_id, found["M001"].team_id) == (people.rep.id, people.north.id)
    assert (found["M002"].rep_id, found["M002"].team_id) == (None, people.north.id)


# -- a rep named by @username: Telegram lets anyone take a username someone gave up ------------------


async def rep_who_joins(
    harness: Harness, people: Company, telegram_id: int, name: str, username: str
) -> User:
    """A rep of North who then writes to the bot from an account named @``username``."""
    async with harness.db.transaction() as session:
        user = factories.user(session, telegram_id, name, Role.REP, people.north, harness.clock.now())
    await harness.person(telegram_id, name.split()[0], username=username).send("/help")
    return user


async def test_a_username_held_by_several_people_names_none_of_them(harness: Harness) -> None:
    people = await company(harness.db, harness.clock)
    admin = await harness.admin()
    bob = await rep_who_joins(harness, people, 2005, "Bob Sales", "bob_sales")
    await admin.send("/deactivate 2005")  # Bob leaves; his account's username is free again
    carol = await rep_who_joins(harness, people, 2006, "Carol Chen", "bob_sales")  # and Carol takes it
    async with harness.db.transaction() as session:
        (await session.get_one(User, bob.id)).username = "bob_sales"  # as Bob last wrote to us
        gone = await session.scalar(select(User).where(User.telegram_id == 2003))
        assert gone is not None
        gone.username = "gone_rep"

    content = HEADER + "N1,New Shop,,@Bob_Sales,,,,,,\nN2,Old Shop,,@gone_rep,,,,,,\n"
    await harness.settle(upload(harness, admin.id, "customers.csv", content.encode()))
    said = admin.last.plain_text()
    assert "Nothing was imported: 2 problems" in said
    assert (
        "line 2: rep @Bob_Sales matches several people: Bob Sales (2005), Carol Chen (2006). "
        "Name the rep by Telegram id."
    ) in said
    assert "line 3: rep @gone_rep is deactivated" in said
    assert await customers_by_code(harness.db) == {}

    await harness.settle(
        upload(harness, admin.id, "customers.csv", (HEADER + "N1,New Shop,,2006,,,,,,\n").encode())
    )
    assert "Imported customers: 1 new, 0 updated." in admin.last.plain_text()
    assert (await customers_by_code(harness.db))["N1"].rep_id == carol.id


async def test_a_username_now_held_by_someone_else_does_not_move_a_customer(harness: Harness) -> None:
    people = await company(harness.db, harness.clock)
    admin = await harness.admin()
    bob = await rep_who_joins(harness, people, 2005, "Bob Sales", "bob_sales")
    await factories.customer(harness.db, harness.clock.now(), name="Bob Shop", rep=bob, code="S1")
    await harness.person(2005, "Bob", username="bob_new").send("/help")  # Bob renames his account
    carol = await rep_who_joins(harness, people, 2006, "Carol Chen", "bob_sales")  # Carol takes the old

    old_file = (HEADER + "s1,Bob Shop,A,@bob_sales,,,,,,\n").encode()  # last month's export
    await harness.settle(upload(harness, admin.id, "customers.csv", old_file))
    said = admin.last.plain_text()
    assert "Nothing was imported: 1 problem" in said
    assert (
        "line 2: customer s1's rep is Bob Sales (2005), but @bob_sales is now Carol Chen (2006); "
        "to change the rep, name them by Telegram id"
    ) in said
    shop = (await customers_by_code(harness.db))["S1"]
    assert (shop.rep_id, shop.grade) == (bob.id, "C")

    await harness.settle(
        upload(harness, admin.id, "customers.csv", (HEADER + "s1,Bob Shop,A,@bob_new,,,,,,\n").encode())
    )
    assert "Imported customers: 0 new, 1 updated." in admin.last.plain_text()
    shop = (await customers_by_code(harness.db))["S1"]
    assert (shop.rep_id, shop.grade) == (bob.id, "A")  # the same person by their new username

    await harness.settle(
        upload(harness, admin.id, "customers.csv", (HEADER + "s1,Bob Shop,A,2006,,,,,,\n").encode())
    )
    assert "Imported customers: 0 new, 1 updated." in admin.last.plain_text()
    assert (await customers_by_code(harness.db))["S1"].rep_id == carol.id


async def test_reps_and_finance_cannot_import_customers(harness: Harness) -> None:
    await company(harness.db, harness.clock)
    for telegram_id in (2001, 6001):
        person = harness.person(telegram_id, "Someone")
        await harness.settle(upload(harness, person.id, "customers.csv", (HEADER + GOOD).encode()))
        assert "Your role does not allow this." in person.last.plain_text()
    assert await customers_by_code(harness.db) == {}


async def test_unreadable_and_unknown_files_are_explained(harness: Harness) -> None:
    await company(harness.db, harness.clock)
    admin = await harness.admin()
    await harness.settle(upload(harness, admin.id, "latin.csv", (HEADER + "C1,Müller\n").encode("latin-1")))
    assert "I could not read latin.csv: the file is not UTF-8 text" in admin.last.plain_text()
    await harness.settle(upload(harness, admin.id, "notes.csv", b"id,comment\n1,hello\n"))
    assert "I don't recognise this file" in admin.last.plain_text()
    await harness.settle(
        upload(
            harness,
            admin.id,
            "broken.xlsx",
            b"PK\x03\x04 not really a workbook",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    )
    assert "not a readable .xlsx workbook" in admin.last.plain_text()
    assert await customers_by_code(harness.db) == {}


def test_a_shortened_report_keeps_whole_lines_within_the_budget() -> None:
    text = "\n".join(["Nothing was imported", "a" * 3000, "b &amp; c" * 100, "short"])
    assert first_lines(text, 26) == "Nothing was imported\n" + "a" * 3000
    assert first_lines("one\ntwo\nthree", 2) == "one\ntwo"
