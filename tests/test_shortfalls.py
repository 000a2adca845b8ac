"""Issue 18, "stock shortfalls followed up" (regulations part 4, art. 19): a product counted at zero,
below the customer's usual level or below the minimum set for it goes into the rep's next morning
plan (and the manager's digest) until a later count shows it restocked — through the fake Bot API.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from bot.services.field import stock
from jobs.runner import run_job
from models import AuditLog, Customer, CustomerStatus, StockMinimum
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness, Person

MONDAY = date(2026, 11, 23)
TITLE = "Stock shortfalls to follow up"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    people = await factories.company(harness.db, harness.clock.now())
    for name, code in (("Acme", "AC1"), ("Beta Store", "BS")):
        await factories.customer(harness.db, harness.clock.now(), name=name, rep=people.rep, code=code)
    await factories.customer(
        harness.db, harness.clock.now(), name="South Shop", rep=people.other_rep, code="SS"
    )
    harness.api.add_user(2002, "Bob")  # the other rep: his plans are delivered too
    return people


@pytest.fixture
def rep(harness: Harness, company: factories.Company) -> Person:
    return harness.person(2001, "Li")


async def count(
    harness: Harness, rep: Person, customer: str, lines: str, *, day: date, hour: int = 10
) -> None:
    """The rep logs a stock check at ``customer`` on ``day``: ``/visit``, Stock check, the counts, Save."""
    harness.clock.set(at(day, hour))
    await rep.send(f"/visit {customer}")
    await rep.press("Stock check")
    await rep.send("Counted the shelves")
    await rep.press("Stock levels")
    await rep.send(lines)
    [saved] = await rep.press("Save")
    assert "Visit saved" in saved.plain_text()


async def morning_plan(harness: Harness, day: date, telegram_id: int = 2001) -> str:
    """Run the morning plan for ``day`` at 08:30 and return what ``telegram_id`` was sent."""
    harness.clock.set(at(day, 8, 30))
    outcome = await run_job(harness.db, "morning_plan", harness.clock.now(), ZONE)
    assert outcome.ran
    await harness.deliver_pushes()
    return harness.api.last(telegram_id).plain_text()


async def test_a_product_at_zero_is_in_the_next_plans_until_a_count_shows_it_restocked(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await count(harness, rep, "Acme", "Cola 330ml 12\nTea 6", day=MONDAY)
    await count(harness, rep, "Acme", "Cola 330ml 0\nTea 5", day=MONDAY + timedelta(days=1))

    plan = await morning_plan(harness, MONDAY + timedelta(days=2))
    assert "⚠️ Stock shortfalls to follow up: 1 (until a count shows them restocked)" in plan
    assert "• Acme (AC1) — Cola 330ml: 0 ⚠️ out of stock · counted 2026-11-24" in plan
    assert "Tea" not in plan  # 5 after 6: the ordinary ebb between deliveries
    assert TITLE not in harness.api.last(2002).plain_text()  # Bob's customers are not short

    # A check that does not count Cola again leaves it open
    await count(harness, rep, "Acme", "Tea 4", day=MONDAY + timedelta(days=2))
    plan = await morning_plan(harness, MONDAY + timedelta(days=3))
    assert "• Acme (AC1) — Cola 330ml: 0 ⚠️ out of stock · counted 2026-11-24" in plan

    # Restocked: the next plan has no shortfall; the card shows the change
    await count(harness, rep, "Acme", "cola 330ML 24", day=MONDAY + timedelta(days=3))
    plan = await morning_plan(harness, MONDAY + timedelta(days=4))
    assert TITLE not in plan and "Cola" not in plan
    [card] = await rep.send("/customer Acme")
    assert "• cola 330ML: 24 (+24) · 2026-11-26" in card.plain_text()
    assert "short" not in card.plain_text()


async def test_below_half_the_usual_level_is_short_and_half_is_not(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    for offset, quantity in enumerate((20, 24, 22)):  # usual level 22, half 11
        await count(harness, rep, "Acme", f"Cola 330ml {quantity}", day=MONDAY, hour=9 + offset)
    await count(harness, rep, "Acme", "Cola 330ml 11", day=MONDAY, hour=13)
    assert TITLE not in await morning_plan(harness, MONDAY + timedelta(days=1))
    # a second count at 10 the next day: usual is now (24 + 22 + 11) / 3 = 19, half 9.5: not short
    await count(harness, rep, "Acme", "Cola 330ml 10", day=MONDAY + timedelta(days=1))
    assert TITLE not in await morning_plan(harness, MONDAY + timedelta(days=2))
    # 7 is under half of (22 + 11 + 10) / 3 = 14.3
    await count(harness, rep, "Acme", "Cola 330ml 7", day=MONDAY + timedelta(days=2))
    plan = await morning_plan(harness, MONDAY + timedelta(days=3))
    assert "• Acme (AC1) — Cola 330ml: 7 ⚠️ below half the usual 14 · counted 2026-11-25" in plan
    [card] = await rep.send("/customer Acme")
    assert "• Cola 330ml: 7 (\u22123) ⚠️ below half the usual 14 · 2026-11-25" in card.plain_text()


async def test_a_minimum_set_per_product_is_honoured_and_can_be_removed(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    admin = await harness.admin()
    manager = harness.person(5001, "Mia")
    await count(harness, rep, "Acme", "Cola 330ml 26\nTea 20", day=MONDAY)
    await count(harness, rep, "Acme", "Cola 330ml 25\nTea 6", day=MONDAY, hour=11)
    await count(harness, rep, "Beta Store", "Cola 330ml 40", day=MONDAY)
    assert TITLE in await morning_plan(harness, MONDAY + timedelta(days=1))  # Tea: 6 under half of 20

    said = await admin.says("/settings stock ＣＯＬＡ 330ML 30")  # any case or width names the product
    assert "Saved." in said
    assert "Stock minimums (a count below one is a shortfall at any dealer): ＣＯＬＡ 330ML 30" in said
    said = await admin.says("/settings stock Tea 5")
    assert "ＣＯＬＡ 330ML 30 · Tea 5" in said
    plan = await morning_plan(harness, MONDAY + timedelta(days=2))
    assert "• Acme (AC1) — Cola 330ml: 25 ⚠️ below the minimum of 30 · counted 2026-11-23" in plan
    assert "Tea" not in plan  # 6 is not under its minimum of 5: the minimum replaces the usual level
    assert "Beta Store" not in plan  # 40 is not under 30

    await count(harness, rep, "Acme", "Cola 330ml 30", day=MONDAY + timedelta(days=2))  # at the minimum
    plan = await morning_plan(harness, MONDAY + timedelta(days=3))
    assert "Cola" not in plan

    said = await admin.says("/settings stock tea off")
    assert "Saved." in said and "Tea 5" not in said
    plan = await morning_plan(harness, MONDAY + timedelta(days=4))
    assert "• Acme (AC1) — Tea: 6 ⚠️ below half the usual 20 · counted 2026-11-23" in plan

    async with harness.db.reading() as session:
        minimums = {row.product_key: row.minimum for row in await session.scalars(select(StockMinimum))}
        logged = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.entity == "stock_minimum").order_by(AuditLog.id)
            )
        )
    assert minimums == {"cola 330ml": 30}
    assert [(entry.before, entry.after) for entry in logged] == [
        (None, {"product": "ＣＯＬＡ 330ML", "minimum": 30}),
        (None, {"product": "Tea", "minimum": 5}),
        ({"product": "Tea", "minimum": 5}, {"product": "tea", "minimum": None}),
    ]

    # only admins set it; a bad value is explained and changes nothing
    assert "does not allow" in await manager.says("/settings stock Cola 330ml 1")
    assert "whole number of 1 or more" in await admin.says("/settings stock Cola 330ml -3")
    assert "Write the product, then its minimum" in await admin.says("/settings stock 30")
    async with harness.db.reading() as session:
        assert await session.scalar(select(StockMinimum.minimum)) == 30


async def test_shortfalls_follow_the_customer_and_leave_with_it(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    """The plan goes to the customer's rep now; an inactive customer has none."""
    await count(harness, rep, "Acme", "Cola 330ml 0", day=MONDAY)
    await count(harness, rep, "Beta Store", "Tea 0", day=MONDAY)
    async with harness.db.transaction() as session:
        await session.execute(
            update(Customer)
            .where(Customer.code == "BS")
            .values(rep_id=company.other_rep.id, team_id=company.south.id)
        )
    plan = await morning_plan(harness, MONDAY + timedelta(days=1))
    assert "Acme" in plan and "Beta Store" not in plan
    assert "• Beta Store (BS) — Tea: 0 ⚠️ out of stock" in harness.api.last(2002).plain_text()
    async with harness.db.transaction() as session:
        await session.execute(
            update(Customer).where(Customer.code == "AC1").values(status=CustomerStatus.INACTIVE)
        )
    assert TITLE not in await morning_plan(harness, MONDAY + timedelta(days=2))


async def test_the_plan_in_chinese(harness: Harness, company: factories.Company, rep: Person) -> None:
    await count(harness, rep, "Acme", "可乐 0\n茶 0", day=MONDAY)
    await rep.send("/lang zh")
    plan = await morning_plan(harness, MONDAY + timedelta(days=1))
    assert "⚠️ 待跟进的库存不足：2（直到盘点显示已补货）" in plan
    assert "• Acme (AC1) — 可乐: 0 ⚠️ 缺货 · 盘点于 2026-11-23\n• Acme (AC1) — 茶: 0 ⚠️ 缺货" in plan


async def test_the_teams_shortfalls_for_the_managers_digest(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    bob = harness.person(2002, "Bob")
    await count(harness, rep, "Acme", "Cola 330ml 0\nTea 9", day=MONDAY)
    await count(harness, rep, "Beta Store", "Tea 0", day=MONDAY)
    await count(harness, bob, "South Shop", "Cola 330ml 0", day=MONDAY)
    await count(harness, rep, "Acme", "Cola 330ml 12", day=MONDAY + timedelta(days=1))  # restocked Tuesday
    async with harness.db.reading() as session:
        monday = await stock.shortfalls_for_team(session, company.north.id, MONDAY, ZONE)
        tuesday = await stock.shortfalls_for_team(session, company.north.id, MONDAY + timedelta(days=1), ZONE)
        first = await stock.shortfalls_for_team(session, company.north.id, MONDAY, ZONE, limit=1)
        south = await stock.shortfalls_for_team(session, company.south.id, MONDAY, ZONE)
    assert [(s.customer_name, s.product, s.quantity, s.rep_name) for s in monday.items] == [
        ("Acme", "Cola 330ml", 0, "Li Wei"),
        ("Beta Store", "Tea", 0, "Li Wei"),
    ]
    assert monday.total == 2
    assert [(s.customer_name, s.product) for s in tuesday.items] == [("Beta Store", "Tea")]
    assert len(first.items) == 1 and first.total == 2
    assert [(s.customer_code, s.product) for s in south.items] == [("SS", "Cola 330ml")]


async def test_the_managers_digest_lists_the_teams_shortfalls(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    mia = harness.person(5001, "Mia")
    await mia.send("/lang zh")
    harness.person(7001, "Dora")  # the director: the digest's overview reaches her too
    await count(harness, rep, "Acme", "Cola 330ml 0\nTea 9", day=MONDAY)
    await count(harness, rep, "Beta Store", "Tea 0", day=MONDAY)
    await count(harness, harness.person(2002, "Bob"), "South Shop", "Cola 330ml 0", day=MONDAY)
    harness.clock.set(at(MONDAY, 19))
    assert (await run_job(harness.db, "report_digest", harness.clock.now(), ZONE)).ran
    await harness.deliver_pushes()
    stock_message = harness.api.last(5001).plain_text()
    assert stock_message.splitlines() == [
        "⚠️ 团队客户处的库存不足 · 2026-11-23：2",
        "• Acme (AC1) [Li Wei] — Cola 330ml: 0 ⚠️ 缺货 · 盘点于 2026-11-23",
        "• Beta Store (BS) [Li Wei] — Tea: 0 ⚠️ 缺货 · 盘点于 2026-11-23",
        "每项都会保留，直到之后的盘点显示已补货。",
    ]
    assert "South Shop" not in "\n".join(m.plain_text() for m in harness.api.chat(5001))
    # restocked the next day: the next digest has no stock message
    await count(harness, rep, "Acme", "Cola 330ml 12", day=MONDAY + timedelta(days=1))
    await count(harness, rep, "Beta Store", "Tea 10", day=MONDAY + timedelta(days=1))
    before = len(harness.api.chat(5001))
    harness.clock.set(at(MONDAY + timedelta(days=1), 19))
    assert (await run_job(harness.db, "report_digest", harness.clock.now(), ZONE)).ran
    await harness.deliver_pushes()
    assert not any("库存不足" in m.plain_text() for m in harness.api.chat(5001)[before:])
