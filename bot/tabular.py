"""Reading the CSV and XLSX files people import: header plus rows, each with its line number.

What a file may be, decided here:

* **At most** :data:`MAX_FILE_BYTES` (Telegram lets bots download 20 MB), and within
  :class:`Limits`: rows, columns, filled cells, characters in a cell and, for a workbook,
  what its parts unpack to (checked from the archive's directory before anything is
  unpacked). More is refused as a whole, saying which limit and what it is.
* **Where it is read:** these limits bound the work, but a workbook's parts still go
  through openpyxl; uploads and the command line read files in a child process with a
  memory and a time limit (:mod:`bot.parsing_sandbox`), never in the bot's own.
* **CSV text** in UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's
  "Unicode text"), or GB18030/GBK (what Chinese Excel writes for "CSV"). Anything
  else, or a file with control characters (a binary file named .csv), is refused
  saying how to save it.
* **The header** names each column once (zero-width characters and case ignored).
* **Row marks** for the importers (see :func:`bot.services.intake.importing.cell_problems`):
  ``EXTRA`` when a row has more cells than the header, ``FORMULA`` naming the
  columns whose cell starts with ``=`` (a formula is not a value, and a stored
  ``=HYPERLINK(…)`` would be a formula injection waiting in the next export).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.packaging.manifest import Manifest
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
from openpyxl.xml.functions import fromstring

from bot.i18n import N_
from bot.services.errors import Invalid

MB = 1024 * 1024
MAX_FILE_BYTES = 20 * MB
MAX_MEGABYTES = MAX_FILE_BYTES // MB
#: Rows after the header: a company's customers or open invoices, with room to spare.
MAX_ROWS = 200_000
#: The widest import has 10 columns; room for a few the importer will name as unknown.
MAX_COLUMNS = 50
#: Filled cells in the whole file: the most rows, each with all ten columns a customer has.
MAX_CELLS = 2_000_000
#: Excel's own limit for the text of one cell.
MAX_CELL_CHARS = 32_767
#: The last row a sheet can have in Excel; a workbook claiming rows beyond it is not from Excel.
EXCEL_ROWS = 1_048_576
#: Keys a row may carry besides its columns (a NUL cannot be in a header name).
EXTRA, FORMULA = "\0extra", "\0formula"
NOT_A_SPREADSHEET = N_("the file is not a spreadsheet: send a .xlsx file or a CSV saved as 'CSV UTF-8'")
#: C0 control characters that no spreadsheet text contains (tab, CR and LF are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TableError(Invalid):
    """The file as a whole cannot be read (not the rows in it)."""


@dataclass(frozen=True)
class Limits:
    """What one imported file may hold. A file beyond any of them is refused as a whole.

    The workbook limits are checked against the sizes the zip archive declares for its
    parts, before a byte is unpacked: Python's :mod:`zipfile` never unpacks more than a
    part declares (a part that tries fails its checksum), so they bound the work. A real
    workbook compresses its XML 5 to 30 times; a part compressed hundreds of times over
    (the "zip bomb" shape: a small upload that unpacks to gigabytes) is refused.
    """

    rows: int = MAX_ROWS
    columns: int = MAX_COLUMNS
    cells: int = MAX_CELLS
    cell_chars: int = MAX_CELL_CHARS
    #: All of a workbook's parts together, unpacked.
    unpacked_bytes: int = 256 * MB
    #: Any one part (a sheet is the largest), unpacked.
    part_bytes: int = 200 * MB
    #: The shared-strings part, which openpyxl holds in memory whole (sheets are streamed).
    shared_strings_bytes: int = 64 * MB
    #: Unpacked size to packed size, for parts of at least :attr:`ratio_from_bytes`.
    ratio: int = 200
    ratio_from_bytes: int = 1 * MB
    #: Parts in a workbook (a real one has a few dozen).
    parts: int = 10_000


LIMITS = Limits()


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line number as the user sees it, column → text)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date | Decimal | int | float):
        return str(value)
    if isinstance(value, ArrayFormula | DataTableFormula):
        return "=" + str(getattr(value, "text", "") or "")
    return _CONTROL.sub("", str(value)).strip()  # Excel's _x0000_ escapes come back as control characters


def _normalise_header(cells: list[str]) -> list[str]:
    """Lower case, invisible characters (BOM, zero-width spaces) removed; each name at most once."""
    header = ["".join(c for c in cell if unicodedata.category(c) != "Cf").strip().lower() for cell in cells]
    while header and not header[-1]:
        header.pop()
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TableError(N_("the column {column} appears twice in the header"), column=name[:40])
        if name:
            seen.add(name)
    return header


def too_large(size: int) -> bool:
    return size > MAX_FILE_BYTES


def read_file(path: Path, limits: Limits = LIMITS) -> Table:
    """Read a file from disk in this process, refusing one over the limit before reading a byte of it.

    The command line and the bot read through :func:`bot.parsing_sandbox.read_path`
    and :func:`bot.parsing_sandbox.read_upload` instead, which add a memory and a time limit.
    """
    if too_large(path.stat().st_size):
        raise TableError(N_("the file is larger than {size} MB"), size=MAX_MEGABYTES)
    return read_table(path.read_bytes(), path.name, limits)


def is_workbook(content: bytes, file_name: str) -> bool:
    """Whether ``content`` is read as XLSX: by its name or by its zip signature."""
    return Path(file_name).suffix.lower() in (".xlsx", ".xlsm") or content[:2] == b"PK"


def read_table(content: bytes, file_name: str, limits: Limits = LIMITS) -> Table:
    """Parse ``content`` as XLSX (by name or by its zip signature) or as CSV text, within ``limits``."""
    if too_large(len(content)):
        raise TableError(N_("the file is larger than {size} MB"), size=MAX_MEGABYTES)
    if not content.strip():
        raise TableError(N_("the file is empty"))
    if is_workbook(content, file_name):
        return _read_xlsx(content, limits)
    return _read_csv(_decode(content), limits)


def _decode(content: bytes) -> str:
    """The text of a CSV file: UTF-8, UTF-16 with a BOM, or GB18030 (a superset of GBK)."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\0" in content:  # no 8-bit text has NUL bytes: a binary file, or UTF-16 without its BOM
        encodings = ()
    else:
        encodings = ("utf-8-sig", "gb18030")
    if not encodings:
        raise TableError(NOT_A_SPREADSHEET)
    for encoding in encodings:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            raise TableError(NOT_A_SPREADSHEET)
        if encoding != "gb18030" or _looks_chinese(text):
            return text
    raise TableError(N_("the file is not UTF-8 text (nor GBK or UTF-16): save it as 'CSV UTF-8'"))


def _looks_chinese(text: str) -> bool:
    """Whether text decoded as GB18030 really was Chinese, not Latin-1 or another code page.

    Any two bytes with the first above 0x80 decode as *some* GB18030 character, but
    Chinese text is nearly all common characters (GB2312); "Müller" in Latin-1
    decodes as a rare one. (A code page whose letters all sit in GB2312's byte range,
    such as KOI8-R Cyrillic, cannot be told apart; nobody sends those here.)
    """
    foreign = [c for c in text if ord(c) > 0x7F]
    common = sum(1 for c in foreign if _in_gb2312(c))
    return common >= 0.8 * len(foreign)


def _in_gb2312(character: str) -> bool:
    try:
        character.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


class _Rows:
    """The rows of one file, each checked against the limits as it is read."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.header: list[str] = []
        self.rows: list[tuple[int, dict[str, str]]] = []
        self.cells = 0

    def take_header(self, cells: list[str]) -> None:
        self._check(1, cells)
        self.header = _normalise_header(cells)

    def take(self, line: int, cells: list[str]) -> None:
        """Keep a row unless it is empty; refuse the file once a limit is passed."""
        if not any(cells):
            return
        if len(self.rows) >= self.limits.rows:
            raise TableError(
                N_("the file has more than {limit} rows: split it into smaller files"),
                limit=f"{self.limits.rows:,}",
            )
        self._check(line, cells)
        self.rows.append((line, _row(self.header, cells)))

    def table(self) -> Table:
        return Table(self.header, self.rows)

    def _check(self, line: int, cells: list[str]) -> None:
        filled = [index for index, cell in enumerate(cells) if cell]
        if filled and filled[-1] >= self.limits.columns:
            raise TableError(
                N_("line {line} has more than {limit} columns: an import has at most {limit}"),
                line=line,
                limit=self.limits.columns,
            )
        self.cells += len(filled)
        if self.cells > self.limits.cells:
            raise TableError(
                N_("the file has more than {limit} filled cells: split it into smaller files"),
                limit=f"{self.limits.cells:,}",
            )
        if any(len(cells[index]) > self.limits.cell_chars for index in filled):
            raise TableError(
                N_("a cell on line {line} has more than {limit} characters"),
                line=line,
                limit=f"{self.limits.cell_chars:,}",
            )


def _read_csv(text: str, limits: Limits) -> Table:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = _Rows(limits)
    try:
        rows.take_header(next(reader))
    except StopIteration:
        raise TableError(N_("the file is empty")) from None
    except csv.Error as exc:
        raise TableError(N_("the file is not valid CSV")) from exc
    try:
        for cells in reader:
            rows.take(reader.line_num, [c.strip() for c in cells])
    except csv.Error as exc:
        raise TableError(N_("line {line} is not valid CSV"), line=reader.line_num) from exc
    return rows.table()


UNREADABLE_WORKBOOK = N_("the file is not a readable .xlsx workbook")


def check_archive(content: bytes, limits: Limits = LIMITS) -> None:
    """Refuse a workbook whose parts would unpack beyond ``limits``, before unpacking any of them.

    The shared-strings part is found the way openpyxl finds it (the content types
    part names it), not by its usual name, which a hostile file need not use.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
            _check_parts(parts, limits)
            shared = _shared_strings_part(archive)
    except (TableError, MemoryError):
        raise
    except Exception as exc:  # a broken archive or content types part: zipfile, lxml, openpyxl errors
        raise TableError(UNREADABLE_WORKBOOK) from exc
    if shared is not None and shared.file_size > limits.shared_strings_bytes:
        raise TableError(
            N_("the workbook's table of texts unpacks to more than {limit} MB: split it into smaller files"),
            limit=limits.shared_strings_bytes // MB,
        )


def _check_parts(parts: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(parts) > limits.parts:
        raise TableError(
            N_("the workbook has more than {limit} parts: save it again from Excel"),
            limit=f"{limits.parts:,}",
        )
    if sum(part.file_size for part in parts) > limits.unpacked_bytes:
        raise TableError(
            N_("the workbook unpacks to more than {limit} MB: split it into smaller files"),
            limit=limits.unpacked_bytes // MB,
        )
    for part in parts:
        if part.file_size >= limits.ratio_from_bytes and part.file_size > limits.ratio * part.compress_size:
            raise TableError(
                N_(
                    "the workbook is compressed more than {ratio} to 1, as no real spreadsheet "
                    "is: save it again from Excel"
                ),
                ratio=limits.ratio,
            )
        if part.file_size > limits.part_bytes:
            raise TableError(
                N_("a sheet of the workbook unpacks to more than {limit} MB: split it into smaller files"),
                limit=limits.part_bytes // MB,
            )


def _shared_strings_part(archive: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    """The part openpyxl will read as the shared strings, if any."""
    if archive.getinfo(ARC_CONTENT_TYPES).file_size > MB:  # a real one lists a few dozen parts in kB
        raise TableError(UNREADABLE_WORKBOOK)
    # types-openpyxl asks of ``node`` what every Serialisable subclass's from_tree needs at once (and
    # allows None for their sake); openpyxl's own reader builds the manifest exactly like this.
    manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))  # type: ignore[arg-type]
    assert manifest is not None  # Serialisable.from_tree always returns an instance
    found = manifest.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]  # unannotated in types-openpyxl
    if found is None:
        return None
    try:
        return archive.getinfo(found.PartName[1:])
    except KeyError:
        return None  # named but absent: openpyxl then refuses the file itself


def _read_xlsx(content: bytes, limits: Limits) -> Table:
    check_archive(content, limits)
    try:
        # Formulas as written, not their cached results: a formula is refused like in a CSV file
        # (a workbook saved by a program other than Excel has no results to read anyway).
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise TableError(UNREADABLE_WORKBOOK) from exc
    try:
        sheet = workbook.worksheets[0]
        # The dimensions a sheet declares are not trusted: "A1:XFD1048576" would pad every
        # row to 16,384 cells. Without them each row is as wide as its last cell.
        sheet.reset_dimensions()
        lines = sheet.iter_rows(values_only=True)
        rows = _Rows(limits)
        try:
            rows.take_header([_cell_text(v) for v in next(lines)])
        except StopIteration:
            raise TableError(N_("the first sheet is empty")) from None
        for number, values in enumerate(lines, start=2):
            if number > EXCEL_ROWS:  # openpyxl yields every missing row up to the numbers a sheet claims
                raise TableError(
                    N_("the file has more than {limit} rows: split it into smaller files"),
                    limit=f"{limits.rows:,}",
                )
            rows.take(number, [_cell_text(v) for v in values])
        return rows.table()
    except (TableError, MemoryError):
        raise
    except Exception as exc:  # a workbook that opens can still break while its rows stream in
        raise TableError(UNREADABLE_WORKBOOK) from exc
    finally:
        workbook.close()


def _row(header: list[str], cells: list[str]) -> dict[str, str]:
    row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if len(cells) > len(header) and any(cells[len(header) :]):
        row[EXTRA] = "yes"
    formulas = [name for name, value in row.items() if value.startswith("=")]
    if formulas:
        row[FORMULA] = ", ".join(formulas)
    return row
