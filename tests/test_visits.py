"""Visits (客戶訪問): the guided flow, one-liners, Undo and the parsers — via the fake Bot API."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select

import handlers.field.visits
from bot.devserver import SentMessage
from bot.services.errors import Invalid
from bot.services.field.visits import StockEntry, parse_follow_up, parse_stock_lines
from handlers.field.visits import split_one_liner
from models import AuditLog, Customer, Feedback, FeedbackTopic, StockLine, User, Visit, VisitKind
from tests import factories
from tests.harness import Harness, Person

MONDAY = date(2026, 11, 23)
SHOP_LAT, SHOP_LON = 31.2304, 121.4737
#: About 110 m north of the shop, and about 2.2 km north.
NEAR = (SHOP_LAT + 0.001, SHOP_LON)
FAR = (SHOP_LAT + 0.02, SHOP_LON)


def tiny_png() -> bytes:
    """A valid 1×1 PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


# -- helpers ---------------------------------------------------------------------------------------


async def share(harness: Harness, person: Person, **content: Any) -> list[SentMessage]:
    """Send a non-text message (location, photo); return the bot messages that appeared or changed."""
    before = {m.message_id: m.edits for m in person.chat}
    await harness.settle(harness.api.message(person.id, None, **content))
    return [m for m in person.chat if before.get(m.message_id) != m.edits]


async def press_data(harness: Harness, person: Person, data: str) -> dict[str, Any]:
    """Press a button carrying ``data`` under the bot's newest message (a forged or repeated press)."""
    update = harness.api.callback(person.id, person.last.message_id, data)
    await harness.settle(update)
    return update


def toast(harness: Harness, update: dict[str, Any]) -> str:
    return str(harness.api.callback_answers[update["callback_query"]["id"]].get("text") or "")


def text_of(messages: list[SentMessage]) -> str:
    return "\n".join(m.plain_text() for m in messages)


async def all_visits(harness: Harness) -> list[Visit]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Visit).order_by(Visit.id)))


async def reload(harness: Harness, customer: Customer) -> Customer:
    async with harness.db.reading() as session:
        return await session.get_one(Customer, customer.id)


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
def rep(harness: Harness, company: factories.Company) -> Person:
    return harness.person(2001, "Li")


async def shop(
    harness: Harness, company: factories.Company, name: str = "Acme Trading", **fields: Any
) -> Customer:
    fields.setdefault("latitude", SHOP_LAT)
    fields.setdefault("longitude", SHOP_LON)
    return await factories.customer(harness.db, harness.clock.now(), name=name, rep=company.rep, **fields)


# -- one-liners ----------------------------------------------------------------------------------


async def test_one_liner_with_ascii_and_full_width_colon(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    acme = await shop(harness, company)
    chinese = await shop(harness, company, name="上海华联超市", code="SH-01", grade="A")
    said = await rep.says("/visit Acme: talked about the spring order")
    assert "Visit saved: Acme Trading" in said and "On-site visit" in said
    assert "talked about the spring order" in said
    assert "Next visit due: 2026-11-30" in said  # grade C: every 7 days
    assert rep.last.button_texts()[:2] == ["↩️ Undo", "✏️ Edit"]

    harness.clock.advance(timedelta(hours=1))
    said = await rep.says("/visit 华联：库存充足，下月加单")
    assert "上海华联超市" in said and "库存充足，下月加单" in said
    assert "Next visit due: 2026-11-26" in said  # grade A: every 3 days (twice a week)

    first, second = await all_visits(harness)
    assert (first.customer_id, first.kind, first.notes) == (
        acme.id,
        VisitKind.VISIT,
        "talked about the spring order",
    )
    assert (second.customer_id, second.notes) == (chinese.id, "库存充足，下月加单")
    assert first.rep_id == company.rep.id and first.source_key.startswith("msg:2001:")
    assert first.distance_m is None and not first.far_away
    assert (await reload(harness, acme)).last_visit_at == first.visited_at
    assert (await reload(harness, chinese)).last_visit_at == harness.clock.now()
    async with harness.db.reading() as session:
        audits = list(await session.scalars(select(AuditLog).where(AuditLog.action == "visit.record")))
    assert {a.entity_id for a in audits} == {first.id, second.id}
    assert audits[0].actor_id == company.rep.id and audits[0].after is not None
    assert audits[0].after["notes"] == "talked about the spring order"


async def test_chinese_rep_sees_chinese(harness: Harness, company: factories.Company) -> None:
    await shop(harness, company, name="上海华联超市")
    li = harness.person(2001, "Li", language_code="zh-hans")
    async with harness.db.transaction() as session:
        (await session.get_one(User, company.rep.id)).language = "zh"
    said = await li.says("/visit 华联：客户满意")
    assert "拜访已保存" in said and "上门拜访" in said and "下次应拜访" in said
    assert li.last.button_texts() == ["↩️ 撤销", "✏️ 修改", "📮 投诉"]


async def test_hostile_customer_name_is_escaped(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company, name="<Müller & Söhne>")
    said = await rep.says("/visit Müller: <b>not bold</b> & fine")
    assert "Visit saved: <Müller & Söhne>" in said
    assert "<b>not bold</b> & fine" in said
    assert (await all_visits(harness))[0].notes == "<b>not bold</b> & fine"


async def test_redelivered_one_liner_saves_one_visit(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company)
    update = harness.api.message(rep.id, "/visit Acme: delivered samples")
    await harness.settle(update)
    await harness.process_directly(update)  # the same update again, as after a crash
    assert len(await all_visits(harness)) == 1
    confirmations = [m for m in rep.chat if "Visit saved" in m.plain_text()]
    assert len(confirmations) == 2
    assert confirmations[0].plain_text() == confirmations[1].plain_text()


async def test_ambiguous_one_liner_records_the_picked_customer_once(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company, name="Shop East")
    west = await shop(harness, company, name="Shop West")
    said = await rep.says("/visit shop: paid a courtesy call")
    assert "Several customers match shop" in said
    assert [label.split(" (")[0] for label in rep.last.button_texts()] == ["Shop East", "Shop West"]
    assert await all_visits(harness) == []
    candidates = rep.last
    first = harness.api.press(rep.id, "Shop West", message_id=candidates.message_id)
    second = harness.api.press(rep.id, "Shop East", message_id=candidates.message_id)  # a second tap
    await harness.settle(second)
    saved = await all_visits(harness)
    assert len(saved) == 1 and saved[0].customer_id == west.id and saved[0].notes == "paid a courtesy call"
    assert "Visit saved: Shop West" in harness.api.chat(rep.id)[-1].plain_text()
    assert toast(harness, first) == ""
    assert toast(harness, second) == "This visit is already saved."

    forged = await press_data(harness, rep, f"visit:note:deadbeef:{west.id}")  # notes lost in a restart
    assert "choice has expired" in toast(harness, forged)
    assert len(await all_visits(harness)) == 1


async def test_another_reps_customer_is_refused(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    theirs = await factories.customer(
        harness.db, harness.clock.now(), name="Southern Star", rep=company.other_rep
    )
    mine = await shop(harness, company)
    assert "No customer matches Southern" in await rep.says("/visit Southern: hello")
    assert "No customer matches Southern" in await rep.says("/visit Southern")
    forged = await press_data(harness, rep, f"visit:start:{theirs.id}")
    assert "not one of yours" in harness.api.chat(rep.id)[-1].plain_text()
    assert toast(harness, forged) == ""

    await rep.send("/visit")  # a forged pick inside the flow
    await press_data(harness, rep, f"visit:pick:{theirs.id}")
    assert "not one of yours" in rep.last.plain_text()
    await press_data(harness, rep, f"visit:note:0badcafe:{theirs.id}")
    assert await all_visits(harness) == []
    assert (await reload(harness, theirs)).last_visit_at is None
    assert (await reload(harness, mine)).last_visit_at is None


async def test_finance_cannot_log_visits(harness: Harness, company: factories.Company) -> None:
    await shop(harness, company)
    fay = harness.person(6001, "Fay")
    assert "role does not allow" in await fay.says("/visit")
    assert "role does not allow" in await fay.says("/visit Acme: hello")
    assert await all_visits(harness) == []


# -- the guided flow -----------------------------------------------------------------------------


async def test_fewest_taps_customer_type_notes_save(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    acme = await shop(harness, company)
    said = await rep.says("/visit")
    assert "1 due today" in said
    await rep.press("Acme Trading")
    assert "What kind of contact" in rep.last.plain_text()
    await rep.press("Phone call")
    assert "Type what came of it" in rep.last.plain_text()
    summary = await rep.says("Agreed to reorder next month")
    assert "Phone call" in summary and "Agreed to reorder next month" in summary
    [confirmation] = await rep.press("Save")
    assert "Visit saved: Acme Trading" in confirmation.plain_text()
    assert "Phone call" in confirmation.plain_text()
    [visit] = await all_visits(harness)
    assert (visit.customer_id, visit.kind, visit.notes) == (
        acme.id,
        VisitKind.CALL,
        "Agreed to reorder next month",
    )
    assert visit.latitude is None and visit.photo_file_ids == [] and visit.next_follow_up is None


async def test_due_customers_come_first_most_overdue_first(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    now = harness.clock.now()
    await shop(harness, company, name="Recent", last_visit_at=now - timedelta(days=3))
    await shop(harness, company, name="Late A", grade="A", last_visit_at=now - timedelta(days=10))
    await shop(harness, company, name="Late C", grade="C", last_visit_at=now - timedelta(days=40))
    await shop(harness, company, name="Never Seen")
    follow = await shop(harness, company, name="Follow Up Co", last_visit_at=now - timedelta(days=5))
    await factories.customer(harness.db, now, name="Not Mine", rep=company.other_rep)
    async with harness.db.transaction() as session:
        session.add(
            Visit(
                rep_id=company.rep.id,
                customer_id=follow.id,
                visited_at=now - timedelta(days=5),
                kind=VisitKind.VISIT,
                notes="call back Monday",
                next_follow_up=MONDAY,
                source_key="test:follow-up",
                created_at=now - timedelta(days=5),
            )
        )
    said = await rep.says("/visit")
    assert "4 due today" in said
    labels = rep.last.button_texts()
    assert [label.split(" (")[0] for label in labels] == [
        "🆕 Never Seen",
        "⚠️ Late C",
        "⚠️ Late A",
        "📅 Follow Up Co",
        "📍 Near me",
        "🔎 Search",
    ]

    async with harness.db.transaction() as session:
        for number in range(10):
            session.add(
                Customer(
                    code=f"N{number:02d}",
                    name=f"New {number:02d}",
                    grade="C",
                    rep_id=company.rep.id,
                    team_id=company.rep.team_id,
                    created_at=now,
                )
            )
    assert "14 due today" in await rep.says("/visit")
    assert len(rep.last.button_texts()) == 8 + 2  # and 📍 Near me, 🔎 Search


async def test_visit_with_a_customer_starts_the_flow_with_them(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company, name="Shop East")
    await shop(harness, company, name="Shop West")
    await shop(harness, company)
    assert "Customer: Acme Trading" in await rep.says("/visit acme")
    said = await rep.says("/visit Shop")
    assert "Several customers match Shop" in said
    await rep.press("Shop East")
    assert "Customer: Shop East" in rep.last.plain_text()
    await rep.press("On-site visit")
    await rep.send("Checked the shelf")
    await rep.press("Save")
    [visit] = await all_visits(harness)
    assert visit.notes == "Checked the shelf" and visit.kind == VisitKind.VISIT


async def test_search_in_the_flow(harness: Harness, company: factories.Company, rep: Person) -> None:
    await shop(harness, company, name="Shop East", last_visit_at=harness.clock.now())
    await shop(harness, company, name="Shop West", last_visit_at=harness.clock.now())
    said = await rep.says("/visit")
    assert "Nobody is due today" in said
    assert "Type the customer's name" in text_of(await rep.press("Search"))
    assert "No customer matches Nowhere" in await rep.says("Nowhere")
    assert "Several customers match Shop" in await rep.says("Shop")
    await rep.press("Shop West")
    assert "What kind of contact" in rep.last.plain_text()


async def test_full_flow_with_every_extra(harness: Harness, company: factories.Company, rep: Person) -> None:
    muller = await shop(harness, company, name="<Müller & Söhne>", grade="B")
    await rep.send("/visit Müller")
    await rep.press("Stock check")
    await rep.send("Shelves half empty")
    assert rep.last.button_texts()[0] == "📦 Stock levels"  # stock first for a stock check

    await rep.press("Location")
    prompt = rep.last
    assert prompt.reply_markup is not None
    assert prompt.reply_markup["keyboard"][0][0]["request_location"] is True
    replies = await share(harness, rep, location=NEAR)
    assert replies[0].reply_markup == {"remove_keyboard": True}
    assert "Location received" in replies[0].plain_text() and "Location shared" in replies[1].plain_text()

    await rep.press("Photo")
    assert "Send the photo" in rep.last.plain_text()
    photo = harness.api.message(rep.id, None, photo=tiny_png())
    await harness.settle(photo)
    assert "Photos: 1" in rep.last.plain_text()

    await rep.press("Stock levels")
    summary = await rep.says("Product A 12\n产品B：5\nCola 330ml: 0")
    assert "Product A: 12" in summary and "产品B: 5" in summary and "Cola 330ml: 0" in summary

    await rep.press("Market feedback")
    await rep.press("Price")
    assert "feedback on Price" in rep.last.plain_text()
    summary = await rep.says("Competitor X is 5% cheaper")
    assert "Price: Competitor X is 5% cheaper" in summary

    await rep.press("Follow-up date")
    await rep.press("Next week")
    assert "Follow-up: 2026-11-30" in rep.last.plain_text()

    [confirmation] = await rep.press("Save")
    said = confirmation.plain_text()
    assert "Visit saved: <Müller & Söhne>" in said and "Stock check" in said
    assert "m from the customer's location." in said and "far away" not in said
    assert "Photos: 1" in said and "Stock lines: 3" in said and "Market feedback: 1" in said
    assert "Follow-up: 2026-11-30" in said and "Next visit due: 2026-11-30" in said  # grade B: 7 days

    [visit] = await all_visits(harness)
    assert visit.customer_id == muller.id and visit.kind == VisitKind.STOCK_CHECK
    assert visit.latitude == pytest.approx(NEAR[0]) and visit.distance_m is not None
    assert 100 <= visit.distance_m <= 120 and not visit.far_away
    assert visit.photo_file_ids == [photo["message"]["photo"][-1]["file_id"]]  # the largest size
    assert visit.next_follow_up == MONDAY + timedelta(days=7)
    async with harness.db.reading() as session:
        stock = [
            (s.product, s.quantity)
            for s in await session.scalars(
                select(StockLine).where(StockLine.visit_id == visit.id).order_by(StockLine.id)
            )
        ]
        feedback = [
            (f.topic, f.text)
            for f in await session.scalars(select(Feedback).where(Feedback.visit_id == visit.id))
        ]
    assert stock == [("Product A", 12), ("产品B", 5), ("Cola 330ml", 0)]
    assert feedback == [(FeedbackTopic.PRICE, "Competitor X is 5% cheaper")]


async def test_far_away_is_flagged_and_dates_can_be_typed(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("On-site visit")
    await rep.send("Met the owner")
    await share(harness, rep, location=FAR)  # shared straight from the attachment menu
    await rep.press("Follow-up date")
    assert "in the past" in await rep.says("2026-11-01")
    assert "can't read" in await rep.says("someday")
    assert "Follow-up: 2026-12-01" in await rep.says("12/1")
    [confirmation] = await rep.press("Save")
    assert "flagged as far away" in confirmation.plain_text()
    assert "2.2 km" in confirmation.plain_text()
    [visit] = await all_visits(harness)
    assert visit.far_away and visit.distance_m is not None and 2100 < visit.distance_m < 2300
    assert visit.next_follow_up == date(2026, 12, 1)


async def test_location_skipped_and_bad_stock_lines(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company, latitude=None, longitude=None)
    await rep.send("/visit Acme")
    await rep.press("Stock check")
    await rep.send("Counted")
    await rep.press("Location")
    replies = await rep.send("Skip")
    assert replies[0].reply_markup == {"remove_keyboard": True}
    assert "No location added" in replies[0].plain_text()
    await rep.press("Stock levels")
    assert "whole number" in await rep.says("Product A -3")
    assert "whole number" in await rep.says("Product A 2.5")
    assert "write the product, then the quantity" in await rep.says("Product A")
    assert "Product A: 3" in await rep.says("Product A 3")
    await rep.send("and the manager was friendly")  # more text on the summary adds to the notes
    await share(harness, rep, location=NEAR)
    [confirmation] = await rep.press("Save")
    assert "no location on file" in confirmation.plain_text()
    [visit] = await all_visits(harness)
    assert visit.notes == "Counted\nand the manager was friendly"
    assert visit.latitude is not None and visit.distance_m is None and not visit.far_away


async def test_follow_up_tomorrow_and_back(harness: Harness, company: factories.Company, rep: Person) -> None:
    await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("Phone call")
    await rep.send("Left a message")
    await rep.press("Market feedback")
    await rep.press("Back")
    assert "Add more with the buttons" in rep.last.plain_text()
    await rep.press("Follow-up date")
    await rep.press("Tomorrow")
    await rep.press("Save")
    [visit] = await all_visits(harness)
    assert visit.next_follow_up == MONDAY + timedelta(days=1)
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Feedback)) == 0


async def test_double_tapped_save_creates_one_visit(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    acme = await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("On-site visit")
    await rep.send("Signed the contract")
    harness.api.press(rep.id, "Save")
    second = harness.api.press(rep.id, "Save")  # tapped again before the bot answered
    await harness.settle(second)
    assert len(await all_visits(harness)) == 1
    assert toast(harness, second) == "This visit is already saved."
    assert "Visit saved" in rep.last.plain_text()
    third = await press_data(harness, rep, second["callback_query"]["data"])  # a third, much later
    assert toast(harness, third) == "This visit is already saved."
    assert len(await all_visits(harness)) == 1
    assert (await reload(harness, acme)).last_visit_at == harness.clock.now()


async def test_save_whose_answer_was_lost_can_be_pressed_again(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("On-site visit")
    await rep.send("Signed the contract")
    harness.api.fail_next("editMessageText", 502, "Bad Gateway", times=3)  # retried, then the answer is lost
    await rep.press("Save")
    assert len(await all_visits(harness)) == 1
    assert "Visit saved" not in rep.last.plain_text()
    [confirmation] = await rep.press("Save")  # the rep tries again: the flow's key finds the visit
    assert "Visit saved: Acme Trading" in confirmation.plain_text()
    assert len(await all_visits(harness)) == 1


async def test_cancel_saves_nothing(harness: Harness, company: factories.Company, rep: Person) -> None:
    await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("On-site visit")
    await rep.send("Nothing much")
    assert "not saved" in await rep.says("/cancel")
    stale = await press_data(harness, rep, "visit:add:stock")
    assert "expired" in toast(harness, stale)
    assert await all_visits(harness) == []
    assert "nothing to cancel" in await rep.says("/cancel")


async def test_unexpected_input_in_the_flow(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company)
    await rep.send("/visit Acme")
    assert "answer the last question" in await rep.says("hello?")  # the kind wants a button
    await rep.press("Phone call")
    replies = await share(harness, rep, photo=tiny_png())  # notes are typed
    assert "answer the last question" in text_of(replies)


# -- undo ----------------------------------------------------------------------------------------


async def test_undo_within_ten_minutes_restores_last_visit(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    acme = await shop(harness, company)
    await rep.send("/visit Acme: first call")
    first_at = harness.clock.now()
    old_confirmation = rep.last
    harness.clock.advance(timedelta(days=1))
    await rep.send("/visit Acme: second call")
    assert (await reload(harness, acme)).last_visit_at == harness.clock.now()
    harness.clock.advance(timedelta(minutes=9))
    first = harness.api.press(rep.id, "Undo")
    second = harness.api.press(rep.id, "Undo")  # tapped twice
    await harness.settle(second)
    undone = rep.last
    assert "Visit to Acme Trading (" in undone.plain_text() and "undone" in undone.plain_text()
    assert undone.button_texts() == []
    assert toast(harness, first) == ""
    assert toast(harness, second) == "This visit is already undone."

    [left] = await all_visits(harness)
    assert left.notes == "first call"
    assert (await reload(harness, acme)).last_visit_at == first_at
    async with harness.db.reading() as session:
        log = await session.scalar(select(AuditLog).where(AuditLog.action == "visit.undo"))
    assert log is not None and log.actor_id == company.rep.id and log.before is not None
    assert log.before["notes"] == "second call" and log.entity_id != left.id

    late = await press_data(harness, rep, f"visit:undo:{left.id}")  # a day and 9 minutes later
    assert "Too late to undo" in toast(harness, late)
    assert len(await all_visits(harness)) == 1
    assert old_confirmation.button_texts()[:2] == ["↩️ Undo", "✏️ Edit"]


async def test_undo_after_ten_minutes_is_refused(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    acme = await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("On-site visit")
    await rep.send("Brought the catalogue")
    await rep.press("Stock levels")
    await rep.send("Product A 4")
    await rep.press("Save")
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    late = harness.api.press(rep.id, "Undo")
    await harness.settle(late)
    assert "Too late to undo" in toast(harness, late)
    assert len(await all_visits(harness)) == 1
    assert (await reload(harness, acme)).last_visit_at is not None


async def test_undo_of_the_only_visit_clears_last_visit_and_its_details(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    acme = await shop(harness, company)
    await rep.send("/visit Acme")
    await rep.press("Stock check")
    await rep.send("Counted")
    await rep.press("Stock levels")
    await rep.send("Product A 4")
    await rep.press("Market feedback")
    await rep.press("Demand")
    await rep.send("Demand is up")
    await rep.press("Save")
    await rep.press("Undo")
    assert await all_visits(harness) == []
    assert (await reload(harness, acme)).last_visit_at is None
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(StockLine)) == 0
        assert await session.scalar(select(func.count()).select_from(Feedback)) == 0
        log = await session.scalar(select(AuditLog).where(AuditLog.action == "visit.undo"))
    assert log is not None and log.before is not None
    assert log.before["stock"] == [["Product A", 4]]
    assert log.before["feedback"] == [["demand", "Demand is up"]]

    # the same one-liner redelivered after an undo does not bring the visit back
    update = harness.api.message(rep.id, "/visit Acme: quick one")
    await harness.settle(update)
    await rep.press("Undo")
    await harness.process_directly(update)
    assert "was undone" in rep.last.plain_text()
    assert await all_visits(harness) == []


async def test_someone_elses_undo_is_refused(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await shop(harness, company)
    await rep.send("/visit Acme: mine")
    [visit] = await all_visits(harness)
    bob = harness.person(2002, "Bob")
    await bob.send("/help")
    await press_data(harness, bob, f"visit:undo:{visit.id}")
    assert "Only the rep who logged" in bob.last.plain_text()
    assert len(await all_visits(harness)) == 1


# -- timeout -------------------------------------------------------------------------------------


@pytest.fixture
def quick_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers.field.visits, "FLOW_TIMEOUT", 0.5)


@pytest.fixture
async def impatient(quick_timeout: None, harness: Harness) -> AsyncIterator[Harness]:
    yield harness


async def test_an_abandoned_flow_says_nothing_was_saved(impatient: Harness) -> None:
    harness = impatient
    company = await factories.company(harness.db, harness.clock.now())
    await shop(harness, company)
    rep = harness.person(2001, "Li")
    mark = harness.api.mark()
    await rep.send("/visit Acme")
    call = await harness.api.wait_for(
        rep.id,
        method="sendMessage",
        after=mark,
        predicate=lambda c: "was not saved" in c.params.get("text", ""),
    )
    assert "Acme Trading" in call.params["text"]
    assert rep.last.reply_markup == {"remove_keyboard": True}
    stale = await press_data(harness, rep, "visit:kind:visit")
    assert "expired" in toast(harness, stale)
    assert await all_visits(harness) == []


# -- parsers -------------------------------------------------------------------------------------


def test_one_liner_split() -> None:
    assert split_one_liner("Acme: notes: more") == ("Acme", "notes: more")
    assert split_one_liner("华联：库存充足") == ("华联", "库存充足")
    assert split_one_liner("华联：a:b") == ("华联", "a:b")
    assert split_one_liner("Acme Trading") == ("Acme Trading", None)
    assert split_one_liner("Acme:") == ("Acme", "")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-01", date(2026, 12, 1)),
        ("2026/12/1", date(2026, 12, 1)),
        ("2026年12月1日", date(2026, 12, 1)),
        ("12-01", date(2026, 12, 1)),
        ("12/1", date(2026, 12, 1)),
        ("12月1日", date(2026, 12, 1)),
        ("1/5", date(2027, 1, 5)),  # month-day already past this year: next year's
        ("11-23", MONDAY),
        ("today", MONDAY),
        (" Tomorrow ", MONDAY + timedelta(days=1)),
        ("next week", MONDAY + timedelta(days=7)),
        ("in 2 weeks", MONDAY + timedelta(days=14)),
        ("明天", MONDAY + timedelta(days=1)),
        ("下周", MONDAY + timedelta(days=7)),
        ("２０２６－１２－０１", date(2026, 12, 1)),
    ],
)
def test_follow_up_dates(typed: str, expected: date) -> None:
    assert parse_follow_up(typed, MONDAY) == expected


@pytest.mark.parametrize(
    "typed", ["2026-11-22", "yesterday", "2/30", "13/1", "2026-02-29", "2028-01-01", "", "12", "1/12/2026"]
)
def test_follow_up_refusals(typed: str) -> None:
    with pytest.raises(Invalid):
        parse_follow_up(typed, MONDAY)


@given(st.text(max_size=40), st.dates(min_value=date(2000, 1, 1), max_value=date(9998, 12, 31)))
def test_follow_up_parser_never_crashes(typed: str, today: date) -> None:
    try:
        day = parse_follow_up(typed, today)
    except Invalid:
        return
    assert today <= day <= today + timedelta(days=366)


def test_stock_lines() -> None:
    assert parse_stock_lines("Product A 12\n\n产品B：5\nCola 330ml: 0\n  Tea   +7 ") == (
        StockEntry("Product A", 12),
        StockEntry("产品B", 5),
        StockEntry("Cola 330ml", 0),
        StockEntry("Tea", 7),
    )
    for bad in ("", "Product A", "Product A -1", "Product A 1.5", "A" * 121 + " 3", "Tea 99999999999"):
        with pytest.raises(Invalid):
            parse_stock_lines(bad)


@given(st.text(max_size=200))
def test_stock_parser_never_crashes(typed: str) -> None:
    try:
        lines = parse_stock_lines(typed)
    except Invalid:
        return
    assert lines and all(line.quantity >= 0 and line.product.strip() for line in lines)
