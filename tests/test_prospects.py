"""New customers (regulations part 4, art. 30, art. 12) through the fake Bot API: a rep registers a
prospect, the manager is told and makes it an active customer or merges it into the customer it
is; a name or phone number the company already has warns before anything is saved.

The form itself (its steps, cancelling, timing out): tests/test_customers.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import func, select, text, update

import handlers.field.new_customer as new_customer_handlers
from bot.db import Database, alembic_config, is_sqlite
from bot.devserver import SentMessage
from bot.services.errors import Invalid
from bot.services.field import prospects
from bot.services.people.access import Caller
from bot.text import phone_key
from models import (
    Allocation,
    AuditLog,
    Base,
    Collection,
    Customer,
    CustomerStatus,
    Outbox,
    PaymentMethod,
    Receivable,
    User,
    Visit,
)
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person


@pytest.fixture
async def people(harness: Harness) -> Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
def li(harness: Harness, people: Company) -> Person:
    return harness.person(2001, "Li")


@pytest.fixture
def mia(harness: Harness, people: Company) -> Person:
    return harness.person(5001, "Mia")


async def speak(harness: Harness, user_id: int, language: str) -> None:
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == user_id).values(language=language))


async def register(
    rep: Person, name: str, phone: str | None = None, address: str | None = None
) -> list[SentMessage]:
    """The whole /newcustomer form (what is not given is skipped); what the last step answered."""
    await rep.send(f"/newcustomer {name}")
    if phone is None:
        await rep.press("跳过" if "跳过" in rep.last.button_texts() else "Skip")
    else:
        await rep.send(phone)
    if address is None:
        await rep.press("跳过" if "跳过" in rep.last.button_texts() else "Skip")
    else:
        await rep.send(address)
    skip = "跳过" if "跳过" in str(rep.last.reply_markup) else "Skip"
    return await rep.send(skip)


async def customer(db: Database, **where: object) -> Customer:
    async with db.reading() as session:
        row = await session.scalar(select(Customer).filter_by(**where))
    assert row is not None, where
    return row


async def audit_actions(db: Database, action: str) -> list[AuditLog]:
    async with db.reading() as session:
        return list(
            await session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )


# -- the new customer report and activation ----------------------------------------------------------


async def test_a_prospect_reaches_the_manager_who_makes_it_an_active_customer(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="North One", rep=people.rep, code="N041")
    await factories.customer(
        harness.db, now - timedelta(days=1), name="North Old", rep=people.rep, code="N007"
    )
    await factories.customer(harness.db, now, name="South One", rep=people.other_rep, code="S900")
    saved = await register(li, "Lakeside Hardware", phone="0571 8888 0000", address="1 Lake Road")
    assert "✅ Saved: Lakeside Hardware is a prospect, code P-261123-1." in saved[0].plain_text()
    assert "Your manager has been told" in saved[0].plain_text()

    await harness.deliver_pushes()
    report = mia.last
    lines = report.plain_text().splitlines()
    assert lines[:5] == [
        "🆕 New customer registered by Li Wei",
        "Lakeside Hardware · prospect P-261123-1",
        "Phone: 0571 8888 0000",
        "Address: 1 Lake Road",
        "",
    ]
    assert report.button_texts() == ["✅ Make active customer", "🔗 Merge into existing"]
    assert harness.api.chat(7001) == []  # North has a manager: the director is not told

    [asked] = await mia.press("✅ Make active customer")
    assert "Make Lakeside Hardware (P-261123-1) an active customer." in asked.plain_text()
    assert asked.button_texts() == ["Use N042"]  # the team's latest code, numbered on
    assert "Another customer has the code n041" in await mia.says("n041")  # whoever has it, any case
    assert "how prospects are numbered" in await mia.says("P-261123-9")
    [grade] = await mia.press("Use N042")
    assert grade.plain_text().splitlines()[:2] == [
        "Code N042. Its grade?",
        "A: visit every 3 days · credit term 60 days · credit limit 200,000.00",
    ]
    assert grade.button_texts() == ["A", "B", "C", "D"]
    [done] = await mia.press("B")
    assert done.plain_text() == (
        "✅ Lakeside Hardware is now an active customer: code N042, grade B.\nLi Wei has been told."
    )

    row = await customer(harness.db, name="Lakeside Hardware")
    assert (row.status, row.code, row.grade, row.rep_id) == (
        CustomerStatus.ACTIVE,
        "N042",
        "B",
        people.rep.id,
    )
    [entry] = await audit_actions(harness.db, "prospect.activate")
    assert entry.actor_id == people.manager.id and entry.entity_id == row.id
    assert entry.before == {"status": "prospect", "code": "P-261123-1", "grade": "C"}
    assert entry.after == {"status": "active", "code": "N042", "grade": "B"}

    await harness.deliver_pushes()
    assert li.last.plain_text() == (
        "✅ Your new customer Lakeside Hardware is now an active customer: code N042, grade B (Mia Manager)."
    )
    card = await li.says("/customer N042")
    assert "Grade B" in card and "prospect" not in card
    # The report's button again: told it is done, nothing changes.
    again = await mia.press("✅ Make active customer", message_id=report.message_id)
    assert "Lakeside Hardware is an active customer already (N042, grade B)." in again[0].plain_text()
    assert len(await audit_actions(harness.db, "prospect.activate")) == 1
    # The day's next prospect is numbered on: P-261123-1 stays the first one's (the rep was told so).
    assert "code P-261123-2." in (await register(li, "Second Shop"))[0].plain_text()


async def test_activation_in_chinese_with_a_typed_code(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    await speak(harness, 5001, "zh")
    await speak(harness, 2001, "zh")
    saved = await register(li, "西湖商店", phone="138 0013 8000")
    assert "✅ 已保存：西湖商店 是潜在客户，编码 P-261123-1。" in saved[0].plain_text()
    assert "已通知你的主管" in saved[0].plain_text()
    await harness.deliver_pushes()
    assert mia.last.plain_text().startswith("🆕 新客户，由 Li Wei 登记\n西湖商店 · 潜在客户 P-261123-1")
    [asked] = await mia.press("✅ 转为正式客户")
    assert "把 西湖商店 (P-261123-1) 转为正式客户。" in asked.plain_text()
    assert asked.button_texts() == ["使用 C0001"]  # no customer code to follow yet
    [grade] = await mia.send("hz-01")
    assert grade.plain_text().startswith("编码 hz-01。客户等级？")
    assert "请点上面的一个等级按钮" in await mia.says("A")
    [done] = await mia.press("A")
    assert done.plain_text() == "✅ 西湖商店 已转为正式客户：编码 hz-01，A 级。\n已通知 Li Wei。"
    await harness.deliver_pushes()
    assert li.last.plain_text() == "✅ 你的新客户 西湖商店 已转为正式客户：编码 hz-01，A 级（Mia Manager）。"
    assert (await customer(harness.db, code="hz-01")).status == CustomerStatus.ACTIVE


async def test_cancel_and_other_teams_change_nothing(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    await register(li, "Corner Shop")
    await harness.deliver_pushes()
    report = mia.last
    await mia.press("✅ Make active customer")
    assert "Stopped: nothing changed." in await mia.says("/cancel")
    assert "didn't understand" in await mia.says("N042")  # the step is over
    await mia.press("🔗 Merge into existing", message_id=report.message_id)
    assert "Stopped: nothing changed." in await mia.says("/cancel")
    prospect = await customer(harness.db, name="Corner Shop")
    assert prospect.status == CustomerStatus.PROSPECT and prospect.code == "P-261123-1"

    # Bob (a South rep), finance and the director press the same buttons on their own chats.
    refusals = {2002: "Your role does not allow this.", 6001: "Your role does not allow this."}
    for who, refusal in refusals.items():
        person = harness.person(who, "Someone")
        await person.says("/help")
        for data in (f"pros:act:{prospect.id}", f"pros:merge:{prospect.id}", f"pros:do:{prospect.id}:1"):
            update = harness.api.callback(who, person.last.message_id, data)
            await harness.settle(update)
            assert refusal in person.last.plain_text(), (who, data)
    async with harness.db.transaction() as session:  # a South manager is refused North's prospect
        factories.user(session, 5002, "Sam South", people.manager.role, people.south, harness.clock.now())
    sam = harness.person(5002, "Sam")
    await sam.says("/help")
    await harness.settle(harness.api.callback(5002, sam.last.message_id, f"pros:act:{prospect.id}"))
    assert "That customer is not one of yours." in sam.last.plain_text()
    assert (await customer(harness.db, name="Corner Shop")).status == CustomerStatus.PROSPECT
    assert await audit_actions(harness.db, "prospect.activate") == []


async def test_with_no_manager_the_director_is_told(harness: Harness, people: Company) -> None:
    bob = harness.person(2002, "Bob")  # South has no manager
    director = harness.person(7001, "Dee")
    await register(bob, "Southern Star")
    await harness.deliver_pushes()
    assert director.last.plain_text().startswith("🆕 New customer registered by Bob South")
    assert harness.api.chat(5001) == []


# -- merging -----------------------------------------------------------------------------------------


async def test_merging_moves_visits_orders_and_money_and_keeps_the_prospect(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    now = harness.clock.now()
    existing = await factories.customer(
        harness.db,
        now - timedelta(days=30),
        name="华东五金店",
        rep=people.rep,
        code="HD01",
        address="杭州市 1 号",
    )
    await register(li, "华东五金", phone="0571 1234 5678")  # not the same name: saved without a warning
    await li.send("/visit P-261123-1: 店主说下月加单")
    await li.send("/order P-261123-1: 1200 INV-P1")
    await li.send("/collect P-261123-1: 500 cash R-1")
    prospect = await customer(harness.db, code="P-261123-1")

    await harness.deliver_pushes()
    [asked] = await mia.press("🔗 Merge into existing")
    assert "Merge 华东五金 (P-261123-1) into which existing customer?" in asked.plain_text()
    assert asked.button_texts() == ["华东五金店 (HD01)"]  # its name contains the prospect's
    [preview] = await mia.press("华东五金店 (HD01)")
    assert preview.plain_text().splitlines() == [
        "Merge 华东五金 (P-261123-1) into 华东五金店 (HD01)?",
        "Moves to HD01: visits 1 · invoices 1 (open 700.00) · collections 1 · requests 0.",
        "P-261123-1 is then closed: kept, marked as merged, never deleted.",
    ]
    [done] = await mia.press("🔗 Merge")
    assert done.plain_text() == (
        "🔗 Merged 华东五金 (P-261123-1) into 华东五金店 (HD01). Moved: visits 1 · "
        "invoices 1 · collections 1 · requests 0.\nLi Wei has been told."
    )

    async with harness.db.reading() as session:
        visits = list(await session.scalars(select(Visit)))
        receivable = await session.scalar(select(Receivable).where(Receivable.invoice_no == "INV-P1"))
        collection = await session.scalar(select(Collection))
        allocation = await session.scalar(select(Allocation))
        merged = await session.get_one(Customer, prospect.id)
        target = await session.get_one(Customer, existing.id)
    assert [v.customer_id for v in visits] == [existing.id]
    assert receivable is not None and collection is not None and allocation is not None
    assert (receivable.customer_id, collection.customer_id) == (existing.id, existing.id)
    assert (allocation.collection_id, allocation.receivable_id, allocation.amount) == (
        collection.id,
        receivable.id,
        Decimal("500.00"),
    )  # the money is as it was, under the customer
    assert (merged.status, merged.merged_into_id, merged.visit_count, merged.last_visit_at) == (
        CustomerStatus.INACTIVE,
        existing.id,
        0,
        None,
    )
    assert target.visit_count == 1 and target.last_visit_at == visits[0].visited_at
    assert (target.phone, target.address) == ("0571 1234 5678", "杭州市 1 号")  # filled where missing only
    [entry] = await audit_actions(harness.db, "prospect.merge")
    assert entry.actor_id == people.manager.id and entry.entity_id == prospect.id
    assert entry.after is not None and entry.after["moved"] == {
        "visits": [visits[0].id],
        "receivables": [receivable.id],
        "collections": [collection.id],
        "approvals": [],
        "returns": [],
        "credit_notes": [],
        "complaints": [],
        "work_plan_customers": [],
    }
    assert [e.entity_id for e in await audit_actions(harness.db, "receivable.move")] == [receivable.id]
    assert [e.entity_id for e in await audit_actions(harness.db, "collection.move")] == [collection.id]

    await harness.deliver_pushes()
    assert li.last.plain_text() == (
        "🔗 Your new customer 华东五金 (P-261123-1) is your customer 华东五金店 (HD01): Mia Manager merged "
        "them. Its visits, orders and collections are now under 华东五金店 (HD01)."
    )
    card = await li.says("/customer HD01")
    assert "Open balance: 700.00" in card and "店主说下月加单" in card
    listed = await li.says("/customers 华东五金")
    assert "HD01" in listed and "P-261123-1" not in listed  # the merged prospect is gone from lists
    assert "No customer matches" in await li.says("/visit P-261123-1: again")
    assert "New customers: 0" in await li.says("/summary today")  # it was a customer already

    # The Merge button again (a second tap, a replay): told it is done, nothing moves twice.
    merge_again = f"pros:do:{prospect.id}:{existing.id}"
    await harness.settle(harness.api.callback(5001, preview.message_id, merge_again))
    assert "华东五金 was merged into 华东五金店 (HD01) already." in mia.last.plain_text()
    assert len(await audit_actions(harness.db, "prospect.merge")) == 1


async def test_merging_by_typed_name_into_another_reps_customer(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        wang = factories.user(session, 2003, "Wang Fang", people.rep.role, people.north, now)
    await factories.customer(harness.db, now, name="Riverside Market", rep=wang, code="RM7")
    await factories.customer(harness.db, now, name="Riverside Café", rep=wang, code="RC8")
    await register(li, "The Riverside Shop")
    await harness.deliver_pushes()
    [asked] = await mia.press("🔗 Merge into existing")
    # Offered by the longest word of the name; the manager may type instead.
    assert set(asked.button_texts()) == {"Riverside Market (RM7)", "Riverside Café (RC8)"}
    [which] = await mia.send("riverside")
    assert "Several customers match riverside" in which.plain_text()
    assert set(which.button_texts()) == {"Riverside Market (RM7)", "Riverside Café (RC8)"}
    assert "That is the new customer itself" in await mia.says("P-261123-1")
    [preview] = await mia.send("rm7")
    assert "Merge The Riverside Shop (P-261123-1) into Riverside Market (RM7)?" in preview.plain_text()
    await mia.press("🔗 Merge")
    await harness.deliver_pushes()
    told = li.last.plain_text()
    assert "is a customer the company already has, looked after by someone else: Mia Manager merged" in told
    assert "Riverside Market" not in told and "RM7" not in told  # not Li's customer: not named to her


async def test_cancel_on_the_preview_merges_nothing(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    await factories.customer(harness.db, harness.clock.now(), name="Old Mill", rep=people.rep, code="OM1")
    await register(li, "Old Mill Two")
    await harness.deliver_pushes()
    await mia.press("🔗 Merge into existing")
    await mia.send("OM1")
    [stopped] = await mia.press("Cancel")
    assert stopped.plain_text() == "Stopped: nothing was merged."
    assert (await customer(harness.db, name="Old Mill Two")).status == CustomerStatus.PROSPECT
    assert await audit_actions(harness.db, "prospect.merge") == []


def test_a_merge_moves_every_table_that_refers_to_customers() -> None:
    """A new table naming a customer must be moved by a merge too (or its rows stay behind)."""
    referring = {
        (fk.parent.table.name, fk.parent.name)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "customers"
    }
    moved = {
        (model.__tablename__, "customer_id")
        for model in (
            *prospects.MOVED_ON_MERGE,
            *(model for model, _ in prospects.LISTED_ONCE_PER),
            *prospects.KEPT_FROM_MOVED_ROWS,
        )
    }
    assert referring == moved | {("customers", "merged_into_id")}


# -- duplicates --------------------------------------------------------------------------------------


async def test_the_same_name_in_another_case_or_width_warns_before_saving(
    harness: Harness, people: Company, li: Person
) -> None:
    await factories.customer(
        harness.db, harness.clock.now(), name="ＡＢＣ Trading", rep=people.rep, code="AB1"
    )
    warned = await register(li, "abc   TRADING")
    assert warned[0].plain_text() == (
        "⚠️ Not saved yet: the company already has a customer with this name "
        "or phone number.\n• ＡＢＣ Trading (AB1): same name"
    )
    assert warned[0].reply_markup == {"remove_keyboard": True}
    assert warned[1].plain_text() == "Save abc TRADING as a new customer anyway?"
    assert warned[1].button_texts() == ["Save anyway", "Cancel"]
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1  # nothing saved yet
    assert "Press Save anyway or Cancel" in await li.says("hello")
    saved = await li.press("Save anyway")
    assert saved[0].buttons() == []  # the pressed buttons are gone
    assert "✅ Saved: abc TRADING is a prospect, code P-261123-1." in saved[1].plain_text()
    assert (await customer(harness.db, code="P-261123-1")).name == "abc TRADING"
    mia = harness.person(5001, "Mia")
    await harness.deliver_pushes()  # the manager's report says what it may be
    assert "⚠️ Same name or phone number as ＡＢＣ Trading (AB1)" in mia.last.plain_text()
    update = harness.api.callback(2001, saved[0].message_id, "newc:save")  # a second tap, or a replay
    await harness.settle(update)
    assert "expired" in harness.api.callback_answers[update["callback_query"]["id"]]["text"]
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 2


async def test_the_same_phone_of_another_reps_customer_warns_without_naming_it(
    harness: Harness, people: Company, li: Person
) -> None:
    await factories.customer(
        harness.db,
        harness.clock.now(),
        name="Bob's Secret Shop",
        rep=people.other_rep,
        code="SEC1",
        phone="+86 138 0013 8000",
    )
    warned = await register(li, "New Place", phone="138-0013-8000")
    text = warned[0].plain_text()
    assert "• a customer someone else looks after: same phone number" in text
    assert "Secret" not in text and "SEC1" not in text and "Bob" not in text
    stopped = (await li.press("Cancel"))[-1]
    assert "Stopped: New Place was not saved." in stopped.plain_text()
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1
    assert "nothing to cancel" in await li.says("/cancel")


async def test_a_duplicate_in_chinese(harness: Harness, people: Company, li: Person) -> None:
    await factories.customer(
        harness.db, harness.clock.now(), name="西湖 商店", rep=people.rep, code="XH1", phone="021 5555 1234"
    )
    await speak(harness, 2001, "zh")
    warned = await register(li, "西湖商店", phone="+86 21 5555 1234")  # another name: the phone matches
    assert warned[0].plain_text() == (
        "⚠️ 尚未保存：公司已有同名或同电话号码的客户。\n• 西湖 商店 (XH1)：电话号码相同"
    )
    assert warned[1].button_texts() == ["仍然保存", "取消"]
    stopped = await li.press("取消")
    assert "已停止：西湖商店 未保存。" in stopped[-1].plain_text()
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_merged_and_inactive_customers_are_not_duplicates(
    harness: Harness, people: Company, li: Person
) -> None:
    await factories.customer(
        harness.db,
        harness.clock.now(),
        name="Gone Shop",
        rep=people.rep,
        code="G1",
        status=CustomerStatus.INACTIVE,
    )
    saved = await register(li, "Gone Shop")
    assert "✅ Saved: Gone Shop is a prospect" in saved[0].plain_text()


def test_phone_keys_are_the_digits_dialled_at_home() -> None:
    assert phone_key("+86 138 0013 8000") == phone_key("138-0013-8000") == "13800138000"
    assert phone_key("(021) 5555 1234") == phone_key("+86 21 5555 1234") == phone_key("0086 21 5555 1234")
    assert phone_key("１３８ ００１３ ８０００") == "13800138000"
    assert phone_key("+1 415 555 0100") == "14155550100"
    assert phone_key("ext 12") is None and phone_key(None) is None


# -- the service, directly -----------------------------------------------------------------------------


async def test_the_same_update_registers_once_and_tells_the_manager_once(db: Database) -> None:
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    people = await factories.company(db, now)
    rep = Caller.of(people.rep, "en")
    given = prospects.with_phone(prospects.details("Twice Told"), "021 5555 1234")
    for _ in range(2):
        async with db.transaction() as session:
            registered = await prospects.register(
                session, rep, given, now=now, zone=ZONE, source_key="msg:2001:77", check_duplicates=True
            )
        assert registered.ref is not None and registered.ref.code == "P-261123-1"
        assert registered.duplicates is None  # never a duplicate of itself
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1
        pushes = list(await session.scalars(select(Outbox.dedup_key)))
    assert pushes == [f"prospect:{registered.ref.id}:{people.manager.id}"]


async def test_the_migration_keys_the_phones_already_stored(db: Database, database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0021")
    try:
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO customers (code, code_key, name, name_key, grade, status, phone, "
                    "created_at, visit_count) VALUES "
                    "('OLD1', 'old1', 'Old', 'old', 'C', 'active', '+86 21 5555 1234', :at, 0), "
                    "('OLD2', 'old2', 'Older', 'older', 'C', 'active', NULL, :at, 0)"
                ),
                {"at": datetime(2026, 1, 1, tzinfo=None if is_sqlite(db.url) else UTC)},
            )
    finally:
        await asyncio.to_thread(command.upgrade, config, "heads")
    async with db.reading() as session:
        keys = dict((await session.execute(select(Customer.code, Customer.phone_key))).all())
    assert keys == {"OLD1": "02155551234", "OLD2": None}


def test_a_customer_code_is_one_line_and_never_a_prospects() -> None:
    assert prospects.clean_code("  HD\u202e 042 ") == "HD 042"
    for bad in (" " * 3, "X" * 41, "p-261123-4"):
        with pytest.raises(Invalid):
            prospects.clean_code(bad)


async def test_a_form_begun_before_the_upgrade_ends_politely(
    harness: Harness, people: Company, li: Person
) -> None:
    """A form an older version began kept only the prospect's id (saved as it went): the next answer
    says the form was lost and ends it, rather than answering every message with that."""
    await li.send("/newcustomer Begun Before")
    data = harness.app.user_data[2001]
    data.pop(new_customer_handlers.DRAFT_KEY)
    data[new_customer_handlers.OLD_PROSPECT_KEY] = 41
    said = await li.send("021 5555 1234")
    assert "I lost track of the new customer; send /newcustomer again." in said[0].plain_text()
    assert "didn't understand" in await li.says("021 5555 1234")  # the form is over
    assert "New customer: Again" in await li.says("/newcustomer Again")
    assert new_customer_handlers.OLD_PROSPECT_KEY not in harness.app.user_data[2001]


async def test_money_paid_ahead_moves_with_its_collection(
    harness: Harness, people: Company, li: Person, mia: Person
) -> None:
    """A prospect paid before anything was invoiced: that credit is the customer's after the merge,
    and settles at once what the customer owes."""
    shop = await factories.customer(
        harness.db, harness.clock.now(), name="Paid Ahead Ltd", rep=people.rep, code="PA1"
    )
    owed = await factories.receivable(
        harness.db,
        harness.clock.now(),
        customer=shop,
        amount="200.00",
        issued_on=harness.clock.now().date(),
        due_on=harness.clock.now().date(),
        invoice_no="PA-INV-1",
    )
    await register(li, "Paid Ahead")
    prospect = await customer(harness.db, code="P-261123-1")
    async with harness.db.transaction() as session:  # paid, nothing invoiced yet: all of it is credit
        now = harness.clock.now()
        session.add(
            Collection(
                rep_id=people.rep.id,
                customer_id=prospect.id,
                amount=Decimal("300.00"),
                method=PaymentMethod.TRANSFER,
                received_at=now,
                handed_in_at=now,
                recorded_by=people.rep.id,
                source_key="test:ahead",
                created_at=now,
            )
        )
    await harness.deliver_pushes()
    await mia.press("🔗 Merge into existing")
    await mia.press("Paid Ahead Ltd (PA1)")
    await mia.press("🔗 Merge")
    async with harness.db.reading() as session:
        credit = dict((await session.execute(select(Customer.code, Customer.credit))).all())
    assert credit == {"PA1": Decimal("100.00"), "P-261123-1": Decimal("0.00")}
    async with harness.db.reading() as session:
        assert await session.scalar(select(Receivable.open_amount).where(Receivable.id == owed.id)) == 0
    assert (await customer(harness.db, id=shop.id)).status == CustomerStatus.ACTIVE
