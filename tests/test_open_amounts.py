"""Stored open amounts (``receivables.open_amount``) always equal the ledger: amount − allocations;
and stored unapplied credit (``customers.credit``) always equals collections + credit notes − their
allocations.

The columns are kept by database triggers (migrations 0009, 0019, 0024); these tests drive the
services that move money in random order, and write rows by hand, and recompute both from the
ledger afterwards. ``tests/test_ledger_property.py`` checks the ledger itself step by step.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from bench.generate import TODAY as BENCH_TODAY, generate
from bot.db import Database, upgrade_async
from bot.services.errors import ServiceError
from bot.services.intake import receivable_import
from bot.services.money import collections, orders, overdue_rollup
from bot.services.people.access import Caller
from bot.tabular import Table
from models import (
    Allocation,
    Collection,
    CreditNote,
    Customer,
    OverdueTotal,
    PaymentMethod,
    Receivable,
    SalesReturn,
    User,
)
from tests import factories
from tests.conftest import MONDAY_MORNING, PG_URL, ZONE
from tests.test_overdue_rollup import mismatches as overdue_mismatches

_numbers = count(1)
CUSTOMERS = 2

# One step of a day at the till: (what, which customer or earlier row, an amount in yuan).
invoice = st.tuples(st.just("invoice"), st.integers(0, CUSTOMERS - 1), st.integers(1, 900))
reimport = st.tuples(st.just("reimport"), st.integers(0, 20), st.integers(1, 900))
order = st.tuples(st.just("order"), st.integers(0, CUSTOMERS - 1), st.integers(1, 900))
collect = st.tuples(st.just("collect"), st.integers(0, CUSTOMERS - 1), st.integers(1, 1500))
reverse = st.tuples(st.just("reverse"), st.integers(0, 20), st.just(0))
undo = st.tuples(st.just("undo"), st.integers(0, 20), st.just(0))
steps = st.lists(st.one_of(invoice, reimport, order, collect, reverse, undo), min_size=1, max_size=14)


@dataclass
class Till:
    db: Database
    rep_user: User
    rep: Caller
    director: Caller
    customers: list[tuple[int, str]]  # (id, code)
    invoices: list[str]
    collections: list[int]
    now: datetime
    orders: list[int] = field(default_factory=list)

    async def run(self, step: tuple[str, int, int]) -> None:
        what, which, yuan = step
        amount = Decimal(yuan) + Decimal("0.35")
        key = f"open-amounts:{next(_numbers)}"
        try:
            async with self.db.transaction() as session:
                if what in ("invoice", "reimport"):
                    if what == "reimport" and not self.invoices:
                        return
                    number = (
                        self.invoices[which % len(self.invoices)]
                        if what == "reimport"
                        else f"OA-{next(_numbers)}"
                    )
                    customer = self.customers[which % len(self.customers)]
                    table = Table(
                        ["invoice_no", "customer_code", "amount", "issued_on"],
                        [
                            (
                                2,
                                {
                                    "invoice_no": number,
                                    "customer_code": customer[1],
                                    "amount": str(amount),
                                    "issued_on": "2026-10-01",
                                },
                            )
                        ],
                    )
                    report = await receivable_import.import_receivables(session, table, self.now, None)
                    if what == "invoice" and not report.errors:
                        self.invoices.append(number)
                elif what == "order":
                    placed = await orders.record_order(
                        session,
                        self.rep,
                        self.customers[which][0],
                        orders.OrderDetails(amount),
                        now=self.now,
                        zone=ZONE,
                        source_key=key,
                        confirmed=True,
                    )
                    assert isinstance(placed, orders.RecordedOrder)
                    self.orders.append(placed.receivable_id)
                elif what == "undo":
                    if self.orders:  # voided unless money is applied to it (refused: nothing written)
                        await orders.undo(
                            session, self.rep, self.orders[which % len(self.orders)], now=self.now, zone=ZONE
                        )
                elif what == "collect":
                    done = await collections.record(
                        session,
                        self.rep,
                        customer_id=self.customers[which][0],
                        amount=amount,
                        method=PaymentMethod.TRANSFER,
                        receipt_no=None,
                        source_key=key,
                        now=self.now,
                        confirmed=True,
                    )
                    assert isinstance(done, collections.Recorded)
                    self.collections.append(done.id)
                elif self.collections:
                    await collections.reverse(
                        session,
                        self.director,
                        self.collections[which % len(self.collections)],
                        "typed the wrong amount",
                        source_key=key,
                        now=self.now,
                        zone=ZONE,
                    )
        except ServiceError:
            pass  # refused (already reversed…): nothing was written, and that is fine too


async def mismatches(db: Database) -> list[tuple[str, Decimal, Decimal]]:
    """(invoice, stored open amount, amount − allocations) wherever the two differ or go negative.

    A voided receivable (an order undone or rejected) owes nothing: its amount counts as 0.
    """
    allocated = (
        select(Allocation.receivable_id, func.sum(Allocation.amount).label("paid"))
        .group_by(Allocation.receivable_id)
        .subquery()
    )
    async with db.reading() as session:
        rows = await session.execute(
            select(
                Receivable.invoice_no,
                Receivable.open_amount,
                Receivable.amount,
                func.coalesce(allocated.c.paid, 0),
                Receivable.voided_at.is_not(None),
            ).outerjoin(allocated, allocated.c.receivable_id == Receivable.id)
        )
        owed = [
            (number, stored, (Decimal(0) if voided else amount) - paid)
            for number, stored, amount, paid, voided in rows
        ]
        return [(number, stored, ledger) for number, stored, ledger in owed if stored != ledger or stored < 0]


async def credit_mismatches(db: Database) -> list[tuple[str, Decimal, Decimal]]:
    """(customer, stored credit, collections + credit notes − their allocations) wherever they differ.

    An allocation is its source's customer's (the collection's or the credit note's).
    """

    def by_customer(model: type[Collection] | type[CreditNote]) -> Select[tuple[int, Decimal]]:
        return select(model.customer_id, func.sum(model.amount)).group_by(model.customer_id)

    async with db.reading() as session:
        given: dict[int, Decimal] = defaultdict(Decimal)
        for model in (Collection, CreditNote):
            for customer_id, amount in await session.execute(by_customer(model)):
                given[customer_id] += amount
        for model, key in ((Collection, Allocation.collection_id), (CreditNote, Allocation.credit_note_id)):
            for customer_id, amount in await session.execute(
                select(model.customer_id, func.sum(Allocation.amount))
                .join(model, model.id == key)
                .group_by(model.customer_id)
            ):
                given[customer_id] -= amount
        stored = (await session.execute(select(Customer.code, Customer.id, Customer.credit))).all()
        return [(code, credit, given[id_]) for code, id_, credit in stored if credit != given[id_]]


@pytest.fixture
async def till(db: Database) -> Till:
    now = MONDAY_MORNING
    people = await factories.company(db, now)
    rep, director = people.rep, people.director
    return Till(db, rep, Caller.of(rep, "en"), Caller.of(director, "en"), [], [], [], now)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
async def test_stored_open_amounts_follow_collections_reversals_imports_and_orders(
    till: Till, plan: list[tuple[str, int, int]]
) -> None:
    # Each example works on fresh customers of its own; the invariant holds for the whole database.
    till.customers, till.invoices, till.collections, till.orders = [], [], [], []
    for _ in range(CUSTOMERS):
        code = f"OA{next(_numbers)}"
        row = await factories.customer(
            till.db,
            till.now,
            name=f"Shop {code}",
            code=code,
            rep=till.rep_user,
            credit_limit=Decimal("99999999"),
        )
        till.customers.append((row.id, code))
    for step in plan:
        await till.run(step)
    assert await mismatches(till.db) == []
    assert await credit_mismatches(till.db) == []


async def test_direct_writes_keep_open_amounts_too(db: Database) -> None:
    """Rows written without the services (imports by hand, the demo, fixtures) are kept as well."""
    now = MONDAY_MORNING
    people = await factories.company(db, now)
    shop = await factories.customer(db, now, name="Shop", rep=people.rep)
    first = await factories.receivable(
        db, now, customer=shop, amount="1000.00", issued_on=date(2026, 10, 1), due_on=date(2026, 10, 31)
    )
    second = await factories.receivable(
        db, now, customer=shop, amount="250.50", issued_on=date(2026, 11, 1), due_on=date(2026, 12, 1)
    )
    paid = await factories.payment(db, now, receivable=first, amount="400.00", rep=people.rep)
    await factories.payment(db, now, receivable=second, amount="250.50", rep=people.rep)
    async with db.transaction() as session:
        # An allocation corrected in place, one deleted, an amount changed, a receivable inserted
        # claiming to be paid already: each is followed.
        allocation = await session.scalar(select(Allocation).where(Allocation.collection_id == paid.id))
        assert allocation is not None
        allocation.amount = Decimal("300.00")
        (await session.get_one(Receivable, second.id)).amount = Decimal("300.50")
        session.add(
            Receivable(
                invoice_no="HAND-1",
                customer_id=shop.id,
                rep_id=people.rep.id,
                amount=Decimal("80.00"),
                open_amount=Decimal("0.00"),
                issued_on=now.date(),
                due_on=now.date() + timedelta(days=30),
                source="import",
                created_at=now,
            )
        )
    async with db.transaction() as session:
        stored = dict((await session.execute(select(Receivable.invoice_no, Receivable.open_amount))).all())
        assert stored == {
            first.invoice_no: Decimal("700.00"),
            second.invoice_no: Decimal("50.00"),
            "HAND-1": Decimal("80.00"),
        }
        await session.delete(
            await session.scalar(select(Allocation).where(Allocation.collection_id == paid.id))
        )
    assert await mismatches(db) == []
    async with db.reading() as session:
        assert await session.scalar(
            select(Receivable.open_amount).where(Receivable.id == first.id)
        ) == Decimal("1000.00")
        assert await session.scalar(select(func.count()).select_from(Collection)) == 2
    assert await credit_mismatches(db) == []


async def test_direct_writes_keep_credit_too(db: Database) -> None:
    """Collections, credit notes and allocations written, changed, moved or deleted by hand."""
    now = MONDAY_MORNING
    people = await factories.company(db, now)
    shop = await factories.customer(db, now, name="Shop", code="S1", rep=people.rep)
    other = await factories.customer(db, now, name="Other", code="S2", rep=people.rep)
    invoice = await factories.receivable(
        db, now, customer=shop, amount="1000.00", issued_on=date(2026, 10, 1), due_on=date(2026, 10, 31)
    )
    paid = await factories.payment(db, now, receivable=invoice, amount="400.00", rep=people.rep)

    async def credits() -> dict[str, Decimal]:
        async with db.reading() as session:
            return dict((await session.execute(select(Customer.code, Customer.credit))).all())

    assert await credits() == {"S1": Decimal("0.00"), "S2": Decimal("0.00")}
    async with db.transaction() as session:
        (await session.get_one(Collection, paid.id)).amount = Decimal("650.00")  # 250 over: credit
    assert await credits() == {"S1": Decimal("250.00"), "S2": Decimal("0.00")}
    async with db.transaction() as session:  # the collection moves to another customer, its credit too
        (await session.get_one(Collection, paid.id)).customer_id = other.id
    assert await credits() == {"S1": Decimal("0.00"), "S2": Decimal("250.00")}
    async with db.transaction() as session:
        returned = SalesReturn(
            customer_id=shop.id,
            rep_id=people.rep.id,
            requested_by=people.rep.id,
            amount=Decimal("80.00"),
            items=[],
            requested_at=now,
            source_key="r1",
        )
        session.add(returned)
        await session.flush()
        note = CreditNote(
            number="RT-2026-0001",
            customer_id=shop.id,
            rep_id=people.rep.id,
            return_id=returned.id,
            amount=Decimal("80.00"),
            issued_at=now,
            issued_by=people.manager.id,
            source_key="n1",
        )
        session.add(note)
        await session.flush()
        session.add(Allocation(credit_note_id=note.id, receivable_id=invoice.id, amount=Decimal("30.00")))
    assert await credits() == {"S1": Decimal("50.00"), "S2": Decimal("250.00")}
    async with db.transaction() as session:
        allocation = await session.scalar(select(Allocation).where(Allocation.credit_note_id.is_not(None)))
        assert allocation is not None
        allocation.amount = Decimal("80.00")
    assert await credits() == {"S1": Decimal("0.00"), "S2": Decimal("250.00")}
    async with db.transaction() as session:
        await session.delete(
            await session.scalar(select(Allocation).where(Allocation.collection_id == paid.id))
        )
    assert await credits() == {"S1": Decimal("0.00"), "S2": Decimal("650.00")}
    assert await credit_mismatches(db) == [] and await mismatches(db) == []


async def test_an_allocation_names_exactly_one_source(db: Database) -> None:
    now = MONDAY_MORNING
    people = await factories.company(db, now)
    shop = await factories.customer(db, now, name="Shop", rep=people.rep)
    invoice = await factories.receivable(
        db, now, customer=shop, amount="10.00", issued_on=date(2026, 10, 1), due_on=date(2026, 10, 31)
    )
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(Allocation(receivable_id=invoice.id, amount=Decimal("1.00")))


@pytest.mark.skipif(PG_URL is not None, reason="migrates a SQLite file of its own from revision 0007")
async def test_the_migration_computes_open_amounts_of_existing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url, "0007")
    with sqlite3.connect(path) as connection:  # money is integer cents on SQLite
        connection.executescript("""
            INSERT INTO users (id, telegram_id, name, role, active, created_at)
                VALUES (1, 11, 'Rep', 'rep', 1, '2026-11-01 00:00:00');
            INSERT INTO customers (id, code, name, grade, rep_id, status, created_at)
                VALUES (1, 'C1', 'Shop', 'C', 1, 'active', '2026-11-01 00:00:00');
            INSERT INTO receivables (id, invoice_no, customer_id, rep_id, amount, issued_on, due_on, source,
                                     disputed, followup_level, over_limit, created_at)
                VALUES (1, 'I-1', 1, 1, 100000, '2026-10-01', '2026-10-31', 'import', 0, 0, 0, '2026-10-01'),
                       (2, 'I-2', 1, 1, 5050, '2026-10-01', '2026-10-31', 'import', 0, 0, 0, '2026-10-01'),
                       (3, 'I-3', 1, 1, 700, '2026-10-01', '2026-10-31', 'import', 0, 0, 0, '2026-10-01');
            INSERT INTO collections (id, rep_id, customer_id, amount, method, received_at, recorded_by,
                                     source_key, created_at, reverses_id)
                VALUES (1, 1, 1, 30000, 'cash', '2026-11-02', 1, 'k1', '2026-11-02', NULL),
                       (2, 1, 1, 5050, 'cash', '2026-11-02', 1, 'k2', '2026-11-02', NULL),
                       (3, 1, 1, -5050, 'cash', '2026-11-03', 1, 'k3', '2026-11-03', 2);
            INSERT INTO allocations (id, collection_id, receivable_id, amount)
                VALUES (1, 1, 1, 25000), (2, 1, 3, 700), (3, 2, 2, 5050), (4, 3, 2, -5050);
        """)
    await upgrade_async(url)
    with sqlite3.connect(path) as connection:
        assert dict(connection.execute("SELECT invoice_no, open_amount FROM receivables")) == {
            "I-1": 75000,
            "I-2": 5050,
            "I-3": 0,
        }
        # Migration 0024: 300.00 collected, 257.00 of it applied (the reversed 50.50 nets out).
        assert dict(connection.execute("SELECT code, credit FROM customers")) == {"C1": 4300}
        assert connection.execute(
            "SELECT name FROM sqlite_master WHERE name = 'ix_receivables_open_by_customer'"
        ).fetchone()


async def test_the_bench_company_has_the_ledger_s_open_amounts(db: Database, database_url: str) -> None:
    company = await generate(database_url, 0.002, migrate=False)
    assert company.rows["allocations"] > 0
    assert await mismatches(db) == []
    assert await credit_mismatches(db) == []  # loaded with the credit triggers off: still right
    assert await overdue_mismatches(db) == []  # the overdue rollup too, built afterwards
    async with db.reading() as session:
        assert await overdue_rollup.as_of(session) == BENCH_TODAY
        assert await session.scalar(select(func.count()).select_from(OverdueTotal)) > 0
        assert await session.scalar(select(func.count()).where(Receivable.open_amount == 0)) > 0
        assert await session.scalar(select(func.count()).where(Receivable.open_amount > 0)) > 0
