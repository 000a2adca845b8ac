"""Corrections with a second look: /reverse previews and confirms, orders have a 10-minute Undo.

Through the fake Bot API as the manager, finance, the director and the rep: a reversal is shown
before it is written, written once whatever is pressed, and the rep whose collection it was is
told; an order undone is voided (never deleted) and leaves balances, /overdue, the summary and
the export's figures.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.i18n import Translator
from bot.services.money import payment_methods
from bot.services.money.ledger import balance
from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import parse_period
from models import (
    Approval,
    ApprovalStatus,
    AuditLog,
    Collection,
    Customer,
    Outbox,
    PaymentMethod,
    Receivable,
    User,
)
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person
from tests.test_exports import open_book, records, summary_of

TODAY = date(2026, 11, 23)


# -- helpers -----------------------------------------------------------------------------------------


async def setup(harness: Harness) -> tuple[Company, Customer]:
    """The company, and Acme (Li Wei's, North) owing 3,000 (overdue) and 4,000 (not yet due)."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    acme = await factories.customer(harness.db, now, name="Acme Trading", rep=people.rep, code="ACME")
    await factories.receivable(
        harness.db,
        now,
        customer=acme,
        amount="3000.00",
        invoice_no="INV-OLD",
        issued_on=TODAY - timedelta(60),
        due_on=TODAY - timedelta(30),
    )
    await factories.receivable(
        harness.db,
        now,
        customer=acme,
        amount="4000.00",
        invoice_no="INV-NEW",
        issued_on=TODAY - timedelta(10),
        due_on=TODAY + timedelta(20),
    )
    return people, acme


async def rows(harness: Harness, model: type) -> list:  # type: ignore[type-arg]
    async with harness.db.reading() as session:
        return list(await session.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]


async def open_balance(harness: Harness, customer: Customer, today: date = TODAY) -> Decimal:
    async with harness.db.reading() as session:
        return (await balance(session, customer.id, today)).open


async def audits(harness: Harness, action: str) -> list[AuditLog]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(AuditLog).where(AuditLog.action == action)))


def answer(harness: Harness, update: dict[str, object]) -> str | None:
    query = update["callback_query"]
    assert isinstance(query, dict)
    return harness.api.callback_answers[query["id"]].get("text")


async def speaks(harness: Harness, person: User, language: str) -> None:
    async with harness.db.transaction() as session:
        (await session.get_one(User, person.id)).language = language


async def collected(harness: Harness, rep: Person, line: str) -> Collection:
    said = await rep.says(line)
    if "Record it?" in said:  # more than the customer owes: kept as credit once confirmed
        said = "\n".join(m.plain_text() for m in await rep.press("Confirm"))
    assert "#" in said
    return (await rows(harness, Collection))[-1]


# -- /reverse: preview, cancel, confirm --------------------------------------------------------------


async def test_reverse_shows_what_it_would_reverse_and_writes_nothing(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    collection = await collected(harness, rep, "/collect Acme: 3500 cash R-77")
    harness.clock.advance(timedelta(hours=2))
    manager = harness.person(5001, "Mia")
    [preview] = await manager.send(f"/reverse {collection.id} wrong <customer> & amount")
    text = preview.plain_text()
    assert text.splitlines() == [
        f"↩ Reverse collection #{collection.id}?",
        "Amount: 3,500.00 (cash)",
        "Customer: Acme Trading (ACME)",
        "Rep: Li Wei",
        "Received: 2026-11-23 09:00",
        "Receipt no. R-77",
        "",
        "It settled these invoices, which will be open again:",
        "• INV-OLD: 3,000.00",
        "• INV-NEW: 500.00",
        "",
        "Reason: wrong <customer> & amount",
        "Reverse it? Li Wei will be told.",
    ]
    assert "wrong &lt;customer&gt; &amp; amount" in (preview.text or "")
    assert preview.button_texts() == ["Confirm", "Cancel"]
    assert len(await rows(harness, Collection)) == 1
    assert await open_balance(harness, acme) == Decimal("3500.00")
    assert await audits(harness, "collection.reverse") == []
    assert people.rep.id == collection.rep_id


async def test_cancel_writes_nothing(harness: Harness) -> None:
    _, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    collection = await collected(harness, rep, "/collect Acme: 3500")
    finance = harness.person(6001, "Fay")
    [preview] = await finance.send(f"/reverse {collection.id} duplicate entry")
    confirm = next(b["callback_data"] for row in preview.buttons() for b in row if b["text"] == "Confirm")
    [cancelled] = await finance.press("Cancel")
    assert cancelled.message_id == preview.message_id
    assert cancelled.plain_text() == f"Cancelled: collection #{collection.id} was not reversed."
    assert cancelled.button_texts() == []
    # A Confirm carried by an older copy of the message finds nothing to do.
    late = harness.api.callback(6001, preview.message_id, confirm)
    await harness.settle(late)
    assert answer(harness, late) == "This preview has expired: nothing was reversed. Send /reverse again."
    assert len(await rows(harness, Collection)) == 1
    assert await open_balance(harness, acme) == Decimal("3500.00")
    assert await rows(harness, Outbox) == []


async def test_confirm_reverses_once_and_tells_the_rep(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    collection = await collected(harness, rep, "/collect Acme: 3500 cash")
    harness.clock.advance(timedelta(hours=1))
    manager = harness.person(5001, "Mia")
    [preview] = await manager.send(f"/reverse {collection.id} wrong <customer> & amount")
    first = harness.api.press(5001, "Confirm")
    second = harness.api.press(5001, "Confirm")
    cancel = harness.api.press(5001, "Cancel")
    for update in (first, second, cancel):
        await harness.settle(update)
    result = manager.last
    assert result.message_id == preview.message_id and result.edits == 1
    text = result.plain_text()
    assert f"↩ Collection #{collection.id} (3,500.00 from Acme Trading) is reversed by #" in text
    assert "Reason: wrong <customer> & amount" in text and "Li Wei is told." in text
    assert "INV-OLD: 3,000.00 reopened, 3,000.00 open" in text
    assert result.button_texts() == []
    assert [answer(harness, u) for u in (first, second, cancel)] == [
        None,
        "Already reversed.",
        "Already reversed.",
    ]

    original, reversal = await rows(harness, Collection)
    assert (reversal.reverses_id, reversal.amount, reversal.recorded_by) == (
        original.id,
        Decimal("-3500.00"),
        people.manager.id,
    )
    assert reversal.source_key.startswith("cb:")  # keyed by the press
    assert await open_balance(harness, acme) == Decimal("7000.00")
    assert len(await audits(harness, "collection.reverse")) == 1

    [notice] = await rows(harness, Outbox)
    assert (notice.recipient_id, notice.dedup_key) == (people.rep.id, f"reversal:{reversal.id}")
    assert (await harness.deliver_pushes()).sent == 1
    told = rep.last
    assert told.plain_text() == (
        f"↩ Your collection #{collection.id} (3,500.00, cash) from Acme Trading (ACME), received "
        "2026-11-23, was reversed by Mia Manager.\n"
        "Reason: wrong <customer> & amount\n"
        "The invoices it settled are open again."
    )
    assert "wrong &lt;customer&gt; &amp; amount" in (told.text or "")
    assert (await harness.deliver_pushes()).sent == 0  # told once


async def test_the_reps_notice_in_chinese(harness: Harness) -> None:
    people, _ = await setup(harness)
    await speaks(harness, people.rep, "zh")
    rep = harness.person(2001, "Li", language_code="zh")
    collection = await collected(harness, rep, "/collect Acme: 500 转账")
    director = harness.person(7001, "Dee")
    assert "Reverse it? Li Wei will be told." in await director.says(f"/reverse {collection.id} 客户写错了")
    await director.press("Confirm")
    await harness.deliver_pushes()
    transfer = Translator("zh").gettext(payment_methods.LABELS[PaymentMethod.TRANSFER])
    assert rep.last.plain_text() == (
        f"↩ 你于 2026-11-23 收取的 Acme Trading (ACME) 的收款 #{collection.id}（500.00，{transfer}）已被 "
        "Dee Director 冲销。\n原因：客户写错了\n它核销的发票已恢复未结。"
    )


async def test_confirm_checks_again_when_pressed(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    collection = await collected(harness, rep, "/collect Acme: 1000")
    manager, finance = harness.person(5001, "Mia"), harness.person(6001, "Fay")
    await manager.send(f"/reverse {collection.id} typo")
    await finance.send(f"/reverse {collection.id} duplicate")
    # Finance confirms first: the manager's preview is out of date when pressed.
    await finance.press("Confirm")
    [refused] = await manager.press("Confirm")
    _, reversal = await rows(harness, Collection)
    assert refused.plain_text() == f"Collection #{collection.id} was already reversed (#{reversal.id})."
    assert refused.button_texts() == []
    assert len(await rows(harness, Collection)) == 2 and len(await rows(harness, Outbox)) == 1
    assert await open_balance(harness, acme) == Decimal("7000.00")

    # The manager's scope is checked at the press too: Li Wei moves to South meanwhile.
    other = await collected(harness, rep, "/collect Acme: 200")
    await manager.send(f"/reverse {other.id} typo")
    async with harness.db.transaction() as session:
        (await session.get_one(User, people.rep.id)).team_id = people.south.id
    [refused] = await manager.press("Confirm")
    assert refused.plain_text() == f"There is no collection #{other.id}."
    assert len(await rows(harness, Collection)) == 3


async def test_another_teams_collection_answers_as_a_missing_one(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Southern Store", rep=people.other_rep)
    bob = harness.person(2002, "Bob")
    collection = await collected(harness, bob, "/collect Southern: 400")
    manager = harness.person(5001, "Mia")
    theirs = await manager.says(f"/reverse {collection.id} mistake")
    missing = await manager.says(f"/reverse {collection.id + 1000} mistake")
    assert theirs == f"There is no collection #{collection.id}."
    assert missing == f"There is no collection #{collection.id + 1000}."
    assert manager.last.button_texts() == []
    # Nobody is told when a reversal is one's own: a manager's own collection.
    director = harness.person(7001, "Dee")
    assert "Reverse it? Bob South will be told." in await director.says(f"/reverse {collection.id} mistake")
    assert "is reversed by" in (await director.press("Confirm"))[0].plain_text()
    assert len(await rows(harness, Outbox)) == 1


# -- orders: Undo -------------------------------------------------------------------------------------


async def test_an_order_undone_is_voided_and_leaves_every_figure(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    kept = (await rep.send("/order Acme: 2000 SO-KEPT"))[0]
    assert kept.button_texts() == ["↩ Undo (10 minutes)"]
    placed = (await rep.send("/order Acme: 5000 SO-GONE"))[0]
    assert "Open balance now: 14,000.00." in placed.plain_text()
    assert await open_balance(harness, acme) == Decimal("14000.00")

    harness.clock.advance(timedelta(minutes=9))
    first = harness.api.press(2001, "Undo", message_id=placed.message_id)
    second = harness.api.press(2001, "Undo", message_id=placed.message_id)
    await harness.settle(first)
    await harness.settle(second)
    assert [answer(harness, u) for u in (first, second)] == ["Undone.", "Already undone."]
    undone = next(m for m in rep.chat if m.message_id == placed.message_id)
    assert undone.plain_text() == (
        "↩ Undone: order SO-GONE for Acme Trading (ACME) (5,000.00) is voided. It no longer counts in "
        "the customer's balance.\nOpen balance now: 9,000.00."
    )
    assert undone.button_texts() == []

    # Never deleted: the row stays, voided, open 0; the balance is back.
    gone = next(r for r in await rows(harness, Receivable) if r.invoice_no == "SO-GONE")
    assert gone.amount == Decimal("5000.00") and gone.open_amount == Decimal("0.00")
    assert gone.voided_at == harness.clock.now() and gone.voided_by == people.rep.id
    assert gone.void_reason == "undone by whoever placed the order"
    assert await open_balance(harness, acme) == Decimal("9000.00")
    [entry] = await audits(harness, "order.undo")
    assert entry.actor_id == people.rep.id and entry.entity_id == gone.id
    assert entry.before is not None and entry.before["customer_open"] == "14000.00"
    assert entry.after is not None and entry.after["customer_open"] == "9000.00"

    # The summary and the export count the order that stands; the export marks the voided one.
    assert "Orders: 1 · 2,000.00" in await rep.says("/summary today")
    async with harness.db.reading() as session:
        book = await exports.build_workbook(
            session, Caller.of(people.director, "en"), parse_period("2026-11", TODAY), ZONE, TODAY
        )
    workbook = open_book(book.content)
    orders = {row["Invoice"].value: row["Voided"].value for row in records(workbook["Orders"])}
    assert orders == {"SO-KEPT": "No", "SO-GONE": "Yes"}  # yes/no in the export's language
    assert summary_of(workbook)["Orders"] == 1
    assert "SO-GONE" not in {row["Invoice"].value for row in records(workbook["Receivables"])}

    # Gone from /overdue once the orders fall due, while the order that stands is listed.
    harness.clock.advance(timedelta(days=45))
    overdue = await rep.says("/overdue Acme")
    assert "SO-KEPT" in overdue and "SO-GONE" not in overdue
    # A credit check no longer counts it either: 45,000 more is within the 50,000 limit.
    assert "Order recorded" in await rep.says("/order Acme: 41000")


async def test_undo_after_ten_minutes_is_refused(harness: Harness) -> None:
    _, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/order Acme: 5000")
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    [reply] = await rep.press("Undo")
    assert reply.plain_text() == (
        "The 10 minutes to undo order SO-20261123-001 have passed: it stands. "
        "Talk to your manager if it is wrong."
    )
    assert await open_balance(harness, acme) == Decimal("12000.00")
    assert all(r.voided_at is None for r in await rows(harness, Receivable))
    assert await audits(harness, "order.undo") == []


async def test_an_order_with_money_applied_is_not_undone_until_the_money_is(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="Fresh Shop", rep=people.rep, code="FS")
    rep = harness.person(2001, "Li")
    order = (await rep.send("/order Fresh: 800"))[0]
    collection = await collected(harness, rep, "/collect Fresh: 300")
    receipt = rep.last
    [refused] = await rep.press("Undo", message_id=order.message_id)
    assert refused.plain_text() == (
        f"Money is already applied to invoice SO-20261123-001 (collection "
        f"#{collection.id}): that collection must be undone or reversed first."
    )
    assert await open_balance(harness, shop) == Decimal("500.00")
    assert "Undone: collection" in (await rep.press("Undo", message_id=receipt.message_id))[0].plain_text()
    assert "is voided" in (await rep.press("Undo", message_id=order.message_id))[0].plain_text()
    assert await open_balance(harness, shop) == Decimal("0.00")


async def test_only_whoever_placed_the_order_undoes_it(harness: Harness) -> None:
    people, _ = await setup(harness)
    manager = harness.person(5001, "Mia")
    await manager.send("/order Acme: 100")  # the manager's order for Li Wei's customer
    order = (await rows(harness, Receivable))[-1]
    assert order.rep_id == people.rep.id and order.recorded_by == people.manager.id
    rep = harness.person(2001, "Li")
    await rep.send("/help")
    await harness.settle(harness.api.callback(2001, rep.last.message_id, f"order:undo:{order.id}"))
    assert rep.last.plain_text() == "That order is not yours to undo."
    imported = (await rows(harness, Receivable))[0]
    await harness.settle(harness.api.callback(5001, manager.last.message_id, f"order:undo:{imported.id}"))
    assert manager.last.plain_text() == "That order is not yours to undo."
    assert "is voided" in (await manager.press("Undo"))[0].plain_text()


async def test_a_redelivered_order_is_not_written_again_after_its_undo(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    update = harness.api.message(2001, "/order Acme: 5000", queue=False)
    await harness.process_directly(update)
    await rep.press("Undo")
    await harness.process_directly(update)
    assert rep.last.plain_text() == "Order SO-20261123-001 was voided, so it was not recorded again."
    assert len(await rows(harness, Receivable)) == 3


async def test_undoing_an_over_limit_order_withdraws_its_request(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await rep.send("/order Acme: 45000 INV-BIG")
    await rep.press("Confirm")
    await harness.deliver_pushes()
    assert "Order over the credit limit from Li Wei" in manager.last.plain_text()
    [undone] = await rep.press("Undo")
    assert "The request to your manager is withdrawn." in undone.plain_text()
    [approval] = await rows(harness, Approval)
    assert approval.status == ApprovalStatus.WITHDRAWN and approval.decided_by == people.rep.id
    async with harness.db.reading() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Approval).where(Approval.status == ApprovalStatus.PENDING)
            )
            == 0
        )
    press = harness.api.press(5001, "✅ Approve")
    await harness.settle(press)
    assert answer(harness, press) == "Nothing to decide: Li Wei undid the order."
    assert manager.last.plain_text().endswith("↩ Withdrawn: Li Wei undid the order, 2026-11-23 09:00")
    assert await open_balance(harness, acme) == Decimal("7000.00")
    assert len(await audits(harness, "withdraw")) == 1
