"""Unapplied credit is visible and used (issue 19), through the fake Bot API.

An overpayment is asked about before it is recorded, then shows on the customer card, in /overdue,
the summary and the export; it settles the customer's next invoice — an order or an imported one —
and the reply says so; undoing that order gives it back; reversing the collection it came from
reopens what it settled (the preview says so), and the customer's other credit is used at once.
The month-end figures are net of returns.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.services.money.ledger import balance, credit_of
from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import parse_period
from jobs.runner import run_job
from models import Allocation, AuditLog, Collection, Customer, Outbox, Receivable, User
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person
from tests.test_exports import open_book, records, summary_of

TODAY = date(2026, 11, 23)
HEADER = "invoice_no,customer_code,amount,issued_on,due_on\n"


async def setup(harness: Harness) -> tuple[Company, Customer]:
    """Acme (Li Wei's, North) owes INV-OLD 3,000 (30 days overdue) and INV-NEW 4,000 (not due yet)."""
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


async def owed(harness: Harness, customer: Customer) -> tuple[Decimal, Decimal]:
    """(open balance, unapplied credit) now."""
    async with harness.db.reading() as session:
        return (await balance(session, customer.id, TODAY)).open, await credit_of(session, customer.id)


async def collections_in(harness: Harness) -> list[Collection]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Collection).order_by(Collection.id)))


def text_of(messages: list) -> str:  # type: ignore[type-arg]
    return "\n".join(m.plain_text() for m in messages)


async def overpaid(rep: Person, line: str = "/collect Acme: 10,000 transfer TX-1") -> str:
    """Collect more than Acme owes, and confirm it."""
    assert "Record it?" in await rep.says(line)
    return text_of(await rep.press("Confirm"))


# -- asked first ------------------------------------------------------------------------------------


async def test_collecting_more_than_is_owed_asks_first_and_cancel_records_nothing(harness: Harness) -> None:
    _, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    [question] = await rep.send("/collect Acme: 10,000 transfer TX-1")
    assert question.plain_text().splitlines() == [
        "⚠️ Acme Trading owes 7,000.00; 3,000.00 will be kept as credit. Record it?",
        "Collection: 10,000.00 (transfer)",
        "Receipt no. TX-1",
    ]
    assert question.button_texts() == ["Confirm", "Cancel"]
    confirm = question.buttons()[0][0]["callback_data"]
    assert await collections_in(harness) == []
    [cancelled] = await rep.press("Cancel")
    assert cancelled.message_id == question.message_id
    assert cancelled.plain_text() == "Cancelled: no collection was recorded."
    assert cancelled.button_texts() == []
    stale = harness.api.callback(2001, question.message_id, confirm)
    await harness.settle(stale)
    assert harness.api.callback_answers[stale["callback_query"]["id"]]["text"] == (
        "This question has expired: nothing was recorded. Send the collection again."
    )
    assert await collections_in(harness) == []
    assert await owed(harness, acme) == (Decimal("7000.00"), Decimal("0.00"))

    # Exactly what is owed records at once; from a customer who owes nothing, anything is asked.
    assert "Collection #" in await rep.says("/collect Acme: 7,000")
    assert await rep.says("/collect Acme: 50") == (
        "⚠️ Acme Trading owes nothing; all 50.00 will be kept as credit. Record it?\nCollection: 50.00 (cash)"
    )


async def test_confirm_records_once_and_the_credit_shows_everywhere(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    [question] = await rep.send("/collect Acme: 10,000 transfer TX-1")
    first = harness.api.press(2001, "Confirm", message_id=question.message_id)
    second = harness.api.press(2001, "Confirm", message_id=question.message_id)
    await harness.settle(first)
    await harness.settle(second)
    answers = harness.api.callback_answers
    assert answers[second["callback_query"]["id"]]["text"] == "Already recorded."
    [collection] = await collections_in(harness)
    recorded = next(m for m in rep.chat if m.message_id == question.message_id)
    assert recorded.plain_text().startswith(f"✅ Collection #{collection.id}: 10,000.00 (transfer) from Acme")
    assert "Unapplied credit: 3,000.00, kept on the customer's account." in recorded.plain_text()
    assert recorded.button_texts() == ["↩ Undo (10 minutes)"]
    assert await owed(harness, acme) == (Decimal("0.00"), Decimal("3000.00"))
    async with harness.db.reading() as session:
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "collection.record"))
    assert entry is not None and entry.after is not None and entry.after["customer_credit"] == "3000.00"

    # The card, /overdue, the summary and the export.
    card = await rep.says("/customer Acme")
    assert (
        "Open balance: 0.00 · overdue: 0.00\n💳 Unapplied credit: 3,000.00 (applied to their next invoice)"
    ) in card
    assert await rep.says("/overdue") == (
        "Nothing is overdue. 👍\n💳 Unapplied credit: 3,000.00, held by 1 customer (applied to their next "
        "invoices)."
    )
    assert (
        "Nothing of theirs is overdue.\n💳 Unapplied credit: 3,000.00 (applied to their next invoice)."
        in await rep.says("/overdue Acme")
    )
    manager = harness.person(5001, "Mia")
    assert "Unapplied credit: 3,000.00 (1 customer)" in await manager.says("/summary today")
    async with harness.db.reading() as session:
        book = await exports.build_workbook(
            session, Caller.of(people.finance, "en"), parse_period("2026-11", TODAY), ZONE, TODAY
        )
    workbook = open_book(book.content)
    [row] = records(workbook["Credits"])
    assert (
        row["Customer"].value,
        row["From"].value,
        row["Amount"].value,
        row["Applied"].value,
        row["Unapplied credit"].value,
    ) == ("Acme Trading", f"Collection #{collection.id}", 10000, 7000, 3000)
    summary = summary_of(workbook)
    assert summary["Unapplied credit"] == 3000 and summary["Customers holding unapplied credit"] == 1


async def test_in_chinese(harness: Harness) -> None:
    people, _ = await setup(harness)
    async with harness.db.transaction() as session:
        (await session.get_one(User, people.rep.id)).language = "zh"
    rep = harness.person(2001, "Li", language_code="zh")
    [question] = await rep.send("/collect Acme：8000 微信")
    assert question.plain_text().splitlines()[0] == (
        "⚠️ Acme Trading 欠款 7,000.00；多出的 1,000.00 将保留为未核销余额。确定记录吗？"
    )
    assert question.button_texts() == ["确认", "取消"]
    await rep.press("确认")
    assert "💳 未核销余额：1,000.00（将冲抵其下一张发票）" in await rep.says("/customer Acme")
    assert "💳 客户的未核销余额 1,000.00 已冲抵 SO-20261123-001。" in await rep.says("/order Acme: 1500")


# -- used on the next invoice -------------------------------------------------------------------------


async def test_credit_is_applied_to_the_next_order_and_the_reply_says_so(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    await overpaid(rep)
    placed = await rep.says("/order Acme: 2,000")
    assert placed.splitlines() == [
        "Order recorded for Acme Trading (ACME).",
        "Invoice SO-20261123-001: 2,000.00, due 2026-12-23.",
        "💳 2,000.00 of the customer's credit applied to SO-20261123-001.",
        "Open balance now: 0.00.",
    ]
    assert await owed(harness, acme) == (Decimal("0.00"), Decimal("1000.00"))
    placed = await rep.says("/order Acme: 5,000")
    assert "💳 1,000.00 of the customer's credit applied to SO-20261123-002." in placed
    assert "Open balance now: 4,000.00." in placed
    assert await owed(harness, acme) == (Decimal("4000.00"), Decimal("0.00"))
    assert "credit applied" not in await rep.says("/order Acme: 100")  # none left
    async with harness.db.reading() as session:
        used = list(
            await session.execute(
                select(Receivable.invoice_no, Allocation.amount, Allocation.collection_id)
                .join(Receivable, Receivable.id == Allocation.receivable_id)
                .where(Allocation.from_credit)
                .order_by(Allocation.id)
            )
        )
        entries = list(await session.scalars(select(AuditLog).where(AuditLog.action == "credit.apply")))
    [collection] = await collections_in(harness)
    assert [tuple(row) for row in used] == [
        ("SO-20261123-001", Decimal("2000.00"), collection.id),
        ("SO-20261123-002", Decimal("1000.00"), collection.id),
    ]
    assert [e.after["why"] for e in entries if e.after] == ["order", "order"]
    assert people.rep.id == collection.rep_id


async def test_credit_is_applied_to_an_imported_invoice_and_the_report_says_so(harness: Harness) -> None:
    _, acme = await setup(harness)
    rep, finance = harness.person(2001, "Li"), harness.person(6001, "Fay")
    await overpaid(rep)
    content = (HEADER + "IMP-1,ACME,1200,2026-11-20,\nIMP-2,ACME,2500,2026-11-21,\n").encode()
    update = harness.api.message(6001, document=("open.csv", content, "text/csv"))
    await harness.settle(update)
    report = finance.last.plain_text()
    assert "Imported receivables: 2 new, 0 updated." in report
    assert "line 2: 1,200.00 of the customer's credit applied to invoice IMP-1 (0.00 still open)" in report
    assert "line 3: 1,800.00 of the customer's credit applied to invoice IMP-2 (700.00 still open)" in report
    assert await owed(harness, acme) == (Decimal("700.00"), Decimal("0.00"))


# -- corrections give credit back ----------------------------------------------------------------------


async def test_undoing_an_order_gives_its_credit_back(harness: Harness) -> None:
    _, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    await overpaid(rep)
    [order] = await rep.send("/order Acme: 2,000")
    [undone] = await rep.press("Undo", message_id=order.message_id)
    assert undone.plain_text().splitlines()[-1] == (
        "💳 The 2,000.00 of credit applied to it is the customer's again (credit now 3,000.00)."
    )
    assert await owed(harness, acme) == (Decimal("0.00"), Decimal("3000.00"))
    async with harness.db.reading() as session:
        voided = await session.scalar(select(Receivable).where(Receivable.invoice_no == "SO-20261123-001"))
        released = await session.scalar(select(AuditLog).where(AuditLog.action == "credit.release"))
    assert voided is not None and voided.voided_at is not None and voided.open_amount == Decimal("0.00")
    assert released is not None and released.entity_id == voided.id


async def test_a_rejected_over_limit_order_gives_its_credit_back(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    shop = await factories.customer(
        harness.db,
        harness.clock.now(),
        name="Small Shop",
        rep=people.rep,
        code="SMALL",
        credit_limit=Decimal("1000.00"),
    )
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await overpaid(rep, "/collect Small: 500")
    assert "over the credit limit" in await rep.says("/order Small: 2,000")
    await rep.press("Confirm")
    assert await owed(harness, shop) == (Decimal("1500.00"), Decimal("0.00"))
    await harness.deliver_pushes()
    await manager.press("❌ Reject")
    assert await owed(harness, shop) == (Decimal("0.00"), Decimal("500.00"))


async def test_reversing_a_collection_whose_credit_settled_a_later_order(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep = harness.person(2001, "Li")
    await overpaid(rep)  # 10,000: 7,000 settles both invoices, 3,000 is credit
    await rep.send("/order Acme: 2,000 SO-LATER")  # settled by that credit
    [collection] = await collections_in(harness)
    harness.clock.advance(timedelta(hours=1))
    finance = harness.person(6001, "Fay")
    preview = await finance.says(f"/reverse {collection.id} cheque bounced")
    assert (
        "It settled these invoices, which will be open again:\n• INV-OLD: 3,000.00\n"
        "• INV-NEW: 4,000.00\n• SO-LATER: 2,000.00"
    ) in preview
    assert "Unapplied credit that goes with it: 1,000.00" in preview
    [done] = await finance.press("Confirm")
    assert "• SO-LATER: 2,000.00 reopened, 2,000.00 open" in done.plain_text()
    assert await owed(harness, acme) == (Decimal("9000.00"), Decimal("0.00"))
    await harness.deliver_pushes()
    assert "was reversed by Fay Finance" in rep.last.plain_text()

    # Credit from elsewhere settles what a reversal reopens, at once.
    await overpaid(rep, "/collect Acme: 9,500")
    await rep.send("/collect Acme: 100")  # owing nothing: asked
    assert "owes nothing" in rep.last.plain_text()
    await rep.press("Confirm")
    _, big, small = (await collections_in(harness))[1:]  # (the reversal, 9,500, 100)
    assert await owed(harness, acme) == (Decimal("0.00"), Decimal("600.00"))
    await finance.send(f"/reverse {big.id} wrong customer")
    [done] = await finance.press("Confirm")
    assert "The customer's credit settled what reopened:" in done.plain_text()
    assert "of credit applied" in done.plain_text()
    assert "• INV-OLD: 100.00 of credit applied, 2,900.00 still open" in done.plain_text()
    assert await owed(harness, acme) == (Decimal("8900.00"), Decimal("0.00"))
    assert people.rep.id == small.rep_id


# -- month-end ---------------------------------------------------------------------------------------


async def test_month_end_figures_are_net_of_returns(harness: Harness) -> None:
    people, _ = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    director = harness.person(7001, "Dee")
    await rep.send("/order Acme: 10,000 SO-NOV")
    await rep.send("/return Acme: 1,500 SO-NOV damaged")
    await harness.deliver_pushes()
    await manager.press("✅ Approve")
    assert "Returns: 1 · 1,500.00 · sales net of returns: 8,500.00" in await manager.says("/summary month")
    harness.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=ZONE))
    await run_job(harness.db, "month_end", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    figures = director.last.plain_text()
    assert "Orders: 1 · 10,000.00" in figures
    assert "Returns: 1 · 1,500.00 · sales net of returns: 8,500.00" in figures
    assert "orders 10,000.00" in figures and "returns 1,500.00 (net 8,500.00)" in figures
    async with harness.db.reading() as session:
        pushed = list(await session.scalars(select(Outbox.recipient_id).where(Outbox.job == "month_end")))
    assert people.director.id in pushed and people.manager.id in pushed
