"""/order through the fake Bot API: one-liners, the card's Order button, candidates, credit limit."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select

from bot.services.errors import Invalid
from bot.services.money.orders import OrderDetails, RecordedOrder, read_details, record_order
from bot.services.people.access import Caller
from handlers.money.orders import split_order
from models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    AuditLog,
    Customer,
    CustomerStatus,
    Receivable,
    ReceivableSource,
    User,
)
from tests import factories
from tests.factories import Company
from tests.harness import Harness, Person

TODAY = date(2026, 11, 23)


async def company(harness: Harness) -> tuple[Company, Person]:
    people = await factories.company(harness.db, harness.clock.now())
    return people, harness.person(2001, "Li")


async def receivables(harness: Harness) -> list[Receivable]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Receivable).order_by(Receivable.id)))


async def approvals(harness: Harness) -> list[Approval]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Approval).order_by(Approval.id)))


async def test_one_liner_with_and_without_invoice_number(harness: Harness) -> None:
    people, rep = await company(harness)
    now = harness.clock.now()
    acme = await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)

    said = await rep.says("/order Acme: 5000")
    assert "Order recorded for Acme Trading (ACM)" in said
    assert "Invoice SO-20261123-001: 5,000.00, due 2026-12-23." in said  # grade C: 30 days
    assert "Open balance now: 5,000.00." in said
    said = await rep.says("/order acm：1,200.50 INV-77")  # code, full-width colon
    assert "Invoice INV-77: 1,200.50" in said and "Open balance now: 6,200.50." in said
    said = await rep.says("/order Acme Trading: ¥ 2k")
    assert "Invoice SO-20261123-002: 2,000.00" in said

    rows = await receivables(harness)
    assert [(r.invoice_no, r.amount) for r in rows] == [
        ("SO-20261123-001", Decimal("5000.00")),
        ("INV-77", Decimal("1200.50")),
        ("SO-20261123-002", Decimal("2000.00")),
    ]
    first = rows[0]
    assert (first.customer_id, first.rep_id, first.source, first.over_limit) == (
        acme.id,
        people.rep.id,
        ReceivableSource.ORDER,
        False,
    )
    assert (first.issued_on, first.due_on) == (TODAY, date(2026, 12, 23))
    assert first.source_key is not None and first.source_key.startswith("msg:2001:")
    async with harness.db.reading() as session:
        logged = list(await session.scalars(select(AuditLog).where(AuditLog.action == "record_order")))
    assert len(logged) == 3 and logged[1].after is not None
    assert logged[1].after["invoice_no"] == "INV-77" and logged[1].after["amount"] == "1200.50"
    assert logged[1].actor_id == people.rep.id and logged[1].entity_id == rows[1].id

    said = await rep.says("/order Acme: 100 INV-77")
    assert "Invoice INV-77 is already recorded" in said
    assert len(await receivables(harness)) == 3


async def test_usage_and_who_may_order(harness: Harness) -> None:
    people, rep = await company(harness)
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=people.rep)
    assert "/order CUSTOMER: AMOUNT [INVOICE NO]" in await rep.says("/order")
    finance = harness.person(6001, "Fay")
    assert "Your role does not allow this." in await finance.says("/order Acme: 100")
    assert await receivables(harness) == []


async def test_chinese_name_and_markup_in_a_name(harness: Harness) -> None:
    people, rep = await company(harness)
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="华东五金有限公司", code="HD01", rep=people.rep)
    await factories.customer(harness.db, now, name="<Müller & Söhne>", code="MS01", rep=people.rep)

    said = await rep.says("/order 华东五金: 1.5万 发票-1")
    assert "is not an invoice number" in said  # an invoice number is letters and digits
    said = await rep.says("/order 华东五金: 1.5万")
    assert "Order recorded for 华东五金有限公司 (HD01)" in said and "15,000.00" in said

    replies = await rep.send("/order Müller: 300")
    assert "Order recorded for <Müller & Söhne> (MS01)" in replies[0].plain_text()
    assert "&lt;Müller &amp; Söhne&gt;" in (replies[0].text or "")
    assert len(await receivables(harness)) == 2


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "The amount must be more than zero."),
        ("-5", "The amount must be more than zero."),
        ("1.234", "Amounts have at most 2 decimals."),
        ("abc", "abc is not an amount."),
        ("NaN", "NaN is not an amount."),
        ("inf", "inf is not an amount."),
        ("1e11", "1e11 is not an amount."),
        ("20000000000", "That amount is too large to be real"),
        ("", "Write the amount after the colon"),
        ("5 000", "Write the amount without spaces"),
        ("500 INV-1 extra", "at most an invoice number, not INV-1 extra."),
    ],
)
async def test_refused_amounts_record_nothing(harness: Harness, amount: str, reason: str) -> None:
    people, rep = await company(harness)
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=people.rep)
    said = await rep.says(f"/order Acme: {amount}")
    assert reason in said
    assert "recorded" not in said
    assert await receivables(harness) == []


async def test_due_date_from_customer_or_grade(harness: Harness) -> None:
    people, rep = await company(harness)
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="Own Terms", rep=people.rep, grade="A", credit_days=10)
    await factories.customer(harness.db, now, name="Grade B", rep=people.rep, grade="B")
    assert "due 2026-12-03" in await rep.says("/order Own Terms: 100")
    assert "due 2027-01-07" in await rep.says("/order Grade B: 100")  # B: 45 days
    assert [r.due_on - r.issued_on for r in await receivables(harness)] == [timedelta(10), timedelta(45)]


async def over_limit_customer(harness: Harness, people: Company) -> Customer:
    """A grade C customer (limit 50,000) who already owes 45,000, a little of it collected."""
    now = harness.clock.now()
    shop = await factories.customer(harness.db, now, name="Big Buyer", code="BB", rep=people.rep)
    invoice = await factories.receivable(
        harness.db,
        now,
        customer=shop,
        amount="45100.00",
        issued_on=TODAY - timedelta(10),
        due_on=TODAY + timedelta(20),
    )
    await factories.payment(harness.db, now, receivable=invoice, amount="100.00", rep=people.rep)
    return shop


async def test_over_limit_confirmed_is_marked_for_the_manager(harness: Harness) -> None:
    people, rep = await company(harness)
    shop = await over_limit_customer(harness, people)

    warning = (await rep.send("/order Big Buyer: 8000 INV-9"))[0]
    text = warning.plain_text()
    assert "This order of 8,000.00 takes Big Buyer (BB) over the credit limit." in text
    assert "Open balance: 45,000.00" in text and "Credit limit: 50,000.00" in text
    assert "After this order: 53,000.00" in text
    assert warning.button_texts() == ["Confirm", "Cancel"]
    assert len(await receivables(harness)) == 1 and await approvals(harness) == []

    confirmed = await rep.press("Confirm")
    assert len(confirmed) == 1 and confirmed[0].message_id == warning.message_id
    text = confirmed[0].plain_text()
    assert "Order recorded for Big Buyer (BB)" in text and "Invoice INV-9: 8,000.00" in text
    assert "Open balance now: 53,000.00." in text and "marked for your manager" in text
    assert confirmed[0].button_texts() == ["↩ Undo (10 minutes)"]

    order = (await receivables(harness))[1]
    assert order.over_limit and order.invoice_no == "INV-9" and order.customer_id == shop.id
    (approval,) = await approvals(harness)
    assert (
        approval.kind,
        approval.status,
        approval.requested_by,
        approval.customer_id,
        approval.receivable_id,
    ) == (ApprovalKind.OVER_LIMIT, ApprovalStatus.PENDING, people.rep.id, shop.id, order.id)
    assert approval.payload == {
        "invoice_no": "INV-9",
        "amount": "8000.00",
        "open_before": "45000.00",
        "credit_limit": "50000.00",
        "open_after": "53000.00",
    }
    assert approval.source_key == order.source_key


async def test_over_limit_cancelled_records_nothing(harness: Harness) -> None:
    people, rep = await company(harness)
    await over_limit_customer(harness, people)
    await rep.send("/order Big Buyer: 8000")
    cancelled = await rep.press("Cancel")
    assert cancelled[0].plain_text() == "Order cancelled: nothing was recorded."
    assert cancelled[0].button_texts() == []
    assert len(await receivables(harness)) == 1 and await approvals(harness) == []
    # Within the limit no question is asked.
    assert "Order recorded" in await rep.says("/order Big Buyer: 5000")


async def test_in_chinese(harness: Harness) -> None:
    people, rep = await company(harness)
    async with harness.db.transaction() as session:
        (await session.get_one(User, people.rep.id)).language = "zh"
    await over_limit_customer(harness, people)
    warning = (await rep.send("/order Big Buyer: 8000"))[0]
    assert "超出信用额度" in warning.plain_text() and "本单后：53,000.00" in warning.plain_text()
    assert warning.button_texts() == ["确认", "取消"]
    done = (await rep.press("确认"))[0].plain_text()
    assert "已为 Big Buyer (BB) 记录订单" in done and "已提交主管审批" in done


async def test_inactive_customer_takes_no_orders(harness: Harness) -> None:
    people, rep = await company(harness)
    gone = await factories.customer(
        harness.db, harness.clock.now(), name="Closed Shop", rep=people.rep, status=CustomerStatus.INACTIVE
    )
    assert "No customer matches" in await rep.says("/order Closed Shop: 100")
    update = harness.api.callback(2001, rep.last.message_id, f"order:start:{gone.id}")
    await harness.settle(update)
    assert rep.last.plain_text() == "Closed Shop is inactive: no new orders."
    assert await receivables(harness) == []


async def test_double_tapped_confirm_records_once(harness: Harness) -> None:
    people, rep = await company(harness)
    await over_limit_customer(harness, people)
    await rep.send("/order Big Buyer: 8000")
    first = harness.api.press(2001, "Confirm")
    second = harness.api.press(2001, "Confirm")
    cancel = harness.api.press(2001, "Cancel")
    await harness.settle(first)
    await harness.settle(second)
    await harness.settle(cancel)
    assert len(await receivables(harness)) == 2 and len(await approvals(harness)) == 1
    text = rep.last.plain_text()
    assert "Order recorded for Big Buyer" in text and "marked for your manager" in text
    answers = [
        harness.api.callback_answers[u["callback_query"]["id"]].get("text") for u in (first, second, cancel)
    ]
    again = "Already recorded: invoice SO-20261123-001."
    assert answers == [None, again, again]
    assert rep.last.edits == 1


async def test_redelivered_order_update_records_once(harness: Harness) -> None:
    people, rep = await company(harness)
    await factories.customer(harness.db, harness.clock.now(), name="Acme", rep=people.rep)
    update = harness.api.message(2001, "/order Acme: 5000", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    assert len(await receivables(harness)) == 1
    first, again = (m.plain_text() for m in rep.chat[-2:])
    assert first == again and "Invoice SO-20261123-001: 5,000.00" in again


async def test_another_reps_customer_is_refused(harness: Harness) -> None:
    people, rep = await company(harness)
    now = harness.clock.now()
    south = await factories.customer(harness.db, now, name="South Shop", rep=people.other_rep)
    assert "No customer matches South Shop" in await rep.says("/order South Shop: 100")
    update = harness.api.callback(2001, rep.last.message_id, f"order:start:{south.id}")
    await harness.settle(update)
    assert rep.last.plain_text() == "That customer is not one of yours."
    assert await receivables(harness) == []
    # Their manager may order for the team's customers; the receivable stays the rep's.
    manager = harness.person(5001, "Mia")
    await factories.customer(harness.db, now, name="North Shop", rep=people.rep)
    assert "Order recorded" in await manager.says("/order North Shop: 100")
    assert (await receivables(harness))[0].rep_id == people.rep.id


async def test_order_button_on_the_card_asks_for_the_amount(harness: Harness) -> None:
    people, rep = await company(harness)
    acme = await factories.customer(harness.db, harness.clock.now(), name="Acme", code="A1", rep=people.rep)
    await rep.send("/help")  # any message of the bot can carry the card's button
    update = harness.api.callback(2001, rep.last.message_id, f"order:start:{acme.id}")
    await harness.settle(update)
    assert rep.last.plain_text().startswith("Amount for Acme (A1)?")
    assert harness.api.callback_answers.get(update["callback_query"]["id"]) is not None

    assert "abc is not an amount" in await rep.says("abc")
    said = await rep.says("2,000 INV-9")
    assert "Order recorded for Acme (A1)" in said and "Invoice INV-9: 2,000.00" in said
    assert "I didn't understand" in await rep.says("3000")  # the question was answered
    assert len(await receivables(harness)) == 1

    update = harness.api.callback(2001, rep.last.message_id, f"order:start:{acme.id}")
    await harness.settle(update)
    assert "Order cancelled: nothing was recorded." in await rep.says("/cancel")
    assert "There is nothing to cancel." in await rep.says("/cancel")
    assert "Amount for Acme (A1)?" in await rep.says("/order Acme")
    assert "Invoice SO-20261123-001: 700.00" in await rep.says("700")


async def test_ambiguous_customer_gets_buttons_that_continue_the_order(harness: Harness) -> None:
    people, rep = await company(harness)
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="Acme North", code="AN", rep=people.rep)
    south = await factories.customer(harness.db, now, name="Acme South", code="AS", rep=people.rep)

    choice = (await rep.send("/order Acme: 500 INV-5"))[0]
    assert "Several customers match Acme. Which one?" in choice.plain_text()
    assert choice.button_texts() == ["Acme North (AN)", "Acme South (AS)"]
    done = await rep.press("Acme South (AS)")
    assert done[0].message_id == choice.message_id
    assert "Order recorded for Acme South (AS)" in done[0].plain_text()
    assert "Invoice INV-5: 500.00" in done[0].plain_text()
    (order,) = await receivables(harness)
    assert order.customer_id == south.id

    # A stale candidate button (its order forgotten) records nothing.
    update = harness.api.callback(2001, choice.message_id, f"order:pick:999999:{south.id}")
    await harness.settle(update)
    assert harness.api.callback_answers[update["callback_query"]["id"]]["text"] == (
        "This choice has expired: nothing was recorded. Send the order again."
    )
    assert len(await receivables(harness)) == 1

    await rep.send("/order acme")
    first = harness.api.press(2001, "Acme North (AN)")
    second = harness.api.press(2001, "Acme North (AN)")
    await harness.settle(first)
    await harness.settle(second)
    assert rep.last.plain_text().startswith("Amount for Acme North (AN)?") and rep.last.edits == 1
    assert "Invoice SO-20261123-001: 900.00" in await rep.says("900")
    assert len(await receivables(harness)) == 2


async def test_generated_invoice_numbers_continue_the_days_sequence(harness: Harness) -> None:
    people, rep = await company(harness)
    now = harness.clock.now()
    acme = await factories.customer(harness.db, now, name="Acme", rep=people.rep)
    for number in ("SO-20261123-009", "SO-20261123-010", "SO-20261122-050"):
        await factories.receivable(
            harness.db, now, customer=acme, amount="1", issued_on=TODAY, due_on=TODAY, invoice_no=number
        )
    assert "Invoice SO-20261123-011:" in await rep.says("/order Acme: 1")
    async with harness.db.reading() as session:
        count = await session.scalar(select(func.count()).select_from(Receivable))
    assert count == 4


async def test_concurrent_orders_get_distinct_generated_numbers(harness: Harness) -> None:
    """Two reps' orders committed at the same moment (PostgreSQL really races here)."""
    people, _ = await company(harness)
    now, zone = harness.clock.now(), harness.clock.zone
    acme = await factories.customer(harness.db, now, name="Acme", rep=people.rep)
    caller = Caller.of(people.rep, "en")

    async def place(key: str) -> str:
        async with harness.db.transaction() as session:
            done = await record_order(
                session, caller, acme.id, OrderDetails(Decimal("10.00")), now=now, zone=zone, source_key=key
            )
            assert isinstance(done, RecordedOrder)
            return done.invoice_no

    numbers = await asyncio.gather(*(place(f"test:{n}") for n in range(4)))
    assert sorted(numbers) == [f"SO-20261123-00{n}" for n in range(1, 5)]
    assert len(await receivables(harness)) == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme: 5000", ("Acme", "5000")),
        ("Acme：5000 X", ("Acme", "5000 X")),
        ("Acme", ("Acme", None)),
        (" 华东 ： 1.5万 ", ("华东", "1.5万")),
        ("A: B: C", ("A", "B: C")),
    ],
)
def test_split_order(text: str, expected: tuple[str, str | None]) -> None:
    assert split_order(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000", OrderDetails(Decimal("5000.00"))),
        ("RMB 5000 A-1", OrderDetails(Decimal("5000.00"), "A-1")),
        ("5000 元", OrderDetails(Decimal("5000.00"))),
        ("1.5 万 2026118", OrderDetails(Decimal("15000.00"), "2026118")),
        ("５０００ INV/7", OrderDetails(Decimal("5000.00"), "INV/7")),
    ],
)
def test_read_details(text: str, expected: OrderDetails) -> None:
    assert read_details(text) == expected


invoice_numbers = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_./#-]{0,20}", fullmatch=True).filter(
    lambda text: text.lower() not in {"k", "w", "rmb", "cny", "yuan"}
)  # those are units


@given(cents=st.integers(min_value=1, max_value=10**12), invoice=st.none() | invoice_numbers)
def test_read_details_round_trip(cents: int, invoice: str | None) -> None:
    amount = Decimal(cents) / 100
    text = f"{amount:,.2f}" + (f" {invoice}" if invoice else "")
    details = read_details(text)
    assert details == OrderDetails(amount.quantize(Decimal("0.01")), invoice)


@given(st.text(max_size=40))
def test_read_details_never_crashes(text: str) -> None:
    try:
        details = read_details(text)
    except Invalid:
        return
    assert details.amount > 0
