"""Balances and visit-due rules on the real database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.clock import FixedClock
from bot.db import Database
from bot.services.money.ledger import balance, balances
from bot.services.policy import due_for_visit, grade_rules, next_visit_due
from models import Customer
from tests import factories


async def test_open_and_overdue_balances(db: Database, clock: FixedClock) -> None:
    now, today = clock.now(), clock.today()
    people = await factories.company(db, now)
    shop = await factories.customer(db, now, name="Shop", rep=people.rep)
    quiet = await factories.customer(db, now, name="Quiet", rep=people.rep)
    old = await factories.receivable(
        db,
        now,
        customer=shop,
        amount="1000.10",
        issued_on=today - timedelta(40),
        due_on=today - timedelta(10),
    )
    await factories.receivable(db, now, customer=shop, amount="500.00", issued_on=today, due_on=today)
    await factories.payment(db, now, receivable=old, amount="0.10", rep=people.rep)
    async with db.reading() as session:
        found = await balances(session, [shop.id, quiet.id], today)
        assert found[shop.id].open == Decimal("1500.00")
        assert found[shop.id].overdue == Decimal("1000.00")
        assert quiet.id not in found
        assert (await balance(session, quiet.id, today)).open == Decimal("0.00")


async def test_due_for_visit_by_grade(db: Database, clock: FixedClock) -> None:
    now, today, zone = clock.now(), clock.today(), clock.zone
    people = await factories.company(db, now)
    two_days, three_days, six_days = (now - timedelta(days=days) for days in (2, 3, 6))
    a_recent = await factories.customer(
        db, now, name="A recent", rep=people.rep, grade="A", last_visit_at=two_days
    )  # A: every 3 days
    a_due = await factories.customer(
        db, now, name="A due", rep=people.rep, grade="A", last_visit_at=three_days
    )
    c_recent = await factories.customer(
        db, now, name="C recent", rep=people.rep, grade="C", last_visit_at=six_days
    )  # C: every 7 days
    never = await factories.customer(db, now, name="Never", rep=people.rep, grade="D")
    async with db.reading() as session:
        rules = await grade_rules(session)
        due = set(await session.scalars(select(Customer.id).where(due_for_visit(rules, zone, today))))
    assert due == {a_due.id, never.id}
    assert next_visit_due(two_days, "A", rules, zone, today) == today + timedelta(days=1)
    assert next_visit_due(None, "B", rules, zone, today) == today
    assert a_recent.id not in due and c_recent.id not in due
    assert date(2026, 11, 23) == today
