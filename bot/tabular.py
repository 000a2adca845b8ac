"""Reading the CSV and XLSX files people import: header plus rows, each with its line number."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook

from bot.i18n import N_
from bot.services.errors import Invalid

MAX_FILE_BYTES = 20 * 1024 * 1024


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
    return str(value).strip()


def _normalise_header(cells: list[str]) -> list[str]:
    return [cell.strip().lower().lstrip("\ufeff") for cell in cells]


def read_table(content: bytes, file_name: str) -> Table:
    """Parse ``content`` as XLSX (by name or by its zip signature) or as UTF-8 CSV."""
    if len(content) > MAX_FILE_BYTES:
        raise TableError(N_("the file is larger than {size} MB"), size=MAX_FILE_BYTES // (1024 * 1024))
    if Path(file_name).suffix.lower() in (".xlsx", ".xlsm") or content[:2] == b"PK":
        return _read_xlsx(content)
    return _read_csv(content)


def _read_csv(content: bytes) -> Table:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(N_("the file is not UTF-8 text: save it as 'CSV UTF-8'")) from exc
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
            rows.append((reader.line_num, _row(header, [c.strip() for c in cells])))
    except csv.Error as exc:
        raise TableError(N_("line {line} is not valid CSV"), line=reader.line_num) from exc
    return Table(header, rows)


def _read_xlsx(content: bytes) -> Table:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
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
                rows.append((number, _row(header, cells)))
        return Table(header, rows)
    finally:
        workbook.close()


def _row(header: list[str], cells: list[str]) -> dict[str, str]:
    row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if len(cells) > len(header) and any(cells[len(header):]):
        row["\0extra"] = "yes"
    return row
