"""Checking in by location or photo (issue 21): the nearest customers, one tap, the notes, saved.

Everything goes through the fake Bot API as the rep does it: a location (or a live location, or a
photo) sent with no flow open, a tap on a customer, the notes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database
from bot.devserver import FakeBotApi, SentMessage
from bot.persistence import dumps, loads
from bot.services.field.geo import distance_m
from handlers.field.check_in import HeldLocation, HeldPhoto
from handlers.field.routes import RouteDraft
from models import AuditLog, Customer, Visit, VisitKind
from tests import factories
from tests.conftest import MONDAY_MORNING
from tests.harness import Harness, Person
from tests.test_visits import tiny_png

SHOP_LAT, SHOP_LON = 31.2304, 121.4737
#: Where Li stands: about 44 m north of Acme Trading.
HERE = (SHOP_LAT + 0.0004, SHOP_LON)


async def share(harness: Harness, person: Person, **content: Any) -> list[SentMessage]:
    """Send a non-text message (location, photo); the bot messages that appeared or changed."""
    before = {m.message_id: m.edits for m in person.chat}
    await harness.settle(harness.api.message(person.id, None, **content))
    return [m for m in person.chat if before.get(m.message_id) != m.edits]


def text_of(messages: list[SentMessage]) -> str:
    return "\n".join(m.plain_text() for m in messages)


def metres(customer: Customer, point: tuple[float, float] = HERE) -> int:
    assert customer.latitude is not None and customer.longitude is not None
    return round(distance_m(*point, customer.latitude, customer.longitude))


async def all_visits(harness: Harness) -> list[Visit]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Visit).order_by(Visit.id)))


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
async def book(harness: Harness, company: factories.Company) -> dict[str, Customer]:
    """Li's customers around Acme (one with no pin), and Bob's (South) shop right where Li stands."""
    now = harness.clock.now()
    placed = {
        "acme": ("Acme Trading", 0.0),
        "bright": ("Bright Hardware", 0.003),
        "corner": ("Corner Store", 0.02),
        "edge": ("Edge Shop", 0.05),
        "far": ("Far Away Mart", 0.5),
        "distant": ("Distant Depot", 1.0),
    }
    found = {
        key: await factories.customer(
            harness.db,
            now,
            name=name,
            rep=company.rep,
            latitude=SHOP_LAT + north,
            longitude=SHOP_LON,
            last_visit_at=now - timedelta(days=1),
        )
        for key, (name, north) in placed.items()
    }
    found["nopin"] = await factories.customer(
        harness.db, now, name="No Pin Shop", rep=company.rep, last_visit_at=now - timedelta(days=1)
    )
    found["theirs"] = await factories.customer(
        harness.db, now, name="Theirs Outlet", rep=company.other_rep, latitude=HERE[0], longitude=HERE[1]
    )
    return found


@pytest.fixture
def li(harness: Harness, company: factories.Company) -> Person:
    return harness.person(2001, "Li")


# -- by location -----------------------------------------------------------------------------------


async def test_share_location_tap_customer_type_notes_is_the_whole_visit(
    harness: Harness, book: dict[str, Customer], li: Person
) -> None:
    steps = 0  # messages and taps besides the notes: docs/guide-rep.md says 2
    [listing] = await share(harness, li, location=HERE)
    steps += 1
    said = listing.plain_text()
    assert "Your customers nearest to here:" in said
    assert f"1. Acme Trading ({book['acme'].code}) — {metres(book['acme'])} m" in said
    assert f"2. Bright Hardware ({book['bright'].code}) — {metres(book['bright'])} m" in said
    assert "3. Corner Store" in said and "km" in said
    assert "Theirs" not in said and "No Pin" not in said and "Distant Depot" not in said  # up to 5
    assert [label.split(" (")[0] for label in listing.button_texts()] == [
        "Acme Trading",
        "Bright Hardware",
        "Corner Store",
        "Edge Shop",
        "Far Away Mart",
    ]
    assert listing.button_texts()[0].endswith(f"· {metres(book['acme'])} m")

    [started] = await li.press("Acme Trading")
    steps += 1
    said = started.plain_text()
    assert f"Acme Trading ({book['acme'].code}) · On-site visit" in said
    assert f"{metres(book['acme'])} m from the customer's location." in said
    assert "saved as soon as you send it" in said

    [confirmation] = await li.send("Checked the shelf, owner wants 10 more boxes")
    said = confirmation.plain_text()
    assert "Visit saved: Acme Trading" in said and "On-site visit" in said
    assert f"{metres(book['acme'])} m from the customer's location." in said
    assert "↩️ Undo" in confirmation.button_texts()
    assert steps == 2

    [visit] = await all_visits(harness)
    assert (visit.customer_id, visit.kind, visit.notes) == (
        book["acme"].id,
        VisitKind.VISIT,
        "Checked the shelf, owner wants 10 more boxes",
    )
    assert (visit.latitude, visit.longitude) == pytest.approx(HERE)
    assert visit.distance_m == metres(book["acme"]) and not visit.far_away

    # the flow is over: the next text is not a second visit
    assert "didn't understand" in await li.says("hello")
    assert len(await all_visits(harness)) == 1


async def test_chinese_check_in(harness: Harness, company: factories.Company) -> None:
    now = harness.clock.now()
    shop = await factories.customer(
        harness.db, now, name="华东五金店", rep=company.rep, latitude=SHOP_LAT, longitude=SHOP_LON
    )
    async with harness.db.transaction() as session:
        user = await session.get_one(type(company.rep), company.rep.id)
        user.language = "zh"
    li = harness.person(2001, "李", language_code="zh")
    [listing] = await share(harness, li, location=HERE)
    assert "📍 离这里最近的客户：" in listing.plain_text()
    assert f"1. 华东五金店 ({shop.code}) — {metres(shop)} 米" in listing.plain_text()
    [started] = await li.press("华东五金店")
    assert "请输入拜访结果：发送后立即保存。" in started.plain_text()
    assert f"📍 距客户位置 {metres(shop)} 米。" in started.plain_text()
    said = await li.says("店主说下月加单")
    assert "华东五金店" in said and "店主说下月加单" in said
    [visit] = await all_visits(harness)
    assert visit.distance_m == metres(shop) and visit.notes == "店主说下月加单"


async def test_far_from_every_customer_is_flagged_on_the_tap_and_the_visit(
    harness: Harness, book: dict[str, Customer], li: Person
) -> None:
    there = (SHOP_LAT + 0.012, SHOP_LON)  # 1.3 km from Acme
    await share(harness, li, location=there)
    [started] = await li.press("Acme Trading")
    assert "flagged as far away" in started.plain_text()
    assert "flagged as far away" in await li.says("Phoned from the car park")
    [visit] = await all_visits(harness)
    assert visit.far_away and visit.distance_m == metres(book["acme"], there)


async def test_live_location_answers_once_and_its_moves_say_nothing(
    harness: Harness, book: dict[str, Customer], li: Person
) -> None:
    live = harness.api.message(li.id, None, location=HERE, live_period=900)
    await harness.settle(live)
    assert "Your customers nearest to here:" in li.last.plain_text()
    shown = len(li.chat)
    # Li walks to Corner Store: Telegram edits the live location's message as she moves
    corner = (book["corner"].latitude, book["corner"].longitude)
    assert corner[0] is not None and corner[1] is not None
    for step in (0.005, 0.01, 0.0199):
        moved = harness.api.moved_location(li.id, live["message"]["message_id"], (SHOP_LAT + step, SHOP_LON))
        await harness.settle(moved)
    assert len(li.chat) == shown, "a live location's moves must not be answered"
    assert all(m.edits == 0 for m in li.chat)
    # a photo now: the nearest are counted from where the live location has got to
    [question] = await share(harness, li, photo=tiny_png())
    assert "Nearest to where you are" in question.plain_text()
    assert question.button_texts()[0].startswith("Corner Store")
    await li.press("Corner Store")
    await li.send("Window display checked")
    [visit] = await all_visits(harness)
    assert visit.customer_id == book["corner"].id and visit.distance_m is not None and visit.distance_m < 20


async def test_an_old_list_does_not_attach_a_newer_location(
    harness: Harness, book: dict[str, Customer], li: Person
) -> None:
    [first] = await share(harness, li, location=HERE)
    await share(harness, li, location=(SHOP_LAT + 0.02, SHOP_LON))
    before = len(li.chat)
    update = harness.api.callback(li.id, first.message_id, first.buttons()[0][0]["callback_data"])
    await harness.settle(update)
    answer = harness.api.callback_answers[update["callback_query"]["id"]].get("text") or ""
    assert "expired" in answer and len(li.chat) == before
    assert await all_visits(harness) == []


async def test_nobody_sees_another_teams_customers(
    harness: Harness, company: factories.Company, book: dict[str, Customer]
) -> None:
    bob = harness.person(2002, "Bob")  # South: his only customer is right here
    [listing] = await share(harness, bob, location=HERE)
    assert "Theirs Outlet" in listing.plain_text()
    assert not any(name in listing.plain_text() for name in ("Acme", "Bright", "Corner"))

    # Bob forges his list's button to name Li's customer: refused, nothing saved
    token = listing.buttons()[0][0]["callback_data"].split(":")[2]
    update = harness.api.callback(bob.id, listing.message_id, f"visit:here:{token}:{book['acme'].id}")
    await harness.settle(update)
    assert "not one of yours" in text_of([bob.last]) + str(
        harness.api.callback_answers[update["callback_query"]["id"]].get("text") or ""
    )
    assert "Acme" not in text_of(bob.chat)
    assert "didn't understand" in await bob.says("notes for Acme")
    assert await all_visits(harness) == []

    # Mia, North's manager, sees her team's customers and not South's
    mia = harness.person(5001, "Mia")
    [listing] = await share(harness, mia, location=HERE)
    assert "Acme Trading" in listing.plain_text() and "Theirs" not in listing.plain_text()

    # finance logs no visits: told so, shown nothing
    fay = harness.person(6001, "Fay")
    [refusal] = await share(harness, fay, location=HERE)
    assert "role does not allow" in refusal.plain_text() and refusal.buttons() == []


async def test_a_rep_with_no_pinned_customer_is_told_to_choose(
    harness: Harness, company: factories.Company
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Unpinned", rep=company.rep)
    li = harness.person(2001, "Li")
    [answer] = await share(harness, li, location=HERE)
    assert "None of your customers has a location on file" in answer.plain_text()
    assert answer.buttons() == []


async def test_nearest_scans_past_the_first_search_box(harness: Harness, company: factories.Company) -> None:
    """One customer 3 km away and one 4,000 km away: both found, nearest first."""
    now = harness.clock.now()
    await factories.customer(
        harness.db, now, name="Near Enough", rep=company.rep, latitude=SHOP_LAT + 0.03, longitude=SHOP_LON
    )
    await factories.customer(
        harness.db, now, name="Other Side", rep=company.rep, latitude=-5.0, longitude=100.0
    )
    li = harness.person(2001, "Li")
    [listing] = await share(harness, li, location=HERE)
    assert [label.split(" (")[0] for label in listing.button_texts()] == ["Near Enough", "Other Side"]


# -- guided /visit: Near me --------------------------------------------------------------------------


async def test_near_me_in_guided_visit(harness: Harness, book: dict[str, Customer], li: Person) -> None:
    await li.send("/visit")
    assert li.last.button_texts()[-2:] == ["📍 Near me", "🔎 Search"]
    [ask] = await li.press("Near me")
    assert ask.reply_markup is not None
    assert ask.reply_markup["keyboard"][0][0]["request_location"] is True
    received, listing = await share(harness, li, location=HERE)
    assert received.reply_markup == {"remove_keyboard": True}
    assert "Your customers nearest to here:" in listing.plain_text()
    await li.press("Bright Hardware")
    assert "Visit saved: Bright Hardware" in await li.says("New shelf agreed")
    [visit] = await all_visits(harness)
    assert visit.customer_id == book["bright"].id and visit.distance_m == metres(book["bright"])


async def test_near_me_in_chinese(harness: Harness, company: factories.Company) -> None:
    await factories.customer(
        harness.db,
        harness.clock.now(),
        name="华东五金店",
        rep=company.rep,
        latitude=SHOP_LAT,
        longitude=SHOP_LON,
    )
    async with harness.db.transaction() as session:
        user = await session.get_one(type(company.rep), company.rep.id)
        user.language = "zh"
    li = harness.person(2001, "李", language_code="zh")
    await li.send("/visit")
    assert "📍 附近客户" in li.last.button_texts()
    [ask] = await li.press("附近客户")
    assert ask.reply_markup is not None and ask.reply_markup["keyboard"][0][0]["request_location"] is True
    _received, listing = await share(harness, li, location=HERE)
    assert "离这里最近的客户" in listing.plain_text()


# -- by photo --------------------------------------------------------------------------------------


async def test_photo_asks_which_customer_and_starts_the_visit_with_it(
    harness: Harness, company: factories.Company, li: Person
) -> None:
    now = harness.clock.now()
    due = await factories.customer(harness.db, now, name="Due Today Shop", rep=company.rep)  # never visited
    seen = await factories.customer(harness.db, now, name="Seen Yesterday", rep=company.rep)
    await factories.customer(harness.db, now, name="Not Mine", rep=company.other_rep)
    async with harness.db.transaction() as session:
        session.add(
            Visit(
                rep_id=company.rep.id,
                customer_id=seen.id,
                visited_at=now - timedelta(days=1),
                kind=VisitKind.VISIT,
                notes="earlier",
                source_key="test:earlier",
                created_at=now - timedelta(days=1),
                photo_file_ids=[],
            )
        )
        row = await session.get_one(Customer, seen.id)
        row.last_visit_at = now - timedelta(days=1)
    photo = harness.api.message(li.id, None, photo=tiny_png())
    await harness.settle(photo)
    question = li.last
    assert "Which customer is this photo for? Due today and visited lately" in question.plain_text()
    assert [label.split(" (")[0] for label in question.button_texts()] == ["Due Today Shop", "Seen Yesterday"]
    other_choice = question.buttons()[1][0]["callback_data"]
    [started] = await li.press("Due Today Shop")
    assert "Photos: 1" in started.plain_text()
    said = await li.says("Shelf photo for the manager")
    assert "Visit saved: Due Today Shop" in said and "Photos: 1" in said
    [_earlier, visit] = await all_visits(harness)
    assert visit.customer_id == due.id and visit.latitude is None
    assert visit.photo_file_ids == [photo["message"]["photo"][-1]["file_id"]]
    # the photo went with that visit: the old question's buttons are spent
    update = harness.api.callback(li.id, question.message_id, other_choice)
    await harness.settle(update)
    assert "expired" in (harness.api.callback_answers[update["callback_query"]["id"]].get("text") or "")
    assert len(await all_visits(harness)) == 2


async def test_photo_caption_is_the_notes_and_an_album_is_one_visit(
    harness: Harness, book: dict[str, Customer], li: Person
) -> None:
    await share(harness, li, location=HERE)  # a location a minute ago: the photo offers the nearest
    harness.clock.advance(timedelta(minutes=1))
    first = harness.api.message(
        li.id, None, photo=tiny_png(), caption="New display", media_group_id="album-1"
    )
    second = harness.api.message(li.id, None, photo=tiny_png(), media_group_id="album-1")
    await harness.settle(first)
    await harness.settle(second)
    questions = [m for m in li.chat if "Which customer is this photo for" in m.plain_text()]
    assert len(questions) == 1 and "Nearest to where you are" in questions[0].plain_text()
    [confirmation] = await li.press("Acme Trading")
    said = confirmation.plain_text()
    assert "Visit saved: Acme Trading" in said and "New display" in said and "Photos: 2" in said
    [visit] = await all_visits(harness)
    assert visit.notes == "New display" and len(visit.photo_file_ids) == 2
    assert visit.distance_m == metres(book["acme"])  # the location of a minute ago went with it


async def test_a_photo_long_after_the_location_offers_due_customers(
    harness: Harness, company: factories.Company, book: dict[str, Customer], li: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="New Shop", rep=company.rep)
    await share(harness, li, location=HERE)
    harness.clock.advance(timedelta(minutes=30))
    [question] = await share(harness, li, photo=tiny_png())
    assert "Due today and visited lately" in question.plain_text()
    assert [label.split(" (")[0] for label in question.button_texts()] == ["New Shop"]


async def test_photo_in_chinese(harness: Harness, company: factories.Company) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="华东五金店", rep=company.rep)
    async with harness.db.transaction() as session:
        user = await session.get_one(type(company.rep), company.rep.id)
        user.language = "zh"
    li = harness.person(2001, "李", language_code="zh")
    [question] = await share(harness, li, photo=tiny_png(), caption="新陈列")
    assert "📷 这张照片是哪位客户的？今天应拜访的和最近拜访过的：" in question.plain_text()
    [confirmation] = await li.press("华东五金店")
    assert "新陈列" in confirmation.plain_text()
    async with harness.db.reading() as session:
        assert await session.scalar(select(AuditLog).where(AuditLog.action == "visit.record")) is not None


# -- what waits in user_data outlives a restart ------------------------------------------------------


async def test_a_live_location_and_its_move_outlive_a_restart(
    api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings
) -> None:
    now = clock.now()
    company = await factories.company(db, now)
    here = await factories.customer(
        db, now, name="Here Shop", rep=company.rep, latitude=SHOP_LAT, longitude=SHOP_LON
    )
    there = await factories.customer(
        db, now, name="There Shop", rep=company.rep, latitude=SHOP_LAT + 0.03, longitude=SHOP_LON
    )
    async with Harness(api, db, clock, settings) as first:
        li = first.person(2001, "Li")
        live = api.message(li.id, None, location=HERE, live_period=3600)
        await first.settle(live)
        assert li.last.button_texts()[0].startswith("Here Shop")
        await first.settle(
            api.moved_location(li.id, live["message"]["message_id"], (SHOP_LAT + 0.0301, SHOP_LON))
        )
    async with Harness(api, db, clock, settings) as second:
        li = second.person(2001, "Li")
        [question] = await share(second, li, photo=tiny_png())
        assert question.button_texts()[0].startswith("There Shop")  # the moved position, kept
        await li.press("There Shop")
        assert "Visit saved: There Shop" in await li.says("Met the buyer")
        async with db.reading() as session:
            [visit] = (await session.scalars(select(Visit))).all()
    assert visit.customer_id == there.id and visit.customer_id != here.id
    assert visit.distance_m is not None and visit.distance_m < 20


def test_what_waits_for_a_tap_round_trips_through_the_state_codec() -> None:
    at = MONDAY_MORNING
    for value in (
        HeldLocation("00ff00ff", 31.2, 121.4, at, 7, at),
        HeldPhoto("00ff00ff", ["f1", "f2"], at, "caption", "album", ["u1", "u2"], True, at),
        RouteDraft("00ff00ff", [3, 1, 2], 1, True),
    ):
        assert loads(dumps(value)) == value
