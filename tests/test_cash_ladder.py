"""The held-money ladder (issue 19): the rep the same day, the manager after a few days, and at three
months the director and finance, by name and amount, every working day until finance confirms the
hand-in (regulations part 2, item 10: same day; part 5, item 15: three months is embezzlement)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from jobs.runner import run_job
from models import Collection, PaymentMethod, Role, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_jobs import MONDAY, local


async def held(
    harness: Harness,
    rep: User,
    customer_id: int,
    amount: str,
    received: datetime,
    method: PaymentMethod = PaymentMethod.CASH,
) -> int:
    async with harness.db.transaction() as session:
        row = Collection(
            rep_id=rep.id,
            customer_id=customer_id,
            amount=Decimal(amount),
            method=method,
            received_at=received,
            recorded_by=rep.id,
            source_key=f"held:{rep.id}:{amount}",
            created_at=received,
        )
        session.add(row)
        await session.flush()
        return row.id


def days_ago(days: int, on: date = MONDAY) -> datetime:
    return local(on - timedelta(days=days), 10)


async def run_on(harness: Harness, day: date) -> int:
    harness.clock.set(local(day, 17, 0))
    outcome = await run_job(harness.db, "cash_handin", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    return outcome.pushes


async def test_money_held_three_months_reaches_the_director_and_finance_daily_until_handed_in(
    harness: Harness,
) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        zoe = factories.user(session, 2003, "Zoe North", Role.REP, people.north, now)
        await session.execute(update(User).where(User.id == people.director.id).values(language="zh"))
    shop = await factories.customer(harness.db, now, name="Harbor Supplies", rep=people.rep)
    south = await factories.customer(harness.db, now, name="South Shop", rep=people.other_rep)
    li_90 = await held(harness, people.rep, shop.id, "1200.00", days_ago(90))
    await held(harness, people.rep, shop.id, "300.00", days_ago(10))
    bob_89 = await held(harness, people.other_rep, south.id, "800.00", days_ago(89), PaymentMethod.CHEQUE)
    zoe_120 = await held(harness, zoe, shop.id, "500.00", days_ago(120))
    async with harness.db.transaction() as session:  # Zoe left the company with the cash
        await session.execute(update(User).where(User.id == zoe.id).values(active=False))
    for user_id in (2001, 2002, 5001, 6001, 7001):
        harness.api.add_user(user_id, "x")
    director, finance = harness.person(7001, "Dee"), harness.person(6001, "Fay")

    # Monday: Li's cash reaches 90 days (Bob's cheque 89, not yet); Zoe's has been held 120.
    await run_on(harness, MONDAY)
    said = finance.last.plain_text()
    assert "⚠️ Money held 90 days or more and still not handed in to finance: 1,700.00." in said
    assert "embezzlement (regulations part 5, item 15)" in said
    assert f"• Li Wei (North): 1,200.00, held since {days_ago(90).date()} (90 days)" in said
    assert f"• Zoe North (North): 500.00, held since {days_ago(120).date()} (120 days)" in said
    assert said.index("Li Wei") < said.index("Zoe North") and "Bob South" not in said
    said = director.last.plain_text()
    assert "⚠️ 持有 90 天或以上、仍未上交财务的款项：1,700.00。" in said
    assert f"• Li Wei（North）：1,200.00，自 {days_ago(90).date()} 起持有（90 天）" in said
    manager = harness.api.last(5001).plain_text()
    assert "Li Wei: 1,500.00" in manager and "Zoe North: 500.00" in manager  # a rep who left is named too
    assert "holding 1,500.00" in harness.api.last(2001).plain_text()

    # Tuesday: told again, a day older; Bob's cheque has now been held 90 days.
    tuesday = MONDAY + timedelta(days=1)
    await run_on(harness, tuesday)
    said = finance.last.plain_text()
    assert "(91 days)" in said and "Bob South (South): 800.00" in said and "2,500.00" in said
    assert len(harness.api.chat(6001)) == len(harness.api.chat(7001)) == 2  # one a day, each

    # Finance confirms Li's hand-in: Wednesday's list no longer has it.
    await finance.send("/deposits")
    await finance.press(f"✓ #{li_90} ")
    await run_on(harness, tuesday + timedelta(days=1))
    said = director.last.plain_text()
    assert "Li Wei" not in said and "Bob South（South）：800.00" in said and "Zoe North" in said
    assert "1,300.00" in said

    # Everything three months old handed in: Thursday, no more word to the director and finance.
    await finance.send("/deposits")
    await finance.press(f"✓ #{bob_89} ")
    await finance.press(f"✓ #{zoe_120} ")
    counts = len(harness.api.chat(7001)), len(harness.api.chat(6001))
    assert await run_on(harness, tuesday + timedelta(days=2)) == 2  # Li and her manager: the 300 is held
    assert (len(harness.api.chat(7001)), len(harness.api.chat(6001))) == counts
    assert counts[0] == 3


async def test_the_thresholds_are_set_in_settings(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="Harbor Supplies", rep=people.rep)
    await held(harness, people.rep, shop.id, "700.00", days_ago(30))
    await held(harness, people.rep, shop.id, "40.00", days_ago(4))
    for user_id in (2001, 2002, 5001, 6001, 7001):
        harness.api.add_user(user_id, "x")
    admin = await harness.admin()
    assert (
        "Cash not handed in: the manager is told after 3 days, the director and finance from 90 days on"
        in await admin.says("/settings")
    )
    assert await run_on(harness, MONDAY) == 2  # the rep and the manager: 30 days is not three months
    said = await admin.says("/settings cash 5 30")
    assert "Saved." in said
    assert "the manager is told after 5 days, the director and finance from 30 days on" in said
    for words, answer in (
        ("cash 5", "e.g. /settings cash 3 90."),
        ("cash 30 5", "The manager is told first"),
        ("cash 3 120", "the director and finance are told at 90 days at the latest."),
    ):
        assert answer in await admin.says(f"/settings {words}"), words
    await run_on(harness, MONDAY + timedelta(days=1))
    assert "Money held 30 days or more" in harness.api.last(6001).plain_text()
    assert "Li Wei (North): 700.00, held since" in harness.api.last(7001).plain_text()
    manager = harness.api.last(5001).plain_text()
    assert "more than 5 days" in manager and "Li Wei: 700.00" in manager  # the 40.00 is 5 days old
    await admin.send("/lang zh")
    shown = await admin.says("/settings")
    assert "未上交的款项：持有超过 5 天告知主管，满 30 天起告知销售总监和财务" in shown
    assert "款项上交提醒需要两个天数" in await admin.says("/settings cash 3")
