"""Imports of odd and hostile files, from the command line and by sending the file to the bot.

Every file is either imported whole or refused with a reason; a refused file writes nothing.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.cli import main
from bot.db import Database
from bot.tabular import MAX_FILE_BYTES, MAX_ROWS, TableError, read_file, read_table
from models import Customer, Receivable, User
from tests import factories
from tests.harness import Harness

CUSTOMERS = "code,name,grade,rep,phone,address,latitude,longitude,credit_limit,credit_days\n"
CHINESE = CUSTOMERS + "C1,华联超市,A,,13800000000,上海市南京路1号,,,5000,30\nC2,永辉商店,B,,,,,,,\n"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    return tmp_path


async def count(db: Database, model: type[Any]) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def names(db: Database) -> dict[str, str]:
    async with db.reading() as session:
        return {c.code: c.name for c in await session.scalars(select(Customer))}


def upload(harness: Harness, name: str, content: bytes, mime: str = "text/csv") -> dict[str, Any]:
    return harness.api.message(1001, None, document=(name, content, mime))


async def sent(harness: Harness, name: str, content: bytes, mime: str = "text/csv") -> str:
    await harness.settle(upload(harness, name, content, mime))
    return harness.api.last(1001).plain_text()


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hostile-{os.getpid()}-{time.monotonic_ns()}.xlsx"
    book.save(path)
    try:
        return path.read_bytes()
    finally:
        path.unlink()


# -- encodings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
async def test_common_chinese_encodings_are_read(harness: Harness, encoding: str) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    text = CHINESE.replace(",", "\t") if encoding == "utf-16" else CHINESE  # Excel's "Unicode text"
    said = await sent(harness, f"customers-{encoding}.csv", text.encode(encoding))
    assert "Imported customers: 2 new" in said
    assert await names(harness.db) == {"C1": "华联超市", "C2": "永辉商店"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ((CUSTOMERS + "C1,Müller,,,,,,,,\n").encode("latin-1"), "not UTF-8 text (nor GBK or UTF-16)"),
        ((CUSTOMERS + "C1,Crème brûlée,,,,,,,,\n").encode("cp1252"), "not UTF-8 text (nor GBK or UTF-16)"),
        (CUSTOMERS.encode("utf-16-le"), "not a spreadsheet"),  # UTF-16 without its BOM: NULs everywhere
        (bytes(range(256)) * 40, "not a spreadsheet"),
        (b"\x7fELF\x02\x01\x01" + bytes(500), "not a spreadsheet"),
        (b"", "the file is empty"),
        (b" \r\n\n", "the file is empty"),
    ],
)
async def test_unreadable_files_are_refused_clearly(harness: Harness, content: bytes, reason: str) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    said = await sent(harness, "customers.csv", content)
    assert said.startswith("I could not read customers.csv:") and reason in said, said
    assert await count(harness.db, Customer) == 0


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("customers.xlsx", b"code,name\nC1,Shop\n", "not a readable .xlsx workbook"),
        ("customers.xlsx", b"", "the file is empty"),
        ("customers.xlsx", b"PK\x03\x04" + bytes(300), "not a readable .xlsx workbook"),
        ("customers.csv", b"PK\x05\x06" + bytes(18), "not a readable .xlsx workbook"),  # an empty zip
    ],
)
async def test_an_xlsx_that_is_not_a_workbook_is_refused(
    harness: Harness, name: str, content: bytes, reason: str
) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    said = await sent(harness, name, content, XLSX_MIME)
    assert reason in said, said
    assert await count(harness.db, Customer) == 0


# -- columns and cells --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("code,name,name\nC1,Shop,Other\n", "the column name appears twice in the header"),
        ("Code,\u200bcode,name\nC1,C2,Shop\n", "the column code appears twice in the header"),
    ],
)
async def test_a_header_naming_a_column_twice_is_refused(harness: Harness, content: str, reason: str) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    said = await sent(harness, "customers.csv", content.encode())
    assert reason in said, said
    assert await count(harness.db, Customer) == 0


async def test_missing_and_unknown_columns_and_extra_cells_write_nothing(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    said = await sent(harness, "c.csv", b"code,grade\nC1,A\n")
    assert "line 1: missing columns: name" in said
    said = await sent(harness, "c.csv", b"code,name,colour\nC1,Shop,red\n")
    assert "line 1: unknown columns: colour" in said
    said = await sent(harness, "c.csv", b"code,name\nC1,Shop\nC2,Store,surplus\n")
    assert "line 3: more cells than columns in the header" in said
    said = await sent(harness, "p.csv", b"telegram_id,name\n3001,Ann\n")
    assert "line 1: missing columns: role" in said
    said = await sent(harness, "r.csv", b"invoice_no,customer_code,amount\nINV-1,C1,100\n")
    assert "line 1: missing columns: issued_on" in said
    assert await count(harness.db, Customer) == 0 and await count(harness.db, Receivable) == 0


async def test_formulas_are_refused_not_imported(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Shop", rep=people.rep, code="SHOP")
    await harness.admin()
    content = (
        CUSTOMERS + 'C1,=1+1,,,,,,,,\nC2,"=HYPERLINK(""http://evil.example"",""click"")",,,,,,,,\n'
        "C3,Fine,,,+86 138,-,,,,\n"
    )
    said = await sent(harness, "customers.csv", content.encode())
    assert "Nothing was imported: 2 problems" in said
    assert "line 2: name: a formula is not a value (starts with =)" in said
    assert "line 3: name: a formula is not a value" in said and "line 4" not in said
    said = await sent(
        harness,
        "receivables.csv",
        b"invoice_no,customer_code,amount,issued_on\nINV-1,SHOP,=SUM(A1:A9),2026-11-01\n",
    )
    assert "line 2: amount: a formula is not a value" in said
    said = await sent(
        harness, "people.csv", b"telegram_id,name,role,team\n3001,=cmd|' /C calc'!A0,rep,North\n"
    )
    assert "line 2: name: a formula is not a value" in said
    assert await names(harness.db) == {"SHOP": "Shop"} and await count(harness.db, Receivable) == 0
    assert await count(harness.db, User) == 6  # the company's five and the admin


async def test_xlsx_formulas_are_refused_too(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    content = workbook(
        [
            ["code", "name", "credit_limit"],
            ["C1", '=CONCAT("A","B")', 100],
            ["C2", "Shop", "=1+1"],
            ["C3", "Fine", 5],
        ]
    )
    said = await sent(harness, "customers.xlsx", content, XLSX_MIME)
    assert "Nothing was imported: 3 problems" in said  # line 3's formula is not an amount either
    assert "line 2: name: a formula is not a value" in said
    assert "line 3: credit_limit: a formula is not a value" in said and "line 4" not in said
    assert await count(harness.db, Customer) == 0


async def test_hostile_cell_text_is_stored_as_text_and_shown_escaped(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    nasty = "<b>Bold</b> & Co 🏪 \u202eRTL\u202c"
    content = workbook([["code", "name"], ["C1", nasty]])
    assert "Imported customers: 1 new" in await sent(harness, "c.xlsx", content, XLSX_MIME)
    kept = "<b>Bold</b> & Co 🏪 RTL"  # bidi controls never come in (tests/test_hostile_names.py)
    assert await names(harness.db) == {"C1": kept}
    assert kept in await admin.says("/customer C1")


# -- size ---------------------------------------------------------------------------------------------


async def test_a_50_mb_upload_is_refused_before_downloading(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    mark = harness.api.mark()
    said = await sent(harness, "huge.csv", CUSTOMERS.encode() + b"C1,Shop\n" * (50 * 1024 * 1024 // 8))
    assert said == "I could not read huge.csv: The file is too large (20 MB at most)."
    assert "getFile" not in [call.method for call in harness.api.calls[mark:]]
    assert await count(harness.db, Customer) == 0


async def test_a_50_mb_file_is_refused_by_the_command_line(
    operator_env: Path, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    path = operator_env / "huge.csv"
    with path.open("wb") as out:
        out.write(CUSTOMERS.encode())
        out.truncate(50 * 1024 * 1024)
    assert await asyncio.to_thread(main, ["import", "customers", str(path)]) == 1
    assert "the file is larger than 20 MB" in capsys.readouterr().err
    assert await count(db, Customer) == 0


def test_reading_a_file_refuses_a_large_one_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as out:
        out.truncate(50 * 1024 * 1024)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file over the limit"))
    with pytest.raises(TableError, match="larger than 20 MB"):
        read_file(path)


def test_limits_are_stated_in_the_refusal() -> None:
    with pytest.raises(TableError, match="larger than 20 MB"):
        read_table(b"x" * (MAX_FILE_BYTES + 1), "x.csv")
    too_many = CUSTOMERS.encode() + b"C,x\n" * (MAX_ROWS + 1)
    with pytest.raises(TableError, match="more than 200,000 rows"):
        read_table(too_many, "x.csv")


def _big_customer_file(path: Path, rows: int, *, bad_line: int | None = None) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(CUSTOMERS)
        for n in range(rows):
            grade = "Z" if n + 2 == bad_line else "ABCD"[n % 4]
            out.write(f"K{n:06d},商店 {n},{grade},,138{n:08d},路 {n} 号,31.2,121.4,{n}.5,{n % 90}\n")


def _cli(*args: str, env_url: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run ``fieldbot`` in a child process: its result, seconds taken and peak memory in MB."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "FIELDBOT_DATABASE_URL": env_url},
        timeout=300,
    )
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024
    return result, time.monotonic() - started, peak


async def test_100000_rows_import_whole_or_not_at_all(
    operator_env: Path, db: Database, database_url: str
) -> None:
    """A bad last row of 100,000 writes nothing; the fixed file then imports in reasonable time and
    memory (generous bounds: the machine is shared, timings are noisy)."""
    path = operator_env / "all.csv"
    _big_customer_file(path, 100_000, bad_line=100_001)
    result, _, _ = await asyncio.to_thread(
        _cli, "import", "customers", str(path), env_url=database_url, cwd=operator_env
    )
    assert result.returncode == 1
    assert "nothing imported: 1 problem" in result.stderr
    assert "line 100001: grade Z is not one of A, B, C, D" in result.stderr
    assert await count(db, Customer) == 0
    _big_customer_file(path, 100_000)
    result, seconds, peak_mb = await asyncio.to_thread(
        _cli, "import", "customers", str(path), env_url=database_url, cwd=operator_env
    )
    assert result.returncode == 0, result.stderr
    assert "imported: 100000 new, 0 updated" in result.stdout
    assert await count(db, Customer) == 100_000
    assert seconds < 120 and peak_mb < 1000, (seconds, peak_mb)


async def test_many_bad_rows_are_reported_by_line_and_write_nothing(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    rows = "".join(f"C{n},=A{n}*2\n" if n % 2 else f"C{n},Shop {n}\n" for n in range(300))
    await harness.settle(upload(harness, "customers.csv", f"code,name\n{rows}".encode()))
    message, document = admin.chat[-2:]
    assert "Nothing was imported: 150 problems" in message.plain_text()
    assert "line 3: name: a formula is not a value" in message.plain_text()
    assert "the full list of 150 problems is in the attached file" in message.plain_text()
    assert document.kind == "document" and document.file_name == "import-problems.txt"
    assert await count(harness.db, Customer) == 0


def test_gbk_detection_does_not_take_other_code_pages_for_chinese() -> None:
    assert read_table(CHINESE.encode("gbk"), "c.csv").rows[0][1]["name"] == "华联超市"
    assert read_table(codecs.BOM_UTF8 + CHINESE.encode(), "c.csv").header[0] == "code"
    for encoding in ("latin-1", "cp1252", "shift_jis"):
        text = CUSTOMERS + "C1,Müller Crème Привет 東京\n"
        try:
            content = text.encode(encoding)
        except UnicodeEncodeError:
            content = text.encode(encoding, "replace")
        with pytest.raises(TableError):
            read_table(content, "c.csv")


# -- replies that fit -----------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def test_a_people_import_creating_90_teams_is_summarised_with_the_full_report_attached(
    harness: Harness,
) -> None:
    """The import commits, and the admin hears so: a summary within Telegram's 4,096, the rest as a file."""
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    teams = [f"Team {n:02d} " + "Ω" * 70 for n in range(90)]
    rows = "".join(f"{300_000 + n},Rep {n} {'Ж' * 100},rep,{team}\n" for n, team in enumerate(teams))
    await harness.settle(upload(harness, "people.csv", f"telegram_id,name,role,team\n{rows}".encode()))
    message, document = admin.chat[-2:]
    said = message.plain_text()
    assert said.startswith("Imported people: 90 new, 0 updated.\nNew teams (90): Team 00 ")
    assert said.endswith("…the full report is in the attached file.")
    assert utf16_length(said) <= 4096
    assert document.kind == "document" and document.file_name == "import-report.txt"
    assert document.file_bytes is not None
    full = document.file_bytes.decode()
    assert full.startswith("Imported people: 90 new, 0 updated.\nNew teams: Team 00 ")
    assert all(team in full for team in teams)
    assert all(f"line {n + 2}: Rep {n} " in full for n in range(90))
    assert await count(harness.db, User) == 6 + 90


@pytest.mark.parametrize(
    ("name", "header", "row", "rows", "reason"),
    [
        ("customers.csv", "code,name,grade", "C{n},Shop,{odd}", 40, "is not one of A, B, C, D"),
        (
            "people.csv",
            "telegram_id,name,role,team",
            "{id},Ann,{odd},North",
            30,
            "is not one of admin, director",
        ),
        (
            "receivables.csv",
            "invoice_no,customer_code,amount,issued_on",
            "INV-{n},{odd},100,2026-11-01",
            40,
            "no customer has the code",
        ),
    ],
    ids=["customers", "people", "receivables"],
)
async def test_every_import_reply_fits_in_a_message(
    harness: Harness, name: str, header: str, row: str, rows: int, reason: str
) -> None:
    """Problems echoing emoji: under 3,500 characters, but over 4,096 as Telegram counts (an emoji is two)."""
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    odd = "🏪" * 40
    lines = "".join(row.format(n=n, id=3000 + n, odd=odd) + "\n" for n in range(rows))
    await harness.settle(upload(harness, name, f"{header}\n{lines}".encode()))
    message, document = admin.chat[-2:]
    said = message.plain_text()
    assert said.startswith(f"Nothing was imported: {rows} problems.") and reason in said
    assert f"the full list of {rows} problems is in the attached file" in said
    assert utf16_length(said) <= 4096
    assert document.file_name == "import-problems.txt" and document.file_bytes is not None
    assert len(document.file_bytes.decode().splitlines()) == rows
