"""Issue 18, "visit extras are seen": the stock, feedback and photos a rep records on a visit come
back on the customer's card, in /rep and the /summary drill-down (with the photos as an album), in
English and Chinese — all through the fake Bot API, as the rep and as their manager.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.devserver import SentMessage
from models import Feedback, FeedbackTopic, StockLine, Visit, VisitKind
from tests import factories
from tests.harness import Harness, Person
from tests.test_query_counts import counting
from tests.test_visits import tiny_png

MINUS = "\u2212"


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
def rep(harness: Harness, company: factories.Company) -> Person:
    return harness.person(2001, "Li")


@pytest.fixture
def manager(harness: Harness, company: factories.Company) -> Person:
    return harness.person(5001, "Mia")


async def visit(
    harness: Harness,
    rep: Person,
    customer: str,
    *,
    stock_text: str | None = None,
    feedback: tuple[tuple[str, str], ...] = (),
    photos: int = 0,
) -> str:
    """A guided stock check with the extras given, saved; returns the confirmation."""
    await rep.send(f"/visit {customer}")
    await rep.press("Stock check")
    await rep.send("Counted the shelves")
    for _ in range(photos):  # shared straight from the attachment menu
        await harness.settle(harness.api.message(rep.id, None, photo=tiny_png()))
    if stock_text:
        await rep.press("Stock levels")
        await rep.send(stock_text)
    for topic, text in feedback:
        await rep.press("Market feedback")
        await rep.press(topic)
        await rep.send(text)
    [saved] = await rep.press("Save")
    return saved.plain_text()


async def two_checks(harness: Harness, rep: Person, customer: str = "Acme") -> None:
    """Monday: Product A 8, Cola 12, a photo, price feedback. Tuesday: A 12, Cola 0 (typed in
    full-width capitals: the same product), Tea 5 (new), demand and a second price feedback, two photos."""
    said = await visit(
        harness,
        rep,
        customer,
        stock_text="Product A 8\nCola 330ml 12",
        feedback=(("Price", "Competitor X is 5% cheaper"),),
        photos=1,
    )
    assert "Stock lines: 2" in said and "Photos: 1" in said
    harness.clock.advance(timedelta(days=1))
    said = await visit(
        harness,
        rep,
        customer,
        stock_text="product a 12\nＣＯＬＡ 330ml：0\nTea 5",
        feedback=(("Demand", "Summer demand is up"), ("Price", "Competitor X now 8% cheaper")),
        photos=2,
    )
    assert "Stock lines: 3" in said and "Photos: 2" in said


def sent(harness: Harness, method: str) -> list[Any]:
    return [call for call in harness.api.calls if call.method == method and call.ok]


def photos_in(messages: list[SentMessage]) -> list[SentMessage]:
    return [message for message in messages if message.kind == "photo"]


async def test_the_card_shows_stock_with_changes_feedback_by_topic_and_sends_the_photos(
    harness: Harness, company: factories.Company, rep: Person, manager: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=company.rep, code="AC1")
    await two_checks(harness, rep)
    [card] = await rep.send("/customer Acme")
    text = card.plain_text()
    assert "Stock, latest count of each product · 1 short" in text
    lines = text.splitlines()
    stock_lines = lines[lines.index("📦 Stock, latest count of each product · 1 short") + 1 :][:3]
    # the shortfall first, then by name; "ＣＯＬＡ 330ml" and "Cola 330ml" are one product
    assert stock_lines == [
        f"• ＣＯＬＡ 330ml: 0 ({MINUS}12) ⚠️ out of stock · 2026-11-24",
        "• product a: 12 (+4) · 2026-11-24",
        "• Tea: 5 (first count) · 2026-11-24",
    ]
    assert "💬 Market feedback, latest on each topic" in text
    assert "• Price (2): Competitor X now 8% cheaper — Li Wei, 2026-11-24" in text
    assert "• Demand (1): Summer demand is up — Li Wei, 2026-11-24" in text
    assert text.index("• Price") < text.index("• Demand")  # topics in the order reps choose them
    assert "📷 Photos: 3" in text
    assert card.button_texts()[-1] == "📷 Photos (3)"

    async with harness.db.reading() as session:
        stored = [
            file_id
            for ids in await session.scalars(select(Visit.photo_file_ids).order_by(Visit.id))
            for file_id in ids
        ]
    await rep.press("📷 Photos (3)")
    [album] = sent(harness, "sendMediaGroup")
    assert album.params["chat_id"] == 2001
    media = album.params["media"]
    assert [item["media"] for item in media] == stored[1:] + stored[:1]  # newest visit first
    shown = photos_in(rep.chat)[-3:]
    assert "Acme (AC1)" in shown[0].plain_text() and "The latest 3 of 3 photos" in shown[0].plain_text()
    assert shown[0].plain_text().endswith("2026-11-24 · Li Wei")
    assert shown[2].plain_text() == "2026-11-23 · Li Wei"

    # the manager sees the same card and gets the album in their own chat
    [card] = await manager.send("/customer Acme")
    assert f"ＣＯＬＡ 330ml: 0 ({MINUS}12) ⚠️ out of stock" in card.plain_text()
    await manager.press("📷 Photos (3)")
    assert [call.params["chat_id"] for call in sent(harness, "sendMediaGroup")] == [2001, 5001]
    assert len(photos_in(manager.chat)) == 3


async def test_a_single_photo_is_sent_as_a_photo_and_a_card_without_extras_has_no_section(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=company.rep, code="AC1")
    await factories.customer(harness.db, harness.clock.now(), name="Plain Shop", rep=company.rep, code="PS")
    await visit(harness, rep, "Acme", photos=1)
    [card] = await rep.send("/customer Acme")
    assert "Stock, latest" not in card.plain_text() and "Market feedback" not in card.plain_text()
    await rep.press("📷 Photos (1)")
    assert not sent(harness, "sendMediaGroup")  # an album takes 2 to 10
    [photo] = sent(harness, "sendPhoto")
    assert "The latest 1 of 1 photo" in photo.params["caption"]
    [card] = await rep.send("/customer Plain Shop")
    assert "📷" not in card.plain_text() and not any("Photos" in b for b in card.button_texts())


async def test_the_album_holds_the_latest_ten(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=company.rep, code="AC1")
    await visit(harness, rep, "Acme", photos=7)
    harness.clock.advance(timedelta(hours=2))
    await visit(harness, rep, "Acme", photos=6)
    [card] = await rep.send("/customer Acme")
    assert "📷 Photos: 13" in card.plain_text()
    await rep.press("📷 Photos (13)")
    [album] = sent(harness, "sendMediaGroup")
    async with harness.db.reading() as session:
        first, second = list(await session.scalars(select(Visit.photo_file_ids).order_by(Visit.id)))
    assert [item["media"] for item in album.params["media"]] == second + first[:4]
    assert "The latest 10 of 13 photos" in album.params["media"][0]["caption"]


async def test_an_album_held_back_by_flood_control_arrives_once(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    """Telegram sends an album whole or not at all: a 429 on it, then the retry, show it once."""
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=company.rep, code="AC1")
    await visit(harness, rep, "Acme", photos=3)
    await rep.send("/customer Acme")
    flood = harness.api.api._recent_sends  # the fake Bot API's rolling second: all but two slots taken
    flood.extend([time.monotonic()] * (int(harness.api.api.messages_per_second or 0) - len(flood) - 2))
    await rep.press("📷 Photos (3)")
    assert [call.status for call in harness.api.calls if call.method == "sendMediaGroup"] == [429, 200]
    assert len(photos_in(rep.chat)) == 3


async def test_another_reps_photos_are_not_sent_on_a_forged_press(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    theirs = await factories.customer(
        harness.db, harness.clock.now(), name="Theirs", rep=company.other_rep, code="TH"
    )
    bob = harness.person(2002, "Bob")
    await visit(harness, bob, "Theirs", photos=2, stock_text="Cola 0")
    await rep.send("/help")
    manager = harness.person(5001, "Mia")  # North's manager: Bob is in South
    await manager.send("/help")
    for person, data, refusal in (
        (rep, f"cust:photos:{theirs.id}", "not one of yours"),
        (rep, f"sum:photos:{company.other_rep.id}:w", "figures are for"),
        (manager, f"cust:photos:{theirs.id}", "not one of yours"),
        (manager, f"sum:photos:{company.other_rep.id}:w", "not in your team"),
    ):
        update = harness.api.callback(person.id, person.last.message_id, data)
        await harness.settle(update)
        assert update["callback_query"]["id"] in harness.api.callback_answers
        assert refusal in person.last.plain_text(), data
    assert not sent(harness, "sendMediaGroup") and not sent(harness, "sendPhoto")


async def test_rep_drill_down_shows_the_same_per_rep(
    harness: Harness, company: factories.Company, rep: Person, manager: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=company.rep, code="AC1")
    await factories.customer(harness.db, harness.clock.now(), name="Beta Store", rep=company.rep, code="BS")
    await two_checks(harness, rep)
    await visit(
        harness,
        rep,
        "Beta Store",
        stock_text="Cola 330ml 20",
        feedback=(("Competitor", "Brand Y opened next door"),),
    )

    [shown] = await manager.send("/rep Li week")
    text = shown.plain_text()
    assert "📦 Latest stock counts · 1 short" in text
    assert f"• Acme — ＣＯＬＡ 330ml: 0 ({MINUS}12) ⚠️ out of stock · 2026-11-24" in text
    assert "• Beta Store — Cola 330ml: 20 (first count) · 2026-11-24" in text
    assert "• Acme — product a: 12 (+4) · 2026-11-24" in text
    assert "⚠️ Open stock shortfalls at their customers: 1" in text
    assert "• Acme (AC1) — ＣＯＬＡ 330ml: 0 ⚠️ out of stock · counted 2026-11-24" in text
    assert "💬 Market feedback of the period, latest on each topic" in text
    assert "• Price (2): Competitor X now 8% cheaper — Acme, 2026-11-24" in text
    assert "• Competitor (1): Brand Y opened next door — Beta Store, 2026-11-24" in text
    assert "📷 Photos of the period: 3" in text
    await manager.press("📷 Photos (3)")
    [album] = sent(harness, "sendMediaGroup")
    assert album.params["chat_id"] == 5001
    assert "Li Wei" in album.params["media"][0]["caption"]
    assert album.params["media"][0]["caption"].endswith("2026-11-24 · Acme")

    # the same from /summary's drill-down button; Monday alone ("today" was Monday) holds one price
    await manager.send("/summary week")
    [again] = await manager.press("Li Wei")
    assert again.plain_text() == text
    harness.clock.advance(timedelta(days=-1))
    [monday] = await manager.send("/rep Li today")
    assert "• Price (1): Competitor X is 5% cheaper — Acme, 2026-11-23" in monday.plain_text()
    assert "Demand" not in monday.plain_text()
    assert "• Acme — Cola 330ml: 12 (first count) · 2026-11-23" in monday.plain_text()


async def test_chinese_card_and_drill_down(
    harness: Harness, company: factories.Company, rep: Person, manager: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="华东五金店", rep=company.rep, code="HD01")
    await two_checks(harness, rep, "华东五金店")
    await rep.send("/lang zh")
    [card] = await rep.send("/customer 华东五金店")
    text = card.plain_text()
    assert "📦 库存（各产品最近一次盘点） · 1 项不足" in text
    assert f"• ＣＯＬＡ 330ml: 0 ({MINUS}12) ⚠️ 缺货 · 2026-11-24" in text
    assert "• Tea: 5 (首次盘点) · 2026-11-24" in text
    assert "💬 市场反馈（各主题最新一条）" in text
    assert "• 价格 (2): Competitor X now 8% cheaper — Li Wei, 2026-11-24" in text
    assert card.button_texts()[-1] == "📷 照片（3）"
    await rep.press("📷 照片（3）")
    [album] = sent(harness, "sendMediaGroup")
    assert "最近 3 张，共 3 张照片" in album.params["media"][0]["caption"]

    await manager.send("/lang zh")
    [shown] = await manager.send("/rep Li week")
    text = shown.plain_text()
    assert "📦 最近库存盘点 · 1 项不足" in text
    assert "⚠️ 其客户处未解决的库存不足：1" in text
    assert "• 华东五金店 (HD01) — ＣＯＬＡ 330ml: 0 ⚠️ 缺货 · 盘点于 2026-11-24" in text
    assert "💬 本期市场反馈（各主题最新一条）" in text and "📷 本期照片：3" in text


async def test_the_card_costs_as_many_statements_however_long_the_history(
    harness: Harness, company: factories.Company, rep: Person
) -> None:
    """Stock levels, feedback and photos are one aggregate each: no query per visit or product."""
    shop = await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=company.rep, code="AC1")
    await visit(harness, rep, "Acme", stock_text="Cola 5", feedback=(("Price", "cheap"),), photos=1)
    await rep.send("/customer Acme")  # first use fills the caches
    with counting(harness.db) as statements:
        await rep.send("/customer Acme")
    small = len(statements)
    async with harness.db.transaction() as session:
        for n in range(40):
            at = harness.clock.now() - timedelta(days=n + 1)
            await _visit_with_extras(session, company.rep.id, shop.id, at, n)
    with counting(harness.db) as statements:
        [card] = await rep.send("/customer Acme")
    assert len(statements) == small, statements
    assert "…and 6 more products" in card.plain_text()  # Product 0-14 and Cola: 10 shown
    assert "📷 Photos: 41" in card.plain_text() and "Price (9)" in card.plain_text()


async def _visit_with_extras(
    session: AsyncSession, rep_id: int, customer_id: int, at: datetime, n: int
) -> None:
    row = Visit(
        rep_id=rep_id,
        customer_id=customer_id,
        visited_at=at,
        kind=VisitKind.STOCK_CHECK,
        notes="history",
        source_key=f"hist:{n}",
        created_at=at,
        photo_file_ids=[f"gone-{n}"],
    )
    session.add(row)
    await session.flush()
    session.add_all(
        [
            StockLine(visit_id=row.id, product=f"Product {n % 15}", quantity=n),
            StockLine(visit_id=row.id, product="Cola", quantity=n + 1),
            Feedback(visit_id=row.id, topic=list(FeedbackTopic)[n % 5], text=f"note {n}"),
        ]
    )


async def test_long_names_everywhere_still_fit_one_message(
    harness: Harness, company: factories.Company, manager: Person, rep: Person
) -> None:
    """200-character customers, 120-character products, long feedback on every topic: the card and
    the drill-down are each one message Telegram takes (the drill-down ends "…more in /export")."""
    now = harness.clock.now()
    shops = [
        await factories.customer(
            harness.db, now, name=f"{n} " + "长" * 197, rep=company.rep, code=f"L{n:02d}"
        )
        for n in range(8)
    ]
    async with harness.db.transaction() as session:
        for n, shop in enumerate(shops):
            for k in range(2):
                at = now - timedelta(hours=k + 1)
                row = Visit(
                    rep_id=company.rep.id,
                    customer_id=shop.id,
                    visited_at=at,
                    kind=VisitKind.STOCK_CHECK,
                    notes="笔记" * 500,
                    source_key=f"long:{n}:{k}",
                    created_at=now,
                    photo_file_ids=[],
                )
                session.add(row)
                await session.flush()
                session.add_all(
                    [
                        StockLine(visit_id=row.id, product=f"{p} " + "品" * 115, quantity=k * 9)
                        for p in range(12)
                    ]
                )
                session.add_all(
                    [Feedback(visit_id=row.id, topic=topic, text="意见" * 2000) for topic in FeedbackTopic]
                )
    [card] = await rep.send(f"/customer {shops[0].code}")
    assert "…and 2 more products" in card.plain_text()
    [shown] = await manager.send("/rep Li today")
    assert shown.plain_text().endswith("…more in /export")
    assert "Latest stock counts" in shown.plain_text()
