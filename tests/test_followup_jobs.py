"""Overdue follow-up levels and the cash hand-in reminder."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from jobs.runner import run_job
from models import Collection, PaymentMethod, Receivable, Visit, VisitKind
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_jobs import MONDAY, local


def overdue_by(days: int) -> dict[str, date]:
    return {"issued_on": MONDAY - timedelta(days=days + 30), "due_on": MONDAY - timedelta(days=days)}


async def test_levels_escalate_once_each_and_skip_paid_disputed_promised(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="华东五金店", rep=people.rep)
    invoices = {}
    for name, days in (
        ("L1", 1),
        ("L2", 20),
        ("L3", 40),
        ("L4", 70),
        ("PAID", 40),
        ("DISP", 40),
        ("PROM", 40),
        ("NOTDUE", 0),
    ):
        invoices[name] = await factories.receivable(
            harness.db, now, customer=shop, amount="100.00", invoice_no=name, **overdue_by(days)
        )
    await factories.payment(harness.db, now, receivable=invoices["PAID"], amount="100.00", rep=people.rep)
    async with harness.db.transaction() as session:
        await session.execute(update(Receivable).where(Receivable.invoice_no == "DISP").values(disputed=True))
        await session.execute(
            update(Receivable)
            .where(Receivable.invoice_no == "PROM")
            .values(promise_date=MONDAY + timedelta(days=3))
        )
    for user_id in (2001, 2002, 5001, 7001):
        harness.api.add_user(user_id, "x")
    await run_job(harness.db, "overdue_followup", local(MONDAY, 9, 0), ZONE)
    await harness.deliver_pushes()
    rep = harness.api.last(2001).plain_text()
    for name in ("L1", "L2", "L3", "L4"):
        assert f"• {name} · 华东五金店" in rep
    for name in ("PAID", "DISP", "PROM", "NOTDUE"):
        assert name not in rep
    assert rep.index("Level 4") < rep.index("Level 3") < rep.index("Level 2") < rep.index("Level 1")
    manager = harness.api.last(5001).plain_text()
    assert "L3" in manager and "L4" in manager and "L1" not in manager and "Li Wei" in manager
    director = harness.api.last(7001).plain_text()
    assert "L4" in director and "L3" not in director
    assert harness.api.chat(2002) == []

    async with harness.db.reading() as session:
        rows = await session.execute(select(Receivable.invoice_no, Receivable.followup_level))
        levels = dict(rows.all())
    assert levels == {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "PAID": 0, "DISP": 0, "PROM": 0, "NOTDUE": 0}

    # Next day only NOTDUE is new (1 day overdue). Two weeks on: L1 reaches level 2, and the
    # promise has lapsed, so PROM goes straight to level 3, and L2 (34 days) reaches level 3.
    tomorrow = local(MONDAY + timedelta(days=1), 9, 0)
    harness.clock.set(tomorrow)
    assert (await run_job(harness.db, "overdue_followup", tomorrow, ZONE)).pushes == 1
    await harness.deliver_pushes()
    assert "• NOTDUE" in harness.api.last(2001).plain_text()
    later = local(MONDAY + timedelta(days=14), 9, 0)
    harness.clock.set(later)
    outcome = await run_job(harness.db, "overdue_followup", later, ZONE)
    assert outcome.pushes == 2  # the rep and the manager (PROM reached level 3)
    await harness.deliver_pushes()
    latest = harness.api.last(2001).plain_text()
    assert "• L1" in latest and "• PROM" in latest and "• L2" in latest
    assert "• L3" not in latest and "• L4" not in latest and "• NOTDUE" not in latest


async def test_cash_handin_to_rep_and_long_held_to_manager(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="<Müller & Söhne>", rep=people.rep)
    rows = [
        ("cash today", now, PaymentMethod.CASH, "500.00"),
        ("cheque 5 days", now - timedelta(days=5), PaymentMethod.CHEQUE, "1200.00"),
        ("transfer", now, PaymentMethod.TRANSFER, "900.00"),
        ("confirmed", now, PaymentMethod.CASH, "50.00"),
    ]
    async with harness.db.transaction() as session:
        for n, (_, at, method, amount) in enumerate(rows):
            session.add(
                Collection(
                    rep_id=people.rep.id,
                    customer_id=shop.id,
                    amount=amount,
                    method=method,
                    received_at=at,
                    handed_in_at=now if n >= 2 else None,
                    recorded_by=people.rep.id,
                    source_key=f"cash:{n}",
                    created_at=at,
                )
            )
    for user_id in (2001, 5001):
        harness.api.add_user(user_id, "x")
    harness.clock.set(local(MONDAY, 17, 0))
    outcome = await run_job(harness.db, "cash_handin", harness.clock.now(), ZONE)
    assert outcome.pushes == 2, outcome
    await harness.deliver_pushes()
    rep = harness.api.last(2001).plain_text()
    assert "holding 1,700.00" in rep and "<Müller & Söhne> · 1,200.00 · cheque" in rep
    assert "900.00" not in rep and "50.00 ·" not in rep
    manager = harness.api.last(5001).plain_text()
    assert "more than 3 days" in manager and "Li Wei: 1,200.00" in manager


async def test_weekly_outstanding_by_age_on_mondays_only(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="Shop", rep=people.rep)
    for days, amount in ((-5, "100.00"), (10, "200.00"), (45, "300.00"), (75, "400.00"), (120, "500.00")):
        await factories.receivable(harness.db, now, customer=shop, amount=amount, **overdue_by(days))
    for user_id in (2001, 5001, 6001):
        harness.api.add_user(user_id, "x")
    tuesday = local(MONDAY + timedelta(days=1), 9, 0)
    assert not (await run_job(harness.db, "weekly_outstanding", tuesday, ZONE)).ran
    # the rep, the manager and finance (tests/test_finance_reports.py checks finance's copy)
    assert (await run_job(harness.db, "weekly_outstanding", local(MONDAY, 9, 0), ZONE)).pushes == 3
    await harness.deliver_pushes()
    rep = harness.api.last(2001).plain_text()
    assert "1,500.00 on 5 invoices" in rep
    for expected in (
        "not yet due: 100.00",
        "1-30 days: 200.00",
        "31-60 days: 300.00",
        "61-90 days: 400.00",
        "over 90 days: 500.00",
    ):
        assert expected in rep
    manager = harness.api.last(5001).plain_text()
    assert "Li Wei: 1,500.00 · overdue 1,400.00" in manager


async def test_month_end_figures_to_director_and_managers(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    north_shop = await factories.customer(harness.db, now, name="North Shop", rep=people.rep)
    south_shop = await factories.customer(harness.db, now, name="South Shop", rep=people.other_rep)
    async with harness.db.transaction() as session:
        for n, (rep, shop) in enumerate(
            [(people.rep, north_shop), (people.rep, north_shop), (people.other_rep, south_shop)]
        ):
            session.add(
                Visit(
                    rep_id=rep.id,
                    customer_id=shop.id,
                    visited_at=now - timedelta(days=n),
                    kind=VisitKind.VISIT,
                    notes="",
                    source_key=f"me:{n}",
                    created_at=now,
                    photo_file_ids=[],
                )
            )
    for user_id in (5001, 7001, 2001):
        harness.api.add_user(user_id, "x")
    first = date(2026, 12, 1)
    assert not (await run_job(harness.db, "month_end", local(first + timedelta(days=1), 9, 0), ZONE)).ran
    harness.clock.set(local(first, 9, 0))
    outcome = await run_job(harness.db, "month_end", harness.clock.now(), ZONE)
    assert outcome.pushes == 2  # the director and North's manager; reps get none
    await harness.deliver_pushes()
    director = harness.api.last(7001).plain_text()
    assert "2026-11" in director and "Visits: 3" in director
    assert "Li Wei (North)" in director and "Bob South (South)" in director
    manager = harness.api.last(5001).plain_text()
    assert "Visits: 2" in manager and "Li Wei" in manager and "Bob South" not in manager
    assert harness.api.chat(2001) == []
