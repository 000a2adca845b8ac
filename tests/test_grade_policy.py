"""The grade policy (issue 19): visit frequency, credit term and limit per grade, set in /settings.

Defaults follow the regulations' "at least once a week in principle" (part 4, art. 16): A every 3
days (twice a week), B and C weekly, D every two weeks. Migration 0017 moves a company from the old
defaults (A 7, B 14, C 30, D 60) unless it chose its own.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from alembic import command
from sqlalchemy import select

from bot.db import Database, alembic_config
from jobs.runner import run_job
from models import DEFAULT_GRADE_POLICY, AuditLog, GradePolicy
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_jobs import MONDAY, local


async def policies(db: Database) -> dict[str, tuple[int, int, Decimal]]:
    async with db.reading() as session:
        return {
            row.grade: (row.visit_every_days, row.credit_days, row.credit_limit)
            for row in await session.scalars(select(GradePolicy))
        }


async def test_the_shipped_defaults_honour_at_least_once_a_week(db: Database) -> None:
    assert {grade: every for grade, (every, _, _) in DEFAULT_GRADE_POLICY.items()} == {
        "A": 3,
        "B": 7,
        "C": 7,
        "D": 14,
    }
    assert await policies(db) == DEFAULT_GRADE_POLICY


async def test_admin_sets_a_grades_credit_and_visits_and_sees_them(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="Harbor Supplies", rep=people.rep, grade="B")
    admin = await harness.admin()
    shown = await admin.says("/settings")
    for line in (
        "• A: visit every 3 days · credit term 60 days · credit limit 200,000.00",
        "• B: visit every 7 days · credit term 45 days · credit limit 100,000.00",
        "• C: visit every 7 days · credit term 30 days · credit limit 50,000.00",
        "• D: visit every 14 days · credit term 0 days · credit limit 0.00",
    ):
        assert line in shown
    said = await admin.says("/settings grade B credit 40 12.5万")
    assert "Saved." in said
    assert "• B: visit every 7 days · credit term 40 days · credit limit 125,000.00" in said
    said = await admin.says("/settings grade b visits 5")
    assert "• B: visit every 5 days · credit term 40 days · credit limit 125,000.00" in said
    assert "• C: visit every 7 days · credit term 10 days · credit limit 8,000.00" in await admin.says(
        "/settings grade C credit 10 ¥8,000"
    )
    assert "• C: visit every 7 days · credit term 0 days · credit limit 0.00" in await admin.says(
        "/settings grade C credit 0 0"
    )
    assert await policies(harness.db) == {
        **DEFAULT_GRADE_POLICY,
        "B": (5, 40, Decimal("125000.00")),
        "C": (7, 0, Decimal("0.00")),
    }

    # The rep's card uses the grade's new terms at once.
    li = harness.person(2001, "Li")
    assert "Credit used: 0.00 of 125,000.00 (0%), term 40 days" in await li.says("/customer Harbor")

    for words, answer in (
        ("grade E visits 7", "Grades are A, B, C and D."),
        ("grade B visits 0", "A visit frequency is 1 to 365 days."),
        ("grade B credit 400 1000", "A credit term is 0 to 365 days."),
        ("grade B credit 45 lots", "lots is not an amount"),
        ("grade B credit 45 -5", "A credit limit cannot be negative."),
        ("grade B credit 45 100000.001", "Amounts have at most 2 decimals."),
    ):
        assert answer in await admin.says(f"/settings {words}"), words
    assert (await policies(harness.db))["B"] == (5, 40, Decimal("125000.00"))

    async with harness.db.reading() as session:
        entries = [
            (row.before, row.after, row.actor_id)
            for row in await session.scalars(
                select(AuditLog).where(AuditLog.entity == "grade_policy").order_by(AuditLog.id)
            )
        ]
    assert [(before, after) for before, after, _ in entries] == [
        (
            {"B.credit_days": 45, "B.credit_limit": "100000.00"},
            {"B.credit_days": 40, "B.credit_limit": "125000.00"},
        ),
        ({"B.visit_every_days": 7}, {"B.visit_every_days": 5}),
        (
            {"C.credit_days": 30, "C.credit_limit": "50000.00"},
            {"C.credit_days": 10, "C.credit_limit": "8000.00"},
        ),
        ({"C.credit_days": 10, "C.credit_limit": "8000.00"}, {"C.credit_days": 0, "C.credit_limit": "0.00"}),
    ]
    assert all(actor is not None for _, _, actor in entries)

    await admin.send("/lang zh")
    shown = await admin.says("/settings grade A credit 90 30万")
    assert "已保存。" in shown and "客户等级：" in shown
    assert "• A：每 3 天拜访一次 · 账期 90 天 · 信用额度 300,000.00" in shown
    assert (
        "等级的信用设置需要两个值：账期天数和信用额度，例如 /settings grade B credit 45 100000。"
        in await admin.says("/settings grade A credit 90")
    )


async def test_only_admins_change_the_grade_policy(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    for telegram_id, name in ((5001, "Mia"), (7001, "Dee"), (6001, "Fay"), (2001, "Li")):
        person = harness.person(telegram_id, name)
        assert "does not allow" in await person.says("/settings grade B credit 90 1000000"), name
        assert "does not allow" in await person.says("/settings visits A 30"), name
    assert await policies(harness.db) == DEFAULT_GRADE_POLICY


async def test_the_morning_plan_follows_the_grade_frequencies(harness: Harness) -> None:
    """Under the old defaults (A 7, B 14, C 30, D 60 days) none of these customers was due; now A is
    due 3 days after a visit, B and C after 7, D after 14, and /settings changes that the next day."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    for name, grade, days in (
        ("A four days", "A", 4),
        ("A two days", "A", 2),
        ("B eight days", "B", 8),
        ("C eight days", "C", 8),
        ("C six days", "C", 6),
        ("D ten days", "D", 10),
        ("D fifteen days", "D", 15),
    ):
        await factories.customer(
            harness.db,
            now,
            name=name,
            rep=people.rep,
            grade=grade,
            last_visit_at=local(MONDAY, 10) - timedelta(days=days),
        )
    harness.api.add_user(2002, "Bob")
    li = harness.person(2001, "Li")
    await run_job(harness.db, "morning_plan", local(MONDAY, 8, 30), ZONE)
    await harness.deliver_pushes()
    plan = li.last.plain_text()
    assert "Due for a visit: 4" in plan
    for due in ("A four days", "B eight days", "C eight days", "D fifteen days"):
        assert due in plan
    for not_due in ("A two days", "C six days", "D ten days"):
        assert not_due not in plan

    admin = await harness.admin()
    await admin.send("/settings grade B visits 10")
    await admin.send("/settings grade D visits 7")
    tuesday = local(MONDAY + timedelta(days=1), 8, 30)
    harness.clock.set(tuesday)
    await run_job(harness.db, "morning_plan", tuesday, ZONE)
    await harness.deliver_pushes()
    plan = li.last.plain_text()
    assert "B eight days" not in plan  # 9 days since, due every 10
    assert "D ten days" in plan and "C six days" in plan  # 11 days (every 7); 7 days (every 7)
    assert "A two days" in plan  # 3 days since: twice a week
    # The customer card and a saved visit give the next due date by the same rule.
    assert "Next visit due: 2026-11-25" in await li.says("/customer B eight")
    assert "Next visit due: 2026-11-27" in await li.says("/visit A two days: checked the shelves")


async def test_the_migration_moves_old_defaults_and_keeps_a_companys_own(
    db: Database, database_url: str
) -> None:
    """0017 on a company from before it: grades still at the old shipped frequency move to the new
    defaults; a frequency the company changed stays, and so does one an admin set to a value that
    equals the old default (the audit log says so); credit terms are never touched."""
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0016")
    assert {grade: every for grade, (every, _, _) in (await policies(db)).items()} == {
        "A": 7,
        "B": 14,
        "C": 30,
        "D": 60,
    }  # the downgrade restores what 0001 shipped
    async with db.transaction() as session:
        b = await session.get_one(GradePolicy, "B")
        b.visit_every_days = 10  # the company's own choice
        c = await session.get_one(GradePolicy, "C")
        c.credit_days, c.credit_limit = 20, Decimal("30000.00")  # credit changed, visits left alone
        # Before 0017, /settings visits D 60 was audited as {"D": 60}: chosen, even if it is the default.
        session.add(
            AuditLog(
                actor_id=None,
                action="setting",
                entity="grade_policy",
                entity_id=None,
                before={"D": 30},
                after={"D": 60},
                at=local(MONDAY, 9),
            )
        )
        session.add(
            AuditLog(
                actor_id=None,
                action="setting",
                entity="company_setting",
                entity_id=None,
                before={"A": 7},
                after={"A": 7},
                at=local(MONDAY, 9),
            )
        )  # not a grade's
    await asyncio.to_thread(command.upgrade, config, "heads")
    assert await policies(db) == {
        "A": (3, 60, Decimal("200000.00")),
        "B": (10, 45, Decimal("100000.00")),
        "C": (7, 20, Decimal("30000.00")),
        "D": (60, 0, Decimal("0.00")),
    }
