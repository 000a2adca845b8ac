"""Reading the CSV and XLSX files people import: header plus rows, each with its line number.

What a file may be, decided here:

* **At most** :data:`MAX_FILE_BYTES` (Telegram lets bots download 20 MB) and
  :data:`MAX_ROWS` rows; more is refused as a whole, before any row is read.
* **CSV text** in UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's
  "Unicode text"), or GB18030/GBK (what Chinese Excel writes for "CSV"). Anything
  else, or a file with control characters (a binary file named .csv), is refused
  saying how to save it.
* **The header** names each column once (zero-width characters and case ignored).
* **Row marks** for the importers (see :func:`bot.services.importing.cell_problems`):
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
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from bot.i18n import N_
from bot.services.errors import Invalid

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_MEGABYTES = MAX_FILE_BYTES // (1024 * 1024)
#: Rows after the header: a company's customers or open invoices, with room to spare.
MAX_ROWS = 200_000
#: Keys a row may carry besides its columns (a NUL cannot be in a header name).
EXTRA, FORMULA = "\0extra", "\0formula"
NOT_A_SPREADSHEET = N_("the file is not a spreadsheet: send a .xlsx file or a CSV saved as 'CSV UTF-8'")
#: C0 control characters that no spreadsheet text contains (tab, CR and LF are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TableError(Invalid):
    """The file as a whole cannot be read (not the rows in it)."""


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


def read_file(path: Path) -> Table:
    """Read a file from disk, refusing one over the limit before reading a byte of it."""
    if too_large(path.stat().st_size):
        raise TableError(N_("the file is larger than {size} MB"), size=MAX_MEGABYTES)
    return read_table(path.read_bytes(), path.name)


def read_table(content: bytes, file_name: str) -> Table:
    """Parse ``content`` as XLSX (by name or by its zip signature) or as CSV text."""
    if too_large(len(content)):
        raise TableError(N_("the file is larger than {size} MB"), size=MAX_MEGABYTES)
    if not content.strip():
        raise TableError(N_("the file is empty"))
    if Path(file_name).suffix.lower() in (".xlsx", ".xlsm") or content[:2] == b"PK":
        return _read_xlsx(content)
    return _read_csv(_decode(content))


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


def _read_csv(text: str) -> Table:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = _normalise_header(next(reader))
    except StopIteration:
        raise TableError(N_("the file is empty")) from None
    except csv.Error as exc:
        raise TableError(N_("the file is not valid CSV")) from exc
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            _count(rows)
            rows.append((reader.line_num, _row(header, [c.strip() for c in cells])))
    except csv.Error as exc:
        raise TableError(N_("line {line} is not valid CSV"), line=reader.line_num) from exc
    return Table(header, rows)


def _count(rows: list[tuple[int, dict[str, str]]]) -> None:
    if len(rows) >= MAX_ROWS:
        raise TableError(N_("the file has more than {limit} rows: split it into smaller files"),
                         limit=f"{MAX_ROWS:,}")


def _read_xlsx(content: bytes) -> Table:
    try:
        # Formulas as written, not their cached results: a formula is refused like in a CSV file
        # (a workbook saved by a program other than Excel has no results to read anyway).
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise TableError(N_("the file is not a readable .xlsx workbook")) from exc
    try:
        sheet = workbook.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        try:
            header = _normalise_header([_cell_text(v) for v in next(lines)])
        except StopIteration:
            raise TableError(N_("the first sheet is empty")) from None
        rows: list[tuple[int, dict[str, str]]] = []
        for number, values in enumerate(lines, start=2):
            cells = [_cell_text(v) for v in values]
            if any(cells):
                _count(rows)
                rows.append((number, _row(header, cells)))
        return Table(header, rows)
    except TableError:
        raise
    except Exception as exc:  # a workbook that opens can still break while its rows stream in
        raise TableError(N_("the file is not a readable .xlsx workbook")) from exc
    finally:
        workbook.close()


def _row(header: list[str], cells: list[str]) -> dict[str, str]:
    row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if len(cells) > len(header) and any(cells[len(header):]):
        row[EXTRA] = "yes"
    formulas = [name for name, value in row.items() if value.startswith("=")]
    if formulas:
        row[FORMULA] = ", ".join(formulas)
    return row
