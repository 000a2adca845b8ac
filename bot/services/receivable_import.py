"""Importing open invoices from the accounting system: all rows or none.

Header: ``invoice_no,customer_code,amount,issued_on,due_on`` (``due_on``
optional: issued_on + the customer's credit days). Dates as ``2026-11-01``,
``2026/11/01`` or real spreadsheet date cells. Re-importing updates invoices by
``invoice_no``, but never lowers an amount below what was already collected
against it, nor moves a partly collected invoice to another customer. Any bad
row means nothing is written; the report names every bad row with its reason.
Customers and existing invoices are loaded in bulk, never one query per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit, policy
from bot.services.access import Caller, Permission, require
from bot.services.amounts import format_amount, parse_amount
from bot.services.errors import Invalid
from bot.services.importing import ImportReport, RowError, cell_problems
from bot.services.ledger import ZERO
from bot.services.orders import MAX_INVOICE_NO
from bot.tabular import Table
from bot.text import search_key
from models import Customer, Money, Receivable, ReceivableSource

REQUIRED = ("invoice_no", "customer_code", "amount", "issued_on")
#: Keeps every ``IN (…)`` list well under the drivers' bound-parameter limits.
CHUNK = 1000
_DATE = re.compile(r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
                   r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")

Problem = tuple[str, dict[str, str]]


@dataclass(frozen=True)
class InvoiceRow:
    line: int
    invoice_no: str
    customer_code: str  # as typed; matched case-insensitively
    amount: Decimal
    issued_on: date
    due_on: date | None  # None: from the customer's credit days


def parse_date(text: str) -> date | None:
    """``2026-11-01``, ``2026/11/01``, ``2026.11.01``, ``2026年11月1日`` (a time part is ignored)."""
    match = _DATE.match(text.strip())
    if match is None:
        return None
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None


def validate(table: Table, known_codes: set[str]) -> tuple[list[InvoiceRow], list[RowError]]:
    """Check each row on its own, against the known customer codes (their search keys) and for duplicates."""
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        return [], [RowError(1, N_("missing columns: {columns}"), {"columns": ", ".join(missing)})]
    rows: list[InvoiceRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        parsed, problems = _read_row(line, cells, known_codes)
        invoice_no = cells.get("invoice_no", "").strip()
        if invoice_no in seen:
            problems.append((N_("invoice {invoice} already appears on line {other}"),
                             {"invoice": invoice_no[:MAX_INVOICE_NO], "other": str(seen[invoice_no])}))
        elif invoice_no:
            seen[invoice_no] = line
        if problems or parsed is None:
            errors.extend(RowError(line, reason, params) for reason, params in problems)
            continue
        rows.append(parsed)
    if not table.rows:
        errors.append(RowError(1, N_("the file has a header but no invoices")))
    return rows, errors


def _read_row(line: int, cells: dict[str, str], known_codes: set[str]
              ) -> tuple[InvoiceRow | None, list[Problem]]:
    problems: list[Problem] = []
    problems += cell_problems(cells)
    invoice_no = cells.get("invoice_no", "").strip()
    if not invoice_no or len(invoice_no) > MAX_INVOICE_NO:
        problems.append((N_("invoice_no must have 1 to {limit} characters"), {"limit": str(MAX_INVOICE_NO)}))
    code = cells.get("customer_code", "").strip()
    if not code:
        problems.append((N_("customer_code is empty"), {}))
    elif search_key(code) not in known_codes:
        problems.append((N_("no customer has the code {code}"), {"code": code[:40]}))
    amount: Decimal | None = None
    try:
        amount = parse_amount(cells.get("amount", ""))
    except Invalid as refused:
        problems.append((refused.message, {k: str(v) for k, v in refused.params.items()}))
    issued_on = parse_date(cells.get("issued_on", ""))
    if issued_on is None:
        problems.append((N_("issued_on {value} is not a date: write it like 2026-11-01"),
                         {"value": cells.get("issued_on", "")[:40]}))
    due_text = cells.get("due_on", "").strip()
    due_on = parse_date(due_text) if due_text else None
    if due_text and due_on is None:
        problems.append((N_("due_on {value} is not a date: write it like 2026-11-01"),
                         {"value": due_text[:40]}))
    if issued_on is not None and due_on is not None and due_on < issued_on:
        problems.append((N_("due_on {due} is before issued_on {issued}"),
                         {"due": due_on.isoformat(), "issued": issued_on.isoformat()}))
    if problems or amount is None or issued_on is None:
        return None, problems
    return InvoiceRow(line, invoice_no, code, amount, issued_on, due_on), problems


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


async def _customers_by_code(session: AsyncSession, codes: set[str]) -> dict[str, Customer]:
    found: dict[str, Customer] = {}
    for batch in _chunks(sorted(codes)):
        for customer in await session.scalars(select(Customer).where(Customer.code_key.in_(batch))):
            found[customer.code_key] = customer
    return found


async def _invoices(session: AsyncSession, numbers: list[str]) -> dict[str, tuple[Receivable, Decimal]]:
    """Existing receivables by invoice number, each with what was collected against it."""
    found: dict[str, tuple[Receivable, Decimal]] = {}
    for batch in _chunks(numbers):
        rows = await session.execute(
            select(Receivable, type_coerce(Receivable.amount - Receivable.open_amount, Money()))
            .where(Receivable.invoice_no.in_(batch)))
        for receivable, collected in rows:
            found[receivable.invoice_no] = (receivable, collected or ZERO)
    return found


def _ledger_problems(row: InvoiceRow, customer: Customer,
                     existing: tuple[Receivable, Decimal] | None) -> list[Problem]:
    """An update the ledger forbids: below what was collected, or collected money changing customer."""
    if existing is None:
        return []
    receivable, collected = existing
    problems: list[Problem] = []
    if row.amount < collected:
        problems.append((N_("amount {amount} is less than the {collected} already collected on invoice "
                            "{invoice}"), {"amount": format_amount(row.amount),
                                           "collected": format_amount(collected),
                                           "invoice": row.invoice_no}))
    if collected != ZERO and receivable.customer_id != customer.id:
        problems.append((N_("invoice {invoice} already has collections from another customer: "
                            "its customer cannot change"), {"invoice": row.invoice_no}))
    return problems


def _state(receivable: Receivable) -> dict[str, Any]:
    return {"customer_id": receivable.customer_id, "amount": str(receivable.amount),
            "issued_on": receivable.issued_on.isoformat(), "due_on": receivable.due_on.isoformat(),
            "rep_id": receivable.rep_id}


async def import_receivables(
    session: AsyncSession, table: Table, now: datetime, caller: Caller | None
) -> ImportReport:
    """Validate every row, then write all of them in the caller's transaction (``caller`` None: CLI)."""
    if caller is not None:
        require(caller, Permission.IMPORT_RECEIVABLES)
    codes = {search_key(cells.get("customer_code", "")) for _, cells in table.rows} - {""}
    customers = await _customers_by_code(session, codes)
    rows, errors = validate(table, set(customers))
    existing = await _invoices(session, [row.invoice_no for row in rows])
    for row in rows:
        errors.extend(RowError(row.line, reason, params) for reason, params in
                      _ledger_problems(row, customers[search_key(row.customer_code)],
                                       existing.get(row.invoice_no)))
    report = ImportReport(errors=sorted(errors, key=lambda e: e.line))
    if errors:
        return report
    rules = await policy.grade_rules(session)
    changes: dict[str, dict[str, Any]] = {}
    for row in rows:
        customer = customers[search_key(row.customer_code)]
        due_on = row.due_on or row.issued_on + timedelta(days=policy.credit_terms(customer, rules)[0])
        wanted = {"customer_id": customer.id, "rep_id": customer.rep_id, "amount": row.amount,
                  "issued_on": row.issued_on, "due_on": due_on}
        found = existing.get(row.invoice_no)
        if found is None:
            session.add(Receivable(invoice_no=row.invoice_no, source=ReceivableSource.IMPORT,
                                   created_at=now, **wanted))
            report.created += 1
            continue
        receivable = found[0]
        if all(getattr(receivable, name) == value for name, value in wanted.items()):
            continue
        before = _state(receivable)
        for name, value in wanted.items():
            setattr(receivable, name, value)
        changes[row.invoice_no] = {"before": before, "after": _state(receivable)}
        report.updated += 1
    await session.flush()
    audit.record(session, actor_id=caller.id if caller else None, action="import_receivables",
                 entity="receivable", entity_id=None, at=now,
                 before={number: change["before"] for number, change in changes.items()} or None,
                 after={"created": report.created, "updated": report.updated,
                        "changed": {number: change["after"] for number, change in changes.items()}})
    return report
