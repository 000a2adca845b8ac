"""Credit notes: the ledger side of an approved return (銷售退貨證明單, regulations part 4 art. 22).

When a manager approves a return (``bot/services/people/approvals.py``), :func:`issue` writes, in the
approval's transaction:

* a :class:`~models.CreditNote` for the return's amount, numbered ``RT-YYYY-NNNN``: one sequence per
  year of issue (the company's local date), assigned here and nowhere else. The unique index on
  ``number`` is what guarantees uniqueness: if a concurrent approval took the number computed, the
  savepoint rolls back and the next one is tried;
* allocations of the credit note, as a collection's are: the invoice the rep named first (if it is
  still open), then the customer's oldest open invoices. What it cannot settle stays as the
  customer's unapplied credit (``customers.credit``, kept by the database), used on their next
  invoice (:func:`bot.services.money.ledger.apply_credit`);
* an audit entry with what it settled and what it left as credit.

The customer's row is locked first, as for a collection. Keyed by the approval (``source_key``), so
an approval is credited once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Conflict
from bot.services.money import ledger
from bot.services.money.ledger import ZERO, Applied
from bot.services.policy import local_date
from models import Allocation, CreditNote, Customer, Receivable, SalesReturn

PREFIX = "RT"
#: Attempts at a number when concurrent approvals took the ones computed.
NUMBER_ATTEMPTS = 10


@dataclass(frozen=True)
class Issued:
    credit_note_id: int
    number: str
    amount: Decimal
    #: Per invoice, what the credit note settled as it was issued (the named invoice first).
    settled: tuple[Applied, ...]
    #: What it could not settle: kept as the customer's unapplied credit.
    kept: Decimal
    #: Issued earlier for the same approval (nothing new written).
    already: bool = False


def number_prefix(year: int) -> str:
    return f"{PREFIX}-{year}-"


async def next_number(session: AsyncSession, year: int, taken: str | None = None) -> str:
    """``RT-2026-0001``: one more than the year's highest number (and than ``taken``, if given)."""
    prefix = number_prefix(year)
    numbers = list(
        await session.scalars(
            select(CreditNote.number)
            .where(CreditNote.number.startswith(prefix, autoescape=True))
            .order_by(func.length(CreditNote.number).desc(), CreditNote.number.desc())
            .limit(5)
        )
    )
    if taken is not None:
        numbers.append(taken)
    highest = max(
        (int(n.removeprefix(prefix)) for n in numbers if n.removeprefix(prefix).isdigit()), default=0
    )
    return f"{prefix}{highest + 1:04d}"


async def issue(
    session: AsyncSession,
    sales_return: SalesReturn,
    *,
    by: int,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> Issued:
    """Issue the return's credit note and settle the customer's invoices with it (see the module doc)."""
    found = await session.scalar(select(CreditNote).where(CreditNote.return_id == sales_return.id))
    if found is not None:
        return Issued(found.id, found.number, found.amount, (), ZERO, already=True)
    customer = select(Customer.id).where(Customer.id == sales_return.customer_id)
    await session.execute(customer.with_for_update())
    note = await _numbered(session, sales_return, by=by, now=now, zone=zone, source_key=source_key)
    lines = ledger.split(note.amount, await _invoices(session, sales_return))
    if lines:
        await session.execute(
            insert(Allocation),
            [
                {
                    "collection_id": None,
                    "credit_note_id": note.id,
                    "receivable_id": receivable_id,
                    "amount": line.amount,
                    "from_credit": False,
                }
                for receivable_id, line in lines
            ],
        )
    settled = tuple(line for _, line in lines)
    kept = note.amount - ledger.applied_total(settled)
    audit.record(
        session,
        actor_id=by,
        action="credit_note.issue",
        entity="credit_note",
        entity_id=note.id,
        at=now,
        after={
            "number": note.number,
            "return_id": sales_return.id,
            "customer_id": sales_return.customer_id,
            "amount": str(note.amount),
            "settled": [{"invoice_no": line.invoice_no, "amount": str(line.amount)} for line in settled],
            "kept_as_credit": str(kept),
        },
    )
    return Issued(note.id, note.number, note.amount, settled, kept)


async def _numbered(
    session: AsyncSession,
    sales_return: SalesReturn,
    *,
    by: int,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> CreditNote:
    """The credit note, inserted under the year's next free number (in a savepoint per attempt)."""
    year = local_date(now, zone).year
    taken: str | None = None
    for _attempt in range(NUMBER_ATTEMPTS):
        number = await next_number(session, year, taken)
        note = CreditNote(
            number=number,
            customer_id=sales_return.customer_id,
            rep_id=sales_return.rep_id,
            return_id=sales_return.id,
            amount=sales_return.amount,
            issued_at=now,
            issued_by=by,
            source_key=source_key,
        )
        try:
            async with session.begin_nested():
                session.add(note)
                await session.flush()
        except IntegrityError:
            if await session.scalar(select(CreditNote.id).where(CreditNote.return_id == sales_return.id)):
                raise Conflict(N_("This return has already been credited.")) from None
            taken = number
            continue
        return note
    raise Conflict(N_("Too many returns approved at once: I could not number this one. Press Approve again."))


async def _invoices(session: AsyncSession, sales_return: SalesReturn) -> list[tuple[int, str, Decimal]]:
    """The customer's open invoices as the credit note settles them: the named one first, then oldest."""
    rows = [
        (id_, invoice_no, open_)
        for id_, invoice_no, open_ in await session.execute(
            select(Receivable.id, Receivable.invoice_no, Receivable.open_amount)
            .where(Receivable.customer_id == sales_return.customer_id, ledger.is_open())
            .order_by(Receivable.due_on, Receivable.issued_on, Receivable.id)
        )
    ]
    named = [row for row in rows if row[0] == sales_return.receivable_id]
    return named + [row for row in rows if row[0] != sales_return.receivable_id]
