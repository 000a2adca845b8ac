"""Expense claims (issue 20; regulations part 4 art. 3–5) through the fake Bot API: a rep claims with
or without a receipt photo, the manager approves or rejects in one tap, a claim over the month's
budget goes to the director, the rep hears the decision with what is left, budgets add up per
company-local calendar month, finance lists and exports the approved claims."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.i18n import Translator
from bot.services.errors import Invalid
from bot.services.money import expenses
from bot.services.money.expense_rules import BudgetState, month_bounds, month_of, next_month, read_claim
from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import parse_period
from models import AuditLog, Expense, ExpenseCategory, ExpenseStatus, Outbox, Role, User
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person
from tests.test_exports import open_book, records, summary_of
from tests.test_visits import tiny_png

D = Decimal


async def setup(harness: Harness, *, budget: str | None = "1000", meal: str | None = "30") -> Company:
    """The factories' company (Li Wei a North rep, Mia North's manager, Bob a South rep with no
    manager, Fay finance, Dee director); the admin sets the reps' budget and meal allowance."""
    people = await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    if budget is not None:
        assert "Saved." in await admin.says(f"/settings budget rep {budget}")
    if meal is not None:
        assert "Saved." in await admin.says(f"/settings meal rep {meal}")
    return people


async def claims(harness: Harness) -> list[Expense]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Expense).order_by(Expense.id)))


def said(messages: list) -> str:  # type: ignore[type-arg]
    return "\n".join(m.plain_text() for m in messages)


async def pushed(harness: Harness, telegram_id: int, marker: str) -> int:
    """Deliver the outbox; the message id of the newest push to ``telegram_id`` containing ``marker``."""
    await harness.deliver_pushes()
    return next(m.message_id for m in reversed(harness.api.chat(telegram_id)) if marker in m.plain_text())


async def speaks(harness: Harness, telegram_id: int, language: str) -> None:
    async with harness.db.transaction() as session:
        user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None
        user.language = language


# -- the pure rules ------------------------------------------------------------------------------------


def test_a_claim_is_read_amount_first_then_category_then_note() -> None:
    assert read_claim("45 meals lunch with <Acme>") == read_claim("45 MEALS   lunch with <Acme>")
    terms = read_claim("¥ 1.2k 住宿 两晚")
    assert (terms.amount, terms.category, terms.note) == (D("1200.00"), ExpenseCategory.LODGING, "两晚")
    terms = read_claim("80元 加油")
    assert (terms.amount, terms.category, terms.note) == (D("80.00"), ExpenseCategory.FUEL, None)
    assert read_claim("45").category is None
    with pytest.raises(Invalid):
        read_claim("45 sweets")  # not a category: said, not taken as a note
    with pytest.raises(Invalid):
        read_claim("lunch 45")
    with pytest.raises(Invalid):
        read_claim("-5 meals")


def test_months_are_calendar_months_and_the_31st_and_the_1st_fall_apart() -> None:
    assert month_of(date(2026, 12, 31)) == date(2026, 12, 1)
    assert month_of(date(2027, 1, 1)) == date(2027, 1, 1)
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert month_bounds(date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 3, 1))
    assert month_bounds(date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))


def test_what_is_left_counts_approved_and_pending_and_says_when_a_claim_goes_over() -> None:
    month = date(2026, 11, 1)
    state = BudgetState(month, D("100.00"), approved=D("50.00"), pending=D("30.00"))
    assert state.left == D("20.00")
    assert not state.over_with(D("20.00")) and state.over_with(D("20.01"))
    unset = BudgetState(month, None, approved=D("5000.00"))
    assert unset.left is None and not unset.over_with(D("99999.00"))  # no budget: never "over"
    assert state.plus_pending(D("10.00")).left == D("10.00")


# -- settings ------------------------------------------------------------------------------------------


async def test_budgets_are_not_set_until_an_admin_sets_them_and_never_invented(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    shown = await admin.says("/settings")
    assert "Expenses (regulations part 4, art. 3–4 leave the amounts to the company):" in shown
    assert "• sales rep: monthly budget not set · meal allowance not set" in shown
    assert "• manager: monthly budget not set · meal allowance not set" in shown
    rep = harness.person(2001, "Li")
    reply = await rep.says("/expense 45 meals lunch")
    assert "No monthly expense budget is set for this role" in reply, reply
    assert "Above the meal allowance" not in reply

    saved = await admin.says("/settings budget rep 3,000")
    assert "• sales rep: monthly budget 3,000.00 · meal allowance not set" in saved
    saved = await admin.says("/settings meal rep 30")
    assert "• sales rep: monthly budget 3,000.00 · meal allowance 30.00" in saved
    assert "• manager: monthly budget not set" in saved
    assert "Expense budgets are set for the roles rep and manager." in await admin.says(
        "/settings budget director 100"
    )
    assert "is not an amount" in await admin.says("/settings meal rep lots")
    assert "• sales rep: monthly budget not set · meal allowance 30.00" in await admin.says(
        "/settings budget rep off"
    )
    assert "does not allow" in await rep.says("/settings budget rep 99999")
    await speaks(harness, 1001, "zh")
    zh = await admin.says("/settings")
    assert "• 销售员：每月费用预算 未设定 · 误餐补助 30.00" in zh, zh


# -- claiming and deciding -------------------------------------------------------------------------------


async def test_rep_claims_manager_approves_in_one_tap_and_the_rep_hears_what_is_left(
    harness: Harness,
) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    harness.person(5001, "Mia")  # the manager, who gets the push
    reply = await rep.send("/expense 45 meals lunch with <Acme> buyer")
    assert reply[0].plain_text().splitlines() == [
        "🧾 Expense claim #1: 45.00, Meals.",
        "Note: lunch with <Acme> buyer",
        "⚠️ Above the meal allowance of 30.00 per meal (regulations part 4, art. 3).",
        "Budget for 2026-11: 1,000.00 · approved 0.00 · pending 45.00 · left 955.00",
        "Your manager decides it; I will tell you.",
        "📷 Send the receipt's photo now if you have one.",
    ]
    assert "&lt;Acme&gt;" in (reply[0].text or "")
    assert reply[0].button_texts() == ["↩ Undo (10 minutes)"]

    push = await pushed(harness, 5001, "Expense claim #1")
    message = next(m for m in harness.api.chat(5001) if m.message_id == push)
    assert message.plain_text().splitlines() == [
        "🧾 Expense claim #1 from Li Wei",
        "Amount: 45.00 · Meals",
        "Note: lunch with <Acme> buyer",
        "Claimed: 2026-11-23 09:00",
        "⚠️ Above the meal allowance of 30.00 per meal (regulations part 4, art. 3).",
        "Budget for 2026-11: 1,000.00 · approved 0.00 · pending 45.00 · left 955.00",
    ]
    assert message.button_texts() == ["✅ Approve", "❌ Reject", "🧾 Receipt"]
    assert not any("Expense claim" in m.plain_text() for m in harness.api.chat(7001))  # not the director

    first = harness.api.press(5001, "✅ Approve", message_id=push)
    second = harness.api.press(5001, "✅ Approve", message_id=push)  # a double tap decides once
    await harness.settle(first)
    await harness.settle(second)
    decided = next(m for m in harness.api.chat(5001) if m.message_id == push).plain_text()
    assert decided.endswith("✅ Approved by Mia Manager, 2026-11-23 09:00"), decided
    assert harness.api.callback_answers[second["callback_query"]["id"]]["text"] == (
        "Already approved by Mia Manager."
    )
    [claim] = await claims(harness)
    assert claim.status == ExpenseStatus.APPROVED and claim.amount == D("45.00")
    await harness.deliver_pushes()
    assert rep.last.plain_text().splitlines() == [
        "✅ Your expense claim #1 (45.00, Meals) was approved by Mia Manager.",
        "Budget for 2026-11: 1,000.00 · approved 45.00 · pending 0.00 · left 955.00",
    ]
    async with harness.db.reading() as session:
        told = await session.scalar(select(func.count()).where(Outbox.dedup_key == "expense:1:decision"))
        actions = list(await session.scalars(select(AuditLog.action).where(AuditLog.entity == "expense")))
    assert told == 1 and actions == ["expense.claim", "expense.approve"]


async def test_a_claim_over_the_months_budget_needs_the_director(harness: Harness) -> None:
    await setup(harness, budget="100")
    rep, manager, director = (
        harness.person(2001, "Li"),
        harness.person(5001, "Mia"),
        harness.person(7001, "Dee"),
    )
    await rep.send("/expense 80 transport taxi")
    await manager.press("✅ Approve", message_id=await pushed(harness, 5001, "Expense claim #1"))
    reply = await rep.says("/expense 50 lodging hotel")
    assert "Budget for 2026-11: 100.00 · approved 80.00 · pending 50.00 · 30.00 over the budget" in reply
    assert "This claim takes you over the month's budget: the director decides it. I will tell you." in reply

    push = await pushed(harness, 7001, "Expense claim #2")
    text = next(m for m in harness.api.chat(7001) if m.message_id == push).plain_text()
    assert "⚠️ This claim takes the month over the budget: the director decides it." in text
    assert not any("Expense claim #2" in m.plain_text() for m in harness.api.chat(5001))
    # The manager cannot decide it, even with a button of their own making.
    refused = harness.api.callback(5001, harness.api.last(5001).message_id, "exp:yes:2")
    await harness.settle(refused)
    assert "the director decides it" in harness.api.last(5001).plain_text()
    assert [c.status for c in await claims(harness)] == [ExpenseStatus.APPROVED, ExpenseStatus.PENDING]

    await director.press("✅ Approve", message_id=push)
    await harness.deliver_pushes()
    assert rep.last.plain_text().splitlines() == [
        "✅ Your expense claim #2 (50.00, Lodging) was approved by Dee Director.",
        "Budget for 2026-11: 100.00 · approved 130.00 · pending 0.00 · 30.00 over the budget",
    ]


async def test_a_rejected_claim_frees_the_budget_and_a_pending_one_shows_as_pending(
    harness: Harness,
) -> None:
    await setup(harness, budget="100")
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await rep.send("/expense 60 phone")
    reply = await rep.says("/expense 30 other parking")
    assert "Budget for 2026-11: 100.00 · approved 0.00 · pending 90.00 · left 10.00" in reply
    await manager.press("❌ Reject", message_id=await pushed(harness, 5001, "Expense claim #1"))
    await harness.deliver_pushes()
    assert rep.last.plain_text().splitlines() == [
        "❌ Your expense claim #1 (60.00, Phone) was rejected by Mia Manager. It does not count "
        "against your budget.",
        "Budget for 2026-11: 100.00 · approved 0.00 · pending 30.00 · left 70.00",
    ]
    # 70 is left: a claim of 70 is within the budget (the rejected 60 counts for nothing).
    assert "left 0.00" in await rep.says("/expense 70 fuel")
    assert [c.over_budget for c in await claims(harness)] == [False, False, False]
    listed = await rep.says("/expenses")
    assert "Approved 0.00 · pending 100.00 · rejected 60.00 · claims: 3" in listed
    assert "Budget for 2026-11: 100.00 · approved 0.00 · pending 100.00 · left 0.00" in listed
    assert "❌ #1 11-23 60.00 Phone" in listed and "⏳ #3 11-23 70.00 Fuel" in listed


async def test_budgets_add_up_per_company_month_across_the_month_boundary(harness: Harness) -> None:
    """23:30 on 30 November and 00:10 on 1 December in Shanghai are the same UTC day (15:30 and
    16:10): the company's calendar, not UTC's, puts them in different budgets."""
    harness.clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=ZONE))
    await setup(harness, budget="100")
    rep = harness.person(2001, "Li")
    assert "left 20.00" in await rep.says("/expense 80 meals dinner")
    harness.clock.set(datetime(2026, 12, 1, 0, 10, tzinfo=ZONE))
    reply = await rep.says("/expense 80 meals breakfast")
    assert "Budget for 2026-12: 100.00 · approved 0.00 · pending 80.00 · left 20.00" in reply
    assert "Your manager decides it" in reply  # not over: a new month
    november, december = await claims(harness)
    assert (november.month, december.month) == (date(2026, 11, 1), date(2026, 12, 1))
    assert not november.over_budget and not december.over_budget
    assert november.claimed_at.date() == december.claimed_at.date()  # the same UTC day
    harness.clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=ZONE))
    assert "Budget for 2026-12: 100.00 · approved 0.00 · pending 80.00 · left 20.00" in await rep.says(
        "/expenses"
    )
    assert "Budget for 2026-11: 100.00 · approved 0.00 · pending 80.00 · left 20.00" in await rep.says(
        "/expenses 2026-11"
    )
    # A third claim on 1 December takes December over, whatever November holds.
    assert "the director decides it" in await rep.says("/expense 30 meals lunch")


# -- receipts, the guided flow, Chinese ---------------------------------------------------------------


async def test_a_photo_captioned_with_the_claim_keeps_it_as_the_receipt(harness: Harness) -> None:
    await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    update = harness.api.message(2001, None, photo=tiny_png(), caption="/expense 120 fuel Shell station")
    await harness.settle(update)
    reply = rep.last.plain_text()
    assert "🧾 Expense claim #1: 120.00, Fuel." in reply and "Receipt photo kept." in reply
    assert "Send the receipt's photo" not in reply
    [claim] = await claims(harness)
    assert claim.receipt_file_id is not None and claim.category == ExpenseCategory.FUEL
    push = await pushed(harness, 5001, "Expense claim #1")
    await manager.press("🧾 Receipt", message_id=push)
    photo = harness.api.last(5001)
    assert photo.kind == "photo"
    assert photo.plain_text() == "Receipt of claim #1: Li Wei, 120.00, Fuel"
    # Someone outside the claim's scope is refused the receipt (Bob, a South rep).
    harness.person(2002, "Bob")
    await harness.settle(harness.api.message(2002, "/help"))
    forged = harness.api.callback(2002, harness.api.last(2002).message_id, "exp:rcpt:1")
    await harness.settle(forged)
    assert harness.api.last(2002).kind != "photo"
    # A photo captioned with a bare /expense asks the rest step by step and keeps the photo.
    await harness.settle(harness.api.message(2001, None, photo=tiny_png(), caption="/expense"))
    assert rep.last.plain_text().startswith("How much did you spend?")
    await rep.send("30 phone")
    assert "🧾 Expense claim #2: 30.00, Phone.\nReceipt photo kept." in rep.last.plain_text()


async def test_the_guided_flow_in_chinese_asks_step_by_step_then_keeps_the_receipt(harness: Harness) -> None:
    await setup(harness)
    await speaks(harness, 2001, "zh")
    await speaks(harness, 5001, "zh")
    rep, manager = harness.person(2001, "李"), harness.person(5001, "Mia")
    asked = await rep.says("/expense")
    assert asked == "花了多少钱？输入金额，例如 45 或 1.2k。（/cancel 取消）"
    categories = await rep.send("45")
    assert categories[0].plain_text() == "这笔费用是什么？请按一个类别。"
    assert categories[0].button_texts() == ["餐费", "油费", "交通费", "住宿费", "招待费", "话费", "其他"]
    note = await rep.press("餐费")
    assert said(note) == "餐费：给主管的说明（什么、在哪里、和谁）？请输入，或按“跳过”。"
    saved = await rep.says("和华东五金老板午餐")
    assert saved.splitlines() == [
        "🧾 费用报销 #1：45.00，餐费。",
        "说明：和华东五金老板午餐",
        "⚠️ 超过每餐误餐补助 30.00（规章第四篇第三条）。",
        "2026-11 预算：1,000.00 · 已批准 0.00 · 待审批 45.00 · 剩余 955.00",
        "由你的主管审批，结果会通知你。",
        "📷 如有收据，现在发送收据照片。",
    ]
    kept = await rep.send(None, photo=tiny_png())
    assert said(kept) == "🧾 收据照片已保存到报销 #1。"
    [claim] = await claims(harness)
    assert claim.receipt_file_id is not None and claim.note == "和华东五金老板午餐"

    push = await pushed(harness, 5001, "费用报销 #1")
    message = next(m for m in harness.api.chat(5001) if m.message_id == push)
    assert message.plain_text().splitlines()[:2] == ["🧾 费用报销 #1，报销人：Li Wei", "金额：45.00 · 餐费"]
    assert message.button_texts() == ["✅ 批准", "❌ 驳回", "🧾 收据"]
    await manager.press("❌ 驳回", message_id=push)
    await harness.deliver_pushes()
    assert rep.last.plain_text().splitlines() == [
        "❌ 你的费用报销 #1（45.00，餐费）已被 Mia Manager 驳回，不计入你的预算。",
        "2026-11 预算：1,000.00 · 已批准 0.00 · 待审批 0.00 · 剩余 1,000.00",
    ]


async def test_a_redelivered_claim_is_recorded_and_pushed_once(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    update = harness.api.message(2001, "/expense 45 meals lunch", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    first, second = rep.chat[-2:]
    assert first.plain_text() == second.plain_text()
    assert "pending 45.00 · left 955.00" in first.plain_text()  # the repeat does not count it twice
    assert len(await claims(harness)) == 1
    async with harness.db.reading() as session:
        pushes = await session.scalar(select(func.count()).where(Outbox.dedup_key.like("expense:1:%")))
    assert pushes == 1


async def test_undo_withdraws_a_claim_for_ten_minutes_while_nobody_decided_it(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    harness.person(5001, "Mia")
    await rep.send("/expense 45 meals lunch")
    push = await pushed(harness, 5001, "Expense claim #1")
    harness.clock.advance(timedelta(minutes=9))
    undone = await rep.press("↩ Undo (10 minutes)")
    assert said(undone) == "↩ Claim #1 (45.00, Meals) withdrawn: it does not count against your budget."
    assert "Receipt photo kept" not in said(await rep.send(None, photo=tiny_png()))  # no receipt for it now
    pressed = harness.api.press(5001, "✅ Approve", message_id=push)
    await harness.settle(pressed)
    assert harness.api.callback_answers[pressed["callback_query"]["id"]]["text"] == (
        "Nothing to decide: Li Wei withdrew the claim."
    )
    [claim] = await claims(harness)
    assert claim.status == ExpenseStatus.WITHDRAWN
    await rep.send("/expense 20 phone")
    harness.clock.advance(timedelta(minutes=11))
    late = harness.api.press(2001, "↩ Undo (10 minutes)")
    await harness.settle(late)
    assert "Undo is possible for 10 minutes" in rep.last.plain_text()
    assert [c.status for c in await claims(harness)] == [ExpenseStatus.WITHDRAWN, ExpenseStatus.PENDING]


async def test_a_managers_own_claim_goes_to_the_director(harness: Harness) -> None:
    await setup(harness)
    manager, director = harness.person(5001, "Mia"), harness.person(7001, "Dee")
    reply = await manager.says("/expense 200 entertainment dinner with dealers")
    assert "No monthly expense budget is set for this role" in reply  # only the reps' budget was set
    push = await pushed(harness, 7001, "Expense claim #1 from Mia Manager")
    await director.press("✅ Approve", message_id=push)
    assert (await claims(harness))[0].status == ExpenseStatus.APPROVED


async def test_roles_that_do_not_claim_are_refused(harness: Harness) -> None:
    await setup(harness)
    for telegram_id in (6001, 7001):
        assert "does not allow" in await harness.person(telegram_id, "X").says("/expense 45 meals")
    assert await claims(harness) == []


# -- lists and the export ---------------------------------------------------------------------------


async def claims_of_three(harness: Harness) -> None:
    """Li (North) 45 approved and 30 rejected; Bob (South) 60 approved by the director; Li 20 pending."""
    rep, bob = harness.person(2001, "Li"), harness.person(2002, "Bob")
    manager, director = harness.person(5001, "Mia"), harness.person(7001, "Dee")
    await rep.send("/expense 45 meals lunch")
    await rep.send("/expense 30 other stamps")
    await bob.send("/expense 60 transport train")
    await manager.press("✅ Approve", message_id=await pushed(harness, 5001, "Expense claim #1"))
    await manager.press("❌ Reject", message_id=await pushed(harness, 5001, "Expense claim #2"))
    await director.press("✅ Approve", message_id=await pushed(harness, 7001, "Expense claim #3"))
    await rep.send("/expense 20 phone")


async def test_expenses_lists_each_roles_scope(harness: Harness) -> None:
    await setup(harness)
    await claims_of_three(harness)
    mine = await harness.person(2001, "Li").says("/expenses")
    assert "Bob" not in mine and "Approved 45.00 · pending 20.00 · rejected 30.00 · claims: 3" in mine
    team = await harness.person(5001, "Mia").says("/expenses month")
    assert "Bob" not in team
    assert "• Li Wei: approved 45.00, pending 20.00 · budget 1,000.00, left 935.00" in team
    everyone = await harness.person(6001, "Fay").says("/expenses 2026-11")
    assert everyone.splitlines()[:5] == [
        "Expense claims: Month 2026-11",
        "Approved 105.00 · pending 20.00 · rejected 30.00 · claims: 4",
        "",
        "• Bob South: approved 60.00, pending 0.00 · budget 1,000.00, left 940.00",
        "• Li Wei: approved 45.00, pending 20.00 · budget 1,000.00, left 935.00",
    ]
    assert "✅ #3 11-23 60.00 Transport · Bob South · train" in everyone
    assert "does not allow" in await (await marketing(harness)).says("/expenses")


async def marketing(harness: Harness) -> Person:
    async with harness.db.transaction() as session:
        factories.user(session, 8001, "Max Market", Role.MARKETING, None, harness.clock.now())
    return harness.person(8001, "Max")


async def test_finance_exports_the_approved_claims_in_a_sheet(harness: Harness) -> None:
    people = await setup(harness)
    await claims_of_three(harness)
    finance = harness.person(6001, "Fay")
    await finance.send("/export 2026-11")
    document = harness.api.last(6001)
    assert document.kind == "document" and document.file_bytes is not None
    book = open_book(document.file_bytes)
    assert "Expenses" in book.sheetnames
    rows = [{key: cell.value for key, cell in row.items()} for row in records(book["Expenses"])]
    assert [(r["Claim no."], r["Rep"], r["Category"], r["Amount"], r["Approved by"]) for r in rows] == [
        (1, "Li Wei", "Meals", 45, "Mia Manager"),
        (3, "Bob South", "Transport", 60, "Dee Director"),
    ]
    assert rows[0]["Budget month"] == "2026-11" and rows[0]["Receipt photo"] == "No"
    assert rows[0]["Claimed at (Asia/Shanghai)"] == datetime(2026, 11, 23, 9, 0)
    summary = summary_of(book)
    assert summary["Expense claims approved"] == 2 and summary["Expenses approved"] == 105
    # A manager's workbook holds their team's claims only; in Chinese, the sheet is 费用报销.
    async with harness.db.reading() as session:
        manager = Caller.of(people.manager, "zh")
        book = open_book(
            (
                await exports.build_workbook(
                    session, manager, parse_period("2026-11", date(2026, 11, 23)), ZONE, date(2026, 11, 23)
                )
            ).content
        )
    zh = Translator("zh")
    assert zh.gettext("Expenses") == "费用报销"
    assert [r["报销编号"].value for r in records(book["费用报销"])] == [1]


async def test_a_manager_finds_waiting_claims_again_and_decides_from_the_list(harness: Harness) -> None:
    await setup(harness, budget="100")
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await rep.send("/expense 45 meals lunch")
    await rep.send("/expense 90 lodging hotel")  # over the budget: the director's, not Mia's
    assert (
        await manager.says("/approvals") == "Expense claims waiting for your decision: 1 — /expenses pending"
    )
    assert "Waiting for your decision: 1 — /approvals" in await manager.says("/today")
    listed = await manager.send("/expenses pending")
    assert [m.plain_text().splitlines()[0] for m in listed] == [
        "Expense claims waiting for your decision: 1",
        "🧾 Expense claim #1 from Li Wei",
    ]
    assert listed[1].button_texts() == ["✅ Approve", "❌ Reject", "🧾 Receipt"]
    await manager.press("✅ Approve", message_id=listed[1].message_id)
    assert [c.status for c in await claims(harness)] == [ExpenseStatus.APPROVED, ExpenseStatus.PENDING]
    assert await manager.says("/expenses pending") == "No expense claims are waiting for your decision."
    director = await harness.person(7001, "Dee").says("/expenses pending")
    assert "🧾 Expense claim #2 from Li Wei" in director and "over the budget" in director
    assert "does not allow" in await rep.says("/expenses pending")


async def test_a_reps_claims_in_a_time_range_for_the_vehicle_log(harness: Harness) -> None:
    """``expenses.in_range``: what the trip log reads (fuel claimed while a trip was open)."""
    people = await setup(harness)
    rep = harness.person(2001, "Li")
    start = harness.clock.now()
    await rep.send("/expense 300 fuel Sinopec")
    harness.clock.advance(timedelta(hours=2))
    await rep.send("/expense 20 meals")
    end = harness.clock.now()
    harness.clock.advance(timedelta(minutes=1))
    await rep.send("/expense 50 fuel")
    async with harness.db.reading() as session:
        found = await expenses.in_range(session, people.rep.id, start, end)
        others = await expenses.in_range(session, people.other_rep.id, start, end + timedelta(hours=1))
    assert [(v.id, v.category, v.amount, v.note) for v in found] == [
        (1, ExpenseCategory.FUEL, D("300.00"), "Sinopec")
    ]
    assert others == []
