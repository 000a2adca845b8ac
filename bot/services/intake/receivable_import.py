"""Importing open invoices from the accounting system: all rows or none.

Header: ``invoice_no,customer_code,amount,issued_on,due_on`` (``due_on``
optional: issued_on + the customer's credit days). Dates as ``2026-11-01``,
``2026/11/01`` or real spreadsheet date cells. Re-importing updates invoices by
``invoice_no``, but never lowers an amount below what was already collected
against it, nor moves a partly collected invoice to another customer. Any bad
row means nothing is written; the report names every problem of every bad row at once (a row
with a bad date is still checked against what was collected on its invoice).
Customers and existing invoices are loaded in bulk, never one query per row.

A customer holding unapplied credit (an overpayment, a return beyond what they owed) has it
applied to their imported invoices at once, oldest invoice first, in the import's transaction
(:func:`bot.services.money.ledger.apply_credit`); the report says so, line by line. The customers the
file touches are locked first (as a collection locks its customer), so credit recorded at the same
moment cannot be left beside an open invoice.
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
from bot.services.errors import Invalid
from bot.services.intake.importing import ImportReport, RowError, cell_problems
from bot.services.money import ledger
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.money.ledger import ZERO, Applied
from bot.services.money.orders import MAX_INVOICE_NO
from bot.services.people.access import Caller, Permission, require
from bot.tabular import Table
from bot.text import search_key
from models import Customer, Money, Receivable, ReceivableSource

REQUIRED = ("invoice_no", "customer_code", "amount", "issued_on")
#: Keeps every ``IN (…)`` list well under the drivers' bound-parameter limits.
CHUNK = 1000
_DATE = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)

Problem = tuple[str, dict[str, str]]


@dataclass(frozen=True)
class Claim:
    """What a row asks of the ledger: this invoice, of this customer, for this amount. Checked against
    what was already collected (:func:`_ledger_problems`) for bad rows too, so that a line's every
    problem is reported at once."""

    line: int
    invoice_no: str
    customer_code: str
    amount: Decimal


@dataclass(frozen=True)
class Checked:
    good: list[InvoiceRow]
    errors: list[RowError]
    claims: list[Claim]  # every row whose invoice number, customer and amount could be read


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
    checked = check(table, known_codes)
    return checked.good, checked.errors


def check(table: Table, known_codes: set[str]) -> Checked:
    """Every problem of every row that needs no ledger, and what each row claims of the ledger."""
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        missing_columns = RowError(1, N_("missing columns: {columns}"), {"columns": ", ".join(missing)})
        return Checked([], [missing_columns], [])
    rows: list[InvoiceRow] = []
    claims: list[Claim] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        parsed, claim, problems = _read_row(line, cells, known_codes)
        invoice_no = cells.get("invoice_no", "").strip()
        if invoice_no in seen:
            problems.append(
                (
                    N_("invoice {invoice} already appears on line {other}"),
                    {"invoice": invoice_no[:MAX_INVOICE_NO], "other": str(seen[invoice_no])},
                )
            )
        elif invoice_no:
            seen[invoice_no] = line
        if claim is not None:
            claims.append(claim)
        if problems or parsed is None:
            errors.extend(RowError(line, reason, params) for reason, params in problems)
            continue
        rows.append(parsed)
    if not table.rows:
        errors.append(RowError(1, N_("the file has a header but no invoices")))
    return Checked(rows, errors, claims)


def _read_row(
    line: int, cells: dict[str, str], known_codes: set[str]
) -> tuple[InvoiceRow | None, Claim | None, list[Problem]]:
    problems: list[Problem] = []
    problems += cell_problems(cells)
    invoice_no = cells.get("invoice_no", "").strip()
    good_number = bool(invoice_no) and len(invoice_no) <= MAX_INVOICE_NO
    if not good_number:
        problems.append((N_("invoice_no must have 1 to {limit} characters"), {"limit": str(MAX_INVOICE_NO)}))
    code = cells.get("customer_code", "").strip()
    known = bool(code) and search_key(code) in known_codes
    if not code:
        problems.append((N_("customer_code is empty"), {}))
    elif not known:
        problems.append((N_("no customer has the code {code}"), {"code": code[:40]}))
    amount: Decimal | None = None
    try:
        amount = parse_amount(cells.get("amount", ""))
    except Invalid as refused:
        problems.append((refused.message, {k: str(v) for k, v in refused.params.items()}))
    issued_on = parse_date(cells.get("issued_on", ""))
    if issued_on is None:
        problems.append(
            (
                N_("issued_on {value} is not a date: write it like 2026-11-01"),
                {"value": cells.get("issued_on", "")[:40]},
            )
        )
    due_text = cells.get("due_on", "").strip()
    due_on = parse_date(due_text) if due_text else None
    if due_text and due_on is None:
        problems.append(
            (N_("due_on {value} is not a date: write it like 2026-11-01"), {"value": due_text[:40]})
        )
    if issued_on is not None and due_on is not None and due_on < issued_on:
        problems.append(
            (
                N_("due_on {due} is before issued_on {issued}"),
                {"due": due_on.isoformat(), "issued": issued_on.isoformat()},
            )
        )
    claim = Claim(line, invoice_no, code, amount) if good_number and known and amount is not None else None
    if problems or amount is None or issued_on is None:
        return None, claim, problems
    return InvoiceRow(line, invoice_no, code, amount, issued_on, due_on), claim, problems


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
            select(Receivable, type_coerce(Receivable.amount - Receivable.open_amount, Money())).where(
                Receivable.invoice_no.in_(batch)
            )
        )
        for receivable, collected in rows:
            found[receivable.invoice_no] = (receivable, collected or ZERO)
    return found


def _ledger_problems(
    row: Claim, customer: Customer, existing: tuple[Receivable, Decimal] | None
) -> list[Problem]:
    """An update the ledger forbids: below what was collected, or collected money changing customer."""
    if existing is None:
        return []
    receivable, collected = existing
    problems: list[Problem] = []
    if row.amount < collected:
        problems.append(
            (
                N_("amount {amount} is less than the {collected} already collected on invoice {invoice}"),
                {
                    "amount": format_amount(row.amount),
                    "collected": format_amount(collected),
                    "invoice": row.invoice_no,
                },
            )
        )
    if collected != ZERO and receivable.customer_id != customer.id:
        problems.append(
            (
                N_(
                    "invoice {invoice} already has collections from another customer: "
                    "its customer cannot change"
                ),
                {"invoice": row.invoice_no},
            )
        )
    return problems


async def _apply_credit(
    session: AsyncSession, customer_ids: list[int], caller: Caller | None, now: datetime
) -> list[Applied]:
    """Lock the customers the import touched; use the credit of those who hold some."""
    holding: list[int] = []
    for start in range(0, len(customer_ids), CHUNK):
        rows = await session.execute(
            select(Customer.id, Customer.credit)
            .where(Customer.id.in_(customer_ids[start : start + CHUNK]))
            .order_by(Customer.id)
            .with_for_update()
        )
        holding += [customer_id for customer_id, credit in rows if credit > 0]
    applied: list[Applied] = []
    for customer_id in holding:
        applied += await ledger.apply_credit(
            session, customer_id, actor_id=caller.id if caller else None, now=now, why="import"
        )
    return applied


def _state(receivable: Receivable) -> dict[str, Any]:
    return {
        "customer_id": receivable.customer_id,
        "amount": str(receivable.amount),
        "issued_on": receivable.issued_on.isoformat(),
        "due_on": receivable.due_on.isoformat(),
        "rep_id": receivable.rep_id,
    }


async def import_receivables(
    session: AsyncSession, table: Table, now: datetime, caller: Caller | None
) -> ImportReport:
    """Validate every row, then write all of them in the caller's transaction (``caller`` None: CLI)."""
    if caller is not None:
        require(caller, Permission.IMPORT_RECEIVABLES)
    codes = {search_key(cells.get("customer_code", "")) for _, cells in table.rows} - {""}
    customers = await _customers_by_code(session, codes)
    checked = check(table, set(customers))
    rows, errors = checked.good, checked.errors
    existing = await _invoices(session, sorted({claim.invoice_no for claim in checked.claims}))
    for claim in checked.claims:
        errors.extend(
            RowError(claim.line, reason, params)
            for reason, params in _ledger_problems(
                claim, customers[search_key(claim.customer_code)], existing.get(claim.invoice_no)
            )
        )
    report = ImportReport(errors=sorted(errors, key=lambda e: e.line))
    if errors:
        return report
    rules = await policy.grade_rules(session)
    changes: dict[str, dict[str, Any]] = {}
    for row in rows:
        customer = customers[search_key(row.customer_code)]
        due_on = row.due_on or row.issued_on + timedelta(days=policy.credit_terms(customer, rules)[0])
        wanted = {
            "customer_id": customer.id,
            "rep_id": customer.rep_id,
            "amount": row.amount,
            "issued_on": row.issued_on,
            "due_on": due_on,
        }
        found = existing.get(row.invoice_no)
        if found is None:
            session.add(
                Receivable(
                    invoice_no=row.invoice_no, source=ReceivableSource.IMPORT, created_at=now, **wanted
                )
            )
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
    touched = sorted({customers[search_key(row.customer_code)].id for row in rows})
    lines = {row.invoice_no: row.line for row in rows}
    for applied in await _apply_credit(session, touched, caller, now):
        report.notes.append(
            RowError(
                lines.get(applied.invoice_no, 1),
                N_("{amount} of the customer's credit applied to invoice {invoice} ({remaining} still open)"),
                {
                    "amount": format_amount(applied.amount),
                    "invoice": applied.invoice_no,
                    "remaining": format_amount(applied.remaining),
                },
            )
        )
    audit.record(
        session,
        actor_id=caller.id if caller else None,
        action="import_receivables",
        entity="receivable",
        entity_id=None,
        at=now,
        before={number: change["before"] for number, change in changes.items()} or None,
        after={
            "created": report.created,
            "updated": report.updated,
            "changed": {number: change["after"] for number, change in changes.items()},
        },
    )
    return report
