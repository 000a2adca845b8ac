"""The customers' overdue rollup (``overdue_totals``, migration 0034) always equals the sum of their
open receivables due before ``overdue_rollup.as_of``: a row per customer with any, none for others.

The triggers keep it through every write (random steps below, written by hand: the triggers are
whoever-writes); :func:`overdue_rollup.current` moves it a range of days at a time, forward or back.
/overdue reads it for the company and a team, and must list what summing the receivables lists.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select, update

from bot.db import Database
from bot.services.money import overdue_rollup
from bot.services.money.overdue import overdue_by_customer
from bot.services.people.access import Caller
from jobs.runner import run_job
from models import (
    Allocation,
    Collection,
    OverdueRollup,
    OverdueTotal,
    PaymentMethod,
    Receivable,
    ReceivableSource,
)
from tests import factories
from tests.conftest import MONDAY_MORNING, PG_URL, ZONE
from tests.harness import Harness
from tests.test_jobs import local
from tests.test_overdue import TODAY, books

_numbers = count(1)
BASE = date(2026, 11, 23)
CUSTOMERS = 3

# (what, which customer or earlier row, a number): days are offsets from BASE.
invoice = st.tuples(st.just("invoice"), st.integers(0, CUSTOMERS - 1), st.integers(-20, 20))
pay = st.tuples(st.just("pay"), st.integers(0, 30), st.integers(1, 1200))
unpay = st.tuples(st.just("unpay"), st.integers(0, 30), st.just(0))
repay = st.tuples(st.just("repay"), st.integers(0, 30), st.integers(1, 1200))
void = st.tuples(st.just("void"), st.integers(0, 30), st.just(0))
amount = st.tuples(st.just("amount"), st.integers(0, 30), st.integers(1, 1500))
redate = st.tuples(st.just("redate"), st.integers(0, 30), st.integers(-20, 20))
move = st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, CUSTOMERS - 1))
day = st.tuples(st.just("day"), st.just(0), st.integers(-20, 20))
steps = st.lists(
    st.one_of(invoice, pay, unpay, repay, void, amount, redate, move, day), min_size=1, max_size=16
)


Figures = tuple[Decimal, int] | None


async def mismatches(db: Database) -> list[tuple[int, Figures, Figures]]:
    """(customer, stored figures, summed figures) wherever the rollup and the receivables differ."""
    async with db.reading() as session:
        as_of = await overdue_rollup.as_of(session)
        summed: dict[int, tuple[Decimal, int]] = {}
        if as_of is not None:
            rows = await session.execute(
                select(Receivable.customer_id, func.sum(Receivable.open_amount), func.count())
                .where(Receivable.open_amount > 0, Receivable.due_on < as_of)
                .group_by(Receivable.customer_id)
            )
            summed = {customer_id: (Decimal(total), invoices) for customer_id, total, invoices in rows}
        stored = {
            customer_id: (amount, invoices)
            for customer_id, amount, invoices in await session.execute(
                select(OverdueTotal.customer_id, OverdueTotal.amount, OverdueTotal.invoices)
            )
        }
        return [
            (customer_id, stored.get(customer_id), summed.get(customer_id))
            for customer_id in stored.keys() | summed.keys()
            if stored.get(customer_id) != summed.get(customer_id)
        ]


class Ledger:
    """Random writes to receivables and allocations, by hand."""

    def __init__(self, db: Database, customers: list[int], rep_id: int) -> None:
        self.db, self.customers, self.rep_id = db, customers, rep_id
        self.receivables: list[int] = []
        self.allocations: list[int] = []

    async def run(self, step: tuple[str, int, int]) -> None:
        what, which, number = step
        async with self.db.transaction() as session:
            if what == "day":
                await overdue_rollup.move(await session.connection(), BASE + timedelta(days=number))
            elif what == "invoice":
                row = Receivable(
                    invoice_no=f"RU-{next(_numbers)}",
                    customer_id=self.customers[which],
                    rep_id=self.rep_id,
                    amount=Decimal("1000.00"),
                    issued_on=BASE - timedelta(days=60),
                    due_on=BASE + timedelta(days=number),
                    source=ReceivableSource.IMPORT,
                    created_at=MONDAY_MORNING,
                )
                session.add(row)
                await session.flush()
                self.receivables.append(row.id)
            elif not self.receivables:
                return
            elif what in ("pay", "unpay", "repay") and (what == "pay" or self.allocations):
                if what == "pay":
                    receivable = await session.get_one(Receivable, self.pick(which))
                    paid = Collection(
                        rep_id=self.rep_id,
                        customer_id=receivable.customer_id,
                        amount=Decimal(number),
                        method=PaymentMethod.TRANSFER,
                        received_at=MONDAY_MORNING,
                        recorded_by=self.rep_id,
                        source_key=f"rollup:{next(_numbers)}",
                        created_at=MONDAY_MORNING,
                    )
                    session.add(paid)
                    await session.flush()
                    allocation = Allocation(
                        collection_id=paid.id, receivable_id=receivable.id, amount=Decimal(number)
                    )
                    session.add(allocation)
                    await session.flush()
                    self.allocations.append(allocation.id)
                    return
                allocation = await session.get_one(
                    Allocation, self.allocations[which % len(self.allocations)]
                )
                if what == "unpay":
                    await session.delete(allocation)
                    self.allocations.remove(allocation.id)
                else:
                    allocation.amount = Decimal(number)
            elif what == "void":
                await session.execute(
                    update(Receivable)
                    .where(Receivable.id == self.pick(which))
                    .values(voided_at=MONDAY_MORNING)
                )
            elif what == "amount":
                await session.execute(
                    update(Receivable).where(Receivable.id == self.pick(which)).values(amount=Decimal(number))
                )
            elif what == "redate":
                await session.execute(
                    update(Receivable)
                    .where(Receivable.id == self.pick(which))
                    .values(due_on=BASE + timedelta(days=number))
                )
            elif what == "move":  # a prospect's invoices merged into another customer
                await session.execute(
                    update(Receivable)
                    .where(Receivable.id == self.pick(which))
                    .values(customer_id=self.customers[number])
                )

    def pick(self, which: int) -> int:
        return self.receivables[which % len(self.receivables)]


@pytest.fixture
async def ledger(db: Database) -> Ledger:
    people = await factories.company(db, MONDAY_MORNING)
    return Ledger(db, [], people.rep.id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
async def test_the_rollup_follows_every_write_and_every_day(
    ledger: Ledger, plan: list[tuple[str, int, int]]
) -> None:
    ledger.customers, ledger.receivables, ledger.allocations = [], [], []
    for _ in range(CUSTOMERS):
        shop = await factories.customer(ledger.db, MONDAY_MORNING, name="Shop", rep=None)
        ledger.customers.append(shop.id)
    async with ledger.db.transaction() as session:  # built before the first step, or not at all
        if plan[0][0] == "day":
            await overdue_rollup.move(await session.connection(), BASE)
    for step in plan:
        await ledger.run(step)
        assert await mismatches(ledger.db) == [], step


async def test_overdue_lists_the_same_from_the_rollup_and_from_the_receivables(harness: Harness) -> None:
    """The director's and a manager's /overdue read the rollup, moved to today on the first press;
    a read-only transaction on another day sums the receivables: both list the same."""
    setup = await books(harness)
    async with harness.db.reading() as session:
        assert await overdue_rollup.as_of(session) != TODAY  # built at migration, or never

    everyone = await harness.person(7001, "Dee").says("/overdue")
    assert "19,500.00 on 5 invoices of 4 customers" in everyone
    team = await harness.person(5001, "Mia").says("/overdue")
    assert "10,500.00 on 4 invoices of 3 customers" in team
    async with harness.db.reading() as session:
        assert await overdue_rollup.as_of(session) == TODAY
    assert await mismatches(harness.db) == []

    director = Caller.of(setup.people.director, "en")
    manager = Caller.of(setup.people.manager, "en")
    for day in (TODAY, TODAY + timedelta(days=1), TODAY - timedelta(days=6)):
        async with harness.db.reading() as session:  # the rollup is as of TODAY: summed on other days
            summed = [await overdue_by_customer(session, caller, today=day) for caller in (director, manager)]
        async with harness.db.transaction(report=True) as session:  # moved to ``day``, then read
            rolled = [await overdue_by_customer(session, caller, today=day) for caller in (director, manager)]
            assert await overdue_rollup.as_of(session) == day
        assert rolled == summed, day
        assert await mismatches(harness.db) == []

    # The next day Acme's invoice due today is overdue too; a payment to Delta shows at once.
    async with harness.db.transaction() as session:
        await overdue_rollup.move(await session.connection(), TODAY)
    harness.clock.advance(timedelta(days=1))
    await factories.payment(
        harness.db, harness.clock.now(), receivable=setup.invoices["D-70"], amount="500.00", rep=setup.wang
    )
    everyone = await harness.person(7001, "Dee").says("/overdue")
    assert "19,500.00 on 6 invoices of 4 customers" in everyone  # + 500 due yesterday − 500 paid
    assert "Delta Depot (DEL) · Wang Fang\n    3,000.00 · invoices: 1 · 71 days overdue" in everyone
    assert "Acme Trading (ACM) · Li Wei\n    3,500.00 · invoices: 3 · 41 days overdue" in everyone
    assert await mismatches(harness.db) == []


async def test_the_morning_followup_moves_the_rollup(harness: Harness) -> None:
    await books(harness)
    await run_job(harness.db, "overdue_followup", local(TODAY, 9, 0), ZONE)
    async with harness.db.reading() as session:
        assert await overdue_rollup.as_of(session) == TODAY
    assert await mismatches(harness.db) == []


@pytest.mark.skipif(PG_URL is None, reason="PostgreSQL's locks: set FIELDBOT_TEST_DATABASE_URL")
async def test_a_payment_in_flight_while_the_day_moves_is_counted_once(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payment committed while the move waits for its lock is in the move's sums; with the lock not
    had in time the list is summed instead, and the move is left to the next caller."""
    people = await factories.company(db, MONDAY_MORNING)
    shop = await factories.customer(db, MONDAY_MORNING, name="Shop", rep=people.rep)
    yesterday = BASE - timedelta(days=1)
    invoice = await factories.receivable(
        db,
        MONDAY_MORNING,
        customer=shop,
        amount="900.00",
        issued_on=BASE - timedelta(days=30),
        due_on=yesterday,
    )
    async with db.transaction() as session:
        await overdue_rollup.move(
            await session.connection(), yesterday
        )  # the invoice is not overdue as of yesterday

    payer = Database(database_url)  # a connection of its own: the fixture's pool has one
    paying = payer.transaction()
    session = await paying.__aenter__()
    try:
        paid = Collection(
            rep_id=people.rep.id,
            customer_id=shop.id,
            amount=Decimal("400.00"),
            method=PaymentMethod.TRANSFER,
            received_at=MONDAY_MORNING,
            recorded_by=people.rep.id,
            source_key="in-flight",
            created_at=MONDAY_MORNING,
        )
        session.add(paid)
        await session.flush()
        session.add(Allocation(collection_id=paid.id, receivable_id=invoice.id, amount=Decimal("400.00")))
        await session.flush()  # the receivable is locked and changed, not committed

        monkeypatch.setattr(overdue_rollup, "LOCK_TIMEOUT_MS", 200)
        async with db.transaction(report=True) as reader:
            assert not await overdue_rollup.current(reader, BASE)  # not had in time: summed instead
            listing = await overdue_by_customer(reader, Caller.of(people.director, "en"), today=BASE)
            assert listing.total == Decimal("900.00")  # the payment is not committed yet
        monkeypatch.setattr(overdue_rollup, "LOCK_TIMEOUT_MS", 10_000)

        async def move() -> bool:
            async with db.transaction(report=True) as mover:
                return await overdue_rollup.current(mover, BASE)

        moving = asyncio.create_task(move())
        await asyncio.sleep(0.3)
        assert not moving.done()  # waiting for the payment's transaction
    finally:
        await paying.__aexit__(None, None, None)  # the payment commits
        await payer.dispose()
    assert await moving
    assert await mismatches(db) == []
    async with db.reading() as session:
        assert (
            await session.execute(
                select(OverdueTotal.amount, OverdueTotal.invoices).where(OverdueTotal.customer_id == shop.id)
            )
        ).one() == (Decimal("500.00"), 1)
        assert await session.scalar(select(OverdueRollup.as_of)) == BASE
