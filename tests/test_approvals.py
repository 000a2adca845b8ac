"""Approvals through the fake Bot API: /discount, over-limit orders, Approve / Reject, once."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select

from bot.services.errors import AccessDenied, Invalid
from bot.services.money import ledger
from bot.services.people import approvals
from bot.services.people.access import Caller
from bot.services.people.approvals import read_discount
from models import Approval, ApprovalKind, ApprovalStatus, AuditLog, Customer, Outbox, Receivable, Role, User
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person

TODAY = date(2026, 11, 23)


async def company(harness: Harness) -> tuple[Company, Person, Person]:
    """The company, with Acme (Li Wei's, North) and South Shop (Bob's, South: no manager)."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)
    await factories.customer(harness.db, now, name="South Shop", code="SOU", rep=people.other_rep)
    return people, harness.person(2001, "Li"), harness.person(5001, "Mia")


async def all_approvals(harness: Harness) -> list[Approval]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Approval).order_by(Approval.id)))


async def outbox_rows(harness: Harness) -> list[Outbox]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Outbox).order_by(Outbox.id)))


async def audits(harness: Harness, action: str) -> list[AuditLog]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(AuditLog).where(AuditLog.action == action)))


def answer_of(harness: Harness, update: dict[str, object]) -> str | None:
    query = update["callback_query"]
    assert isinstance(query, dict)
    return harness.api.callback_answers[query["id"]].get("text")


async def test_discount_request_reaches_the_manager_and_the_decision_the_rep(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    said = await rep.says("/discount Acme: 5% order of 200 cases, competitor offers 4%")
    assert "Discount request sent: Acme Trading (ACM), 5%." in said
    assert "Reason: order of 200 cases, competitor offers 4%" in said
    (approval,) = await all_approvals(harness)
    assert (approval.kind, approval.status, approval.requested_by, approval.receivable_id) == (
        ApprovalKind.DISCOUNT,
        ApprovalStatus.PENDING,
        people.rep.id,
        None,
    )
    assert approval.payload == {"percent": "5", "reason": "order of 200 cases, competitor offers 4%"}
    assert approval.source_key.startswith("msg:2001:")
    (requested,) = await audits(harness, "request_discount")
    assert requested.actor_id == people.rep.id and requested.entity_id == approval.id

    assert (await harness.deliver_pushes()).sent == 1
    push = manager.last
    assert push.plain_text() == (
        "🏷 Discount request from Li Wei\nCustomer: Acme Trading (ACM)\n"
        "Discount: 5%\nReason: order of 200 cases, competitor offers 4%"
    )
    assert push.button_texts() == ["✅ Approve", "❌ Reject"]
    assert [b["callback_data"] for row in push.buttons() for b in row] == [
        f"appr:yes:{approval.id}",
        f"appr:no:{approval.id}",
    ]

    harness.clock.set(harness.clock.now() + timedelta(minutes=7))
    decided = await manager.press("✅ Approve")
    assert len(decided) == 1 and decided[0].message_id == push.message_id
    assert decided[0].plain_text().endswith("✅ Approved by Mia Manager, 2026-11-23 09:07")
    assert decided[0].button_texts() == []
    (approval,) = await all_approvals(harness)
    assert (approval.status, approval.decided_by) == (ApprovalStatus.APPROVED, people.manager.id)
    assert approval.decided_at == harness.clock.now()
    (logged,) = await audits(harness, "approve")
    assert logged.actor_id == people.manager.id and logged.after == {"status": "approved", "kind": "discount"}

    assert (await harness.deliver_pushes()).sent == 1
    assert rep.last.plain_text() == (
        "✅ Your discount request for Acme Trading (ACM) (5%) was approved by Mia Manager."
    )


async def test_amount_discount_rejected(harness: Harness) -> None:
    _people, rep, manager = await company(harness)
    said = await rep.says("/discount acm：¥1.5万 damaged packaging")  # code, full-width colon
    assert "Discount request sent: Acme Trading (ACM), 15,000.00." in said
    (approval,) = await all_approvals(harness)
    assert approval.payload == {"amount": "15000.00", "reason": "damaged packaging"}
    await harness.deliver_pushes()
    decided = (await manager.press("❌ Reject"))[0]
    assert "Discount: 15,000.00" in decided.plain_text()
    assert decided.plain_text().endswith("❌ Rejected by Mia Manager, 2026-11-23 09:00")
    assert (await all_approvals(harness))[0].status == ApprovalStatus.REJECTED
    assert len(await audits(harness, "reject")) == 1
    await harness.deliver_pushes()
    assert rep.last.plain_text() == (
        "❌ Your discount request for Acme Trading (ACM) (15,000.00) was rejected by Mia Manager."
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("/discount", "Ask your manager for a discount like this"),
        ("/discount Acme 5% big order", "Ask your manager for a discount like this"),
        ("/discount Acme: 5%", "Add the reason after the discount"),
        ("/discount Acme:", "Write the discount after the colon"),
        ("/discount Acme: 0% nice people", "0% is not a discount"),
        ("/discount Acme: 101% nice people", "101% is not a discount"),
        ("/discount Acme: 5.555% nice people", "5.555% is not a discount"),
        ("/discount Acme: -5% nice people", "-5% is not a discount"),
        ("/discount Acme: lots nice people", "lots is not an amount"),
        ("/discount Acme: 0 nice people", "The amount must be more than zero."),
        ("/discount Nobody: 5% nice people", "No customer matches Nobody"),
        ("/discount South Shop: 5% not mine", "No customer matches South Shop"),
        ("/discount Acme: 5% " + "x" * 301, "Keep the reason under 300 characters."),
    ],
)
async def test_bad_requests_are_refused_and_nothing_is_written(
    harness: Harness, text: str, reason: str
) -> None:
    _people, rep, _manager = await company(harness)
    assert reason in await rep.says(text)
    assert await all_approvals(harness) == [] and await outbox_rows(harness) == []


async def test_only_reps_ask_and_only_approvers_decide(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    assert "Your role does not allow this." in await manager.says("/discount Acme: 5% friend")
    assert "Your role does not allow this." in await harness.person(6001, "Fay").says(
        "/discount Acme: 5% friend"
    )
    assert await all_approvals(harness) == []

    await rep.send("/discount Acme: 5% loyal")
    (approval,) = await all_approvals(harness)
    # A manager of another team, the rep themselves and finance press a forged Approve: refused.
    async with harness.db.transaction() as session:
        factories.user(session, 5002, "Sam South", Role.MANAGER, people.south, harness.clock.now())
    not_yours = "This request is for another team's manager to decide."
    for person, refusal in (
        (harness.person(5002, "Sam"), not_yours),
        (rep, "Your role does not allow this."),
        (harness.person(6001, "Fay"), "Your role does not allow this."),
    ):
        telegram_id = person.id
        await person.send("/overdue")
        await harness.settle(
            harness.api.callback(telegram_id, person.last.message_id, f"appr:yes:{approval.id}")
        )
        assert person.last.plain_text() == refusal
    assert (await all_approvals(harness))[0].status == ApprovalStatus.PENDING
    assert await audits(harness, "approve") == []
    await harness.deliver_pushes()
    assert manager.last.button_texts() == ["✅ Approve", "❌ Reject"]  # still the manager's to decide


async def test_double_tap_and_a_race_decide_once(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    await rep.send("/discount Acme: 3% first order")
    await harness.deliver_pushes()
    first = harness.api.press(5001, "✅ Approve")
    second = harness.api.press(5001, "✅ Approve")
    third = harness.api.press(5001, "❌ Reject")
    for update in (first, second, third):
        await harness.settle(update)
    (approval,) = await all_approvals(harness)
    assert approval.status == ApprovalStatus.APPROVED
    assert [answer_of(harness, u) for u in (first, second, third)] == [
        None,
        "Already approved by Mia Manager.",
        "Already approved by Mia Manager.",
    ]
    assert manager.last.edits == 1 and manager.last.plain_text().endswith("2026-11-23 09:00")
    assert len(await audits(harness, "approve")) == 1 and await audits(harness, "reject") == []
    assert (await harness.deliver_pushes()).sent == 1  # the rep hears it once
    assert (await harness.deliver_pushes()).sent == 0

    # The director and the manager press at the same moment on a second request: one decision.
    await rep.send("/discount Acme: 4% second order")
    await harness.deliver_pushes()
    director = harness.person(7001, "Dee")
    await director.send("/overdue")
    second_id = (await all_approvals(harness))[1].id
    by_director = harness.api.callback(7001, director.last.message_id, f"appr:no:{second_id}")
    by_manager = harness.api.press(5001, "✅ Approve")
    await harness.settle(by_director)
    await harness.settle(by_manager)
    decided = (await all_approvals(harness))[1]
    winner = {
        people.director.id: ("Dee Director", ApprovalStatus.REJECTED, by_manager, "rejected"),
        people.manager.id: ("Mia Manager", ApprovalStatus.APPROVED, by_director, "approved"),
    }
    name, status, loser, verb = winner[decided.decided_by or 0]
    assert decided.status == status
    assert answer_of(harness, loser) == f"Already {verb} by {name}."
    assert len(await audits(harness, "approve")) + len(await audits(harness, "reject")) == 2
    for person in (director, manager):  # both messages now show who decided
        assert f"by {name}, 2026-11-23 09:00" in person.last.plain_text()
    await harness.deliver_pushes()
    assert rep.last.plain_text().endswith(f"was {verb} by {name}.")


async def test_redelivered_request_asks_once(harness: Harness) -> None:
    _people, rep, _manager = await company(harness)
    update = harness.api.message(2001, "/discount Acme: 5% loyal", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    assert len(await all_approvals(harness)) == 1 and len(await outbox_rows(harness)) == 1
    first, again = (m.plain_text() for m in rep.chat[-2:])
    assert first == again and "Discount request sent" in again


async def test_ambiguous_customer_gets_candidates(harness: Harness) -> None:
    people, rep, _manager = await company(harness)
    await factories.customer(
        harness.db, harness.clock.now(), name="Acme Hardware", code="ACH", rep=people.rep
    )
    asked = (await rep.send("/discount acme: 2% loyal"))[0]
    assert asked.button_texts() == ["Acme Hardware (ACH)", "Acme Trading (ACM)"]
    assert await all_approvals(harness) == []
    other_choice = asked.buttons()[1][0]["callback_data"]
    chosen = (await rep.press("Acme Hardware (ACH)"))[0]
    assert "Discount request sent: Acme Hardware (ACH), 2%." in chosen.plain_text()
    assert chosen.button_texts() == []
    again = harness.api.callback(2001, asked.message_id, other_choice)  # a second, late tap
    await harness.settle(again)
    assert answer_of(harness, again) == "Already sent to your manager."
    (approval,) = await all_approvals(harness)
    assert approval.payload == {"percent": "2", "reason": "loyal"}


async def test_over_limit_order_reaches_the_manager(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    now = harness.clock.now()
    shop = await factories.customer(harness.db, now, name="Big Buyer", code="BB", rep=people.rep)
    await factories.receivable(
        harness.db,
        now,
        customer=shop,
        amount="45000.00",
        issued_on=TODAY - timedelta(10),
        due_on=TODAY + timedelta(20),
    )
    await rep.send("/order Big Buyer: 8000 INV-9")
    await rep.press("Confirm")
    (approval,) = await all_approvals(harness)
    assert approval.kind == ApprovalKind.OVER_LIMIT
    assert (await harness.deliver_pushes()).sent == 1
    push = manager.last
    assert push.plain_text() == (
        "⚠️ Order over the credit limit from Li Wei\nCustomer: Big Buyer (BB)\n"
        "Invoice INV-9: 8,000.00\n"
        "Open before: 45,000.00 · credit limit: 50,000.00 · after this order: "
        "53,000.00"
    )
    await rep.send("/overdue")  # another action: the request is not announced twice
    assert (await harness.deliver_pushes()).sent == 0
    await manager.press("✅ Approve")
    await harness.deliver_pushes()
    assert rep.last.plain_text() == (
        "✅ Your order INV-9 for Big Buyer (BB) (8,000.00), over the credit "
        "limit, was approved by Mia Manager."
    )


async def big_buyer(harness: Harness, people: Company, rep: Person) -> tuple[Customer, Receivable]:
    """Li Wei's Big Buyer (limit 50,000) owing 45,000, and his confirmed order INV-9 of 8,000 past it."""
    now = harness.clock.now()
    shop = await factories.customer(harness.db, now, name="Big Buyer", code="BB", rep=people.rep)
    await factories.receivable(
        harness.db,
        now,
        customer=shop,
        amount="45000.00",
        invoice_no="INV-OLD",
        issued_on=TODAY - timedelta(40),
        due_on=TODAY - timedelta(10),
    )
    await rep.send("/order Big Buyer: 8000 INV-9")
    await rep.press("Confirm")
    async with harness.db.reading() as session:
        order = await session.scalar(select(Receivable).where(Receivable.invoice_no == "INV-9"))
    assert order is not None and order.over_limit
    return shop, order


async def owed(harness: Harness, customer: Customer) -> Decimal:
    async with harness.db.reading() as session:
        return (await ledger.balance(session, customer.id, TODAY)).open


async def test_a_rejected_over_limit_order_is_voided_and_the_rep_told(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    shop, order = await big_buyer(harness, people, rep)
    assert await owed(harness, shop) == Decimal("53000.00")
    await harness.deliver_pushes()
    [decided] = await manager.press("❌ Reject")
    assert decided.plain_text().endswith(
        "❌ Rejected by Mia Manager, 2026-11-23 09:00: the invoice is voided"
    )

    # A void, never a delete: the row stays, open 0, out of the balance and the open receivables.
    async with harness.db.reading() as session:
        voided = await session.get_one(Receivable, order.id)
        assert (voided.amount, voided.open_amount) == (Decimal("8000.00"), Decimal("0.00"))
        assert (voided.voided_by, voided.void_reason) == (people.manager.id, "rejected over the credit limit")
        open_invoices = list(
            await session.scalars(
                select(Receivable.invoice_no).where(Receivable.customer_id == shop.id, ledger.is_open())
            )
        )
    assert open_invoices == ["INV-OLD"]
    assert await owed(harness, shop) == Decimal("45000.00")
    (approval,) = await all_approvals(harness)
    assert approval.status == ApprovalStatus.REJECTED
    (voiding,) = await audits(harness, "order.void")
    assert voiding.actor_id == people.manager.id and voiding.entity_id == order.id
    (rejecting,) = await audits(harness, "reject")
    assert rejecting.after == {"status": "rejected", "kind": "over_limit", "voided_receivable_id": order.id}
    overdue = await rep.says("/overdue Big Buyer")
    assert "INV-OLD" in overdue and "INV-9" not in overdue

    assert (await harness.deliver_pushes()).sent == 1
    assert rep.last.plain_text() == (
        "❌ Your order INV-9 for Big Buyer (BB) (8,000.00), over the credit limit, was rejected by Mia "
        "Manager. The invoice is voided: it no longer counts in the customer's balance. Talk to them "
        "before delivering."
    )
    # The rep's Undo finds it voided already.
    [reply] = await rep.press("Undo")
    assert reply.plain_text() == "Order INV-9 was already voided by Mia Manager."


async def test_a_rejection_waits_until_money_applied_to_the_order_is_undone(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    shop, order = await big_buyer(harness, people, rep)
    await rep.send("/collect Big Buyer: 46000 transfer")  # 45,000 settles INV-OLD, 1,000 INV-9
    receipt = rep.last
    await harness.deliver_pushes()
    refused = await manager.press("❌ Reject")
    collection_no = receipt.plain_text().split("#", 1)[1].split(":", 1)[0]
    assert refused[-1].plain_text() == (
        f"Money is already applied to invoice INV-9 (collection "
        f"#{collection_no}): that collection must be undone or reversed "
        "first."
    )
    (approval,) = await all_approvals(harness)
    assert approval.status == ApprovalStatus.PENDING and await audits(harness, "reject") == []
    assert await owed(harness, shop) == Decimal("7000.00")
    await rep.press("Undo", message_id=receipt.message_id)
    [decided] = await manager.press("❌ Reject")
    assert decided.plain_text().endswith("the invoice is voided")
    assert await owed(harness, shop) == Decimal("45000.00")
    assert (await all_approvals(harness))[0].status == ApprovalStatus.REJECTED
    assert order.id == (await audits(harness, "order.void"))[0].entity_id


async def test_the_director_rejects_an_order_of_a_team_without_a_manager(harness: Harness) -> None:
    people, _rep, _manager = await company(harness)
    bob, director = harness.person(2002, "Bob"), harness.person(7001, "Dee")
    now = harness.clock.now()
    south = await factories.customer(harness.db, now, name="South Big", code="SB", rep=people.other_rep)
    await factories.receivable(
        harness.db, now, customer=south, amount="49000.00", issued_on=TODAY, due_on=TODAY + timedelta(30)
    )
    await bob.send("/order South Big: 2000")
    await bob.press("Confirm")
    assert await owed(harness, south) == Decimal("51000.00")
    await harness.deliver_pushes()
    await director.press("❌ Reject")
    assert await owed(harness, south) == Decimal("49000.00")
    await harness.deliver_pushes()
    assert "was rejected by Dee Director. The invoice is voided" in bob.last.plain_text()


async def test_no_manager_means_the_director_decides(harness: Harness) -> None:
    people, _rep, manager = await company(harness)
    bob, director = harness.person(2002, "Bob"), harness.person(7001, "Dee")
    assert "Discount request sent: South Shop (SOU), 10%." in await bob.says(
        "/discount South Shop: 10％ closing the season"
    )
    await harness.deliver_pushes()
    assert "Discount request from Bob South" in director.last.plain_text()
    assert manager.chat == []
    await director.press("❌ Reject")
    await harness.deliver_pushes()
    assert "was rejected by Dee Director." in bob.last.plain_text()
    assert (await all_approvals(harness))[0].decided_by == people.director.id


async def test_pending_for_the_summary_and_the_sweep_is_idempotent(harness: Harness) -> None:
    people, rep, _manager = await company(harness)
    await rep.send("/discount Acme: 5% loyal")
    await harness.person(2002, "Bob").send("/discount South Shop: 1% nice")
    north = Caller.of(people.manager, "en")
    async with harness.db.transaction() as session:
        waiting = await approvals.pending(session, north)
        assert [(p.customer.code, p.requester) for p in waiting] == [("ACM", "Li Wei")]
        assert await approvals.pending_count(session, north) == 1
        everyone = await approvals.pending(session, Caller.of(people.director, "en"))
        assert [p.customer.code for p in everyone] == ["ACM", "SOU"]
        with pytest.raises(AccessDenied):
            await approvals.pending(session, Caller.of(people.rep, "en"))
        assert await approvals.notify_pending(session, harness.clock.now(), ZONE) == 0
    async with harness.db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(Outbox))
    assert count == 2


async def test_a_managers_own_over_limit_order_goes_to_the_director(harness: Harness) -> None:
    people, _rep, manager = await company(harness)
    now = harness.clock.now()
    shop = await factories.customer(harness.db, now, name="Big Buyer", code="BB", rep=people.rep)
    await factories.receivable(
        harness.db, now, customer=shop, amount="49000.00", issued_on=TODAY, due_on=TODAY + timedelta(30)
    )
    director = harness.person(7001, "Dee")
    await manager.send("/order BB: 2000")
    await manager.press("Confirm")
    await harness.deliver_pushes()
    assert "Order over the credit limit from Mia Manager" in director.last.plain_text()
    (approval,) = await all_approvals(harness)
    await harness.settle(harness.api.callback(5001, manager.last.message_id, f"appr:yes:{approval.id}"))
    assert manager.last.plain_text() == "This is your own request: someone above you decides it."


async def test_in_chinese(harness: Harness) -> None:
    people, rep, manager = await company(harness)
    async with harness.db.transaction() as session:
        (await session.get_one(User, people.manager.id)).language = "zh"
    await rep.send("/discount Acme: 5% 老客户")
    await harness.deliver_pushes()
    assert "优惠申请" in manager.last.plain_text()
    assert manager.last.button_texts() == ["✅ 批准", "❌ 驳回"]
    assert "已批准" in (await manager.press("✅ 批准"))[0].plain_text()


# -- the discount parser ----------------------------------------------------------------------------


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2),
    st.sampled_from(["%", "％", " %"]),
    st.text(alphabet="abc xyz老客户大单", min_size=1, max_size=30).filter(str.strip),
)
def test_percentages_read_back(percent: Decimal, sign: str, reason: str) -> None:
    terms = read_discount(f"{percent}{sign} {reason}")
    assert terms.percent == percent and terms.amount is None
    assert terms.reason == " ".join(reason.split())


@given(st.text(max_size=40))
def test_discount_parser_says_why_or_reads(text: str) -> None:
    try:
        terms = read_discount(text)
    except Invalid:
        return
    assert terms.reason and (terms.percent is None) != (terms.amount is None)
    assert terms.percent is None or 0 < terms.percent <= 100
    assert terms.amount is None or terms.amount > 0


async def test_two_approvers_in_concurrent_transactions_decide_once(harness: Harness) -> None:
    people, rep, _manager = await company(harness)
    await rep.send("/discount Acme: 5% loyal")
    (approval,) = await all_approvals(harness)
    now = harness.clock.now()

    async def press(caller: Caller, approve: bool) -> approvals.Decision:
        async with harness.db.transaction() as session:
            return await approvals.decide(session, caller, approval.id, approve, now=now, zone=ZONE)

    decisions = await asyncio.gather(
        press(Caller.of(people.manager, "en"), True), press(Caller.of(people.director, "en"), False)
    )
    assert sorted(d.decided_now for d in decisions) == [False, True]
    winner = next(d for d in decisions if d.decided_now).view
    loser = next(d for d in decisions if not d.decided_now).view
    assert (loser.status, loser.decided_by) == (winner.status, winner.decided_by)
    (stored,) = await all_approvals(harness)
    assert stored.status == winner.status
    assert len(await audits(harness, "approve")) + len(await audits(harness, "reject")) == 1
    async with harness.db.reading() as session:
        told = await session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.dedup_key == f"approval:{approval.id}:decision")
        )
    assert told == 1
