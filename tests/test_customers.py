"""/customers, /customer and /newcustomer, driven through the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import handlers.field.new_customer as new_customer_handlers
from bot.db import Database
from bot.devserver import SentMessage
from bot.services.field import customers as customer_service
from bot.services.people.access import Caller
from models import AuditLog, Customer, CustomerStatus, User, Visit, VisitKind
from tests import factories
from tests.factories import Company
from tests.harness import Harness, Person


async def visit(
    db: Database, customer: Customer, rep: User, at: datetime, notes: str, kind: VisitKind = VisitKind.VISIT
) -> None:
    """A visit written straight to the database, keeping the customer's last visit in step."""
    async with db.transaction() as session:
        session.add(
            Visit(
                rep_id=rep.id,
                customer_id=customer.id,
                visited_at=at,
                kind=kind,
                notes=notes,
                source_key=f"test:visit:{customer.id}:{at.isoformat()}",
                created_at=at,
            )
        )
        row = await session.get_one(Customer, customer.id)
        if row.last_visit_at is None or row.last_visit_at < at:
            row.last_visit_at = at


async def customer_rows(db: Database, **where: object) -> list[Customer]:
    async with db.reading() as session:
        return list(await session.scalars(select(Customer).filter_by(**where).order_by(Customer.id)))


def buttons(message: SentMessage) -> dict[str, str]:
    return {b["text"]: b.get("callback_data", "") for row in message.buttons() for b in row}


@pytest.fixture
async def people(harness: Harness) -> Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
def rep(harness: Harness, people: Company) -> Person:
    return harness.person(2001, "Li")


# -- /customers ---------------------------------------------------------------------------------


async def test_list_pages_with_buttons_and_marks_who_is_due(
    harness: Harness, people: Company, rep: Person
) -> None:
    now = harness.clock.now()
    recent = await factories.customer(harness.db, now, name="Aa Recent", rep=people.rep, grade="A")
    await visit(harness.db, recent, people.rep, now - timedelta(days=1), "ok")
    overdue = await factories.customer(harness.db, now, name="Ab Overdue", rep=people.rep, grade="A")
    await visit(harness.db, overdue, people.rep, now - timedelta(days=9), "old")
    for n in range(18):
        await factories.customer(
            harness.db, now, name=f"Shop {n:02d}", rep=people.rep, last_visit_at=now - timedelta(days=3)
        )
    await factories.customer(harness.db, now, name="Not Mine", rep=people.other_rep)

    [page] = await rep.send("/customers")
    text = page.plain_text()
    assert "Your customers: 20" in text and "Not Mine" not in text
    lines = text.splitlines()
    assert next(line for line in lines if "Aa Recent" in line).endswith("A · visited yesterday")
    assert next(line for line in lines if "Ab Overdue" in line).startswith("⏰ Ab Overdue")
    assert "visited 9 days ago" in text and "⏰ = due for a visit" in text
    assert not any("Aa Recent" in line and "⏰" in line for line in lines)
    assert "Shop 12" in text and "Shop 13" not in text  # 15 a page, by name
    assert "/customer CODE" in text
    assert buttons(page) == {"1/2": "cust:all:1", "Next ›": "cust:all:2"}

    [second] = await rep.press("Next ›")
    assert second.message_id == page.message_id and second.edits == 1
    assert "Shop 13" in second.plain_text() and "Shop 17" in second.plain_text()
    assert "Aa Recent" not in second.plain_text()
    assert "‹ Previous" in buttons(second)
    await rep.press("2/2")  # the same page again: nothing to change, still answered


async def test_search_by_chinese_substring_keeps_the_search_across_pages(
    harness: Harness, people: Company, rep: Person
) -> None:
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="华东五金店", rep=people.rep)
    for n in range(16):
        await factories.customer(harness.db, now, name=f"五金批发 {n:02d}", rep=people.rep)
    await factories.customer(harness.db, now, name="北京文具", rep=people.rep)
    await factories.customer(harness.db, now, name="南方五金城", rep=people.other_rep)

    [found] = await rep.send("/customers 五金")
    text = found.plain_text()
    assert "Customers matching 五金: 17" in text
    assert "北京文具" not in text and "南方五金城" not in text
    next_data = buttons(found)["Next ›"]
    assert next_data.startswith("cust:find:") and len(next_data.encode()) <= 64
    [second] = await rep.press("Next ›")
    assert "Customers matching 五金: 17" in second.plain_text()
    assert "华东五金店" in second.plain_text() and "北京文具" not in second.plain_text()

    assert "华东五金店" in await rep.says("/customers 华东")
    assert "No customer matches 西湖" in await rep.says("/customers 西湖")


async def test_a_long_search_text_still_fits_the_button(
    harness: Harness, people: Company, rep: Person
) -> None:
    now = harness.clock.now()
    long_name = "非常非常长的客户名称" * 3
    for n in range(16):
        await factories.customer(harness.db, now, name=f"{long_name}{n:02d}", rep=people.rep)
    [found] = await rep.send(f"/customers {long_name}")
    assert len(buttons(found)["Next ›"].encode()) <= 64
    [second] = await rep.press("Next ›")
    assert f"{long_name}15" in second.plain_text()


async def test_a_search_forgotten_since_says_so(harness: Harness, people: Company, rep: Person) -> None:
    now = harness.clock.now()
    for n in range(16):
        await factories.customer(harness.db, now, name=f"Shop {n:02d}", rep=people.rep)
    await rep.send("/customers shop")
    harness.app.user_data[2001].clear()  # as after a restart: in-memory user data is gone
    await rep.press("Next ›")
    answer = [call for call in harness.api.calls if call.method == "answerCallbackQuery"][-1]
    assert "expired" in answer.params.get("text", "")


async def test_managers_see_their_team_and_director_sees_all(harness: Harness, people: Company) -> None:
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="North Shop", rep=people.rep)
    await factories.customer(harness.db, now, name="South Shop", rep=people.other_rep)
    manager = harness.person(5001, "Mia")
    said = await manager.says("/customers")
    assert "Your team's customers: 1" in said and "North Shop" in said and "South Shop" not in said
    assert "No customer matches South Shop" in await manager.says("/customer South Shop")
    director = harness.person(7001, "Dee")
    said = await director.says("/customers")
    assert "All customers: 2" in said and "South Shop" in said


async def test_a_rep_without_customers_is_told_how_to_add_one(
    harness: Harness, people: Company, rep: Person
) -> None:
    assert "You have no customers yet" in await rep.says("/customers")


# -- /customer ----------------------------------------------------------------------------------


async def test_card_of_a_hostile_name_with_balances_credit_and_last_visits(
    harness: Harness, people: Company, rep: Person
) -> None:
    now, today = harness.clock.now(), harness.clock.today()
    muller = await factories.customer(
        harness.db,
        now,
        name="<Müller & Söhne>",
        rep=people.rep,
        code="M&S-1",
        grade="B",
        phone="+86 21 5555 0000",
        address="1 <Main> St & Co",
        latitude=31.2304,
        longitude=121.4737,
    )
    old = await factories.receivable(
        harness.db,
        now,
        customer=muller,
        amount="10000.00",
        issued_on=today - timedelta(days=60),
        due_on=today - timedelta(days=15),
    )
    await factories.receivable(
        harness.db, now, customer=muller, amount="5000.00", issued_on=today, due_on=today + timedelta(days=45)
    )
    await factories.payment(harness.db, now, receivable=old, amount="2500.00", rep=people.rep)
    for days, kind, notes in (
        (20, VisitKind.CALL, "first"),
        (10, VisitKind.STOCK_CHECK, "<b>low</b> stock\nmore"),
        (5, VisitKind.VISIT, ""),
        (3, VisitKind.VISIT, "Ordered & paid\nsecond line"),
    ):
        await visit(harness.db, muller, people.rep, now - timedelta(days=days), notes, kind)

    [card] = await rep.send("/customer müller")
    text = card.plain_text()
    assert text.startswith("<Müller & Söhne> · M&S-1")
    assert "Grade B" in text and "Rep: Li Wei" in text
    assert "Phone: +86 21 5555 0000" in text and "Address: 1 <Main> St & Co" in text
    assert f"Last visit: {today - timedelta(days=3)} (visited 3 days ago)" in text
    assert f"Next visit due: {today + timedelta(days=4)}" in text  # grade B: every 7 days
    assert "Open balance: 12,500.00 · overdue: 7,500.00" in text
    assert "Credit used: 12,500.00 of 100,000.00 (13%), term 45 days" in text
    visits = text.split("Last visits:")[1].strip().splitlines()
    assert visits == [
        f"• {today - timedelta(days=3)} · on-site visit · Ordered & paid",
        f"• {today - timedelta(days=5)} · on-site visit",
        f"• {today - timedelta(days=10)} · dealer stock check · <b>low</b> stock",
    ]
    assert buttons(card) == {
        "Visit": f"visit:start:{muller.id}",
        "Collect": f"collect:start:{muller.id}",
        "Order": f"order:start:{muller.id}",
    }


async def test_card_of_a_prospect_never_visited_with_cash_only_terms(
    harness: Harness, people: Company, rep: Person
) -> None:
    now, today = harness.clock.now(), harness.clock.today()
    await factories.customer(
        harness.db,
        now,
        name="Cash Corner",
        rep=people.rep,
        code="CASH",
        status=CustomerStatus.PROSPECT,
        credit_limit=0,
        credit_days=0,
    )
    text = await rep.says("/customer cash")
    assert "Grade C · prospect" in text and "Last visit: never" in text
    assert f"Next visit due: {today} (today)" in text
    assert "Open balance: 0.00 · overdue: 0.00" in text
    assert "Credit: cash only (limit 0); 0.00 open" in text
    assert "Last visits" not in text


async def test_ambiguous_name_offers_buttons_then_the_card(
    harness: Harness, people: Company, rep: Person
) -> None:
    now = harness.clock.now()
    shop = await factories.customer(harness.db, now, name="华东五金店", rep=people.rep, code="HD1")
    city = await factories.customer(harness.db, now, name="华东五金城", rep=people.rep, code="HD2")
    await factories.customer(harness.db, now, name="华东五金仓", rep=people.other_rep, code="HD3")
    [question] = await rep.send("/customer 华东五金")
    assert "Several customers match 华东五金" in question.plain_text()
    assert buttons(question) == {
        "华东五金城 (HD2)": f"cust:card:{city.id}",
        "华东五金店 (HD1)": f"cust:card:{shop.id}",
    }
    [card] = await rep.press("华东五金店 (HD1)")
    assert card.message_id == question.message_id
    assert card.plain_text().startswith("华东五金店 · HD1")
    assert "Visit" in buttons(card)


async def test_another_reps_customer_is_not_shown(harness: Harness, people: Company, rep: Person) -> None:
    now = harness.clock.now()
    theirs = await factories.customer(harness.db, now, name="Bob's Best", rep=people.other_rep, code="BB1")
    said = await rep.says("/customer Bob's Best")
    assert "No customer matches Bob's Best" in said and "BB1" not in said
    assert "No customer matches bb1" in await rep.says("/customer bb1")
    # A forged button press for their customer is refused too.
    await harness.settle(harness.api.callback(2001, rep.last.message_id, f"cust:card:{theirs.id}"))
    assert "Bob's Best" not in rep.last.plain_text()
    assert "not one of yours" in rep.last.plain_text()


async def test_finance_sees_the_card_without_field_buttons(harness: Harness, people: Company) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Audit Me", rep=people.rep)
    finance = harness.person(6001, "Fay")
    [card] = await finance.send("/customer audit me")
    assert "Audit Me" in card.plain_text() and card.buttons() == []


async def test_customer_without_a_name_explains_usage(harness: Harness, people: Company, rep: Person) -> None:
    assert "Usage: /customer NAME or CODE" in await rep.says("/customer")


async def test_card_in_chinese(harness: Harness, people: Company) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="华东五金店", rep=people.rep)
    li = harness.person(2001, "Li")
    await li.send("/lang zh")
    [card] = await li.send("/customer 五金")
    assert "等级 C" in card.plain_text() and "上次拜访：从未" in card.plain_text()
    assert set(buttons(card)) == {"拜访", "收款", "下单"}


# -- /newcustomer -------------------------------------------------------------------------------
# The manager's side (the new customer report, activating, merging) and duplicates: test_prospects.py.


def reply_keyboard(message: SentMessage) -> dict[str, object]:
    return message.reply_markup or {}


async def test_new_customer_with_phone_address_and_location(
    harness: Harness, people: Company, rep: Person
) -> None:
    [asked] = await rep.send("/newcustomer 西湖 <新> 商店")
    assert "New customer: 西湖 <新> 商店. Nothing is saved until the last step" in asked.plain_text()
    assert "phone number" in asked.plain_text() and "Skip" in buttons(asked)
    assert await customer_rows(harness.db) == []  # nothing written yet

    assert "not look like a phone number" in await rep.says("call me maybe")
    assert "address" in await rep.says("138 0013 8000")
    [where] = await rep.send("杭州市 西湖区 1 号")
    keyboard = reply_keyboard(where)["keyboard"]
    assert keyboard[0][0]["request_location"] is True and keyboard[1][0]["text"] == "Skip"  # type: ignore[index]
    assert "Share your location" in await rep.says("somewhere")
    assert await customer_rows(harness.db) == []

    done = await rep.send(None, location=(30.2741, 120.1551))  # type: ignore[arg-type]
    assert "✅ Saved: 西湖 <新> 商店 is a prospect, code P-261123-1." in done[0].plain_text()
    assert "Your manager has been told" in done[0].plain_text()
    assert reply_keyboard(done[0]) == {"remove_keyboard": True}
    card = done[1].plain_text()
    assert "西湖 <新> 商店 · P-261123-1" in card and "prospect" in card
    assert "Phone: 138 0013 8000" in card and "Address: 杭州市 西湖区 1 号" in card
    assert "Location: 30.27410, 120.15510" in card and "Visit" in buttons(done[1])
    assert "Make active customer" not in str(buttons(done[1]))  # a rep does not review their own

    [saved] = await customer_rows(harness.db)
    assert (saved.status, saved.rep_id, saved.team_id, saved.code) == (
        CustomerStatus.PROSPECT,
        people.rep.id,
        people.north.id,
        "P-261123-1",
    )
    assert (saved.phone, saved.phone_key, saved.address, saved.latitude, saved.longitude) == (
        "138 0013 8000",
        "13800138000",
        "杭州市 西湖区 1 号",
        30.2741,
        120.1551,
    )
    async with harness.db.reading() as session:
        audit = await session.scalar(select(AuditLog).where(AuditLog.action == "register_prospect"))
    assert audit is not None and audit.actor_id == people.rep.id and audit.entity_id == saved.id
    assert audit.after is not None and audit.after["phone"] == "138 0013 8000"
    assert "didn't understand" in await rep.says("more text")  # the form is over


async def test_new_customer_asks_the_name_and_everything_can_be_skipped(
    harness: Harness, people: Company
) -> None:
    await factories.customer(
        harness.db, harness.clock.now(), name="Imported", rep=people.rep, code="p-261123-7"
    )
    manager = harness.person(5001, "Mia")
    assert "name?" in await manager.says("/newcustomer")
    assert "New customer: Corner Shop" in await manager.says("Corner Shop")
    skipped, address = await manager.press("Skip")
    assert "phone number" in skipped.plain_text() and skipped.buttons() == []  # its Skip is gone
    assert "address" in address.plain_text()
    _, location = await manager.press("Skip")
    assert "location" in location.plain_text()
    done = await manager.send("Skip")
    assert "Saved: Corner Shop is a prospect, code P-261123-8" in done[0].plain_text()
    assert reply_keyboard(done[0]) == {"remove_keyboard": True}
    # A manager reviews it at once: the review buttons come with the card, nobody is pushed.
    assert {"✅ Make active customer", "🔗 Merge into existing", "Visit"} <= set(buttons(done[1]))
    [shop] = await customer_rows(harness.db, name="Corner Shop")
    assert (shop.phone, shop.address, shop.latitude, shop.rep_id, shop.team_id) == (
        None,
        None,
        None,
        people.manager.id,
        people.north.id,
    )
    await harness.deliver_pushes()
    assert harness.api.chat(7001) == []


async def test_cancel_saves_nothing(harness: Harness, people: Company, rep: Person) -> None:
    await rep.send("/newcustomer Half Done")
    await rep.send("021 5555 1234")
    said = await rep.send("/cancel")
    assert "Stopped: Half Done was not saved." in said[0].plain_text()
    assert reply_keyboard(said[0]) == {"remove_keyboard": True}
    assert await customer_rows(harness.db) == []
    assert "nothing to cancel" in await rep.says("/cancel")
    assert "name?" in await rep.says("/newcustomer")
    assert "Stopped: nothing was saved." in await rep.says("/cancel")
    # ... and at the last step, with the location keyboard up
    await rep.send("/newcustomer Almost There")
    await rep.press("Skip")
    await rep.press("Skip")
    said = await rep.send("/cancel")
    assert "Almost There was not saved" in said[0].plain_text()
    assert reply_keyboard(said[0]) == {"remove_keyboard": True}
    assert await customer_rows(harness.db) == []
    async with harness.db.reading() as session:
        assert await session.scalar(select(AuditLog).where(AuditLog.action == "register_prospect")) is None


async def test_newcustomer_again_restarts_the_form(harness: Harness, people: Company, rep: Person) -> None:
    await rep.send("/newcustomer First")
    assert "New customer: Second" in await rep.says("/newcustomer Second")
    await rep.send("0571 8888 0000")
    await rep.press("Skip")
    assert "code P-261123-1" in await rep.says("Skip")
    [second] = await customer_rows(harness.db)
    assert second.name == "Second" and second.phone == "0571 8888 0000"


async def test_another_command_closes_the_form(harness: Harness, people: Company, rep: Person) -> None:
    await rep.send("/newcustomer Interrupted")
    closed = await rep.says("/customers")
    assert "The new customer form is closed: Interrupted was not saved." in closed
    assert "didn't understand" in await rep.says("0571 8888 0000")
    assert await customer_rows(harness.db) == []


async def test_the_form_in_chinese(harness: Harness, people: Company, rep: Person) -> None:
    await rep.send("/lang zh")
    assert "新客户：新店。" in await rep.says("/newcustomer 新店")
    await rep.press("跳过")
    where = (await rep.press("跳过"))[-1]
    assert reply_keyboard(where)["keyboard"][1][0]["text"] == "跳过"  # type: ignore[index]
    done = await rep.send("跳过")
    assert "✅ 已保存：新店 是潜在客户，编码 P-261123-1。" in done[0].plain_text()
    assert "潜在客户" in done[1].plain_text()


async def test_a_redelivered_last_step_registers_one_prospect(
    harness: Harness, people: Company, rep: Person
) -> None:
    await rep.send("/newcustomer Twice Told")
    await rep.press("Skip")
    await rep.press("Skip")
    update = harness.api.message(2001, "Skip", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    [shop] = await customer_rows(harness.db)
    assert shop.name == "Twice Told" and shop.code == "P-261123-1"
    answers = [m.plain_text() for m in rep.chat if "Saved:" in m.plain_text()]
    assert len(answers) == 1 and "P-261123-1" in answers[0]


async def test_finance_cannot_register_prospects(harness: Harness, people: Company) -> None:
    finance = harness.person(6001, "Fay")
    assert "Your role does not allow this." in await finance.says("/newcustomer Shop")
    assert await customer_rows(harness.db) == []


async def skip_to_the_end(rep: Person, name: str) -> str:
    await rep.send(f"/newcustomer {name}")
    await rep.press("Skip")
    await rep.press("Skip")
    return await rep.says("Skip")


async def test_codes_follow_the_company_day(harness: Harness, people: Company, rep: Person) -> None:
    harness.clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=harness.clock.zone))
    assert "P-261123-1" in await skip_to_the_end(rep, "Late One")
    harness.clock.advance(timedelta(hours=1))
    assert "P-261124-1" in await skip_to_the_end(rep, "Early One")
    assert date(2026, 11, 24) == harness.clock.today()


@pytest.fixture
def short_form_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(new_customer_handlers, "FORM_TIMEOUT", timedelta(seconds=0.3))
    yield


async def test_an_abandoned_form_times_out_and_saves_nothing(
    short_form_timeout: None, harness: Harness, people: Company, rep: Person
) -> None:
    await rep.send("/newcustomer Walked Away")
    await rep.press("Skip")
    await rep.press("Skip")
    await harness.api.wait_for(
        2001,
        method="sendMessage",
        timeout=5,
        predicate=lambda call: "timed out" in str(call.params.get("text")),
    )
    assert "Walked Away was not saved" in rep.last.plain_text()
    assert reply_keyboard(rep.last) == {"remove_keyboard": True}
    assert "didn't understand" in await rep.says("hello?")
    assert await customer_rows(harness.db) == []


async def test_a_prospect_code_taken_meanwhile_is_not_reused(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reps registering at the same instant: the loser of the race takes the next number."""
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    people = await factories.company(db, now)
    await factories.customer(db, now, name="Raced", rep=people.other_rep, code="P-261123-1")
    offered = iter(["P-261123-1", "P-261123-2"])

    async def stale_code(session: AsyncSession, today: date, zone: ZoneInfo) -> str:
        return next(offered)  # the first answer was computed before the other rep's commit

    monkeypatch.setattr(customer_service, "next_prospect_code", stale_code)
    async with db.transaction() as session:
        prospect = await customer_service.register_prospect(
            session,
            Caller.of(people.rep, "en"),
            "Winner",
            now=now,
            zone=ZoneInfo("Asia/Shanghai"),
            source_key="msg:2001:77",
        )
    assert prospect.created and prospect.ref.code == "P-261123-2"
    assert [c.code for c in await customer_rows(db)] == ["P-261123-1", "P-261123-2"]
