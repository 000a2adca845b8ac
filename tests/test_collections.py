"""Collections through the front door: one-liner and guided, refusals, allocation, undo, /reverse."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select

from bot.services.errors import Invalid
from bot.services.money.collections import parse_collection_line, parse_method
from bot.services.money.ledger import balance
from models import Allocation, AuditLog, Collection, Customer, PaymentMethod, Receivable
from tests import factories
from tests.factories import Company
from tests.harness import Harness, Person

TODAY = date(2026, 11, 23)


# -- pure rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "customer", "amount", "method", "receipt"),
    [
        ("Acme: 5000", "Acme", "5000.00", PaymentMethod.CASH, None),
        ("Acme：5,000 transfer TX-1", "Acme", "5000.00", PaymentMethod.TRANSFER, "TX-1"),
        ("Acme Ltd: R-7 ¥ 1.5万 cheque", None, None, None, None),  # the amount comes first
        ("华联超市：1.5 万 现金 NO123", "华联超市", "15000.00", PaymentMethod.CASH, "NO123"),
        ("Acme: ¥5,000 R-9 CHEQUE", "Acme", "5000.00", PaymentMethod.CHEQUE, "R-9"),
        ("Acme: RMB 120 转账", "Acme", "120.00", PaymentMethod.TRANSFER, None),
        ("Acme: 5k check", "Acme", "5000.00", PaymentMethod.CHEQUE, None),
        ("鑫源建材: 500 微信", "鑫源建材", "500.00", PaymentMethod.WECHAT, None),
        ("Acme: 500 ＷｅＣｈａｔ Pay R-3", "Acme", "500.00", PaymentMethod.WECHAT, "R-3"),
        ("Acme: 500 R-1 alipay", "Acme", "500.00", PaymentMethod.ALIPAY, "R-1"),
        ("Acme: 500 刷卡", "Acme", "500.00", PaymentMethod.CARD, None),
        ("Acme: 500 bank card 77", "Acme", "500.00", PaymentMethod.CARD, "77"),  # not "bank" + receipt "card"
        ("Acme: 500 转账支票", "Acme", "500.00", PaymentMethod.CHEQUE, None),  # a cheque, not a transfer
        ("Acme: 500 R-1029", "Acme", "500.00", PaymentMethod.CASH, "R-1029"),  # no method word: cash
        ("Acme: 500 paypal", "Acme", "500.00", None, None),  # an unknown word: never cash, asked
        ("Acme: 500 R-1 paypal", "Acme", "500.00", None, "R-1"),
        ("Acme: 500 微信 \u200b", "Acme", "500.00", PaymentMethod.WECHAT, None),  # a pasted zero-width space
    ],
)
def test_one_line_reading(
    text: str, customer: str | None, amount: str | None, method: PaymentMethod | None, receipt: str | None
) -> None:
    if customer is None:
        with pytest.raises(Invalid):
            parse_collection_line(text)
        return
    line = parse_collection_line(text)
    assert (line.customer, line.amount, line.method, line.receipt_no) == (
        customer,
        Decimal(amount or "0"),
        method,
        receipt,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Acme 5000", "Write it like this"),
        (": 5000", "Write it like this"),
        ("Acme:", "amount after the colon"),
        ("Acme: 5 000", "one amount"),
        ("Acme: 5000 cash transfer", "at most one payment method"),
        ("Acme: 5000 R1 R2", "receipt number"),
        ("Acme: 5000 cash " + "R" * 61, "at most 60"),
        ("Acme: 5000 R" + "1" * 60, "at most 60"),
        ("Acme: -5", "more than zero"),
        ("Acme: 5000 paypal venmo", "I don't understand venmo"),
        ("Acme: 5000 微信 alipay", "at most one payment method"),
    ],
)
def test_one_line_refusals(text: str, reason: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_collection_line(text)
    assert reason in str(refused.value)


@given(st.text(max_size=60))
def test_one_line_reading_never_crashes(text: str) -> None:
    try:
        line = parse_collection_line(text)
    except Invalid:
        return
    assert line.amount > 0 and line.customer


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10) ** 10, places=2),
    st.sampled_from(
        [
            "cash",
            "transfer",
            "cheque",
            "现金",
            "转账",
            "支票",
            "微信",
            "WeChat",
            "支付宝",
            "Alipay",
            "刷卡",
            "POS",
            "card",
            "汇款",
            "",
        ]
    ),
    st.from_regex(r"[A-Z]{1,3}-[0-9]{4,8}", fullmatch=True) | st.none(),
    st.booleans(),
)
def test_one_line_round_trip(amount: Decimal, method: str, receipt: str | None, receipt_first: bool) -> None:
    extras = [word for word in ([receipt, method] if receipt_first else [method, receipt]) if word]
    line = parse_collection_line(f"Shop 7: {amount:,.2f} " + " ".join(extras))
    assert line.customer == "Shop 7" and line.amount == amount
    assert line.method == (parse_method(method) if method else PaymentMethod.CASH)
    assert line.receipt_no == receipt


# -- helpers -------------------------------------------------------------------------------------


async def collections_in(harness: Harness) -> list[Collection]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Collection).order_by(Collection.id)))


async def allocated(harness: Harness, collection_id: int) -> Decimal:
    async with harness.db.reading() as session:
        total = await session.scalar(
            select(func.sum(Allocation.amount)).where(Allocation.collection_id == collection_id)
        )
    return total or Decimal("0.00")


async def confirmed(rep: Person, line: str) -> str:
    """Send a collection; one of more than the customer owes is confirmed (the excess kept as credit)."""
    said = await rep.says(line)
    if "Record it?" in said:
        said = "\n".join(m.plain_text() for m in await rep.press("Confirm"))
    return said


async def open_balance(harness: Harness, customer: Customer) -> Decimal:
    async with harness.db.reading() as session:
        return (await balance(session, customer.id, TODAY)).open


async def setup(harness: Harness) -> tuple[Company, Customer, Receivable, Receivable]:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    acme = await factories.customer(harness.db, now, name="Acme Trading", rep=people.rep, code="ACME")
    old = await factories.receivable(
        harness.db,
        now,
        customer=acme,
        amount="3000.00",
        invoice_no="INV-OLD",
        issued_on=TODAY - timedelta(60),
        due_on=TODAY - timedelta(30),
    )
    new = await factories.receivable(
        harness.db,
        now,
        customer=acme,
        amount="4000.00",
        invoice_no="INV-NEW",
        issued_on=TODAY - timedelta(10),
        due_on=TODAY + timedelta(20),
    )
    return people, acme, old, new


# -- recording -----------------------------------------------------------------------------------


async def test_one_liner_settles_oldest_first(harness: Harness) -> None:
    people, acme, old, new = await setup(harness)
    rep = harness.person(2001, "Li")
    said = await rep.says("/collect acme: 5,000 cash R-1024")
    assert "5,000.00 (cash) from Acme Trading" in said
    assert "Receipt no. R-1024" in said
    assert said.index("INV-OLD: 3,000.00 applied, 0.00 still open") < said.index(
        "INV-NEW: 2,000.00 applied, 2,000.00 still open"
    )
    assert "Held by you until finance confirms the hand-in" in said
    assert "Unapplied" not in said
    assert rep.last.button_texts() == ["↩ Undo (10 minutes)"]

    [collection] = await collections_in(harness)
    assert (collection.amount, collection.method, collection.receipt_no) == (
        Decimal("5000.00"),
        PaymentMethod.CASH,
        "R-1024",
    )
    assert collection.rep_id == collection.recorded_by == people.rep.id
    assert collection.handed_in_at is None and collection.received_at == harness.clock.now()
    assert await allocated(harness, collection.id) == Decimal("5000.00")
    assert await open_balance(harness, acme) == Decimal("2000.00")
    async with harness.db.reading() as session:
        per_invoice = dict(
            (
                await session.execute(
                    select(Allocation.receivable_id, Allocation.amount).where(
                        Allocation.collection_id == collection.id
                    )
                )
            ).all()
        )
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "collection.record"))
    assert per_invoice == {old.id: Decimal("3000.00"), new.id: Decimal("2000.00")}
    assert entry is not None and entry.actor_id == people.rep.id and entry.entity_id == collection.id
    assert entry.before == {"customer_id": acme.id, "customer_open": "7000.00"}
    assert entry.after is not None and entry.after["customer_open"] == "2000.00"


async def test_guided_collection_with_transfer_and_excess_credit(harness: Harness) -> None:
    _, acme, _, _ = await setup(harness)
    rep = harness.person(2001, "Li")
    assert "Which customer paid?" in await rep.says("/collect")
    assert "How much did Acme Trading pay?" in await rep.says("Acme")
    assert "not an amount" in await rep.says("lots")  # refused, and still asking
    assert "How was it paid?" in await rep.says("1.5万")
    assert rep.last.button_texts() == ["Cash", "Transfer", "Cheque", "WeChat Pay", "Alipay", "Card / POS"]
    await rep.press("Transfer")
    assert "15,000.00 (transfer) from Acme Trading. Receipt number?" in rep.last.plain_text()
    asked = await rep.says("TX-99")
    assert "Acme Trading owes 7,000.00; 8,000.00 will be kept as credit. Record it?" in asked
    assert await collections_in(harness) == []  # nothing until confirmed
    said = "\n".join(m.plain_text() for m in await rep.press("Confirm"))
    assert "15,000.00 (transfer)" in said and "Receipt no. TX-99" in said
    assert "INV-OLD: 3,000.00 applied, 0.00 still open" in said
    assert "INV-NEW: 4,000.00 applied, 0.00 still open" in said
    assert "Unapplied credit: 8,000.00" in said
    assert "nothing to hand in" in said

    [collection] = await collections_in(harness)
    assert collection.amount == Decimal("15000.00") and collection.method == PaymentMethod.TRANSFER
    assert collection.handed_in_at == collection.received_at and collection.confirmed_by is None
    assert await allocated(harness, collection.id) == Decimal("7000.00")  # 8,000 stays as credit
    assert await open_balance(harness, acme) == Decimal("0.00")
    assert "didn't understand" in await rep.says("TX-100")  # the flow is over: nothing more recorded
    assert len(await collections_in(harness)) == 1


async def test_guided_skip_receipt_and_cancel(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/collect Acme")
    await rep.send("800")
    await rep.press("Cheque")
    [edited] = await rep.press("Skip")
    assert "800.00 (cheque)" in edited.plain_text() and "Held by you" in edited.plain_text()
    [collection] = await collections_in(harness)
    assert collection.method == PaymentMethod.CHEQUE and collection.receipt_no is None

    await rep.send("/collect")
    await rep.send("Acme")
    assert "Cancelled: no collection was recorded" in await rep.says("/cancel")
    assert "There is nothing to cancel" in await rep.says("/cancel")
    assert len(await collections_in(harness)) == 1


async def test_every_refused_amount_records_nothing(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    refused = {
        "0": "more than zero",
        "-5": "more than zero",
        "1.234": "at most 2 decimals",
        "abc": "not an amount",
        "NaN": "not an amount",
        "inf": "not an amount",
        "100000000000": "too large",
        "1e11": "not an amount",
    }
    for text, reason in refused.items():
        replies = await rep.send(f"/collect Acme: {text}")
        assert len(replies) == 1 and reason in replies[0].plain_text(), (text, replies)
        assert replies[0].reply_markup is None
    assert await collections_in(harness) == []
    accepted = {"1.5万": "15000.00", "5k": "5000.00", "¥5,000": "5000.00"}
    for text in accepted:
        assert "Collection #" in await confirmed(rep, f"/collect Acme: {text}")
    assert [c.amount for c in await collections_in(harness)] == [Decimal(a) for a in accepted.values()]


async def test_ambiguous_chinese_and_hostile_names(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    north = await factories.customer(harness.db, now, name="Star Shop North", rep=people.rep)
    await factories.customer(harness.db, now, name="Star Shop South", rep=people.rep)
    hualian = await factories.customer(harness.db, now, name="上海华联超市", rep=people.rep)
    muller = await factories.customer(harness.db, now, name="<Müller & Söhne>", rep=people.rep)
    rep = harness.person(2001, "Li")

    assert "Several customers match Star Shop" in await rep.says("/collect Star Shop: 300 transfer")
    [asked] = await rep.press("Star Shop North")
    assert "Star Shop North owes nothing; all 300.00 will be kept as credit" in asked.plain_text()
    [edited] = await rep.press("Confirm")
    assert "300.00 (transfer) from Star Shop North" in edited.plain_text()
    assert "No open invoices: all 300.00 is kept as unapplied credit" in edited.plain_text()

    said = await confirmed(rep, "/collect 华联：2,000 现金")
    assert "2,000.00 (cash) from 上海华联超市" in said
    said = await confirmed(rep, "/collect Müller: 99.50")
    assert "99.50 (cash) from <Müller & Söhne>" in said
    assert [(c.customer_id, c.amount) for c in await collections_in(harness)] == [
        (north.id, Decimal("300.00")),
        (hualian.id, Decimal("2000.00")),
        (muller.id, Decimal("99.50")),
    ]

    await rep.send("/lang zh")
    said = await rep.says("/collect 华联: 10")
    assert "记录吗" in said
    said = "\n".join(m.plain_text() for m in await rep.press("确认"))
    assert "收款 #" in said and "由你保管" in said


async def test_another_reps_customer_is_refused(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    south = await factories.customer(
        harness.db, harness.clock.now(), name="Southern Store", rep=people.other_rep
    )
    mine = await factories.customer(harness.db, harness.clock.now(), name="My Store", rep=people.rep)
    rep = harness.person(2001, "Li")
    assert "No customer matches Southern" in await rep.says("/collect Southern: 500")
    forged = harness.api.callback(2001, rep.last.message_id, f"collect:start:{south.id}")
    await harness.settle(forged)
    assert "not one of yours" in rep.last.plain_text()
    # A forged pick inside a running flow is refused too.
    await rep.send("/collect")
    await harness.settle(harness.api.callback(2001, rep.last.message_id, f"collect:pick:{south.id}"))
    assert "not one of yours" in rep.last.plain_text()
    assert await collections_in(harness) == []
    finance = harness.person(6001, "Fay")
    assert "does not allow" in await finance.says("/collect My Store: 100")
    # The customer card's Collect button for one's own customer goes straight to the amount.
    await harness.settle(harness.api.callback(2001, rep.last.message_id, f"collect:start:{mine.id}"))
    assert "How much did My Store pay?" in rep.last.plain_text()


async def test_redelivered_collect_records_once(harness: Harness) -> None:
    _, acme, _, _ = await setup(harness)
    rep = harness.person(2001, "Li")
    update = harness.api.message(2001, "/collect Acme: 1000", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    first, second = rep.chat[-2:]
    assert first.plain_text() == second.plain_text() and "1,000.00 (cash)" in first.plain_text()
    [collection] = await collections_in(harness)
    assert await allocated(harness, collection.id) == Decimal("1000.00")
    assert await open_balance(harness, acme) == Decimal("6000.00")


# -- undo and reverse ----------------------------------------------------------------------------


async def test_double_tapped_undo_reverses_once(harness: Harness) -> None:
    _, acme, _, _ = await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/collect Acme: 3500")
    harness.clock.advance(timedelta(minutes=9))
    first = harness.api.press(2001, "Undo")
    second = harness.api.press(2001, "Undo")
    await harness.settle(second)
    assert "Undone: collection #" in rep.last.plain_text()
    assert "INV-OLD: 3,000.00 reopened, 3,000.00 open" in rep.last.plain_text()
    assert rep.last.button_texts() == []
    answers = harness.api.callback_answers
    assert answers[first["callback_query"]["id"]]["text"] == "Undone."
    assert answers[second["callback_query"]["id"]]["text"] == "Already undone."
    original, reversal = await collections_in(harness)
    assert reversal.reverses_id == original.id and reversal.amount == Decimal("-3500.00")
    assert reversal.reason == "undone by the rep"
    assert await allocated(harness, reversal.id) == Decimal("-3500.00")
    assert await open_balance(harness, acme) == Decimal("7000.00")


async def test_undo_after_ten_minutes_is_refused(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/collect Acme: 500")
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    [reply] = await rep.press("Undo")
    assert "10 minutes to undo" in reply.plain_text() and "manager or finance" in reply.plain_text()
    assert len(await collections_in(harness)) == 1


async def test_reverse_by_manager_reopens_invoices(harness: Harness) -> None:
    people, acme, _, _ = await setup(harness)
    rep = harness.person(2001, "Li")
    await rep.send("/collect Acme: 3500")
    [collection] = await collections_in(harness)
    assert await open_balance(harness, acme) == Decimal("3500.00")

    assert "does not allow" in await rep.says(f"/reverse {collection.id} typo")
    manager = harness.person(5001, "Mia")
    assert "Give the reason" in await manager.says(f"/reverse {collection.id}")
    assert "Usage: /reverse" in await manager.says("/reverse abc")
    preview = await manager.says(f"/reverse #{collection.id} wrong <customer> & amount")
    assert f"Reverse collection #{collection.id}?" in preview and "Li Wei will be told" in preview
    assert len(await collections_in(harness)) == 1  # a preview writes nothing
    said = "\n".join(m.plain_text() for m in await manager.press("Confirm"))
    assert f"Collection #{collection.id} (3,500.00 from Acme Trading) is reversed" in said
    assert "Reason: wrong <customer> & amount" in said
    assert "INV-OLD: 3,000.00 reopened, 3,000.00 open" in said
    assert "INV-NEW: 500.00 reopened, 4,000.00 open" in said
    assert await open_balance(harness, acme) == Decimal("7000.00")
    assert "already reversed" in await manager.says(f"/reverse {collection.id} again")
    _, reversal = await collections_in(harness)
    assert reversal.recorded_by == people.manager.id and reversal.rep_id == people.rep.id
    assert "itself a reversal" in await manager.says(f"/reverse {reversal.id} oops")
    assert "There is no collection #999" in await manager.says("/reverse 999 oops")
    async with harness.db.reading() as session:
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "collection.reverse"))
    assert entry is not None and entry.actor_id == people.manager.id
    assert entry.before is not None and entry.before["customer_open"] == "3500.00"
    assert entry.after is not None and entry.after["customer_open"] == "7000.00"
    # The rep's Undo after a reversal says it is already done, and changes nothing.
    press = harness.api.press(2001, "Undo")
    await harness.settle(press)
    assert harness.api.callback_answers[press["callback_query"]["id"]]["text"] == "Already undone."
    assert len(await collections_in(harness)) == 2


async def test_manager_cannot_reverse_another_teams_collection(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    south = await factories.customer(
        harness.db, harness.clock.now(), name="Southern Store", rep=people.other_rep
    )
    bob = harness.person(2002, "Bob")
    await confirmed(bob, "/collect Southern: 400")
    [collection] = await collections_in(harness)
    li = harness.person(2001, "Li")
    await li.send("/help")
    await harness.settle(harness.api.callback(2001, li.last.message_id, f"collect:undo:{collection.id}"))
    assert "not yours to undo" in li.last.plain_text()
    manager = harness.person(5001, "Mia")
    # answered as for a collection that does not exist: another team's ids cannot be probed
    refused = await manager.says(f"/reverse {collection.id} mistake")
    assert refused == f"There is no collection #{collection.id}."
    finance = harness.person(6001, "Fay")
    assert "Reverse collection" in await finance.says(f"/reverse {collection.id} mistake")
    assert "is reversed by" in (await finance.press("Confirm"))[0].plain_text()
    assert len(await collections_in(harness)) == 2
    assert south.id == collection.customer_id
