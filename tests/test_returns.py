"""Returns of goods (銷售退貨證明單) through the fake Bot API: the rep asks, the manager approves or
rejects with one tap, an approved return's numbered certificate credits the customer's invoices
(the named one first, then the oldest) through the allocation ledger, and can be printed."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.i18n import Translator
from bot.services.money import credit_notes
from bot.services.money.ledger import balance, credit_of
from bot.services.money.returns import read_items
from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import parse_period
from models import (
    Allocation,
    Approval,
    ApprovalStatus,
    AuditLog,
    CreditNote,
    Customer,
    Outbox,
    Receivable,
    SalesReturn,
    User,
)
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness
from tests.test_exports import open_book, records, summary_of

TODAY = date(2026, 11, 23)


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


async def rows(harness: Harness, model: type) -> list:  # type: ignore[type-arg]
    async with harness.db.reading() as session:
        return list(await session.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]


async def owed(harness: Harness, customer: Customer) -> tuple[Decimal, Decimal]:
    """(open balance, unapplied credit) now."""
    async with harness.db.reading() as session:
        return (await balance(session, customer.id, TODAY)).open, await credit_of(session, customer.id)


async def open_by_invoice(harness: Harness) -> dict[str, Decimal]:
    async with harness.db.reading() as session:
        return dict((await session.execute(select(Receivable.invoice_no, Receivable.open_amount))).all())


def said(messages: list) -> str:  # type: ignore[type-arg]
    return "\n".join(m.plain_text() for m in messages)


async def approvers_push(harness: Harness, telegram_id: int) -> int:
    """Deliver the outbox; the message id of the newest return request pushed to ``telegram_id``."""
    await harness.deliver_pushes()
    return next(
        m.message_id
        for m in reversed(harness.api.chat(telegram_id))
        if "Return of goods" in m.plain_text() or "退货申请" in m.plain_text()
    )


async def speaks(harness: Harness, person: User, language: str) -> None:
    async with harness.db.transaction() as session:
        (await session.get_one(User, person.id)).language = language


# -- approved ----------------------------------------------------------------------------------------


async def test_an_approved_return_credits_the_named_invoice_and_issues_a_numbered_certificate(
    harness: Harness,
) -> None:
    people, acme = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    before = await rep.says("/overdue")
    assert "Acme Trading (ACME)\n    3,000.00 · invoices: 1 · 30 days overdue" in before

    asked = await rep.says("/return Acme: 1,000 inv-new damaged <in> transport")
    assert asked.splitlines() == [
        "↩️ Return request #1 sent: Acme Trading (ACME), 1,000.00.",
        "Invoice: INV-NEW",
        "Reason: damaged <in> transport",
        "Nothing is credited until your manager approves it; I will tell you the decision.",
    ]
    # Asked, nothing moved: balances, allocations, credit notes.
    assert await owed(harness, acme) == (Decimal("7000.00"), Decimal("0.00"))
    assert await rows(harness, CreditNote) == [] and await rows(harness, Allocation) == []
    [request] = await rows(harness, Approval)
    assert request.status == ApprovalStatus.PENDING and request.kind == "return"

    push = await approvers_push(harness, 5001)
    pushed = next(m for m in harness.api.chat(5001) if m.message_id == push)
    assert pushed.plain_text().splitlines() == [
        "↩️ Return of goods #1 from Li Wei",
        "Customer: Acme Trading (ACME)",
        "Amount to credit: 1,000.00",
        "Invoice: INV-NEW",
        "Reason: damaged <in> transport",
        "Open balance when asked: 7,000.00",
    ]
    assert "damaged &lt;in&gt; transport" in (pushed.text or "")
    assert pushed.button_texts() == ["✅ Approve", "❌ Reject"]

    first = harness.api.press(5001, "✅ Approve", message_id=push)
    second = harness.api.press(5001, "✅ Approve", message_id=push)  # a double tap credits once
    await harness.settle(first)
    await harness.settle(second)
    approved = next(m for m in harness.api.chat(5001) if m.message_id == push).plain_text()
    assert "✅ Approved by Mia Manager, 2026-11-23 09:00" in approved
    assert "Return certificate RT-2026-0001 issued." in approved
    assert "• INV-NEW: 1,000.00 credited, 3,000.00 still open" in approved

    [note] = await rows(harness, CreditNote)
    assert (note.number, note.amount, note.customer_id, note.issued_by) == (
        "RT-2026-0001",
        Decimal("1000.00"),
        acme.id,
        people.manager.id,
    )
    [allocation] = await rows(harness, Allocation)
    assert (allocation.credit_note_id, allocation.collection_id, allocation.amount) == (
        note.id,
        None,
        Decimal("1000.00"),
    )
    assert await open_by_invoice(harness) == {"INV-OLD": Decimal("3000.00"), "INV-NEW": Decimal("3000.00")}
    assert await owed(harness, acme) == (Decimal("6000.00"), Decimal("0.00"))
    async with harness.db.reading() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert {"return.request", "credit_note.issue", "approve"} <= set(actions)

    # The rep is told, with the certificate and its print buttons.
    await harness.deliver_pushes()
    notice = rep.last
    assert notice.plain_text().splitlines()[:2] == [
        "✅ Your return request #1 for Acme Trading (ACME) (1,000.00) was approved by Mia Manager.",
        "Return certificate RT-2026-0001 issued.",
    ]
    assert notice.button_texts() == ["🖨 Certificate (PDF)", "🖼 Certificate (image)"]

    [pdf] = await rep.press("🖨 Certificate (PDF)")
    assert pdf.kind == "document" and pdf.file_name == "RT-2026-0001.pdf"
    assert pdf.file_bytes is not None and pdf.file_bytes.startswith(b"%PDF-")
    assert pdf.file_bytes.rstrip().endswith(b"%%EOF") and len(pdf.file_bytes) > 5_000
    # One A5 page (148 × 210 mm in points), its text drawn with embedded glyphs.
    assert re.findall(rb"/Type /Page\b(?!s)", pdf.file_bytes) == [b"/Type /Page"]
    assert b"/MediaBox [ 0 0 419.76 595.44 ]" in pdf.file_bytes and b"/Font" in pdf.file_bytes
    assert "Return certificate RT-2026-0001: Acme Trading (ACME), 1,000.00" in pdf.plain_text()
    [png] = await rep.press("🖼 Certificate (image)")
    assert png.file_name == "RT-2026-0001.png" and (png.file_bytes or b"").startswith(b"\x89PNG\r\n")

    shown = await rep.says("/return rt-2026-0001")
    assert "📄 Return certificate RT-2026-0001 (return #1)" in shown
    assert "✅ Approved by Mia Manager, 2026-11-23 09:00" in shown and "• INV-NEW: 1,000.00 credited" in shown
    assert rep.last.button_texts() == ["🖨 Certificate (PDF)", "🖼 Certificate (image)"]

    # A second return names no invoice: the oldest first, so nothing of Acme is overdue any more.
    assert await rep.says("/overdue") == before  # the first one credited the invoice not yet due
    await rep.send("/return Acme: 3500")
    push = await approvers_push(harness, 5001)
    await manager.press("✅ Approve", message_id=push)
    assert await open_by_invoice(harness) == {"INV-OLD": Decimal("0.00"), "INV-NEW": Decimal("2500.00")}
    assert [n.number for n in await rows(harness, CreditNote)] == ["RT-2026-0001", "RT-2026-0002"]
    assert "Nothing is overdue" in await rep.says("/overdue")


async def test_a_rejected_return_changes_nothing_and_the_rep_is_told(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await rep.send("/return ACME: 500 INV-OLD wrong colour")
    push = await approvers_push(harness, 5001)
    [request_id] = [a.id for a in await rows(harness, Approval)]
    [edited] = await manager.press("❌ Reject", message_id=push)
    assert "❌ Rejected by Mia Manager, 2026-11-23 09:00: nothing is credited" in edited.plain_text()
    assert edited.button_texts() == []
    late = harness.api.callback(5001, push, f"appr:yes:{request_id}")  # the old copy's other button
    await harness.settle(late)
    answer = harness.api.callback_answers[late["callback_query"]["id"]]["text"]
    assert answer == "Already rejected by Mia Manager."

    assert await owed(harness, acme) == (Decimal("7000.00"), Decimal("0.00"))
    assert await rows(harness, CreditNote) == [] and await rows(harness, Allocation) == []
    [sales_return] = await rows(harness, SalesReturn)
    assert sales_return.amount == Decimal("500.00") and sales_return.reason == "wrong colour"
    await harness.deliver_pushes()
    assert rep.last.plain_text() == (
        "❌ Your return request #1 for Acme Trading (ACME) (500.00) was rejected by Mia Manager. Nothing is "
        "credited: the customer's balance stays as it was."
    )
    assert rep.last.button_texts() == []
    shown = await rep.says("/return 1")
    assert "❌ Rejected by Mia Manager, 2026-11-23 09:00: nothing is credited." in shown
    assert rep.last.button_texts() == []
    forged = harness.api.callback(2001, rep.last.message_id, f"ret:pdf:{sales_return.id}")
    await harness.settle(forged)
    assert harness.api.last(2001).plain_text() == "Return #1 has no certificate: it was not approved."
    assert people.rep.id == sales_return.requested_by


async def test_a_return_beyond_what_is_owed_is_kept_as_credit_and_used_on_the_next_order(
    harness: Harness,
) -> None:
    _, acme = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await rep.send("/return Acme: 10,000 whole shipment back")
    push = await approvers_push(harness, 5001)
    [approved] = await manager.press("✅ Approve", message_id=push)
    text = approved.plain_text()
    assert "• INV-OLD: 3,000.00 credited, 0.00 still open" in text
    assert "• INV-NEW: 4,000.00 credited, 0.00 still open" in text
    assert "3,000.00 is kept as the customer's credit, used on their next invoice." in text
    assert await owed(harness, acme) == (Decimal("0.00"), Decimal("3000.00"))
    assert "💳 Unapplied credit: 3,000.00 (applied to their next invoice)" in await rep.says("/customer Acme")

    placed = await rep.says("/order Acme: 2,500 SO-9")
    assert "💳 2,500.00 of the customer's credit applied to SO-9." in placed
    assert "Open balance now: 0.00." in placed
    assert await owed(harness, acme) == (Decimal("0.00"), Decimal("500.00"))
    async with harness.db.reading() as session:
        [used] = list(await session.scalars(select(Allocation).where(Allocation.from_credit)))
        note = await session.scalar(select(CreditNote))
    assert note is not None and (used.credit_note_id, used.amount) == (note.id, Decimal("2500.00"))


async def test_guided_return_with_products_and_the_export(harness: Harness) -> None:
    people, _ = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    assert "Which customer is returning goods?" in await rep.says("/return")
    assert "How much is returned by Acme Trading" in await rep.says("acme")
    assert "not an amount" in await rep.says("a lot")
    await rep.send("800")
    assert rep.last.button_texts()[-1] == "No particular invoice"
    assert any(text.startswith("INV-NEW · 2026-11-13 · 4,000.00") for text in rep.last.button_texts())
    [asked] = await rep.press("INV-NEW")
    assert "Products and quantities returned?" in asked.plain_text()
    assert "I can't read" in await rep.says("just some cement")
    assert "Why are the goods returned?" in await rep.says("Cement 42.5: 10 bags, Tiles 20")
    [sent] = await rep.press("Skip")
    assert sent.plain_text().splitlines()[:3] == [
        "↩️ Return request #1 sent: Acme Trading (ACME), 800.00.",
        "Invoice: INV-NEW",
        "Products: Cement 42.5 × 10 bags; Tiles × 20",
    ]
    assert "didn't understand" in await rep.says("broken")  # the flow is over
    [sales_return] = await rows(harness, SalesReturn)
    assert sales_return.items == [
        {"product": "Cement 42.5", "quantity": "10 bags"},
        {"product": "Tiles", "quantity": "20"},
    ]

    push = await approvers_push(harness, 5001)
    pushed = next(m for m in harness.api.chat(5001) if m.message_id == push).plain_text()
    assert "Products: Cement 42.5 × 10 bags; Tiles × 20" in pushed
    await manager.press("✅ Approve", message_id=push)

    async with harness.db.reading() as session:
        book = await exports.build_workbook(
            session, Caller.of(people.director, "en"), parse_period("2026-11", TODAY), ZONE, TODAY
        )
    workbook = open_book(book.content)
    [row] = records(workbook["Returns"])
    assert (row["Certificate no."].value, row["Customer"].value, row["Invoice"].value) == (
        "RT-2026-0001",
        "Acme Trading",
        "INV-NEW",
    )
    assert row["Products"].value == "Cement 42.5 × 10 bags; Tiles × 20" and row["Amount"].value == 800
    assert row["Requested by"].value == "Li Wei" and row["Approved by"].value == "Mia Manager"
    assert row["Credited to invoices"].value == "INV-NEW 800.00"
    assert row["Issued at (Asia/Shanghai)"].value == datetime(2026, 11, 23, 9, 0)
    summary = summary_of(workbook)
    assert summary["Returns (certificates issued)"] == 1 and summary["Returns amount"] == 800
    assert summary["Orders less returns"] == -800  # no orders this month: the return only
    assert records(workbook["Credits"]) == [] and summary["Unapplied credit"] == 0


async def test_in_chinese_the_rep_and_the_manager_read_it_in_theirs(harness: Harness) -> None:
    people, acme = await setup(harness)
    await speaks(harness, people.rep, "zh")
    await speaks(harness, people.manager, "zh")
    rep = harness.person(2001, "Li", language_code="zh")
    manager = harness.person(5001, "Mia", language_code="zh")
    asked = await rep.says("/return Acme：500 包装破损")
    assert asked.splitlines()[0] == "↩️ 退货申请 #1 已提交：Acme Trading (ACME)，500.00。"
    assert "发票：未指定（先冲抵最早的未结发票）" in asked and "原因：包装破损" in asked
    push = await approvers_push(harness, 5001)
    [approved] = await manager.press("✅ 批准", message_id=push)
    assert "已开具销售退货证明单 RT-2026-0001。" in approved.plain_text()
    assert "• INV-OLD：冲抵 500.00，仍未结 2,500.00" in approved.plain_text()
    await harness.deliver_pushes()
    assert rep.last.plain_text().startswith(
        "✅ 你为 Acme Trading (ACME) 提交的退货申请 #1（500.00）已由 Mia Manager 批准。"
    )
    [pdf] = await rep.press("🖨 证明单（PDF）")
    assert (pdf.file_bytes or b"").startswith(b"%PDF-")
    assert pdf.plain_text() == "销售退货证明单 RT-2026-0001：Acme Trading (ACME)，500.00"
    assert await owed(harness, acme) == (Decimal("6500.00"), Decimal("0.00"))


# -- who may ----------------------------------------------------------------------------------------


async def test_scope_numbers_and_refusals(harness: Harness) -> None:
    people, acme = await setup(harness)
    theirs = await factories.customer(
        harness.db, harness.clock.now(), name="Southern Store", rep=people.other_rep, code="SOUTH"
    )
    rep, bob = harness.person(2001, "Li"), harness.person(2002, "Bob")
    manager, director = harness.person(5001, "Mia"), harness.person(7001, "Dee")
    assert "No customer matches Southern" in await rep.says("/return Southern: 100")
    assert "INV-99 is not one of this customer's invoices" in await rep.says("/return Acme: 100 INV-99 bad")
    assert "Write the amount after the colon" in await rep.says("/return Acme:")
    assert await rows(harness, SalesReturn) == []
    # Words that are not an invoice number are the reason.
    assert "Reason: 20 boxes broken" in await rep.says("/return Acme: 100 20 boxes broken")
    # Bob's return (South has no manager: the director decides it).
    await harness.settle(harness.api.message(2002, "/return Southern: 50"))
    push = await approvers_push(harness, 7001)
    await director.press("✅ Approve", message_id=push)
    assert "There is no return #2." in await rep.says("/return 2")  # Bob's, not in Li's scope
    assert "There is no return RT-2026-0001." in await rep.says("/return RT-2026-0001")
    assert "📄 Return certificate RT-2026-0001" in await bob.says("/return RT-2026-0001")
    finance = harness.person(6001, "Fay")
    # Finance sees every customer's.
    assert "📄 Return certificate RT-2026-0001" in await finance.says("/return RT-2026-0001")
    assert "does not allow" in await finance.says("/return Acme: 100")
    # A manager's own return is for someone above them: not pushed to themselves.
    await manager.send("/return Acme: 10")
    async with harness.db.reading() as session:
        own = await session.scalar(select(Approval).where(Approval.requested_by == people.manager.id))
        pushed_to = set(
            await session.scalars(
                select(Outbox.recipient_id).where(Outbox.dedup_key.like(f"approval:{own.id}:%"))
            )
        )
    assert own is not None and pushed_to == {people.director.id}
    assert theirs.id != acme.id


async def test_numbers_run_per_year_and_are_unique(harness: Harness) -> None:
    people, acme = await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    for amount in (10, 20):
        await rep.send(f"/return Acme: {amount}")
        await manager.press("✅ Approve", message_id=await approvers_push(harness, 5001))
    harness.clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=ZONE))
    await rep.send("/return Acme: 30")
    await manager.press("✅ Approve", message_id=await approvers_push(harness, 5001))
    assert [n.number for n in await rows(harness, CreditNote)] == [
        "RT-2026-0001",
        "RT-2026-0002",
        "RT-2027-0001",
    ]
    async with harness.db.reading() as session:
        assert await credit_notes.next_number(session, 2026) == "RT-2026-0003"
        assert await credit_notes.next_number(session, 2026, taken="RT-2026-0007") == "RT-2026-0008"
    assert people.rep.id and acme.id


def test_products_and_quantities_are_read() -> None:
    assert [(i.product, i.quantity) for i in read_items("Cement 42.5: 10 bags, Tiles 20")] == [
        ("Cement 42.5", "10 bags"),
        ("Tiles", "20"),
    ]
    assert [(i.product, i.quantity) for i in read_items("水泥 10袋；瓷砖：20 箱")] == [
        ("水泥", "10袋"),
        ("瓷砖", "20 箱"),
    ]
    assert Translator("zh").gettext("Sales return certificate (銷售退貨證明單)") == "销售退货证明单"
