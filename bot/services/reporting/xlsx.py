"""The .xlsx file, written as SpreadsheetML straight into the zip, one row at a time.

Why not a library: openpyxl's write-only mode and XlsxWriter's ``constant_memory`` mode both spend
6-10 µs a cell; the full company's month is about three million cells (37 s and 22 s; docs/
PERFORMANCE.md, "Export, streamed"). This writes the few parts a workbook of typed cells needs
(inline strings, numbers, dates as serials, four styles, widths, a frozen header, an autofilter)
and nothing else. tests/test_export_streamed.py reads every file it writes back with openpyxl and
compares it cell by cell with what openpyxl itself writes.
"""

from __future__ import annotations

import contextlib
import enum
import re
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from bot.text import BIDI_CONTROLS, strip_bidi_controls

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
#: Text an Excel-like program could read as the start of a formula (or of a DDE payload).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limit on the characters in one cell.
MAX_CELL_TEXT = 32_767


class Kind(enum.Enum):
    TEXT = "text"
    INT = "int"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"


@dataclass(frozen=True)
class Column:
    header: str  # a msgid; ``{zone}`` is filled with the company's zone
    kind: Kind
    width: float


# -- the file: SpreadsheetML written straight into the zip ----------------------------------------
#
# The workbook is written by hand, as text, one row at a time: a cell is one f-string. Measured on
# the full bench company (docs/PERFORMANCE.md, "Export, streamed"), openpyxl's write-only mode (with
# lxml) and XlsxWriter's constant_memory mode spend about 10 and 6 µs a cell building it through
# their object models; three million cells cannot then fit in 5 s. The parts below are the few an
# Excel file needs (content types, relationships, workbook, styles, one XML file per sheet), with the
# same cells, number formats, bold frozen header, column widths and filters as openpyxl wrote.

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
#: Cell styles (indices into ``cellXfs`` of :data:`_STYLES`).
_BOLD, _MONEY, _DATE, _DATETIME, _QUOTED = 1, 2, 3, 4, 5
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}">'
    f'<numFmts count="2"><numFmt numFmtId="164" formatCode="{DATE_FORMAT}"/>'
    f'<numFmt numFmtId="165" formatCode="{DATETIME_FORMAT}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    # 4 is Excel's built-in "#,##0.00" (MONEY_FORMAT)
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
#: Excel's day 0 (serial dates count days from it; 1900-03-01 and later, as every date here).
_EPOCH = datetime(1899, 12, 30)
_EPOCH_DAY = _EPOCH.date()
#: Rows of XML joined before they are handed to the zip stream.
_FLUSH_ROWS = 500
#: Distinct texts whose cells are remembered per sheet (names, codes and labels repeat on every
#: row); the memory is forgotten when full, so it stays bounded (a few MB).
_TEXTS_KEPT = 20_000
#: A cell with nothing in it: written where a value is missing, so the cells after it keep their
#: columns (cells carry no reference: see :class:`SheetStream`).
EMPTY_CELL = "<c/>"
#: Bytes of a copied sheet compressed at a time (zlib works on them outside the GIL).
_COPY_CHUNK = 1 << 20
#: zlib level of the file: 1 compresses about as well for this text, in a third of the time of 6.
COMPRESS_LEVEL = 1

#: Whitespace that Excel drops from the ends of a text unless told to keep it.
_SPACES = frozenset(" \t\n")
#: Any character :func:`clean_text` changes.
_UNCLEAN = re.compile(f"{ILLEGAL_CHARACTERS_RE.pattern}|[\r{''.join(sorted(BIDI_CONTROLS))}]")


def clean_text(value: str) -> str:
    """Text Excel accepts: no XML-illegal control characters, at most 32,767 characters.

    Line ends become ``\n`` (XML would turn a lone carriage return into one anyway). Bidi
    controls go too (:func:`bot.text.strip_bidi_controls`): a right-to-left override in a name
    would show the rest of its cell reversed.
    """
    text = value
    if _UNCLEAN.search(text) is not None:  # one scan: most text needs nothing
        text = ILLEGAL_CHARACTERS_RE.sub("", strip_bidi_controls(text))
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if len(text) <= MAX_CELL_TEXT else text[: MAX_CELL_TEXT - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(text: str) -> str:
    return _escape(text).replace('"', "&quot;")


def _text_cell(value: str) -> str:
    """A text cell, never a formula (see the module doc); empty text: an empty cell."""
    text = clean_text(value)
    if not text:
        return EMPTY_CELL
    style = f' s="{_QUOTED}"' if text.startswith(FORMULA_STARTS) else ""
    space = ' xml:space="preserve"' if text[0] in _SPACES or text[-1] in _SPACES else ""
    return f'<c{style} t="inlineStr"><is><t{space}>{_escape(text)}</t></is></c>'


def _number(value: object) -> str:
    # "%.16g": how openpyxl wrote numbers (a Decimal too), so the values read back are the same
    return "%.16g" % value  # type: ignore[str-format]  # noqa: UP031


def _excel_serial(value: date) -> float:
    """Days since Excel's epoch, the time of day as the fraction (openpyxl's ``to_excel``)."""
    if not isinstance(value, datetime):
        return float((value - _EPOCH_DAY).days)
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 10**6
    return (value - _EPOCH).days + seconds / 86_400


class _TextCells(dict[object, str]):
    """Each text's whole cell, rendered once (names, codes and labels repeat on every row): a hit
    is a dict lookup in C. Forgotten when full, so it stays bounded (a few MB)."""

    def __missing__(self, value: object) -> str:
        if len(self) >= _TEXTS_KEPT:
            self.clear()
        cell = self[value] = _text_cell(value if type(value) is str else str(value))
        return cell


#: Renders one value of a column (not None) as its cell's XML.
CellXml = Callable[[object], str]


def _cell_writer(kind: Kind, yes: str, no: str, texts: _TextCells) -> CellXml:
    """How a column of ``kind`` renders its cells (``texts``: the sheet's text cells)."""
    if kind is Kind.TEXT:
        return texts.__getitem__
    if kind is Kind.BOOL:
        yes_cell, no_cell = texts[yes], texts[no]
        return lambda value: yes_cell if value else no_cell
    if kind is Kind.INT:
        return lambda value: f"<c><v>{_number(value)}</v></c>"
    if kind is Kind.MONEY:
        return lambda value: f'<c s="{_MONEY}"><v>{_number(value)}</v></c>'
    style = _DATE if kind is Kind.DATE else _DATETIME
    days: dict[date, str] = {}  # a day's cell, for the dates repeated down a column

    def serial(value: object) -> str:
        if not isinstance(value, date):
            raise TypeError(f"a date was expected, not {value!r}")
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise TypeError(f"Excel has no time zones ({value!r})")
            return f'<c s="{style}"><v>{_number(_excel_serial(value))}</v></c>'
        cell = days.get(value)
        if cell is None:
            if len(days) >= _TEXTS_KEPT:
                days.clear()
            cell = days[value] = f'<c s="{style}"><v>{_number(_excel_serial(value))}</v></c>'
        return cell

    return serial


class SheetStream:
    """One worksheet's XML, streamed row by row into its zip entry: widths, a bold frozen header,
    typed cells and, unless ``filtered`` is off, a filter over the rows written.

    Rows carry their number, cells no reference (``r`` is optional in SpreadsheetML: a cell without
    one is the next column): a text cell is then the same XML on every row, rendered once, and a
    missing value is an empty ``<c/>``. Half the text to write and to compress."""

    def __init__(
        self,
        handle: IO[bytes],
        columns: Sequence[Column],
        headers: Sequence[str],
        yes: str,
        no: str,
        *,
        filtered: bool = True,
    ) -> None:
        self._handle = handle
        self.columns = columns
        self.filtered = filtered
        self.rows = 0
        self._letters = [get_column_letter(number) for number in range(1, len(columns) + 1)]
        self._last = self._letters[-1]
        texts = self._texts = _TextCells()
        self._writers = [_cell_writer(column.kind, yes, no, texts) for column in columns]
        self._by_kind = {kind: _cell_writer(kind, yes, no, texts) for kind in Kind}
        self._pending: list[str] = []
        widths = "".join(
            f'<col min="{number}" max="{number}" width="{column.width}" customWidth="1"/>'
            for number, column in enumerate(columns, start=1)
        )
        header = "".join(
            f'<c r="{letter}1" s="{_BOLD}" t="inlineStr"><is><t xml:space="preserve">'
            f"{_escape(clean_text(text))}</t></is></c>"
            for letter, text in zip(self._letters, headers, strict=True)
        )
        self._pending.append(
            f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols><sheetData><row r="1">{header}</row>'
        )

    @property
    def filter_range(self) -> str | None:
        """``$A$1:$M$42``: the header and the rows, which the filter covers (None: no filter)."""
        return f"$A$1:${self._last}${self.rows + 1}" if self.filtered else None

    def append(self, values: Sequence[object]) -> None:
        """One row, each value rendered as its column's kind (None and empty text: an empty cell)."""
        self.rows += 1
        pairs = zip(self._writers, values, strict=True)
        cells = [EMPTY_CELL if value is None else write(value) for write, value in pairs]
        self._add(f'<row r="{self.rows + 1}">{"".join(cells)}</row>')

    def append_typed(self, values: Sequence[tuple[Kind, object]]) -> None:
        """One row whose cells say their own kinds (the Summary's label and value)."""
        self.rows += 1
        cells = [EMPTY_CELL if value is None else self._by_kind[kind](value) for kind, value in values]
        self._add(f'<row r="{self.rows + 1}">{"".join(cells)}</row>')

    def _add(self, row: str) -> None:
        self._pending.append(row)
        if len(self._pending) >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._handle.write("".join(self._pending).encode())
        self._pending.clear()

    def close(self) -> None:
        end = f'<autoFilter ref="A1:{self._last}{self.rows + 1}"/>' if self.filtered else ""
        self._pending.append(f"</sheetData>{end}</worksheet>")
        self._flush()
        self._handle.close()
        self._texts.clear()


class XlsxFile:
    """An .xlsx written in one pass into ``target``: sheets are placed by position first
    (:meth:`place`), then each is written whole, in any order, one at a time (:meth:`open`)."""

    def __init__(self, target: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        self._names: list[str] = []
        self._filters: dict[int, str] = {}
        self._handle: IO[bytes] | None = None  # the sheet being written

    def place(self, name: str) -> int:
        """Add a sheet named ``name`` after those placed before; its position (1-based)."""
        self._names.append(name)
        return len(self._names)

    def open(
        self,
        position: int,
        columns: Sequence[Column],
        headers: Sequence[str],
        yes: str,
        no: str,
        *,
        filtered: bool = True,
    ) -> SheetStream:
        handle = self._handle = self._zip.open(f"xl/worksheets/sheet{position}.xml", "w")
        return SheetStream(handle, columns, headers, yes, no, filtered=filtered)

    def finished(self, position: int, filter_range: str | None) -> None:
        """Record what the workbook part needs of a closed sheet (its filter's range)."""
        if filter_range:
            self._filters[position] = filter_range

    def copy(self, position: int, path: Path, filter_range: str | None) -> None:
        """A sheet's XML written elsewhere (another process: export_helper.py), as sheet ``position``."""
        with path.open("rb") as source, self._zip.open(f"xl/worksheets/sheet{position}.xml", "w") as target:
            shutil.copyfileobj(source, target, _COPY_CHUNK)
        self.finished(position, filter_range)

    def close(self) -> None:
        """Write the parts that name the sheets, and the zip's directory."""
        count = len(self._names)
        sheets = "".join(
            f'<sheet name="{_attribute(name)}" sheetId="{number}" r:id="rId{number}"/>'
            for number, name in enumerate(self._names, start=1)
        )
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{number - 1}" hidden="1">'
            f"{_escape(self._quoted(number))}!{ref}</definedName>"
            for number, ref in sorted(self._filters.items())
        )
        names = f"<definedNames>{filters}</definedNames>" if filters else ""
        parts = {
            "[Content_Types].xml": (
                f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/'
                'vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                + "".join(
                    f'<Override PartName="/xl/worksheets/sheet{number}.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for number in range(1, count + 1)
                )
                + "</Types>"
            ),
            "_rels/.rels": (
                f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
                f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": (
                f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><workbookPr/>'
                f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets>{names}'
                "</workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
                + "".join(
                    f'<Relationship Id="rId{number}" Type="{_REL_NS}/worksheet" '
                    f'Target="worksheets/sheet{number}.xml"/>'
                    for number in range(1, count + 1)
                )
                + f'<Relationship Id="rId{count + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
                "</Relationships>"
            ),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            self._zip.writestr(name, text.encode())
        self._zip.close()

    def _quoted(self, position: int) -> str:
        return "'" + self._names[position - 1].replace("'", "''") + "'"

    def discard(self) -> None:
        """Close the zip of an abandoned workbook (its bytes are thrown away)."""
        with contextlib.suppress(Exception):
            if self._handle is not None:
                self._handle.close()
            self._zip.close()
