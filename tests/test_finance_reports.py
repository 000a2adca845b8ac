"""Finance's reports (issue 19; regulations part 4, art. 27-28): the daily collections report, the
outstanding-payments report every ten days, the weekly one reaching finance, and /collections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count

from sqlalchemy import select, update

from bot.i18n import Translator
from bot.services import company
from bot.services.company import CompanySettings
from bot.services.money.payment_methods import HELD_METHODS, LABELS as METHOD_LABELS
from bot.views.finance import MESSAGE_BUDGET, length
from jobs.catalogue import JOBS
from jobs.runner import run_job
from models import Collection, Customer, Outbox, PaymentMethod, Receivable, ReceivableSource, Role, Team, User
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness
from tests.test_jobs import MONDAY, local

FRIDAY, SUNDAY, TUESDAY = MONDAY - timedelta(days=3), MONDAY - timedelta(days=1), MONDAY + timedelta(days=1)
CASH, TRANSFER, CHEQUE = PaymentMethod.CASH, PaymentMethod.TRANSFER, PaymentMethod.CHEQUE
_keys = count(1)


async def collect(
    harness: Harness,
    rep: User,
    shop: Customer,
    amount: str,
    method: PaymentMethod,
    at: datetime,
    *,
    handed_in: datetime | None = None,
) -> Collection:
    """A collection as ``/collect`` stores it: cash and cheques held until finance confirms them
    (``handed_in``), anything else handed in when received."""
    if method not in HELD_METHODS:
        handed_in = at
    async with harness.db.transaction() as session:
        row = Collection(
            rep_id=rep.id,
            customer_id=shop.id,
            amount=Decimal(amount),
            method=method,
            received_at=at,
            handed_in_at=handed_in,
            recorded_by=rep.id,
            source_key=f"fin:{next(_keys)}",
            created_at=at,
        )
        session.add(row)
    return row


async def reverse(harness: Harness, original: Collection, at: datetime, reason: str) -> None:
    """A reversal as ``/reverse`` (or Undo) stores it: the negative amount, nothing to hand in."""
    async with harness.db.transaction() as session:
        session.add(
            Collection(
                rep_id=original.rep_id,
                customer_id=original.customer_id,
                amount=-original.amount,
                method=original.method,
                received_at=at,
                handed_in_at=at,
                reverses_id=original.id,
                reason=reason,
                recorded_by=original.rep_id,
                source_key=f"fin:{next(_keys)}",
                created_at=at,
            )
        )


async def outbox(harness: Harness, job: str) -> list[Outbox]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Outbox).where(Outbox.job == job).order_by(Outbox.id)))


def join(harness: Harness, *telegram_ids: int) -> None:
    for telegram_id in telegram_ids:
        harness.api.add_user(telegram_id, "x")


@dataclass(frozen=True)
class Day:
    """Monday's collections: what finance must be told."""

    people: Company
    north_shop: Customer
    south_shop: Customer
    reversed_today: Collection
    reversed_from_friday: Collection


async def mondays_collections(harness: Harness) -> Day:
    """Li (North): cash 500 held, cash 300 handed in, transfer 1,000, cheque 200 held, and cash 999
    reversed the same day. Bob (South): transfer 2,000 and cash 700 held. Also a Sunday collection
    (not Monday's) and Friday's transfer of 400 reversed on Monday."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    north = await factories.customer(harness.db, now, name="North <Shop> & Co", rep=people.rep, code="NS")
    south = await factories.customer(harness.db, now, name="南方建材", rep=people.other_rep, code="SS")
    li, bob = people.rep, people.other_rep
    await collect(harness, li, north, "500.00", CASH, local(MONDAY, 9, 10))
    await collect(harness, li, north, "300.00", CASH, local(MONDAY, 9, 20), handed_in=local(MONDAY, 15, 0))
    await collect(harness, li, north, "1000.00", TRANSFER, local(MONDAY, 10, 0))
    await collect(harness, li, north, "200.00", CHEQUE, local(MONDAY, 11, 0))
    wrong = await collect(harness, li, north, "999.00", CASH, local(MONDAY, 11, 30))
    await reverse(harness, wrong, local(MONDAY, 11, 35), "wrong customer")
    await collect(harness, bob, south, "2000.00", TRANSFER, local(MONDAY, 0, 5))
    await collect(harness, bob, south, "700.00", CASH, local(MONDAY, 23, 55))
    await collect(harness, bob, south, "50.00", CASH, local(SUNDAY, 23, 55))
    friday = await collect(harness, li, north, "400.00", TRANSFER, local(FRIDAY, 16, 0))
    await reverse(harness, friday, local(MONDAY, 8, 45), "bounced")
    return Day(people, north, south, wrong, friday)


# -- the daily collections report -----------------------------------------------------------------


async def test_daily_collections_report_reaches_finance_only_by_rep_and_method(harness: Harness) -> None:
    day = await mondays_collections(harness)
    join(harness, 2001, 2002, 5001, 6001, 7001)
    outcome = await run_job(harness.db, "collections_daily", local(MONDAY, 20, 0), ZONE)
    assert outcome.ran and outcome.pushes == 1  # finance; not the director (finance exists), reps, managers
    [row] = await outbox(harness, "collections_daily")
    assert row.dedup_key == f"collections_daily:{day.people.finance.id}:2026-11-23"
    harness.clock.set(local(MONDAY, 20, 0))
    await harness.deliver_pushes()
    [message] = harness.api.chat(6001)
    text = message.plain_text()
    lines = text.splitlines()
    assert lines[0] == "Collections report · 2026-11-23 · everyone"
    assert "As of 20:00; anything collected later that day: /collections 2026-11-23" in lines
    # Sunday's 50, Friday's 400 and the reversed 999 are in no total; reversal rows never count.
    assert "Collected: 4,700.00 in 6 collections" in lines
    assert "• cash: 1,500.00 in 3 · held 1,200.00" in lines
    assert "• transfer: 3,000.00 in 2" in lines
    assert "• cheque: 200.00 in 1 · held 200.00" in lines
    assert "Handed in to finance: 3,300.00 · still held: 1,400.00" in lines
    # by rep, largest first, each with the methods, and handed in against held
    bob = (
        "• Bob South (South): 2,700.00 in 2 (cash 700.00, transfer 2,000.00) · handed in 2,000.00 · "
        "held 700.00"
    )
    li = (
        "• Li Wei (North): 2,000.00 in 4 (cash 800.00, transfer 1,000.00, cheque 200.00) · "
        "handed in 1,300.00 · held 700.00"
    )
    assert lines.index(bob) < lines.index(li)
    assert "Reversed, not counted above: 2 · 1,399.00" in lines
    assert (
        f"• #{day.reversed_from_friday.id} · North <Shop> & Co · 400.00 transfer · Li Wei · "
        "received 2026-11-20, reversed 2026-11-23: bounced"
    ) in lines
    assert (
        f"• #{day.reversed_today.id} · North <Shop> & Co · 999.00 cash · Li Wei · "
        "received 2026-11-23, reversed 2026-11-23: wrong customer"
    ) in lines
    for person in (2001, 2002, 5001, 7001):
        assert harness.api.chat(person) == []
    # once a day: a second run queues nothing
    again = await run_job(harness.db, "collections_daily", local(MONDAY, 21, 0), ZONE, again=True)
    assert again.pushes == 0


async def test_collections_report_in_chinese_to_the_director_when_there_is_no_finance(
    harness: Harness,
) -> None:
    day = await mondays_collections(harness)
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.id == day.people.finance.id).values(active=False))
        await session.execute(update(User).where(User.id == day.people.director.id).values(language="zh"))
    join(harness, 6001, 7001)
    assert (await run_job(harness.db, "collections_daily", local(MONDAY, 20, 0), ZONE)).pushes == 1
    harness.clock.set(local(MONDAY, 20, 0))
    await harness.deliver_pushes()
    lines = harness.api.last(7001).plain_text().splitlines()
    assert lines[0] == "收款日报表 · 2026-11-23 · 全公司"
    assert "收款合计：4,700.00，共 6 笔" in lines
    cash, transfer, cheque = (Translator("zh").gettext(METHOD_LABELS[m]) for m in (CASH, TRANSFER, CHEQUE))
    assert f"• {cash}：1,500.00，共 3 笔 · 未上交 1,200.00" in lines
    assert f"• {transfer}：3,000.00，共 2 笔" in lines
    assert "已上交财务：3,300.00 · 仍未上交：1,400.00" in lines
    assert (
        f"• Li Wei（North）：2,000.00，共 4 笔（{cash} 800.00, {transfer} 1,000.00, {cheque} 200.00）· "
        "已上交 1,300.00 · 未上交 700.00"
    ) in lines
    assert "已冲销，不计入以上合计：2 笔 · 1,399.00" in lines
    assert harness.api.chat(6001) == []


async def test_finance_who_never_opened_the_bot_keeps_the_report_from_the_director(harness: Harness) -> None:
    await mondays_collections(harness)
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.role == Role.FINANCE).values(first_seen_at=None))
    assert (await run_job(harness.db, "collections_daily", local(MONDAY, 20, 0), ZONE)).pushes == 0


async def test_a_day_off_is_reported_the_next_working_morning_only_if_money_moved(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="Shop", rep=people.rep)
    saturday, next_sunday = MONDAY - timedelta(days=2), MONDAY + timedelta(days=6)
    await collect(harness, people.rep, shop, "120.00", CASH, local(SUNDAY, 10, 0))
    sunday_run = await run_job(harness.db, "collections_daily", local(SUNDAY, 20, 0), ZONE)
    assert sunday_run.ran and sunday_run.pushes == 1
    [row] = await outbox(harness, "collections_daily")
    assert row.not_before == local(MONDAY, 8, 0)  # Sunday is a day off: Monday morning
    # a working day with nothing collected still reports (finance expects one every working day) …
    assert (await run_job(harness.db, "collections_daily", local(saturday, 20, 0), ZONE)).pushes == 1
    # … a day off with nothing collected does not
    assert (await run_job(harness.db, "collections_daily", local(next_sunday, 20, 0), ZONE)).pushes == 0
    join(harness, 6001)
    harness.clock.set(local(MONDAY, 8, 0))
    await harness.deliver_pushes()
    texts = [message.plain_text() for message in harness.api.chat(6001)]
    assert any(
        "Collections report · 2026-11-22" in text and "Collected: 120.00 in 1 collection" in text
        for text in texts
    )
    assert any("No collections on 2026-11-21." in text for text in texts)


# -- /collections ---------------------------------------------------------------------------------


async def test_collections_on_demand_for_finance_and_the_managers_team_not_for_reps(harness: Harness) -> None:
    day = await mondays_collections(harness)
    harness.clock.set(local(TUESDAY, 9, 0))
    finance = harness.person(6001, "Fay")
    said = await finance.says("/collections yesterday")
    assert "Collections report · 2026-11-23 · everyone" in said and "As of" not in said
    assert "Collected: 4,700.00 in 6 collections" in said and "Bob South" in said and "Li Wei" in said
    assert said == await finance.says("/collections 2026-11-23")

    manager = harness.person(5001, "Mia")
    said = await manager.says("/collections yesterday")
    assert "Collections report · 2026-11-23 · team North" in said
    assert "Collected: 2,000.00 in 4 collections" in said
    assert "• cash: 800.00 in 2 · held 500.00" in said
    assert "Handed in to finance: 1,300.00 · still held: 700.00" in said
    assert "• Li Wei: 2,000.00 in 4" in said  # one team: no team names
    assert "Bob South" not in said and "南方建材" not in said
    assert "Reversed, not counted above: 2 · 1,399.00" in said  # both were Li's

    today = await manager.says("/collections")
    assert "Collections report · 2026-11-24 · team North" in today
    assert "No collections on 2026-11-24." in today
    assert "As of 09:00." in today
    assert "one day: today, yesterday or a date" in await manager.says("/collections week")
    assert "one day: today, yesterday or a date" in await manager.says("/collections soon")
    assert "has not begun yet" in await manager.says("/collections 2026-12-01")

    rep = harness.person(2001, "Li")
    refused = await rep.says("/collections yesterday")
    assert "only for finance, managers and the director" in refused and "4,700" not in refused
    assert day.people.rep.name not in refused


async def test_collections_in_chinese(harness: Harness) -> None:
    await mondays_collections(harness)
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.role == Role.MANAGER).values(language="zh"))
    harness.clock.set(local(TUESDAY, 9, 0))
    said = await harness.person(5001, "Mia", language_code="zh").says("/collections 昨天")
    assert "收款日报表 · 2026-11-23 · 团队 North" in said
    assert "收款合计：2,000.00，共 4 笔" in said and "按收款人" in said


# -- the outstanding-payments report --------------------------------------------------------------


async def open_invoices(harness: Harness, people: Company, today: date) -> None:
    """North Shop (Li): 100 not due, 200 at 10 days, 300 at 45 days; 南方建材 (Bob): 1,000 at 100 days."""
    now = harness.clock.now()
    north = await factories.customer(harness.db, now, name="North Shop", rep=people.rep, code="N1")
    south = await factories.customer(harness.db, now, name="南方建材", rep=people.other_rep, code="S1")
    for shop, days, amount in (
        (north, -5, "100.00"),
        (north, 10, "200.00"),
        (north, 45, "300.00"),
        (south, 100, "1000.00"),
    ):
        due = today - timedelta(days=days)
        await factories.receivable(
            harness.db, now, customer=shop, amount=amount, issued_on=due - timedelta(days=30), due_on=due
        )


async def test_outstanding_report_on_the_11th_not_the_12th_to_finance_and_managers(harness: Harness) -> None:
    eleventh = date(2026, 12, 11)
    people = await factories.company(harness.db, harness.clock.now())
    await open_invoices(harness, people, eleventh)
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.id == people.manager.id).values(language="zh"))
    join(harness, 2001, 2002, 5001, 6001, 7001)
    twelfth = await run_job(harness.db, "outstanding_report", local(eleventh + timedelta(days=1), 9, 0), ZONE)
    assert not twelfth.ran
    harness.clock.set(local(eleventh, 9, 0))
    outcome = await run_job(harness.db, "outstanding_report", harness.clock.now(), ZONE)
    assert outcome.ran and outcome.pushes == 2  # finance and North's manager
    await harness.deliver_pushes()

    finance = harness.api.last(6001).plain_text().splitlines()
    assert finance[0] == "Outstanding payments · 2026-12-11 · everyone"
    assert "Open: 1,600.00 on 4 invoices of 2 customers · overdue 1,500.00" in finance
    for line in (
        "  not yet due: 100.00",
        "  1-30 days: 200.00",
        "  31-60 days: 300.00",
        "  over 90 days: 1,000.00",
    ):
        assert line in finance
    south = finance.index("• 南方建材 (S1) · Bob South · 1,000.00 on 1 invoice")
    assert finance[south + 1] == "  over 90 days 1,000.00"
    north = finance.index("• North Shop (N1) · Li Wei · 600.00 on 3 invoices")
    assert finance[north + 1] == "  not yet due 100.00 · 1-30 days 200.00 · 31-60 days 300.00"
    assert south < north  # largest first

    manager = harness.api.last(5001).plain_text().splitlines()
    assert manager[0] == "未收款项报告表 · 2026-12-11 · 团队 North"
    assert "未结：600.00（1 个客户，3 张发票）· 逾期 500.00" in manager
    assert "• North Shop (N1) · Li Wei · 600.00（3 张发票）" in manager
    assert not any("南方建材" in line for line in manager)
    for person in (2001, 2002, 7001):
        assert harness.api.chat(person) == []


def test_outstanding_report_runs_on_the_1st_11th_and_21st_whatever_the_weekday() -> None:
    spec, settings = JOBS["outstanding_report"], CompanySettings()
    two_months = (date(2026, 11, 1) + timedelta(days=n) for n in range(61))
    days = [day for day in two_months if spec.runs_on(day, settings)]
    assert days == [
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 11, 21),
        date(2026, 12, 1),
        date(2026, 12, 11),
        date(2026, 12, 21),
    ]  # 2026-11-01 is a Sunday: pushed on Monday
    assert spec.days == "days 1,11,21" and JOBS["month_end"].days == "day 1"


async def test_weekly_outstanding_reaches_finance_and_names_reps_who_never_opened_the_bot(
    harness: Harness,
) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        newcomer = factories.user(session, 2003, "Nia New", Role.REP, people.north, now, joined=False)
    await open_invoices(harness, people, MONDAY)
    shop = await factories.customer(harness.db, now, name="Newcomer's Shop", rep=newcomer, code="W1")
    await factories.receivable(
        harness.db, now, customer=shop, amount="80.00", issued_on=MONDAY, due_on=MONDAY + timedelta(days=30)
    )
    join(harness, 2001, 2002, 5001, 6001, 7001)
    outcome = await run_job(harness.db, "weekly_outstanding", local(MONDAY, 9, 0), ZONE)
    assert outcome.pushes == 4  # Li, Bob, North's manager, finance (Nia has not opened the bot)
    await harness.deliver_pushes()
    manager = harness.api.last(5001).plain_text()
    assert "Li Wei: 600.00 · overdue 500.00" in manager and "Nia New: 80.00 · overdue 0.00" in manager
    assert "Bob South" not in manager
    finance = harness.api.last(6001).plain_text().splitlines()
    assert finance[0] == (
        "Outstanding payments this week, everyone: 1,680.00 on 5 invoices · overdue 1,500.00"
    )
    assert (
        finance.index("Bob South (South): 1,000.00 · overdue 1,000.00")
        < finance.index("Li Wei (North): 600.00 · overdue 500.00")
        < finance.index("Nia New (North): 80.00 · overdue 0.00")
    )
    assert harness.api.chat(7001) == []


# -- a large company ------------------------------------------------------------------------------


async def test_a_large_companys_reports_are_one_message_each_within_telegrams_limit(harness: Harness) -> None:
    """300 reps with long names, 600 customers owing: every push is one message the fake Bot API
    accepts (it refuses anything over 4,096 characters), with the totals and "…and N more"."""
    now = harness.clock.now()
    await factories.company(harness.db, now)
    received = local(MONDAY, 10, 0)
    async with harness.db.transaction() as session:
        team = Team(name="East " + "区" * 70, created_at=now)
        session.add(team)
        await session.flush()
        reps = [
            factories.user(
                session, 30000 + n, f"销售员 {n:03d} " + "长" * 110, Role.REP, team, now, joined=False
            )
            for n in range(300)
        ]
        await session.flush()
        shops = [
            Customer(
                code=f"BIG{n:04d}",
                name=f"客户 {n:04d} " + "大" * 190,
                grade="C",
                rep_id=reps[n % 300].id,
                team_id=team.id,
                created_at=now,
            )
            for n in range(600)
        ]
        session.add_all(shops)
        await session.flush()
        methods = list(PaymentMethod)
        session.add_all(
            Collection(
                rep_id=shop.rep_id,
                customer_id=shop.id,
                amount=Decimal(100 + n),
                method=methods[n % len(methods)],
                received_at=received,
                handed_in_at=None,
                recorded_by=shop.rep_id,
                source_key=f"big:{n}",
                created_at=received,
            )
            for n, shop in enumerate(shops)
        )
        session.add_all(
            Receivable(
                invoice_no=f"BIG-{n:04d}",
                customer_id=shop.id,
                rep_id=shop.rep_id,
                amount=Decimal(1000 + n),
                issued_on=MONDAY - timedelta(days=60),
                due_on=MONDAY - timedelta(days=n % 120),
                source=ReceivableSource.IMPORT,
                created_at=now,
            )
            for n, shop in enumerate(shops)
        )
    join(harness, 6001)
    for job, at in (
        ("collections_daily", local(MONDAY, 20, 0)),
        ("weekly_outstanding", local(MONDAY, 20, 0)),
        ("outstanding_report", local(date(2026, 12, 1), 9, 0)),
    ):
        harness.clock.set(at)
        assert (await run_job(harness.db, job, at, ZONE)).pushes == 1, job
    await harness.deliver_pushes()
    messages = harness.api.chat(6001)
    assert len(messages) == 3  # one message each: nothing was split
    daily, weekly, ten_days = (message.plain_text() for message in messages)
    for text in (daily, weekly, ten_days):
        assert length(text) <= MESSAGE_BUDGET
    total = sum(100 + n for n in range(600))
    assert f"Collected: {total:,}.00 in 600 collections" in daily
    assert daily.splitlines()[-1].endswith("more: /export 2026-11-23 lists every collection.")
    assert weekly.splitlines()[-1].endswith("more: /export lists every open invoice by age.")
    assert "of 600 customers" in ten_days
    last = ten_days.splitlines()[-1]
    assert last.startswith("…and ") and last.endswith("customers: /export lists every open invoice by age.")
    shown = sum(1 for line in ten_days.splitlines() if line.startswith("• "))
    assert int(last.split()[1]) + shown == 600


async def test_the_new_jobs_times_are_in_settings_and_can_be_moved(harness: Harness) -> None:
    admin = await harness.admin()
    shown = await admin.says("/settings")
    assert "• Daily collections report (collections_daily): 20:00" in shown
    assert "• Outstanding payments report (outstanding_report): 09:00" in shown
    assert "(collections_daily): 18:30" in await admin.says("/settings time collections_daily 18:30")
    async with harness.db.reading() as session:
        assert (await company.load(session)).job_times["collections_daily"] == time(18, 30)
