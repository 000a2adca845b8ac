"""Jobs that name more rows than one statement may bind (asyncpg: 32,767 values).

Found at ten times the bench company (docs/PERFORMANCE.md, "Ten times the company"): the morning plan
named its 10,000 reps and their 80,000 due customers in one statement and failed on PostgreSQL.
SQLite here allows 250,000 values, so these fail only on PostgreSQL without the slices.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from bot.db import IDS_PER_STATEMENT, Database
from jobs.runner import run_job
from models import Customer, Outbox, Receivable, ReceivableSource
from tests import factories
from tests.conftest import ZONE

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)
#: More than a PostgreSQL statement can bind, and more than one slice.
MANY = 33_000


async def test_a_morning_plan_for_a_rep_with_more_due_customers_than_a_statement_can_name(
    db: Database,
) -> None:
    company = await factories.company(db, MONDAY)
    async with db.transaction() as session:
        await session.execute(
            insert(Customer),
            [
                {
                    "code": f"M{n:06d}",
                    "name": f"Shop {n}",
                    "grade": "A",
                    "rep_id": company.rep.id,
                    "team_id": company.rep.team_id,
                    "created_at": MONDAY - timedelta(days=90),
                }
                for n in range(MANY)
            ],
        )
    outcome = await run_job(db, "morning_plan", MONDAY, ZONE)
    assert outcome.ran and outcome.pushes >= 1
    async with db.reading() as session:
        plan = await session.scalar(
            select(Outbox.text).where(Outbox.job == "morning_plan", Outbox.recipient_id == company.rep.id)
        )
    assert plan is not None and "Shop" in plan


async def test_an_escalation_of_more_invoices_than_a_statement_can_name(db: Database) -> None:
    company = await factories.company(db, MONDAY)
    shop = await factories.customer(db, MONDAY, name="Big Buyer", rep=company.rep)
    issued = date(2026, 9, 1)
    async with db.transaction() as session:
        await session.execute(
            insert(Receivable),
            [
                {
                    "invoice_no": f"X-{n:06d}",
                    "customer_id": shop.id,
                    "rep_id": company.rep.id,
                    "amount": Decimal("10.00"),
                    "issued_on": issued,
                    "due_on": issued + timedelta(days=30),
                    "source": ReceivableSource.IMPORT,
                    "created_at": MONDAY - timedelta(days=80),
                }
                for n in range(MANY)
            ],
        )
    assert MANY > 3 * IDS_PER_STATEMENT
    outcome = await run_job(db, "overdue_followup", MONDAY, ZONE)
    assert outcome.ran
    async with db.reading() as session:
        by_level = select(Receivable.followup_level, func.count()).group_by(Receivable.followup_level)
        levels = {level: count for level, count in await session.execute(by_level)}
    assert levels == {3: MANY}  # 53 days overdue: level 3 (30 days), every one of them
