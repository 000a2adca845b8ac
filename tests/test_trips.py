"""Issue 20, the vehicle log (行車記錄表, regulations part 4 art. 31–32): /trip start and end with the
odometer, the customers prefilled from the visits in between, fuel receipts linked, kilometres per
month in /summary, /rep and the export, /trips — through the fake Bot API, as the rep and as the
manager, in English and Chinese.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.db import Database, is_sqlite
from bot.services.errors import Conflict
from bot.services.field import trips
from bot.services.money import expenses
from bot.services.money.expense_rules import ClaimTerms
from bot.services.people.access import Caller
from models import Customer, Expense, ExpenseCategory, ExpenseStatus, Trip, TripCustomer, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness, Person
from tests.test_visits import tiny_png


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    for code, name in (("AC", "Acme Hardware"), ("BE", "Beta Builders"), ("GA", "Gamma Tiles")):
        await factories.customer(harness.db, now, name=name, rep=people.rep, code=code)
    await factories.customer(harness.db, now, name="Southern Shop", rep=people.other_rep, code="SO")
    return people


@pytest.fixture
def rep(harness: Harness, company: factories.Company) -> Person:
    return harness.person(2001, "Li")


@pytest.fixture
def manager(harness: Harness, company: factories.Company) -> Person:
    return harness.person(5001, "Mia")


async def trips_in(harness: Harness) -> list[Trip]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Trip).order_by(Trip.id)))


async def trip_customers(harness: Harness, trip_id: int) -> list[str]:
    async with harness.db.reading() as session:
        return list(
            await session.scalars(
                select(Customer.code)
                .join(TripCustomer, TripCustomer.customer_id == Customer.id)
                .where(TripCustomer.trip_id == trip_id)
                .order_by(TripCustomer.position)
            )
        )


async def fuel(harness: Harness, who: User, amount: str, note: str = "diesel") -> None:
    """A fuel receipt claimed through the expenses service, as /expense would."""
    async with harness.db.transaction() as session:
        await expenses.claim(
            session,
            Caller.of(who, "en"),
            ClaimTerms(Decimal(amount), ExpenseCategory.FUEL, note),
            receipt_file_id=None,
            now=harness.clock.now(),
            zone=ZONE,
            source_key=f"test:{harness.clock.now().isoformat()}:{amount}",
        )


async def drive(harness: Harness, rep: Person, start: int, end: int, purpose: str = "Customer visits") -> str:
    """A whole trip, no visits in between: started, ended, saved; returns the saved trip's text."""
    assert "Trip started" in await rep.says(f"/trip start {start}")
    await rep.press("Skip")
    harness.clock.advance(timedelta(hours=2))
    await rep.send(f"/trip end {end} {purpose}")
    [saved] = await rep.press("✔️ Confirm and save")
    return saved.plain_text()


# -- start and end ----------------------------------------------------------------------------------


async def test_a_trip_from_start_to_end_with_the_customers_visited_prefilled(
    harness: Harness, rep: Person, company: factories.Company
) -> None:
    said = await rep.says("/trip start 12,345")
    assert "🚗 Trip started at 12,345 km, 09:00." in said
    assert "Send a photo of the dashboard now if you like, or press Skip." in said
    await harness.settle(harness.api.message(rep.id, None, photo=tiny_png()))
    assert "📷 Dashboard photo saved." in rep.last.plain_text()
    harness.clock.advance(timedelta(hours=1))
    assert "Visit saved" in await rep.says("/visit Acme: talked about the spring order")
    harness.clock.advance(timedelta(hours=1))
    assert "Visit saved" in await rep.says("/visit BE: checked the shelves")
    harness.clock.advance(timedelta(hours=2))
    said = await rep.says("/trip end 12410")
    assert "65 km since the start (12,345 km). What was the trip for?" in said
    said = await rep.says("Spring orders in the east")
    assert "Customers visited on this trip, from the visits you logged" in said
    assert rep.last.button_texts() == [
        "✅ Acme Hardware (AC)",
        "✅ Beta Builders (BE)",
        "✔️ Confirm and save",
    ]
    await rep.press("✅ Beta Builders (BE)")  # not visited on this trip after all: taken off
    assert rep.last.button_texts()[1] == "⬜ Beta Builders (BE)"
    await rep.send("Gamma")  # a customer seen without logging a visit: added
    assert rep.last.button_texts()[2] == "✅ Gamma Tiles (GA)"
    [saved] = await rep.press("✔️ Confirm and save")
    text = saved.plain_text()
    assert "🏁 Trip saved." in text
    assert "Started 2026-11-23 09:00 at 12,345 km 📷" in text
    assert "Ended 2026-11-23 13:00 at 12,410 km: 65 km driven" in text
    assert "Purpose: Spring orders in the east" in text
    assert "Customers: Acme Hardware (AC), Gamma Tiles (GA)" in text
    [trip] = await trips_in(harness)
    assert (trip.odometer_start, trip.odometer_end, trip.start_photo_file_id is not None) == (
        12345,
        12410,
        True,
    )
    assert await trip_customers(harness, trip.id) == ["AC", "GA"]


async def test_guided_when_typed_bare(harness: Harness, rep: Person) -> None:
    assert "No trip is open. What does the odometer read" in await rep.says("/trip")
    said = await rep.says("8 800 km")
    assert "Trip started at 8,800 km" in said
    await rep.press("Skip")
    assert "No photo." in rep.last.plain_text()
    said = await rep.says("/trip")
    assert "Trip #1" in said and "Still open" in said
    await rep.press("🏁 End the trip")
    assert "What does the odometer read now" in rep.last.plain_text()
    assert "What was the trip for?" in await rep.says("8850")
    said = await rep.says("Bank and the post office")
    assert "No visits were logged since the trip started" in said
    [saved] = await rep.press("✔️ Confirm and save")
    assert "50 km driven" in saved.plain_text() and "Customers: none" in saved.plain_text()


async def test_a_photo_with_the_command_as_its_caption(harness: Harness, rep: Person) -> None:
    await harness.settle(harness.api.message(rep.id, None, photo=tiny_png(), caption="/trip start 500"))
    said = rep.last.plain_text()
    assert "Trip started at 500 km" in said and "📷 Dashboard photo saved." in said
    [trip] = await trips_in(harness)
    assert trip.start_photo_file_id is not None


async def test_a_lower_reading_is_refused(harness: Harness, rep: Person) -> None:
    await drive(harness, rep, 12345, 12410)
    said = await rep.says("/trip start 12400")
    assert "12,400 km is lower than your last reading, 12,410 km." in said
    assert len(await trips_in(harness)) == 1  # nothing written
    assert "Trip started at 12,410 km" in await rep.says("/trip start 12410")
    await rep.press("Skip")
    said = await rep.says("/trip end 12000")
    assert "12,000 km is lower than your last reading, 12,410 km." in said
    # Guided: the refusal keeps the question open, and the right reading is taken.
    await rep.send("/trip end")
    assert "lower than your last reading" in await rep.says("12409")
    assert "What was the trip for?" in await rep.says("12415")
    [_, trip] = await trips_in(harness)
    assert trip.ended_at is None


async def test_one_open_trip_per_rep(harness: Harness, rep: Person) -> None:
    assert "Trip started" in await rep.says("/trip start 100")
    said = await rep.says("/trip start 120")
    assert "Your trip from 100 km is still open: end it first" in said
    assert len(await trips_in(harness)) == 1
    assert "You have no trip open" not in await rep.says("/trip end 130 errands")


async def test_a_redelivered_start_records_once(harness: Harness, rep: Person) -> None:
    update = harness.api.message(rep.id, "/trip start 7000", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    first, second = [m for m in rep.chat if "Trip started" in m.plain_text()]
    assert first.plain_text() == second.plain_text()
    assert len(await trips_in(harness)) == 1


async def test_a_double_tapped_confirm_ends_the_trip_once(harness: Harness, rep: Person) -> None:
    await rep.send("/trip start 100")
    await rep.press("Skip")
    await rep.send("/trip end 150 errands")
    first = harness.api.press(rep.id, "✔️ Confirm and save")
    second = harness.api.press(rep.id, "✔️ Confirm and save")
    await harness.settle(second)
    [trip] = await trips_in(harness)
    assert trip.odometer_end == 150
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(TripCustomer)) == 0
    assert first["callback_query"]["id"] in harness.api.callback_answers


# -- fuel -------------------------------------------------------------------------------------------


async def test_fuel_receipts_claimed_during_the_trip_are_linked_to_it(
    harness: Harness, rep: Person, company: factories.Company
) -> None:
    await fuel(harness, company.rep, "80.00", "before the trip")
    harness.clock.advance(timedelta(minutes=30))
    await rep.send("/trip start 2000")
    await rep.press("Skip")
    harness.clock.advance(timedelta(hours=1))
    await fuel(harness, company.rep, "300.00")
    said = await rep.says("/trip")  # shown: linked
    assert "⛽ Fuel: 300.00 (1 receipt)" in said and "300.00 · waiting for approval · diesel" in said
    harness.clock.advance(timedelta(hours=1))
    await fuel(harness, company.rep, "120.50", "top-up")
    await rep.send("/trip end 2140 Northern route")
    [saved] = await rep.press("✔️ Confirm and save")
    assert "⛽ Fuel: 420.50 (2 receipts)" in saved.plain_text()
    harness.clock.advance(timedelta(hours=1))
    await fuel(harness, company.rep, "50.00", "after the trip")
    await rep.send("/trips")
    [trip] = await trips_in(harness)
    async with harness.db.reading() as session:
        linked = {e.note: e.trip_id for e in await session.scalars(select(Expense))}
    assert linked == {"before the trip": None, "diesel": trip.id, "top-up": trip.id, "after the trip": None}


async def test_a_rejected_fuel_receipt_costs_nothing(
    harness: Harness, rep: Person, company: factories.Company
) -> None:
    await rep.send("/trip start 10")
    await rep.press("Skip")
    await fuel(harness, company.rep, "99.00")
    async with harness.db.transaction() as session:
        expense = await session.scalar(select(Expense))
        assert expense is not None
        expense.status = ExpenseStatus.REJECTED
    said = await rep.says("/trip")
    assert "⛽ Fuel: 0.00 (1 receipt)" in said and "rejected" in said


# -- kilometres per month ---------------------------------------------------------------------------


async def test_kilometres_per_month_across_a_month_boundary(
    harness: Harness, rep: Person, manager: Person, company: factories.Company
) -> None:
    harness.clock.set(datetime(2026, 11, 30, 20, 0, tzinfo=ZONE))
    await drive(harness, rep, 1000, 1100)  # 30 Nov, 20:00–22:00
    harness.clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=ZONE))
    await drive(harness, rep, 1100, 1130)  # starts 30 Nov 23:30, ends 1 Dec 01:30: November's
    harness.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=ZONE))
    await drive(harness, rep, 1130, 1180)  # 1 Dec
    await drive(harness, rep, 1180, 1200)  # 1 Dec
    harness.clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=ZONE))
    assert "Trip started" in await rep.says("/trip start 1200")  # open: no kilometres yet

    november = await manager.says("/summary 2026-11")
    assert "🚗 Vehicle log: 130 km (2 trips)" in november
    assert "Li Wei — " in november and "🚗 130 km" in november
    december = await manager.says("/summary 2026-12")
    assert "🚗 Vehicle log: 70 km (2 trips)" in december and "🚗 70 km" in december
    own = await rep.says("/summary 2026-11")
    assert "🚗 Vehicle log: 130 km (2 trips)" in own
    card = await manager.says("/rep Li 2026-11-01..2026-12-31")
    assert "Kilometres by month" in card
    assert "• 2026-11: 130 km (2 trips)" in card and "• 2026-12: 70 km (2 trips)" in card

    listed = await manager.says("/trips 2026-12")
    assert "Vehicle log · North" in listed
    assert "3 trips · 70 km · fuel 0.00" in listed
    assert "Li Wei: 1,200 km → open" in listed
    assert "Li Wei: 1,130 → 1,180 km: 50 km" in listed
    mine = await rep.says("/trips 2026-11")
    assert "Your vehicle log" in mine and "2 trips · 130 km" in mine


async def test_trips_of_another_team_are_not_shown(
    harness: Harness, manager: Person, company: factories.Company
) -> None:
    bob = harness.person(2002, "Bob")
    await drive(harness, bob, 5000, 5090, "Southern customers")
    assert "0 trips · 0 km" in await manager.says("/trips")
    director = harness.person(7001, "Dee")
    said = await director.says("/trips")
    assert "Vehicle log · everyone" in said and "Bob South: 5,000 → 5,090 km: 90 km" in said
    finance = harness.person(6001, "Fay")
    assert "1 trip · 90 km" in await finance.says("/trips")


async def test_the_export_has_a_vehicle_log_sheet(
    harness: Harness, rep: Person, manager: Person, company: factories.Company
) -> None:
    await rep.send("/trip start 3000")
    await rep.press("Skip")
    harness.clock.advance(timedelta(hours=1))
    await rep.send("/visit Gamma: new tiles")
    harness.clock.advance(timedelta(minutes=20))
    await rep.send("/visit Acme: paid")  # the order visited is the order listed
    await fuel(harness, company.rep, "250.00")
    harness.clock.advance(timedelta(hours=1))
    await rep.send("/trip end 3075 Deliveries")
    await rep.press("✔️ Confirm and save")
    await rep.send("/trip start 3075")  # open, with a fuel receipt not linked yet
    await rep.press("Skip")
    harness.clock.advance(timedelta(minutes=10))
    await fuel(harness, company.rep, "40.00")
    await manager.send("/export today")
    document = harness.api.last(manager.id)
    assert document.kind == "document" and document.file_bytes is not None
    book = load_workbook(io.BytesIO(document.file_bytes), read_only=True)
    rows = list(book["Vehicle log"].iter_rows(values_only=True))
    assert rows[0] == (
        "Date",
        "Rep",
        "Team",
        "Started at (Asia/Shanghai)",
        "Odometer at start (km)",
        "Ended at (Asia/Shanghai)",
        "Odometer at end (km)",
        "Kilometres",
        "Purpose",
        "Customers on the trip",
        "Fuel receipts",
        "Fuel cost",
    )
    first, second = rows[1:]
    assert first[:3] == (datetime(2026, 11, 23), "Li Wei", "North")
    assert first[4:] == (
        3000,
        datetime(2026, 11, 23, 11, 20),
        3075,
        75,
        "Deliveries",
        "Gamma Tiles, Acme Hardware",
        1,
        250,
    )
    assert second[4:] == (3075, None, None, None, None, None, 1, 40)
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
    assert summary["Trips by car"] == 2 and summary["Kilometres driven"] == 75
    assert summary["Fuel cost of the trips"] == 290


# -- Chinese ------------------------------------------------------------------------------------------


async def test_a_trip_in_chinese(harness: Harness, company: factories.Company) -> None:
    async with harness.db.transaction() as session:
        li = await session.get(User, company.rep.id)
        assert li is not None
        li.language = "zh"
    rep = harness.person(2001, "Li", language_code="zh")
    said = await rep.says("/trip 开始 12345")
    assert "🚗 行程已开始：里程表 12,345 公里，09:00。" in said
    await rep.press("跳过")
    harness.clock.advance(timedelta(hours=1))
    await rep.send("/visit Acme: 谈了春季订单")
    harness.clock.advance(timedelta(hours=1))
    said = await rep.says("/trip 结束 12400")
    assert "从出发起已行驶 55 公里" in said
    said = await rep.says("拜访东区客户")
    assert rep.last.button_texts()[-1] == "✔️ 确认并保存"
    [saved] = await rep.press("✔️ 确认并保存")
    text = saved.plain_text()
    assert "🏁 行程已保存。" in text and "行驶 55 公里" in text and "客户：Acme Hardware (AC)" in text
    assert "低于你上次的读数" in await rep.says("/trip 开始 12000")
    listed = await rep.says("/trips")
    assert "你的行车记录" in listed and "1 次行程 · 55 公里" in listed


async def test_forged_customer_buttons_in_the_customers_step_add_nothing(
    harness: Harness, rep: Person, company: factories.Company
) -> None:
    """Mid-flow, the rep forges ``trip:add`` and ``trip:tog`` with another team's customer's id."""
    async with harness.db.reading() as session:
        theirs = await session.scalar(select(Customer.id).where(Customer.code == "SO"))
    await rep.send("/trip start 100")
    await rep.press("Skip")
    await rep.send("/visit Acme: hello")
    await rep.send("/trip end 120 errands")
    asking = rep.last.message_id
    await harness.settle(harness.api.callback(rep.id, asking, f"trip:add:{theirs}"))
    await harness.settle(harness.api.callback(rep.id, asking, f"trip:tog:{theirs}"))
    assert "Southern Shop" not in "\n".join(m.plain_text() for m in rep.chat)
    [saved] = await rep.press("✔️ Confirm and save")
    assert "Customers: Acme Hardware (AC)" in saved.plain_text()
    [trip] = await trips_in(harness)
    assert await trip_customers(harness, trip.id) == ["AC"]


@pytest.mark.parametrize("same_update", [True, False])
async def test_two_starts_racing_open_one_trip(db: Database, database_url: str, same_update: bool) -> None:
    """PostgreSQL: a second start that passed the "no open trip" check before the first committed
    meets the partial unique index; it answers as a redelivery (same update) or refuses, never fails."""
    if is_sqlite(database_url):
        pytest.skip("SQLite runs one writing transaction at a time: no race")
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    people = await factories.company(db, now)
    li = Caller.of(people.rep, "en")
    other = Database(database_url, pool_size=1, pool_timeout=10)
    first_inserted, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.transaction() as session:
            await trips.start(session, li, 100, now=now, source_key="msg:2001:1")
            first_inserted.set()
            await release.wait()

    async def second() -> str:
        await first_inserted.wait()
        try:
            async with other.transaction() as session:
                started = await trips.start(
                    session, li, 100, now=now, source_key="msg:2001:1" if same_update else "msg:2001:2"
                )
                return "repeated" if started.repeated else "new"
        except Conflict as refused:
            return refused.message

    async def let_go() -> None:
        await first_inserted.wait()
        await asyncio.sleep(0.5)  # the second is blocked on the index by now
        release.set()

    try:
        _, answer, _ = await asyncio.gather(first(), second(), let_go())
    finally:
        await other.dispose()
    assert answer == ("repeated" if same_update else "You already have a trip open: /trip shows it.")
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Trip)) == 1
