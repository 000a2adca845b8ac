"""Route order (客戶路序, issue 20): nearest next by default, the rep's own order once saved.

The ordering itself is a pure function with a Hypothesis test; the rest goes through the fake Bot
API: /route with its ⬆ ⬇ buttons, Save and Automatic, and the morning plan that follows the order.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import select

from bot.services.field.geo import distance_m
from bot.services.field.routes import Stop, nearest_neighbour, route_order, save_route
from bot.services.people.access import Caller
from jobs.runner import run_job
from models import AuditLog, Customer, RouteStop, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness

MONDAY = date(2026, 11, 23)
BASE_LAT, BASE_LON = 31.2304, 121.4737

# -- the ordering ----------------------------------------------------------------------------------

points = st.one_of(
    st.none(),
    st.tuples(
        st.floats(min_value=30.0, max_value=32.0, allow_nan=False),
        st.floats(min_value=120.0, max_value=122.0, allow_nan=False),
    ),
)


@given(st.lists(points, max_size=12))
def test_nearest_neighbour_is_a_permutation_that_keeps_the_first_and_goes_nearest_next(
    located: list[tuple[float, float] | None],
) -> None:
    stops = [Stop(index, point) for index, point in enumerate(located)]
    route = nearest_neighbour(stops)
    assert sorted(stop.key for stop in route) == list(range(len(stops)))  # a permutation
    with_point = [stop for stop in stops if stop.point is not None]
    without = [stop for stop in stops if stop.point is None]
    if with_point:
        assert route[0] == with_point[0]  # the first stays first
    assert route[len(with_point) :] == without  # no coordinates: last, in their order
    for index in range(1, len(with_point)):  # each next stop is a nearest one of those left
        here, chosen = route[index - 1].point, route[index].point
        assert here is not None and chosen is not None
        left = [stop.point for stop in route[index : len(with_point)]]
        assert all(distance_m(*here, *chosen) <= distance_m(*here, *p) + 1e-6 for p in left if p)


@given(st.lists(points, max_size=10), st.data())
def test_a_saved_order_comes_first_and_the_rest_follow_nearest_next(
    located: list[tuple[float, float] | None], data: st.DataObject
) -> None:
    stops = [Stop(index, point) for index, point in enumerate(located)]
    chosen = data.draw(st.lists(st.sampled_from(range(len(stops))), unique=True) if stops else st.just([]))
    saved = {key: position for position, key in enumerate(chosen)}
    route = route_order(stops, saved)
    assert sorted(stop.key for stop in route) == list(range(len(stops)))
    assert [stop.key for stop in route[: len(chosen)]] == chosen
    assert route[len(chosen) :] == nearest_neighbour([stop for stop in stops if stop.key not in saved])


def test_nearest_neighbour_by_hand() -> None:
    # first at 0, then 3 (1 km away) before 1 (2 km), then 2; 4 has no coordinates
    north = 1000 / 111_195
    stops = [
        Stop("first", (BASE_LAT, BASE_LON)),
        Stop("two km", (BASE_LAT + 2 * north, BASE_LON)),
        Stop("five km", (BASE_LAT + 5 * north, BASE_LON)),
        Stop("one km", (BASE_LAT + north, BASE_LON)),
        Stop("no pin", None),
    ]
    assert [stop.key for stop in nearest_neighbour(stops)] == [
        "first",
        "one km",
        "two km",
        "five km",
        "no pin",
    ]
    assert [stop.key for stop in nearest_neighbour([Stop("no pin", None), *stops[:2]])] == [
        "first",
        "two km",
        "no pin",
    ]


# -- through the bot -------------------------------------------------------------------------------


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
async def due(harness: Harness, company: factories.Company) -> dict[str, Customer]:
    """Four customers of Li's due today, oldest visit first: Far, Near, Nowhere (no pin), Middle.

    Most overdue first (the old order) is Start, Far, Near, Nowhere, Middle; nearest next from
    Start is Near, Middle, Far, and Nowhere (no coordinates) last.
    """
    now = harness.clock.now()
    north = 1000 / 111_195
    made = {}
    for key, name, days, offset in (
        ("start", "Start Shop", 40, 0.0),
        ("far", "Far Shop", 30, 9.0),
        ("near", "Near Shop", 20, 1.0),
        ("nowhere", "Nowhere Shop", 15, None),
        ("middle", "Middle Shop", 10, 3.0),
    ):
        made[key] = await factories.customer(
            harness.db,
            now,
            name=name,
            rep=company.rep,
            code=key.upper(),
            last_visit_at=now - timedelta(days=days),
            latitude=None if offset is None else BASE_LAT + offset * north,
            longitude=None if offset is None else BASE_LON,
        )
    return made


async def morning_plan_of(harness: Harness, telegram_id: int, day: date = MONDAY) -> str:
    outcome = await run_job(harness.db, "morning_plan", local(day, 8, 30), ZONE, again=True)
    assert outcome.ran
    for someone in (2001, 2002):  # every rep gets a plan
        if someone not in harness.api.users:
            harness.api.add_user(someone, "Someone")
    await harness.deliver_pushes()
    return harness.api.last(telegram_id).plain_text()


def order_in(text: str, names: list[str]) -> list[str]:
    return sorted(names, key=text.index)


NAMES = ["Start Shop", "Far Shop", "Near Shop", "Nowhere Shop", "Middle Shop"]


async def test_the_morning_plan_goes_nearest_next_from_the_most_overdue(
    harness: Harness, due: dict[str, Customer]
) -> None:
    text = await morning_plan_of(harness, 2001)
    assert order_in(text, NAMES) == ["Start Shop", "Near Shop", "Middle Shop", "Far Shop", "Nowhere Shop"]
    assert "In route order: nearest next, from the most overdue (/route to set your own)." in text
    buttons = harness.api.last(2001).button_texts()
    assert buttons[:5] == [f"Log visit: {name}" for name in order_in(text, NAMES)]


async def test_reorder_with_buttons_save_and_the_morning_plan_follows(
    harness: Harness, company: factories.Company, due: dict[str, Customer]
) -> None:
    li = harness.person(2001, "Li")
    said = await li.says("/route")
    assert "Your route (automatic: nearest next, from the most overdue customer)" in said
    assert "5 customers" in said
    assert order_in(said, NAMES) == ["Start Shop", "Near Shop", "Middle Shop", "Far Shop", "Nowhere Shop"]
    assert li.last.button_texts()[:2] == ["⬆ 1. Start Shop", "⬇ 1"]

    await li.press("⬇ 1")  # Start goes second
    await li.press("⬆ 5. Nowhere Shop")  # Nowhere goes fourth
    update = harness.api.press(li.id, "⬆ 1.")  # already first: a toast, nothing changes
    await harness.settle(update)
    assert harness.api.callback_answers[update["callback_query"]["id"]].get("text") == "Already first."
    shown = li.last.plain_text()
    assert order_in(shown, NAMES) == ["Near Shop", "Start Shop", "Middle Shop", "Nowhere Shop", "Far Shop"]
    async with harness.db.reading() as session:
        assert list(await session.scalars(select(RouteStop))) == []  # nothing saved before Save

    [saved] = await li.press("Save")
    assert "Route saved" in saved.plain_text() and "Your route (your own order)" in saved.plain_text()
    async with harness.db.reading() as session:
        stops = list(await session.scalars(select(RouteStop).order_by(RouteStop.position)))
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "route.save"))
    assert [stop.customer_id for stop in stops] == [
        due[key].id for key in ("near", "start", "middle", "nowhere", "far")
    ]
    assert entry is not None and entry.actor_id == company.rep.id

    text = await morning_plan_of(harness, 2001)
    assert order_in(text, NAMES) == ["Near Shop", "Start Shop", "Middle Shop", "Nowhere Shop", "Far Shop"]
    assert "In your own route order (/route to change it)." in text

    # a new customer joins after the saved ones; Automatic puts the nearest-next order back
    await factories.customer(harness.db, harness.clock.now(), name="Newcomer", rep=company.rep, code="NEW")
    said = await li.says("/route")
    assert "6 customers" in said and said.index("Far Shop") < said.index("Newcomer")
    [reset] = await li.press("Automatic")
    assert "Back to the automatic order" in reset.plain_text()
    async with harness.db.reading() as session:
        assert list(await session.scalars(select(RouteStop))) == []
    text = await morning_plan_of(harness, 2001, MONDAY + timedelta(days=1))
    assert order_in(text, NAMES)[:3] == ["Start Shop", "Near Shop", "Middle Shop"]


async def test_route_pages_and_old_buttons(harness: Harness, company: factories.Company) -> None:
    now = harness.clock.now()
    for number in range(10):
        await factories.customer(
            harness.db, now, name=f"Shop {number:02d}", rep=company.rep, code=f"S{number:02d}"
        )
    li = harness.person(2001, "Li")
    said = await li.says("/route")
    assert "10 customers · page 1 of 2" in said and "Shop 09" not in said
    old = li.last
    await li.press("Next ›")
    assert "page 2 of 2" in li.last.plain_text() and "10. Shop 09" in li.last.plain_text()
    await li.press("⬆ 9.")  # moves Shop 08 onto page 1: the page follows it
    assert "8. Shop 08" in li.last.plain_text() and "page 1 of 2" in li.last.plain_text()
    await li.says("/route")  # a new /route: the first message's buttons are spent
    update = harness.api.callback(
        li.id, old.message_id, "route:save:" + old.buttons()[-1][0]["callback_data"].split(":")[2]
    )
    await harness.settle(update)
    assert "expired" in (harness.api.callback_answers[update["callback_query"]["id"]].get("text") or "")
    async with harness.db.reading() as session:
        assert list(await session.scalars(select(RouteStop))) == []


async def test_route_in_chinese(
    harness: Harness, company: factories.Company, due: dict[str, Customer]
) -> None:
    async with harness.db.transaction() as session:
        (await session.get_one(User, company.rep.id)).language = "zh"
    li = harness.person(2001, "李", language_code="zh")
    said = await li.says("/route")
    assert "你的路序（自动：从最久未拜访的客户开始，依次去最近的下一家）" in said
    assert "5 个客户" in said
    await li.press("⬇ 1")
    [saved] = await li.press("保存")
    assert "路序已保存" in saved.plain_text()
    text = await morning_plan_of(harness, 2001)
    assert "按你自己的路序排列（用 /route 修改）。" in text
    assert order_in(text, NAMES)[:2] == ["Near Shop", "Start Shop"]


async def test_route_is_for_reps_and_only_their_own_customers(
    harness: Harness, company: factories.Company, due: dict[str, Customer]
) -> None:
    mia = harness.person(5001, "Mia")
    assert "only for sales reps" in await mia.says("/route")
    bob = harness.person(2002, "Bob")
    assert "no customers yet" in await bob.says("/route")
    # a save naming Li's customers as Bob's keeps only Bob's own
    mine = await factories.customer(harness.db, harness.clock.now(), name="Bob Shop", rep=company.other_rep)
    caller = Caller.of(company.other_rep, "en")
    async with harness.db.transaction() as session:
        route = await save_route(session, caller, [due["start"].id, mine.id], now=harness.clock.now())
    assert [ref.name for ref in route.customers] == ["Bob Shop"] and route.saved
    async with harness.db.reading() as session:
        stops = list(await session.scalars(select(RouteStop)))
    assert [(stop.rep_id, stop.customer_id) for stop in stops] == [(company.other_rep.id, mine.id)]
    assert "Start Shop" not in await bob.says("/route")
