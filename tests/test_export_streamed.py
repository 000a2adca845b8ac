"""The streamed export (issue 24): the same workbook as before, cell by cell; progress in the chat;
one export at a time per user.

The reference below is the builder the export had before it was streamed into hand-written
SpreadsheetML: the same sheets (queries and row shapes from the module), written through
openpyxl's write-only workbook as it did. Both files are read back with openpyxl and compared
sheet by sheet, cell by cell: value, type, number format, bold, quote prefix, and each sheet's
widths, frozen header and filter.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import literal_column, select

import handlers.reporting.exports as export_handlers
from bench.generate import TODAY as BENCH_TODAY, ZONE as BENCH_ZONE, generate
from bot.db import Database
from bot.i18n import Translator
from bot.runtime import runtime_of
from bot.services.people.access import Caller
from bot.services.reporting import export_helper, exports, xlsx
from bot.services.reporting.periods import MONTH, Period, parse_period, relative
from models import User
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_exports import TODAY, World, open_book, summary_of, world as world

# -- the reference: the export as openpyxl wrote it before ------------------------------------------


def _text_cell(sheet: WriteOnlyWorksheet, value: object) -> object:
    text = xlsx.clean_text(str(value))
    if not text:
        return None
    if not text.startswith(("=", "+", "-", "@", "\t", "\r")):
        return text
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _typed_cell(sheet: WriteOnlyWorksheet, kind: exports.Kind, value: Any, yes: str, no: str) -> object:
    if value is None:
        return None
    if kind is exports.Kind.BOOL:
        return yes if value else no
    if kind is exports.Kind.TEXT:
        return _text_cell(sheet, value)
    if kind in (exports.Kind.INT, exports.Kind.BOOL):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = {
        exports.Kind.MONEY: xlsx.MONEY_FORMAT,
        exports.Kind.DATE: xlsx.DATE_FORMAT,
        exports.Kind.DATETIME: xlsx.DATETIME_FORMAT,
    }[kind]
    return cell


def _reference_sheet(
    book: Workbook,
    title: str,
    columns: Sequence[exports.Column],
    rows: Sequence[Sequence[tuple[exports.Kind, object]]],
    c: exports.ExportContext,
    *,
    filtered: bool = True,
) -> None:
    sheet = book.create_sheet(c.t.gettext(title))
    yes, no = c.t.gettext(exports.YES), c.t.gettext(exports.NO)
    for number, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    sheet.freeze_panes = "A2"
    headers = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=xlsx.clean_text(c.t.gettext(column.header).format(zone=c.zone.key)))
        cell.font = Font(bold=True)
        headers.append(cell)
    sheet.append(headers)
    for row in rows:
        sheet.append([_typed_cell(sheet, kind, value, yes, no) for kind, value in row])
    if filtered:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"


async def reference_workbook(
    session: Any, caller: Caller | None, period: Period, zone: Any, today: date, language: str | None = None
) -> bytes:
    """The workbook as the export built it before issue 24 (all rows in memory: small companies only)."""
    scope = exports.scope_of(caller)
    t = Translator(language or (caller.language if caller else "en"))
    c = exports.ExportContext(scope, period, zone, today, t, exports.Totals())
    label = await exports.scope_label(session, scope, t)
    sheets = [build(c) for build in exports.SHEET_BUILDERS]
    book = Workbook(write_only=True)
    written: list[tuple[exports.Sheet, list[list[tuple[exports.Kind, object]]]]] = []
    for sheet in sheets:
        kinds = [column.kind for column in sheet.columns]
        rows = [
            list(zip(kinds, sheet.shape(row), strict=True))
            for row in (await session.execute(sheet.query)).all()
        ]
        written.append((sheet, rows))
    summary = [
        [(exports.Kind.TEXT, figure), (kind, value)] for figure, kind, value in exports.summary_rows(c, label)
    ]
    _reference_sheet(book, "Summary", exports.SUMMARY_COLUMNS, summary, c, filtered=False)
    for sheet, rows in written:
        _reference_sheet(book, sheet.title, sheet.columns, rows, c)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def assert_same_workbook(old: bytes, new: bytes) -> int:
    """Every sheet, cell by cell; the number of cells compared."""
    before, after = open_book(old), open_book(new)
    assert after.sheetnames == before.sheetnames
    cells = 0
    for name in before.sheetnames:
        a, b = before[name], after[name]
        assert (b.max_row, b.max_column) == (a.max_row, a.max_column), name
        assert b.freeze_panes == a.freeze_panes == "A2", name
        assert b.auto_filter.ref == a.auto_filter.ref, name
        widths = {key: dim.width for key, dim in a.column_dimensions.items()}
        assert {key: dim.width for key, dim in b.column_dimensions.items()} == widths, name
        for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
            for x, y in zip(row_a, row_b, strict=True):
                seen = (y.value, y.data_type, y.number_format, bool(y.font.b), y.quotePrefix)
                assert seen == (x.value, x.data_type, x.number_format, bool(x.font.b), x.quotePrefix), (
                    name,
                    x.coordinate,
                )
                cells += 1
    return cells


async def test_the_streamed_workbook_equals_the_old_one_on_a_generated_company(
    db: Database, database_url: str
) -> None:
    """bench/generate.py's company at 1/200 (5 reps, 5,000 visits, 1,500 receivables)."""
    company = await generate(database_url, 0.005, migrate=False)
    async with db.reading() as session:
        director = Caller.of(await session.get_one(User, company.director_id), "zh")
        manager = Caller.of(await session.get_one(User, company.manager_id), "en")
    month = relative(MONTH, BENCH_TODAY)
    for caller in (director, manager, None):
        async with db.reading() as session:
            old = await reference_workbook(session, caller, month, BENCH_ZONE, BENCH_TODAY)
        async with db.reading() as session:
            new = await exports.build_workbook(session, caller, month, BENCH_ZONE, BENCH_TODAY)
        assert sum(new.rows.values()) > (1_000 if caller is not manager else 100)
        assert assert_same_workbook(old, new.content) > 10_000


async def test_the_streamed_workbook_equals_the_old_one_with_every_kind_of_cell(world: World) -> None:
    """The export tests' company: formulas quoted, Chinese, empty cells, stock, feedback, credits."""
    period = parse_period("2026-11", TODAY)
    for caller in (world.caller(world.company.director, "zh"), world.caller(world.company.manager), None):
        async with world.db.reading() as session:
            old = await reference_workbook(session, caller, period, ZONE, TODAY)
        async with world.db.reading() as session:
            new = await exports.build_workbook(session, caller, period, ZONE, TODAY)
        assert assert_same_workbook(old, new.content) > 100
    assert any(
        cell.quotePrefix for sheet in open_book(new.content) for row in sheet.iter_rows() for cell in row
    )


async def test_progress_is_reported_after_each_sheet(world: World) -> None:
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    async with world.db.reading() as session:
        await exports.build_workbook(
            session, None, parse_period("2026-11", TODAY), ZONE, TODAY, progress=progress
        )
    total = len(exports.SHEET_BUILDERS)
    assert seen == [(done, total) for done in range(1, total + 1)]


# -- in the chat ------------------------------------------------------------------------------------

BuildWorkbook = Callable[..., Awaitable[exports.ExportedWorkbook]]


def slowed(
    monkeypatch: pytest.MonkeyPatch, *, per_sheet: float = 0.0, gate: asyncio.Event | None = None
) -> list[int]:
    """Make the export slow: wait for ``gate`` first, then ``per_sheet`` seconds after each sheet.

    Returns a list that grows by one each time an export starts."""
    original: BuildWorkbook = exports.build_workbook
    started: list[int] = []

    async def build(
        *args: Any, progress: exports.Progress | None = None, **kwargs: Any
    ) -> exports.ExportedWorkbook:
        started.append(1)
        if gate is not None:
            await gate.wait()

        async def slow(done: int, total: int) -> None:
            await asyncio.sleep(per_sheet)
            if progress is not None:
                await progress(done, total)

        return await original(*args, progress=slow, **kwargs)

    monkeypatch.setattr(exports, "build_workbook", build)
    return started


def quick_hints(monkeypatch: pytest.MonkeyPatch, *, every: float = 0.0) -> None:
    monkeypatch.setattr(export_handlers, "PROGRESS_AFTER", 0.05)
    monkeypatch.setattr(export_handlers, "PROGRESS_EVERY", every)
    monkeypatch.setattr(export_handlers, "CHAT_ACTION_EVERY", 0.1)


async def test_a_slow_export_shows_sending_a_file_and_its_progress(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_hints(monkeypatch)
    slowed(monkeypatch, per_sheet=0.06)
    manager = harness.person(5001, "Mia")
    mark = len(harness.api.calls)
    await manager.send("/export 2026-11")
    calls = harness.api.calls[mark:]
    actions = [call for call in calls if call.method == "sendChatAction"]
    assert len(actions) >= 2 and {call.params["action"] for call in actions} == {"upload_document"}
    total = len(exports.SHEET_BUILDERS)
    shown = [call for call in calls if call.method == "sendMessage" and call.params["chat_id"] == 5001]
    assert len(shown) == 1 and shown[0].params["text"].startswith("Exporting… ")
    edits = [call.params["text"] for call in calls if call.method == "editMessageText"]
    assert len(edits) >= 3
    counts = [int(text.removeprefix("Exporting… ").split(" of ")[0]) for text in edits]
    assert counts == sorted(counts) and len(set(counts)) == len(counts) and counts[-1] <= total
    assert all(text.endswith(f" of {total} sheets") for text in edits)
    methods = [call.method for call in calls]
    assert methods.index("sendDocument") < methods.index("deleteMessage")  # the progress goes last
    chat = [message for message in harness.api.chat(5001) if not message.deleted]
    assert [message.kind for message in chat] == ["document"]
    book = open_book(chat[0].file_bytes or b"")
    assert book.sheetnames == list(exports.SHEETS) and summary_of(book)["Scope"] == "Team North"
    assert not runtime_of(harness.app).background


async def test_progress_edits_are_rate_limited(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_hints(monkeypatch, every=60.0)
    slowed(monkeypatch, per_sheet=0.03)
    manager = harness.person(5001, "Mia")
    mark = len(harness.api.calls)
    await manager.send("/export 2026-11")
    calls = harness.api.calls[mark:]
    assert [call.method for call in calls].count("editMessageText") == 0
    assert any(call.method == "deleteMessage" for call in calls)
    assert [message.kind for message in harness.api.chat(5001) if not message.deleted] == ["document"]


async def test_a_second_export_while_one_runs_is_told_it_is_under_way(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    started = slowed(monkeypatch, gate=gate)
    api, manager = harness.api, harness.person(5001, "Mia")
    await harness.settle(api.message(5001, "/export 2026-11"), background=False)
    assert started == [1] and "export:5001" in runtime_of(harness.app).background
    await harness.settle(api.message(5001, "/export 2026-10"), background=False)
    assert manager.last.plain_text() == (
        "Your export is still being prepared: it will arrive here when it is ready."
    )
    # the chat is not held while the export runs: other commands are answered meanwhile
    await harness.settle(api.message(5001, "/today"), background=False)
    assert manager.last.kind == "text" and not [m for m in api.chat(5001) if m.kind == "document"]
    gate.set()
    await harness.settle(api.message(5001, "/help"))
    assert started == [1]
    documents = [message for message in api.chat(5001) if message.kind == "document"]
    assert len(documents) == 1 and documents[0].file_name == "fieldbot-2026-11.xlsx"
    assert open_book(documents[0].file_bytes or b"").sheetnames == list(exports.SHEETS)
    # once it has arrived, the next /export runs
    await manager.send("/export 2026-10")
    assert started == [1, 1]
    assert [message.file_name for message in api.chat(5001) if message.kind == "document"] == [
        "fieldbot-2026-11.xlsx",
        "fieldbot-2026-10.xlsx",
    ]


async def test_in_chinese_the_progress_and_the_under_way_answer(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world.db.transaction() as session:
        (await session.get_one(User, world.company.director.id)).language = "zh"
    quick_hints(monkeypatch)
    gate = asyncio.Event()
    slowed(monkeypatch, per_sheet=0.06, gate=gate)
    api, director = harness.api, harness.person(7001, "Dee", language_code="zh-hans")
    mark = len(api.calls)
    await harness.settle(api.message(7001, "/export 2026-11"), background=False)
    await harness.settle(api.message(7001, "/export"), background=False)
    assert director.last.plain_text() == "你的导出仍在准备中，准备好后会发到这里。"
    gate.set()
    await harness.settle(api.message(7001, "/help"))
    total = len(exports.SHEET_BUILDERS)
    texts = [
        call.params["text"]
        for call in api.calls[mark:]
        if call.method in ("sendMessage", "editMessageText") and call.params["text"].startswith("正在导出")
    ]
    assert texts and all(text.endswith(f"/{total} 张工作表") for text in texts)
    assert texts[0].startswith("正在导出……已完成 ")
    documents = [message for message in api.chat(7001) if message.kind == "document"]
    assert len(documents) == 1
    zh = Translator("zh")
    assert summary_of(open_book(documents[0].file_bytes or b""))[zh.gettext("Scope")] == zh.gettext(
        "All teams"
    )


async def test_a_failed_export_clears_its_progress_and_frees_the_next_one(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(context: exports.ExportContext) -> exports.Sheet:
        sheet = original(context)
        return exports.Sheet(
            sheet.title, sheet.columns, select(literal_column("no_such_column")), sheet.shape
        )

    original = exports.SHEET_BUILDERS[-1]
    builders = exports.SHEET_BUILDERS
    monkeypatch.setattr(exports, "SHEET_BUILDERS", (*builders[:-1], broken))
    quick_hints(monkeypatch)
    slowed(monkeypatch, per_sheet=0.06)
    api, manager = harness.api, harness.person(5001, "Mia")
    await manager.send("/export 2026-11")
    chat = [message for message in api.chat(5001) if not message.deleted]
    assert [message.plain_text() for message in chat] == [
        "Your request went through, but something went wrong while finishing it, so part of the "
        "answer may be missing."
    ]
    assert any(call.method == "deleteMessage" for call in api.calls)
    assert not runtime_of(harness.app).background
    monkeypatch.setattr(exports, "SHEET_BUILDERS", builders)
    await manager.send("/export 2026-11")
    assert api.last(5001).kind == "document"


# -- the helper process (a big export on two cores) --------------------------------------------------


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> list[export_helper.Helper]:
    """Every export gets a helper process, however small; the helpers started, for the test to see."""
    started: list[export_helper.Helper] = []
    start = export_helper.start

    async def recorded(*args: Any) -> export_helper.Helper | None:
        helper = await start(*args)
        if helper is not None:
            started.append(helper)
        return helper

    monkeypatch.setattr(export_helper, "MIN_ROWS", 1)
    monkeypatch.setattr(export_helper, "start", recorded)
    return started


async def test_a_helper_process_writes_the_visits_of_a_big_export(
    db: Database, database_url: str, helpers: list[export_helper.Helper]
) -> None:
    company = await generate(database_url, 0.005, migrate=False)
    async with db.reading() as session:
        director = Caller.of(await session.get_one(User, company.director_id), "zh")
        manager = Caller.of(await session.get_one(User, company.manager_id), "en")
    month = relative(MONTH, BENCH_TODAY)
    for caller in (director, manager):
        async with db.reading() as session:
            old = await reference_workbook(session, caller, month, BENCH_ZONE, BENCH_TODAY)
        async with db.reading() as session:
            new = await exports.build_workbook(session, caller, month, BENCH_ZONE, BENCH_TODAY)
        assert helpers and helpers[-1].titles == ("Visits",)
        assert not helpers[-1].folder.exists()  # its files are in the workbook, the folder is gone
        assert list(new.rows) == list(exports.SHEETS[1:])
        assert new.rows["Visits"] > 100 and new.totals.visits == new.rows["Visits"]
        assert assert_same_workbook(old, new.content) > 10_000  # the Summary's totals included
    assert len(helpers) == 2


async def test_a_failed_helper_leaves_its_sheets_to_the_export(
    world: World, helpers: list[export_helper.Helper], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(export_helper, "_JOB", "misplaced.pickle")  # the helper finds no job: it fails
    period = parse_period("2026-11", TODAY)
    async with world.db.reading() as session:
        old = await reference_workbook(session, None, period, ZONE, TODAY)
    async with world.db.reading() as session:
        new = await exports.build_workbook(session, None, period, ZONE, TODAY)
    assert helpers and "export helper failed" in caplog.text
    assert assert_same_workbook(old, new.content) > 100
    assert not helpers[0].folder.exists()


async def test_an_abandoned_export_stops_its_helper(
    world: World, helpers: list[export_helper.Helper]
) -> None:
    async def progress(done: int, total: int) -> None:
        raise RuntimeError("the chat went away")

    async with world.db.reading() as session:
        with pytest.raises(RuntimeError):
            await exports.build_workbook(
                session, None, parse_period("2026-11", TODAY), ZONE, TODAY, progress=progress
            )
    [helper] = helpers
    assert await asyncio.wait_for(helper._process.wait(), 10) is not None
    assert not helper.folder.exists()
