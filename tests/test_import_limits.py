"""Files that would stall or kill the bot: refused before they are fetched, or read in a child process.

The files are the ones issue 17 reports, built here byte by byte: a workbook of 20,000 rows of 200
cells, and workbooks whose shared-strings table is ≈0.6 MB packed and ≈600 MB unpacked, or ≈3 MB
and ≈3 GB. Only someone who may import something has a file fetched at all; the file is then read by
a child process with a memory and a time limit, within limits on rows, columns, cells and what a
workbook unpacks to, so the bot's memory stays flat and other chats are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, update

from bot.cli import main
from bot.db import Database
from bot.parsing_sandbox import Bounds, read_bytes, read_path, read_upload
from bot.tabular import Limits, TableError, read_table
from models import Customer, User
from tests import factories
from tests.harness import Harness, Person

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CUSTOMERS = [
    "code",
    "name",
    "grade",
    "rep",
    "phone",
    "address",
    "latitude",
    "longitude",
    "credit_limit",
    "credit_days",
]
MB = 1024 * 1024


# -- workbooks, byte by byte ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deflated:
    """A zip part already compressed (raw deflate), with its checksum and unpacked size."""

    data: bytes
    crc: int
    size: int

    @classmethod
    def of(cls, pieces: Iterable[tuple[bytes, int]]) -> Deflated:
        """``(bytes, times)`` pieces, each compressed once and repeated.

        Each piece ends in a full flush, which makes its compressed form stand alone: repeating
        it repeats the piece, so gigabytes are packed without compressing gigabytes.
        """
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        segments: dict[bytes, bytes] = {}
        out: list[bytes] = []
        crc = size = 0
        for piece, times in pieces:
            segment = segments.get(piece)
            if segment is None:
                segment = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
                if len(piece) > 4096:
                    segments[piece] = segment
            out.append(segment * times)
            for _ in range(times):
                crc = zlib.crc32(piece, crc)
            size += len(piece) * times
        out.append(compressor.flush())
        return cls(b"".join(out), crc, size)


def zip_archive(parts: dict[str, bytes | Deflated]) -> bytes:
    """A zip archive of ``parts``, written by hand (so a part may be a :class:`Deflated` one)."""
    body, directory = io.BytesIO(), io.BytesIO()
    for name, content in parts.items():
        part = content if isinstance(content, Deflated) else Deflated.of([(content, 1)])
        encoded, offset = name.encode(), body.tell()
        body.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                0,
                8,
                0,
                0,
                part.crc,
                len(part.data),
                part.size,
                len(encoded),
                0,
            )
            + encoded
            + part.data
        )
        directory.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                part.crc,
                len(part.data),
                part.size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), directory.tell(), body.tell(), 0)
    return body.getvalue() + directory.getvalue() + end


_MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RELS = b"http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook_parts(
    sheet: bytes | Deflated, shared: bytes | Deflated | None = None, shared_name: str = "xl/sharedStrings.xml"
) -> dict[str, bytes | Deflated]:
    strings_type = (
        (
            b'<Override PartName="/'
            + shared_name.encode()
            + b'" ContentType="'
            + _TYPE
            + b'.sharedStrings+xml"/>'
        )
        if shared is not None
        else b""
    )
    parts: dict[str, bytes | Deflated] = {
        "[Content_Types].xml": b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
        b'2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        b'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/xl/workbook.xml" ContentType="' + _TYPE + b'.sheet.main+xml"/>'
        b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
        + _TYPE
        + b'.worksheet+xml"/>'
        + strings_type
        + b"</Types>",
        "_rels/.rels": b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="'
        + _RELS
        + b'"><Relationship '
        b'Id="rId1" Type="' + _DOC + b'/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": b'<?xml version="1.0" encoding="UTF-8"?><workbook '
        + _MAIN
        + b' xmlns:r="'
        + _DOC
        + b'">'
        b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="'
        + _RELS
        + b'"><Relationship '
        b'Id="rId1" Type="' + _DOC + b'/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared is not None:
        parts[shared_name] = shared
    return parts


SHEET_START = b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + _MAIN + b"><sheetData>"
SHEET_END = b"</sheetData></worksheet>"
STRING_ROW = b'<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row>'


def text_row(cells: Iterable[str]) -> bytes:
    return (
        b"<row>"
        + b"".join(b'<c t="inlineStr"><is><t>' + cell.encode() + b"</t></is></c>" for cell in cells)
        + b"</row>"
    )


def wide_workbook(rows: int = 20_000, columns: int = 200) -> bytes:
    """The issue's first file: 20,000 rows of 200 cells each, a customers header, ≈100 KB."""
    header = text_row(["code", "name", *(f"x{n}" for n in range(columns - 2))])
    row = b"<row>" + b"<c><v>1</v></c>" * columns + b"</row>"
    sheet = Deflated.of([(SHEET_START + header, 1), (row * 100, rows // 100), (SHEET_END, 1)])
    return zip_archive(workbook_parts(sheet))


def shared_strings_bomb(megabytes: int) -> bytes:
    """A customers workbook whose shared-strings table holds ``megabytes`` distinct 1 MB strings.

    Each packs to about 1 KB: 600 of them are the issue's 0.59 MB workbook that took 621 MB.
    """
    filler = b"A" * MB
    pieces: list[tuple[bytes, int]] = [(b'<?xml version="1.0" encoding="UTF-8"?><sst ' + _MAIN + b">", 1)]
    for n in range(megabytes):
        pieces += [(b"<si><t>%d-" % n, 1), (filler, 1), (b"</t></si>", 1)]
    pieces.append((b"</sst>", 1))
    sheet = SHEET_START + text_row(["code", "name"]) + STRING_ROW + SHEET_END
    return zip_archive(workbook_parts(sheet, Deflated.of(pieces)))


def customers_workbook(rows: int) -> bytes:
    """A real-looking customers workbook (shared strings, numbers), valid in every row."""
    strings: list[str] = list(CUSTOMERS)

    def text(value: str) -> bytes:
        strings.append(value)
        return b'<c t="s"><v>%d</v></c>' % (len(strings) - 1)

    lines = [b"<row>" + b"".join(b'<c t="s"><v>%d</v></c>' % n for n in range(len(CUSTOMERS))) + b"</row>"]
    for n in range(rows):
        numbers = b"<c><v>31.%d</v></c><c><v>121.%d</v></c><c><v>%d.5</v></c><c><v>%d</v></c>" % (
            n % 1000,
            n % 997,
            n,
            n % 90,
        )
        lines.append(
            b"<row>"
            + text(f"K{n:06d}")
            + text(f"商店 {n} 号")
            + text("ABCD"[n % 4])
            + b"<c/>"
            + text(f"138{n:08d}")
            + text(f"上海市 {n} 路")
            + numbers
            + b"</row>"
        )
    shared = (
        '<?xml version="1.0" encoding="UTF-8"?><sst '
        + _MAIN.decode()
        + ">"
        + "".join(f"<si><t>{value}</t></si>" for value in strings)
        + "</sst>"
    ).encode()
    return zip_archive(workbook_parts(SHEET_START + b"".join(lines) + SHEET_END, shared))


def saved_workbook(rows: list[list[Any]]) -> bytes:
    """A workbook as openpyxl saves it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- measuring the bot ---------------------------------------------------------------------------------


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


@contextmanager
def peak_memory_growth() -> Iterator[list[int]]:
    """How far this process's resident memory rose above where it was (its peak, reset first)."""
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current size
    start = _status("VmRSS")
    growth: list[int] = []
    yield growth
    growth.append(_status("VmHWM") - start)


def upload(
    harness: Harness, person: Person, name: str, content: bytes, mime: str = XLSX_MIME
) -> dict[str, Any]:
    return harness.api.message(person.id, None, document=(name, content, mime))


async def answered_while_reading(
    harness: Harness, sender: Person, admin: Person, name: str, content: bytes
) -> tuple[float, bool, str]:
    """``sender`` sends a file; once it is fetched, ``admin`` sends /help.

    Returns the seconds /help took from the moment it was due (so an event loop stalled by the
    file delays it, even the test's own timer), whether /help was kept waiting for the file (False
    when it was answered after the file's answer; a file refused before /help was even sent kept
    nothing waiting: a zip checked from its directory is refused in a few milliseconds on an idle
    machine), and ``sender``'s answer.
    """
    mark = harness.api.mark()
    sent = upload(harness, sender, name, content)
    await harness.api.wait_for(method="getFile", after=mark, timeout=20)
    due = time.monotonic() + 0.2
    await asyncio.sleep(0.2)
    help_mark = harness.api.mark()
    harness.api.message(admin.id, "/help")
    answer = await harness.api.wait_for(admin.id, method="sendMessage", after=help_mark, timeout=60)
    took = time.monotonic() - due
    await harness.settle(sent, within=120)
    file_answer = await harness.api.wait_for(sender.id, method="sendMessage", after=mark)
    file_answered_at = harness.api.calls.index(file_answer)
    first = harness.api.calls.index(answer) < file_answered_at or file_answered_at < help_mark
    return took, first, sender.last.plain_text()


async def customers(db: Database) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Customer)) or 0


# -- who may send a file -------------------------------------------------------------------------------


async def test_files_from_people_who_may_not_import_are_never_fetched(harness: Harness) -> None:
    """A rep, a deactivated admin or a stranger: the usual refusal, and no getFile at all."""
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    former = await harness.admin(1002, "Old Admin")
    rep, stranger = harness.person(2001, "Li"), harness.person(9009, "Eve")
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == former.id).values(active=False))
    content = wide_workbook()
    mark = harness.api.mark()
    for person in (rep, former, stranger):
        await harness.settle(upload(harness, person, "customers.xlsx", content))
    assert rep.last.plain_text() == "Your role does not allow this."
    assert "I don't know you yet" in former.last.plain_text()
    assert "I don't know you yet" in stranger.last.plain_text()
    assert [call.method for call in harness.api.calls[mark:] if call.method == "getFile"] == []
    assert await customers(harness.db) == 0


async def test_a_role_that_may_not_import_that_kind_is_refused(harness: Harness) -> None:
    """A manager may import customers but not receivables: refused, nothing written."""
    await factories.company(harness.db, harness.clock.now())
    manager = harness.person(5001, "Mia")
    content = b"invoice_no,customer_code,amount,issued_on\nINV-1,C1,100,2026-11-01\n"
    await harness.settle(upload(harness, manager, "receivables.csv", content, "text/csv"))
    assert manager.last.plain_text() == "Your role does not allow this."


# -- the files, from someone who may import ----------------------------------------------------


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (wide_workbook, "the workbook is compressed more than 200 to 1"),
        (lambda: shared_strings_bomb(600), "the workbook unpacks to more than 256 MB"),
        (lambda: shared_strings_bomb(2900), "the workbook unpacks to more than 256 MB"),
    ],
    ids=["20000x200", "0.6MB-to-600MB", "3MB-to-3GB"],
)
async def test_hostile_workbooks_are_refused_and_the_bot_stays_responsive(
    harness: Harness, build: Any, reason: str
) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    other = await harness.admin(1002, "Ben Admin")
    content = build()
    assert len(content) < 4 * MB
    with peak_memory_growth() as growth:
        took, _first, said = await answered_while_reading(harness, other, admin, "customers.xlsx", content)
    # Refused from the zip's directory in a fraction of a second, the file may be answered before or
    # after /help: which comes first is a race, not a stall. What shows a stall is /help's delay.
    assert took < 0.5, f"/help took {took:.2f} s while the file was read"
    assert said.startswith("I could not read customers.xlsx:") and reason in said, said
    assert growth[0] < 100 * MB, f"the bot grew by {growth[0] // MB} MB"
    assert await customers(harness.db) == 0


async def test_a_big_file_is_read_while_other_chats_are_answered(harness: Harness) -> None:
    """A real 8,000-row workbook takes seconds to read: /help is answered meanwhile, then it imports."""
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    other = await harness.admin(1002, "Ben Admin")
    content = customers_workbook(8000)
    took, first, said = await answered_while_reading(harness, other, admin, "customers.xlsx", content)
    assert took < 0.5, f"/help took {took:.2f} s while the file was read"
    assert first, "/help was answered only after the file"
    assert "Imported customers: 8000 new, 0 updated." in said
    assert await customers(harness.db) == 8000


async def test_too_many_columns_is_refused_stating_the_limit(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    header = ",".join(["code", "name", *(f"x{n}" for n in range(60))])
    await harness.settle(upload(harness, admin, "wide.csv", f"{header}\nC1,Shop\n".encode(), "text/csv"))
    assert admin.last.plain_text() == (
        "I could not read wide.csv: line 1 has more than 50 columns: an import has at most 50"
    )


async def test_the_refusal_is_in_the_senders_language(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin(language_code="zh")
    await harness.settle(upload(harness, admin, "customers.xlsx", shared_strings_bomb(300)))
    assert "工作簿解压后超过 256 MB：请拆分成几个小文件" in admin.last.plain_text()


# -- the command line shares the limits ----------------------------------------------------------------


async def test_the_command_line_refuses_the_same_files(
    database_url: str,
    tmp_path: Path,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    bomb, wide = tmp_path / "bomb.xlsx", tmp_path / "wide.xlsx"
    bomb.write_bytes(shared_strings_bomb(600))
    wide.write_bytes(wide_workbook())
    with peak_memory_growth() as growth:
        assert await asyncio.to_thread(main, ["import", "customers", str(bomb)]) == 1
    assert "the workbook unpacks to more than 256 MB" in capsys.readouterr().err
    assert growth[0] < 100 * MB
    assert await asyncio.to_thread(main, ["import", "customers", str(wide)]) == 1
    assert "compressed more than 200 to 1" in capsys.readouterr().err
    assert await customers(db) == 0


# -- the limits, one by one ----------------------------------------------------------------------------


def test_columns_beyond_the_limit_are_refused_but_empty_ones_are_not() -> None:
    limits = Limits(columns=5)
    assert read_table(b"code,name,,,,,,,\nC1,Shop,,,,,,,,,\n", "c.csv", limits).rows == [
        (2, {"code": "C1", "name": "Shop"})
    ]
    with pytest.raises(TableError, match="line 1 has more than 5 columns"):
        read_table(b"a,b,c,d,e,f\n", "c.csv", limits)
    with pytest.raises(TableError, match="line 3 has more than 5 columns"):
        read_table(b"code,name\nC1,x\nC2,x,,,,y\n", "c.csv", limits)
    with pytest.raises(TableError, match="line 2 has more than 5 columns"):
        read_table(saved_workbook([["code", "name"], ["C1", "x", None, None, None, "y"]]), "c.xlsx", limits)


def test_filled_cells_and_long_cells_beyond_the_limits_are_refused() -> None:
    with pytest.raises(TableError, match="more than 10 filled cells"):
        read_table(b"code,name\n" + b"C,x\n" * 5, "c.csv", Limits(cells=10))
    assert len(read_table(b"code,name\n" + b"C,x\n" * 4, "c.csv", Limits(cells=10)).rows) == 4
    with pytest.raises(TableError, match="a cell on line 2 has more than 32,767 characters"):
        read_table(b"code,name\nC1," + b"x" * 32_768 + b"\n", "c.csv")
    with pytest.raises(TableError, match="a cell on line 3 has more than 32,767 characters"):
        sheet = (
            SHEET_START
            + b"".join(text_row(cells) for cells in [["code", "name"], ["C1", "ok"], ["C2", "x" * 32_768]])
            + SHEET_END
        )
        read_table(zip_archive(workbook_parts(sheet)), "c.xlsx")  # (openpyxl cuts what it writes)


def test_a_workbook_is_measured_before_anything_is_unpacked() -> None:
    shared = customers_workbook(200)
    assert len(read_table(shared, "c.xlsx").rows) == 200
    with pytest.raises(TableError, match="the workbook's table of texts unpacks to more than"):
        read_table(shared, "c.xlsx", Limits(shared_strings_bytes=1000))
    with pytest.raises(TableError, match="the workbook unpacks to more than"):
        read_table(shared, "c.xlsx", Limits(unpacked_bytes=1000))
    with pytest.raises(TableError, match="a sheet of the workbook unpacks to more than"):
        read_table(shared, "c.xlsx", Limits(part_bytes=5000))
    with pytest.raises(TableError, match="the workbook has more than 3 parts"):
        read_table(shared, "c.xlsx", Limits(parts=3))
    with pytest.raises(TableError, match="compressed more than 3 to 1"):
        read_table(shared, "c.xlsx", Limits(ratio=3, ratio_from_bytes=1000))
    assert len(read_table(shared, "c.xlsx", Limits(ratio=3, ratio_from_bytes=10 * MB)).rows) == 200


def test_the_shared_strings_are_found_as_openpyxl_finds_them_not_by_name() -> None:
    """A table of texts under another name is still the table of texts."""
    strings = (
        '<?xml version="1.0" encoding="UTF-8"?><sst '
        + _MAIN.decode()
        + ">"
        + "<si><t>code</t></si><si><t>name</t></si>"
        + "<si><t>x</t></si>" * 2000
        + "</sst>"
    ).encode()
    sheet = SHEET_START + STRING_ROW + SHEET_END
    content = zip_archive(workbook_parts(sheet, strings, shared_name="xl/media/image1.png"))
    assert read_table(content, "c.xlsx").header == ["code", "name"]
    with pytest.raises(TableError, match="table of texts unpacks"):
        read_table(content, "c.xlsx", Limits(shared_strings_bytes=10_000))


def test_a_sheets_claimed_dimensions_do_not_widen_its_rows() -> None:
    """A sheet claiming A1:XFD1048576 would have every row padded to 16,384 cells."""
    rows = [text_row(["code", "name"])] + [text_row([f"C{n}", "Shop"]) for n in range(3000)]
    sheet = (
        SHEET_START.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
        + b"".join(rows)
        + SHEET_END
    )
    started = time.monotonic()
    table = read_table(zip_archive(workbook_parts(sheet)), "c.xlsx")
    assert len(table.rows) == 3000 and table.rows[-1] == (3001, {"code": "C2999", "name": "Shop"})
    assert time.monotonic() - started < 5
    beyond = (
        SHEET_START + text_row(["code", "name"]) + b'<row r="1048577"><c t="inlineStr"><is><t>C1</t>'
        b"</is></c></row>" + SHEET_END
    )
    with pytest.raises(TableError, match="more than 200,000 rows"):
        read_table(zip_archive(workbook_parts(beyond)), "c.xlsx")


# -- the child process ---------------------------------------------------------------------------------


def test_the_child_reads_what_the_bot_would_read() -> None:
    content = saved_workbook(
        [
            ["Code", "name", "credit_limit"],
            ["C1", "商店 <b>&", 5000],
            ["C2", "=1+1", None, "extra"],
            [None],
            ["C3", "🏪", 1.5],
        ]
    )
    assert read_bytes(content, "c.xlsx") == read_table(content, "c.xlsx")
    text = "code,name\nC1,华联超市\nC2,x,surplus\n".encode("gbk")
    assert read_bytes(text, "c.csv") == read_table(text, "c.csv")
    with pytest.raises(TableError, match="the column name appears twice"):
        read_bytes(b"code,name,name\n", "c.csv")


def _children() -> list[int]:
    """This process's child processes that read files."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"parsing_sandbox" in command:
            found.append(int(entry.name))
    return found


async def test_a_child_past_its_time_is_killed() -> None:
    with pytest.raises(TableError, match=r"reading the file took longer than 0\.05 seconds"):
        await read_upload(b"code,name\nC1,Shop\n", "c.csv", Bounds(seconds=0.05))
    assert _children() == []
    with pytest.raises(TableError, match=r"reading the file took longer than 0\.05 seconds"):
        read_bytes(b"code,name\nC1,Shop\n", "c.csv", Bounds(seconds=0.05))
    assert _children() == []


def test_a_child_past_its_memory_is_refused_stating_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    path.write_bytes(customers_workbook(30_000))  # read whole, its table takes more than the child may
    with pytest.raises(TableError, match="reading the file needed more than 200 MB of memory"):
        read_path(path, Bounds(memory_bytes=200 * MB))


async def test_files_are_read_a_few_at_a_time() -> None:
    """Six files at once: at most two children read at any moment, and every file is read."""
    content = customers_workbook(200)
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, len(_children()))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    tables = await asyncio.gather(*(read_upload(content, "c.xlsx") for _ in range(6)))
    done.set()
    await watcher
    assert [len(table.rows) for table in tables] == [200] * 6
    assert 1 <= peak <= 2
