"""The ledger is never wrong: a property test over random days of orders, imports, collections,
returns, reversals and undos (issue 19).

Each step goes through the services the bot calls (a return is asked for by the rep and decided by
the manager, in transactions of their own, as through the buttons). A plain model kept beside the
database knows only what each customer was invoiced (orders and imports that stand) and what they
paid or were credited (collections less reversals, approved returns). After every step:

* every receivable's stored open amount is ``amount − allocations`` (0 once voided) and never
  negative; a voided one has no money left on it;
* every customer's open balance equals their invoices − credit notes − collections applied (the
  allocations to their standing invoices), and their unapplied credit (``customers.credit``, kept
  by triggers) equals collections + credit notes − their allocations;
* no collection (with its reversal) and no credit note has applied more than it holds: unapplied
  credit is never negative;
* nothing is lost: open − credit equals the model's invoiced − paid, and since credit is used on
  every open invoice, a customer holds credit only when they owe nothing — so the open balance is
  exactly ``max(invoiced − paid, 0)`` and the credit ``max(paid − invoiced, 0)``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.services.errors import ServiceError
from bot.services.intake import receivable_import
from bot.services.money import collections, orders, returns
from bot.services.people import approvals
from bot.services.people.access import Caller
from bot.tabular import Table
from models import (
    Allocation,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Collection,
    CreditNote,
    Customer,
    Money,
    PaymentMethod,
    Receivable,
    User,
)
from tests import factories
from tests.conftest import MONDAY_MORNING, ZONE

_numbers = count(1)
CUSTOMERS = 2
ZERO = Decimal("0.00")

#: One step: (what, which customer / earlier row, an amount in yuan, a choice).
Step = tuple[str, int, int, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(0, CUSTOMERS - 1), st.integers(1, 900), st.just(0)),
        st.tuples(st.just("import"), st.integers(0, CUSTOMERS - 1), st.integers(1, 900), st.just(0)),
        # an invoice imported again: a new amount, and maybe another customer's code
        st.tuples(
            st.just("reimport"), st.integers(0, 20), st.integers(1, 900), st.integers(0, CUSTOMERS - 1)
        ),
        st.tuples(st.just("collect"), st.integers(0, CUSTOMERS - 1), st.integers(1, 1500), st.just(0)),
        # a return: approved (choice odd) or rejected, naming one of the customer's invoices
        # (choice // 2) or none
        st.tuples(st.just("return"), st.integers(0, CUSTOMERS - 1), st.integers(1, 1500), st.integers(0, 9)),
        st.tuples(st.just("reverse"), st.integers(0, 20), st.just(0), st.just(0)),
        st.tuples(st.just("undo_collection"), st.integers(0, 20), st.just(0), st.just(0)),
        st.tuples(st.just("undo_order"), st.integers(0, 20), st.just(0), st.just(0)),
        st.tuples(st.just("reject_order"), st.integers(0, 20), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=18,
)


@dataclass
class Model:
    """What the customers were invoiced and paid, as the steps that succeeded say."""

    #: receivable id → [customer index, amount, voided]
    invoices: dict[int, list[object]] = field(default_factory=dict)
    paid: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    def net(self, customer: int) -> Decimal:
        invoiced = sum(
            (
                amount
                for who, amount, voided in self.invoices.values()  # type: ignore[misc]
                if who == customer and not voided
            ),
            ZERO,
        )
        return invoiced - self.paid[customer]


@dataclass
class Day:
    db: Database
    rep: Caller
    manager: Caller
    director: Caller
    customers: list[tuple[int, str]] = field(default_factory=list)  # (id, code)
    imported: list[str] = field(default_factory=list)
    collected: list[tuple[int, int, Decimal]] = field(default_factory=list)  # (id, customer, amount)
    ordered: list[int] = field(default_factory=list)
    model: Model = field(default_factory=Model)

    async def run(self, step: Step) -> None:
        what, which, yuan, choice = step
        amount = Decimal(yuan) + Decimal("0.35")
        key = f"ledger:{next(_numbers)}"
        now = MONDAY_MORNING
        try:
            if what == "return":
                await self._return(which, amount, choice, key)
                return
            async with self.db.transaction() as session:
                if what in ("import", "reimport"):
                    await self._import(session, what, which, amount, choice)
                elif what == "order":
                    placed = await orders.record_order(
                        session,
                        self.rep,
                        self.customers[which][0],
                        orders.OrderDetails(amount),
                        now=now,
                        zone=ZONE,
                        source_key=key,
                        confirmed=True,
                    )
                    assert isinstance(placed, orders.RecordedOrder)
                    self.ordered.append(placed.receivable_id)
                    self.model.invoices[placed.receivable_id] = [which, amount, False]
                elif what == "collect":
                    done = await collections.record(
                        session,
                        self.rep,
                        customer_id=self.customers[which][0],
                        amount=amount,
                        method=PaymentMethod.TRANSFER,
                        receipt_no=None,
                        source_key=key,
                        now=now,
                        confirmed=True,
                    )
                    assert isinstance(done, collections.Recorded)
                    self.collected.append((done.id, which, amount))
                    self.model.paid[which] += amount
                elif what in ("reverse", "undo_collection") and self.collected:
                    collection_id, customer, paid = self.collected[which % len(self.collected)]
                    if what == "reverse":
                        done = await collections.reverse(
                            session,
                            self.director,
                            collection_id,
                            "wrong amount",
                            source_key=key,
                            now=now,
                            zone=ZONE,
                        )
                    else:
                        done = await collections.undo(
                            session, self.rep, collection_id, source_key=key, now=now
                        )
                    if not done.already:  # an Undo of one reversed already answers as done, writing nothing
                        self.model.paid[customer] -= paid
                elif what == "undo_order" and self.ordered:
                    receivable_id = self.ordered[which % len(self.ordered)]
                    undone = await orders.undo(session, self.rep, receivable_id, now=now, zone=ZONE)
                    if not undone.already:
                        self.model.invoices[receivable_id][2] = True
                elif what == "reject_order":
                    await self._reject(session, which)
        except ServiceError:
            pass  # refused (reversed already, money collected against the order…): nothing written

    async def _import(self, session: object, what: str, which: int, amount: Decimal, choice: int) -> None:
        if what == "reimport" and not self.imported:
            return
        number = self.imported[which % len(self.imported)] if what == "reimport" else f"LP-{next(_numbers)}"
        customer = choice if what == "reimport" else which
        table = Table(
            ["invoice_no", "customer_code", "amount", "issued_on"],
            [
                (
                    2,
                    {
                        "invoice_no": number,
                        "customer_code": self.customers[customer][1],
                        "amount": str(amount),
                        "issued_on": "2026-10-01",
                    },
                )
            ],
        )
        report = await receivable_import.import_receivables(session, table, MONDAY_MORNING, None)  # type: ignore[arg-type]
        if report.errors:
            return  # refused as a whole (below what was settled, or settled money changing customer)
        receivable_id = await session.scalar(  # type: ignore[attr-defined]
            select(Receivable.id).where(Receivable.invoice_no == number)
        )
        if what == "import":
            self.imported.append(number)
            self.model.invoices[receivable_id] = [customer, amount, False]
        else:
            self.model.invoices[receivable_id][:2] = [customer, amount]

    async def _reject(self, session: object, which: int) -> None:
        pending = list(
            await session.scalars(  # type: ignore[attr-defined]
                # This example's requests only: the database outlives each example, the model does not.
                select(Approval.id)
                .where(
                    Approval.kind == ApprovalKind.OVER_LIMIT,
                    Approval.status == ApprovalStatus.PENDING,
                    Approval.customer_id.in_([id_ for id_, _ in self.customers]),
                )
                .order_by(Approval.id)
            )
        )
        if not pending:
            return
        approval_id = pending[which % len(pending)]
        decided = await approvals.decide(
            session, self.manager, approval_id, False, now=MONDAY_MORNING, zone=ZONE
        )  # type: ignore[arg-type]
        receivable_id = await session.scalar(  # type: ignore[attr-defined]
            select(Approval.receivable_id).where(Approval.id == approval_id)
        )
        if decided.decided_now:
            self.model.invoices[receivable_id][2] = True

    async def _return(self, which: int, amount: Decimal, choice: int, key: str) -> None:
        customer_id = self.customers[which][0]
        async with self.db.transaction() as session:
            standing = list(
                await session.scalars(
                    select(Receivable.id)
                    .where(Receivable.customer_id == customer_id, Receivable.voided_at.is_(None))
                    .order_by(Receivable.id)
                )
            )
            named = standing[(choice // 2) % len(standing)] if standing and choice // 2 else None
            made = await returns.request_return(
                session,
                self.rep,
                customer_id,
                amount=amount,
                receivable_id=named,
                reason="damaged",
                items=(),
                now=MONDAY_MORNING,
                zone=ZONE,
                source_key=key,
            )
        approve = bool(choice % 2)
        async with self.db.transaction() as session:
            await approvals.decide(
                session, self.manager, made.view.id, approve, now=MONDAY_MORNING, zone=ZONE
            )
        if approve:
            self.model.paid[which] += amount


async def ledger_problems(day: Day) -> list[str]:
    """Every way the database disagrees with itself or with the model, in words."""
    problems: list[str] = []
    async with day.db.reading() as session:
        allocated = dict(
            (
                await session.execute(
                    select(Allocation.receivable_id, func.sum(Allocation.amount)).group_by(
                        Allocation.receivable_id
                    )
                )
            ).all()
        )
        receivables = (
            await session.execute(
                select(Receivable.id, Receivable.amount, Receivable.open_amount, Receivable.voided_at)
            )
        ).all()
        for id_, amount, open_, voided_at in receivables:
            paid = allocated.get(id_) or ZERO
            owed = ZERO if voided_at is not None else amount
            if open_ != owed - paid or open_ < 0:
                problems.append(f"receivable {id_}: open {open_}, ledger {owed - paid}")
            if voided_at is not None and paid != 0:
                problems.append(f"voided receivable {id_} still has {paid} applied")
        # Per source: a collection with its reversal, and each credit note, never applied more than held.
        original = func.coalesce(Collection.reverses_id, Collection.id)
        by_collection = dict(
            (
                await session.execute(
                    select(original, func.sum(Allocation.amount))
                    .join(Allocation, Allocation.collection_id == Collection.id)
                    .group_by(original)
                )
            ).all()
        )
        held = dict(
            (await session.execute(select(original, func.sum(Collection.amount)).group_by(original))).all()
        )
        for source, amount in held.items():
            spent = by_collection.get(source) or 0
            if amount - spent < 0:
                problems.append(f"collection {source} applied {spent} of {amount}")
        for id_, amount in (await session.execute(select(CreditNote.id, CreditNote.amount))).all():
            spent = await _sum(session, Allocation.amount, Allocation.credit_note_id == id_)
            if amount - spent < 0:
                problems.append(f"credit note {id_} applied {spent} of {amount}")
        for index, (customer_id, _code) in enumerate(day.customers):
            credit = await session.scalar(select(Customer.credit).where(Customer.id == customer_id))
            open_total = await _sum(session, Receivable.open_amount, Receivable.customer_id == customer_id)
            payments = await _sum(
                session, Collection.amount, Collection.customer_id == customer_id
            ) + await _sum(session, CreditNote.amount, CreditNote.customer_id == customer_id)
            source = (
                select(Collection.id).where(Collection.customer_id == customer_id),
                select(CreditNote.id).where(CreditNote.customer_id == customer_id),
            )
            applied = await _sum(
                session,
                Allocation.amount,
                Allocation.collection_id.in_(source[0]) | Allocation.credit_note_id.in_(source[1]),
            )
            if credit != payments - applied:
                problems.append(f"customer {index}: credit {credit}, ledger {payments - applied}")
            if credit < 0:
                problems.append(f"customer {index}: negative credit {credit}")
            invoiced = await _sum(
                session,
                Receivable.amount,
                Receivable.customer_id == customer_id,
                Receivable.voided_at.is_(None),
            )
            standing = select(Receivable.id).where(
                Receivable.customer_id == customer_id, Receivable.voided_at.is_(None)
            )
            settled = await _sum(session, Allocation.amount, Allocation.receivable_id.in_(standing))
            if open_total != invoiced - settled:  # invoices − (credit notes + collections) applied
                problems.append(
                    f"customer {index}: open {open_total}, invoices − allocations {invoiced - settled}"
                )
            net = day.model.net(index)
            if (open_total, credit) != (max(net, ZERO), max(-net, ZERO)):
                problems.append(
                    f"customer {index}: open {open_total} and credit {credit}, but invoiced − paid is {net}"
                )
    return problems


async def _sum(session: AsyncSession, column: Any, *where: Any) -> Decimal:
    """SUM(column) WHERE …, as money (0.00 when nothing matches)."""
    total = await session.scalar(select(type_coerce(func.sum(column), Money())).where(*where))
    return total if total is not None else ZERO


@pytest.fixture
async def day(db: Database) -> Day:
    people = await factories.company(db, MONDAY_MORNING)
    return Day(
        db, Caller.of(people.rep, "en"), Caller.of(people.manager, "en"), Caller.of(people.director, "en")
    )


#: A collection whose excess went to a later order, reversed (the order reopens) and undone; an order
#: that used a return's credit undone (the credit comes back); a rejected over-limit order after credit;
#: an order settled by a collection's and a credit note's credit, the collection reversed, the order undone.
EXAMPLES: list[list[Step]] = [
    [("collect", 0, 1000, 0), ("order", 0, 400, 0), ("reverse", 0, 0, 0)],
    [
        ("import", 0, 300, 0),
        ("collect", 0, 1000, 0),
        ("order", 0, 400, 0),
        ("undo_collection", 0, 0, 0),
        ("order", 0, 100, 0),
    ],
    [
        ("order", 1, 500, 0),
        ("return", 1, 900, 3),
        ("order", 1, 800, 0),
        ("undo_order", 1, 0, 0),
        ("undo_order", 0, 0, 0),
    ],
    [
        ("collect", 1, 1200, 0),
        ("collect", 1, 300, 0),
        ("order", 1, 1400, 0),
        ("reverse", 0, 0, 0),
        ("reject_order", 0, 0, 0),
        ("import", 1, 50, 0),
        ("reimport", 0, 900, 0),
    ],
    [
        ("collect", 0, 1000, 0),
        ("return", 0, 200, 1),
        ("order", 0, 1100, 0),
        ("reverse", 0, 0, 0),
        ("undo_order", 0, 0, 0),
        ("import", 0, 100, 0),
    ],
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
@example(plan=EXAMPLES[0])
@example(plan=EXAMPLES[1])
@example(plan=EXAMPLES[2])
@example(plan=EXAMPLES[3])
@example(plan=EXAMPLES[4])
async def test_every_step_keeps_the_ledger_true(day: Day, plan: list[Step]) -> None:
    # Fresh customers per example (the database is the test's): one with a low credit limit, so some
    # orders wait for the manager and may be rejected.
    day.customers, day.imported, day.collected, day.ordered, day.model = [], [], [], [], Model()
    for index in range(CUSTOMERS):
        code = f"LP{next(_numbers)}"
        async with day.db.transaction() as session:
            rep = await session.get_one(User, day.rep.id)
        row = await factories.customer(
            day.db,
            MONDAY_MORNING,
            name=f"Shop {code}",
            code=code,
            rep=rep,
            credit_limit=Decimal("99999999" if index == 0 else "1500"),
        )
        day.customers.append((row.id, code))
    for number, step in enumerate(plan):
        await day.run(step)
        problems = await ledger_problems(day)
        assert not problems, f"after step {number} {step} of {plan}: {problems}"
