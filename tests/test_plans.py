"""Weekly and monthly work plans (issue 20): the prefill by grade, filing and replacing, the
reminders before the deadline and who is missing after it, the supervisor's approval and comments,
and plan against actual in /rep, /summary and the month-end figures."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.db import Database
from bot.services.field import plans, prospects
from bot.services.people.access import Caller
from jobs.runner import run_job
from models import (
    AuditLog,
    Collection,
    CompanySetting,
    Complaint,
    ComplaintKind,
    ComplaintTag,
    Customer,
    CustomerStatus,
    Outbox,
    PaymentMethod,
    PlanKind,
    Receivable,
    ReceivableSource,
    Role,
    RouteStop,
    Trip,
    TripCustomer,
    User,
    Visit,
    VisitKind,
    WorkPlan,
    WorkPlanComment,
    WorkPlanCustomer,
)
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person

_keys = count(1)
MONDAY = date(2026, 11, 23)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


@dataclass
class World:
    people: Company
    customers: dict[str, Customer]
    li: Person  # North rep
    bob: Person  # South rep (South has no manager)
    mia: Person  # North's manager
    dee: Person  # the director


async def world(harness: Harness) -> World:
    """Li's customers: two due this week by grade, one not due (D, visited yesterday), one inactive."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    made = {
        "AAA": await factories.customer(
            harness.db, now, name="Apex Hardware", rep=people.rep, code="AAA", grade="A"
        ),
        "BBB": await factories.customer(
            harness.db,
            now,
            name="Bright Tools",
            rep=people.rep,
            code="BBB",
            grade="C",
            last_visit_at=local(MONDAY - timedelta(days=2), 10),
        ),
        "DDD": await factories.customer(
            harness.db,
            now,
            name="Delta Depot",
            rep=people.rep,
            code="DDD",
            grade="D",
            last_visit_at=local(MONDAY - timedelta(days=1), 10),
        ),
        "OLD": await factories.customer(
            harness.db, now, name="Old Closed", rep=people.rep, code="OLD", status=CustomerStatus.INACTIVE
        ),
        "BOB": await factories.customer(harness.db, now, name="Bobs Shop", rep=people.other_rep, code="BOB"),
    }
    return World(
        people,
        made,
        harness.person(2001, "Li"),
        harness.person(2002, "Bob"),
        harness.person(5001, "Mia"),
        harness.person(7001, "Dee"),
    )


async def rows(harness: Harness, model: Any) -> list[Any]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def audits(harness: Harness, action: str) -> int:
    async with harness.db.reading() as session:
        return (
            await session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))
            or 0
        )


def toast(harness: Harness, update: dict[str, Any]) -> str:
    return harness.api.callback_answers[update["callback_query"]["id"]].get("text") or ""


async def file_week(person: Person, orders: str = "5万", collections: str = "30000", add: str = "") -> str:
    """Open the week's plan (adding ``add``), set both targets and submit; what the bot said last."""
    await person.send("/plan")
    if add:
        await person.send(add)
    await person.press("🎯 Orders target")
    await person.send(orders)
    await person.press("🎯 Collections target")
    await person.send(collections)
    return "\n".join(m.plain_text() for m in await person.press("✅ Submit"))


async def job(harness: Harness, name: str, at: datetime) -> int:
    harness.clock.set(at)
    outcome = await run_job(harness.db, name, at, ZONE, again=True)
    await harness.deliver_pushes()
    return outcome.pushes


# -- filing ---------------------------------------------------------------------------------------


async def test_the_week_is_prefilled_by_grade_edited_and_filed_and_the_manager_approves(
    harness: Harness,
) -> None:
    w = await world(harness)
    opened = await w.li.says("/plan")
    assert "Weekly plan · week 2026-11-23 – 2026-11-29" in opened
    assert "Due by 2026-11-23 10:00." in opened
    assert "customers due a visit by their grade in this period: 2" in opened
    # A (never visited) twice a week: 7 // 3 = 2 visits; C (visited Saturday) once; D (yesterday,
    # every 14 days) not due; the inactive customer never.
    assert "Apex Hardware (AAA) · A ×2" in opened and "Bright Tools (BBB) · C" in opened
    assert "Delta Depot" not in opened and "Old Closed" not in opened
    assert "Customers to visit: 2 · visits planned: 3" in opened

    await factories.customer(
        harness.db,
        harness.clock.now(),
        name="Apex Paints",
        rep=w.people.rep,
        code="APP",
        grade="D",
        last_visit_at=local(MONDAY - timedelta(days=1), 9),
    )
    [_draft, which] = await w.li.send("Apex")  # two customers match: buttons to choose from
    assert "Several customers match. Which one?" in which.plain_text()
    assert which.button_texts() == ["Apex Hardware (AAA)", "Apex Paints (APP)"]
    [chosen] = await w.li.press("Apex Paints (APP)", message_id=which.message_id)
    assert "+ Added: Apex Paints (APP)" in chosen.plain_text()
    assert "Customers to visit: 3 · visits planned: 4" in chosen.plain_text()
    await w.li.says("-APP")
    added = await w.li.says("DDD, Bobs Shop, nobody-here")
    assert "+ Added: Delta Depot (DDD)" in added
    assert "No customer of yours matches Bobs Shop" in added  # another rep's customer stays out
    assert "No customer of yours matches nobody-here" in added
    assert "Customers to visit: 3 · visits planned: 4" in added
    [shown] = await w.li.press("✖ Bright Tools")
    assert "Bright Tools" not in shown.plain_text().split("Customers to visit")[1].split("Orders target")[0]
    refused = await w.li.press("✅ Submit")
    assert "Set both targets first" in " ".join(m.plain_text() for m in refused)
    assert await rows(harness, WorkPlan) == []

    await w.li.press("🎯 Orders target")
    assert "Orders target: 50,000.00" in await w.li.says("5万")
    await w.li.press("🎯 Collections target")
    assert "Collections target: 30,000.00" in await w.li.says("30000")
    done = "\n".join(m.plain_text() for m in await w.li.press("✅ Submit"))
    assert "✅ Plan filed." in done and "Sent to Mia Manager for approval." in done

    [plan] = await rows(harness, WorkPlan)
    assert (plan.starts_on, plan.ends_on, plan.orders_target, plan.collections_target) == (
        MONDAY,
        MONDAY + timedelta(days=6),
        Decimal("50000.00"),
        Decimal("30000.00"),
    )
    assert plan.planned_visits == 3 and not plan.late and plan.approved_at is None
    planned = {row.customer_id for row in await rows(harness, WorkPlanCustomer)}
    assert planned == {w.customers["AAA"].id, w.customers["DDD"].id}
    assert await audits(harness, "plan.submit") == 1

    await harness.deliver_pushes()
    pushed = w.mia.last
    assert "Weekly plan · Li Wei (North) · week 2026-11-23 – 2026-11-29" in pushed.plain_text()
    assert "Orders target: 50,000.00" in pushed.plain_text() and "Apex Hardware (AAA)" in pushed.plain_text()
    assert pushed.button_texts() == ["✅ Approve", "💬 Comment"]
    assert not any("Li Wei" in m.plain_text() for m in w.dee.chat)  # North has a manager

    update = harness.api.press(5001, "✅ Approve")
    await harness.settle(update)
    assert toast(harness, update) == "✅ Approved: Li Wei's plan. They are told."
    assert "✅ approved by Mia Manager" in w.mia.last.plain_text()
    assert w.mia.last.button_texts() == ["💬 Comment"]
    [plan] = await rows(harness, WorkPlan)
    assert plan.approved_by == w.people.manager.id and await audits(harness, "plan.approve") == 1
    stamp = int(plan.submitted_at.timestamp())
    again = harness.api.callback(5001, w.mia.last.message_id, f"plan:ok:{plan.id}:{stamp}")
    await harness.settle(again)
    assert toast(harness, again) == "Li Wei's plan was approved already."
    assert await audits(harness, "plan.approve") == 1

    await w.mia.press("💬 Comment")
    assert "Comment sent to Li Wei" in await w.mia.says("Add Bright Tools, they ordered last week.")
    await harness.deliver_pushes()
    texts = [m.plain_text() for m in w.li.chat]
    assert any("Mia Manager approved your plan for the week 2026-11-23 – 2026-11-29." in t for t in texts)
    assert any(
        "Mia Manager commented on your plan for the week 2026-11-23 – 2026-11-29:\n"
        "Add Bright Tools, they ordered last week." in t
        for t in texts
    )
    [comment] = await rows(harness, WorkPlanComment)
    assert comment.author_id == w.people.manager.id


async def test_filing_again_before_the_deadline_replaces_and_after_it_is_refused(harness: Harness) -> None:
    w = await world(harness)
    await file_week(w.li)
    [first] = await rows(harness, WorkPlan)
    await harness.deliver_pushes()
    first_push = w.mia.last
    await w.mia.press("✅ Approve")

    harness.clock.set(local(MONDAY, 9, 30))
    reopened = await w.li.says("/plan")
    assert "submitting again replaces it" in reopened and "Orders target: 50,000.00" in reopened
    await w.li.says("-AAA")
    await w.li.press("🎯 Orders target")
    await w.li.says("60000")
    done = "\n".join(m.plain_text() for m in await w.li.press("✅ Submit"))
    assert "✅ Plan replaced." in done and "not approved yet" in done
    [plan] = await rows(harness, WorkPlan)
    assert plan.id == first.id and plan.orders_target == Decimal("60000.00") and plan.approved_at is None
    assert {row.customer_id for row in await rows(harness, WorkPlanCustomer)} == {w.customers["BBB"].id}
    assert await audits(harness, "plan.replace") == 1
    await harness.deliver_pushes()
    assert "Plan replaced · Li Wei · week 2026-11-23 – 2026-11-29" in w.mia.last.plain_text()
    # An Approve button under the first version approves nothing: Mia has not seen the new one.
    stamp = int(first.submitted_at.timestamp())
    stale = harness.api.callback(5001, first_push.message_id, f"plan:ok:{first.id}:{stamp}")
    await harness.settle(stale)
    assert toast(harness, stale).startswith("Li Wei replaced this plan since")
    [plan] = await rows(harness, WorkPlan)
    assert plan.approved_at is None and await audits(harness, "plan.approve") == 1

    harness.clock.set(local(MONDAY, 10, 0))
    closed = await w.li.says("/plan")
    assert "The deadline (2026-11-23 10:00) has passed: this plan can no longer be changed." in closed
    assert "Plan against actual" in closed
    [plan] = await rows(harness, WorkPlan)
    assert plan.orders_target == Decimal("60000.00")


async def test_a_late_plan_is_marked_late_and_a_past_period_is_refused(harness: Harness) -> None:
    w = await world(harness)
    harness.clock.set(local(MONDAY + timedelta(days=1), 9))  # Tuesday: this week's plan, late
    await file_week(w.bob)
    [plan] = await rows(harness, WorkPlan)
    assert plan.late and plan.starts_on == MONDAY
    await harness.deliver_pushes()
    assert "⏰ late" in w.dee.last.plain_text()  # South has no manager: the director gets it
    assert w.dee.last.button_texts() == ["✅ Approve", "💬 Comment"]


# -- reminders ------------------------------------------------------------------------------------


async def test_the_weekly_reminder_comes_once_before_the_deadline_and_not_after_filing(
    harness: Harness,
) -> None:
    w = await world(harness)
    friday = date(2026, 11, 27)
    assert await job(harness, "plan_reminder", local(friday, 8, 40)) == 2  # Li and Bob
    reminder = w.li.last
    assert reminder.plain_text() == (
        "Li Wei, your weekly plan for the week 2026-11-30 – 2026-12-06 is due by 2026-11-30 10:00: "
        "customers to visit and targets."
    )
    assert await job(harness, "plan_reminder", local(friday, 8, 45)) == 0  # once: the outbox key

    # Saturday: /plan (and the reminder's button) open next week's plan; Li files it.
    harness.clock.set(local(friday + timedelta(days=1), 11))
    opened = "\n".join(
        m.plain_text() for m in await w.li.press("🗓 Write the plan", message_id=reminder.message_id)
    )
    assert "week 2026-11-30 – 2026-12-06" in opened and "Due by 2026-11-30 10:00." in opened
    await w.li.press("🎯 Orders target")
    await w.li.send("1000")
    await w.li.press("🎯 Collections target")
    await w.li.send("0")
    await w.li.press("✅ Submit")
    [plan] = await rows(harness, WorkPlan)
    assert plan.starts_on == date(2026, 11, 30) and plan.collections_target == Decimal("0.00")

    monday = date(2026, 11, 30)
    before = len(w.li.chat)
    assert await job(harness, "plan_reminder", local(monday, 8, 40)) == 1  # only Bob, on Monday morning
    assert len(w.li.chat) == before
    assert "your weekly plan for the week 2026-11-30 – 2026-12-06" in w.bob.last.plain_text()
    # After the cutoff the managers hear who is missing: South has no manager, so the director.
    assert await job(harness, "plan_missing", local(monday, 10, 5)) == 1
    assert w.dee.last.plain_text() == (
        "🗓 No weekly plan for the week 2026-11-30 – 2026-12-06 (due 2026-11-30 10:00) from 1: Bob South"
    )
    assert await job(harness, "plan_missing", local(monday, 11)) == 0
    assert not any("No weekly plan" in m.plain_text() for m in w.mia.chat)  # North's Li filed

    # A reminder run caught up after the deadline says nothing (the week is already due).
    assert await job(harness, "plan_reminder", local(date(2026, 12, 7), 10, 30)) == 0
    # Nor does one that could only go out after it: Monday 14 December a holiday, the push would
    # wait until Tuesday.
    async with harness.db.transaction() as session:
        session.add(CompanySetting(key="holidays", value=["2026-12-14"], updated_at=harness.clock.now()))
    assert await job(harness, "plan_reminder", local(date(2026, 12, 11), 8, 40)) == 2  # Friday: both
    assert await job(harness, "plan_reminder", local(date(2026, 12, 14), 8, 40)) == 0


async def test_the_monthly_reminder_comes_before_the_ten_day_deadline(harness: Harness) -> None:
    w = await world(harness)
    # January 2027 is due ten days before it begins: 2026-12-22, 10:00; the early reminder three
    # days before that.
    assert await job(harness, "plan_reminder", local(date(2026, 12, 19), 8, 40)) == 2
    assert w.li.last.plain_text() == (
        "Li Wei, your monthly plan for the month 2027-01 is due by 2026-12-22 10:00: "
        "customers to visit and targets."
    )
    harness.clock.set(local(date(2026, 12, 20), 9))
    assert "Plans are for this month or a month ahead, e.g. /plan month 2027-01." in await w.li.says(
        "/plan month 2026-11"
    )
    assert "/plan opens this week's plan" in await w.li.says("/plan someday")
    assert "Monthly plan · month 2027-02" in await w.li.says("/plan 月 2027-02")
    await w.li.send("/plan month")
    await w.li.press("🎯 Orders target")
    await w.li.send("20万")
    await w.li.press("🎯 Collections target")
    await w.li.send("15万")
    await w.li.press("✅ Submit")
    [plan] = await rows(harness, WorkPlan)
    assert (plan.kind, plan.starts_on, plan.late) == ("month", date(2027, 1, 1), False)
    assert await job(harness, "plan_reminder", local(date(2026, 12, 22), 8, 40)) == 1  # Bob only
    assert await job(harness, "plan_missing", local(date(2026, 12, 22), 10, 5)) == 1
    assert (
        "No monthly plan for the month 2027-01 (due 2026-12-22 10:00) from 1: Bob South"
        in w.dee.last.plain_text()
    )


# -- plan against actual --------------------------------------------------------------------------


async def visit(db: Database, rep: User, customer: Customer, at: datetime) -> None:
    async with db.transaction() as session:
        session.add(
            Visit(
                rep_id=rep.id,
                customer_id=customer.id,
                visited_at=at,
                kind=VisitKind.VISIT,
                notes="",
                source_key=f"t:{next(_keys)}",
                created_at=at,
            )
        )


async def order(
    db: Database, rep: User, customer: Customer, amount: str, day: date, *, voided: bool = False
) -> None:
    async with db.transaction() as session:
        session.add(
            Receivable(
                invoice_no=f"PLAN-{next(_keys)}",
                customer_id=customer.id,
                rep_id=rep.id,
                amount=Decimal(amount),
                issued_on=day,
                due_on=day + timedelta(days=30),
                source=ReceivableSource.ORDER,
                created_at=local(day, 12),
                voided_at=local(day, 13) if voided else None,
            )
        )


async def collection(db: Database, rep: User, customer: Customer, amount: str, at: datetime) -> int:
    async with db.transaction() as session:
        row = Collection(
            rep_id=rep.id,
            customer_id=customer.id,
            amount=Decimal(amount),
            method=PaymentMethod.TRANSFER,
            received_at=at,
            recorded_by=rep.id,
            source_key=f"t:{next(_keys)}",
            created_at=at,
        )
        session.add(row)
        await session.flush()
        return row.id


async def reversal(db: Database, rep: User, customer: Customer, of: int, amount: str, at: datetime) -> None:
    async with db.transaction() as session:
        session.add(
            Collection(
                rep_id=rep.id,
                customer_id=customer.id,
                amount=-Decimal(amount),
                method=PaymentMethod.TRANSFER,
                received_at=at,
                recorded_by=rep.id,
                reverses_id=of,
                reason="wrong customer",
                source_key=f"t:{next(_keys)}",
                created_at=at,
            )
        )


async def test_plan_against_actual_in_rep_summary_and_the_month_end(harness: Harness) -> None:
    w = await world(harness)
    li, c = w.people.rep, w.customers
    await file_week(w.li, orders="10000", collections="5000")  # planned: AAA (2 visits), BBB (1)
    # The week's records: two visits to AAA, one to the unplanned DDD; Bob's visit to his own
    # customer; an order of 4,000 and a voided one; 2,500 collected and a collection reversed.
    tuesday = MONDAY + timedelta(days=1)
    await visit(harness.db, li, c["AAA"], local(tuesday, 10))
    await visit(harness.db, li, c["AAA"], local(tuesday + timedelta(days=2), 10))
    await visit(harness.db, li, c["DDD"], local(tuesday, 15))
    await visit(harness.db, w.people.other_rep, c["BOB"], local(tuesday, 11))
    await visit(harness.db, li, c["BBB"], local(MONDAY - timedelta(days=1), 11))  # last week: not counted
    await order(harness.db, li, c["AAA"], "4000", tuesday)
    await order(harness.db, li, c["AAA"], "9000", tuesday, voided=True)
    await order(harness.db, li, c["BBB"], "7000", MONDAY + timedelta(days=7))  # next week
    await collection(harness.db, li, c["AAA"], "2500", local(tuesday, 16))
    wrong = await collection(harness.db, li, c["BBB"], "800", local(tuesday, 17))
    await reversal(harness.db, li, c["BBB"], wrong, "800", local(tuesday, 18))

    harness.clock.set(local(MONDAY + timedelta(days=4), 18))  # Friday
    card = await w.mia.says("/rep Li week")
    assert "Plan against actual · Weekly plan · week 2026-11-23 – 2026-11-29 (not approved yet)" in card
    assert "Visits: 3 of 3 planned (100%); to planned customers: 2" in card
    assert "Planned customers visited: 1 of 2 (50%)" in card
    assert "Orders: 4,000.00 of 10,000.00 (40%)" in card
    assert "Collections: 2,500.00 of 5,000.00 (50%)" in card

    summary = await w.mia.says("/summary week")
    assert "Plans · Weekly plan · week 2026-11-23 – 2026-11-29" in summary
    assert "Li Wei — visits 3/3 · customers 1/2 · orders 4,000.00 (40%) · collected 2,500.00 (50%)" in summary
    company = await w.dee.says("/summary week")
    assert "Li Wei — visits 3/3" in company and "No plan filed: Bob South" in company
    own = await w.li.says("/summary week")
    assert "Orders: 4,000.00 of 10,000.00 (40%)" in own

    # The monthly plan for December, filed late, against December's records in the month-end push.
    harness.clock.set(local(MONDAY + timedelta(days=4), 19))
    await w.li.send("/plan month")
    await w.li.press("🎯 Orders target")
    await w.li.send("20000")
    await w.li.press("🎯 Collections target")
    await w.li.send("8000")
    await w.li.press("✅ Submit")
    await visit(harness.db, li, c["BBB"], local(date(2026, 12, 3), 10))
    await order(harness.db, li, c["BBB"], "5000", date(2026, 12, 3))
    await collection(harness.db, li, c["BBB"], "2000", local(date(2026, 12, 31), 20))
    assert await job(harness, "month_end", local(date(2027, 1, 1), 9)) >= 2
    pushed = w.mia.last.plain_text()
    assert "Plans · Monthly plan · month 2026-12" in pushed
    # Planned visits for December: A every 3 days (10), C weekly (4), D every 14 days (2).
    assert "Li Wei — visits 1/16 · customers 1/3 · orders 5,000.00 (25%) · collected 2,000.00 (25%)" in pushed


# -- people and languages -------------------------------------------------------------------------


async def test_a_managers_own_plan_goes_to_the_director_and_others_cannot_answer_it(harness: Harness) -> None:
    w = await world(harness)
    done = await file_week(w.mia, add="AAA")  # she has no customers of her own: one of her team's
    assert "Sent to Dee Director for approval." in done
    [plan] = await rows(harness, WorkPlan)
    assert plan.rep_id == w.people.manager.id
    await harness.deliver_pushes()
    assert "Weekly plan · Mia Manager (North)" in w.dee.last.plain_text()

    for person in (w.mia, w.li, w.bob):  # herself, her rep, another team's rep
        await person.send("/help")
        stamp = int(plan.submitted_at.timestamp())
        update = harness.api.callback(person.id, person.last.message_id, f"plan:ok:{plan.id}:{stamp}")
        await harness.settle(update)
        shown = toast(harness, update) + " ".join(m.plain_text() for m in person.chat[-1:])
        assert "There is no such plan." in shown or "does not allow" in shown, shown
    [plan] = await rows(harness, WorkPlan)
    assert plan.approved_at is None

    await w.dee.press("✅ Approve")
    [plan] = await rows(harness, WorkPlan)
    assert plan.approved_by == w.people.director.id
    assert "does not allow" in await w.dee.says("/plan")  # the director files none


async def test_chinese_rep_and_manager(harness: Harness) -> None:
    w = await world(harness)
    await w.li.send("/lang zh")
    await w.mia.send("/lang zh")
    opened = await w.li.says("/plan")
    assert "周计划 · 2026-11-23 – 2026-11-29 这一周" in opened
    assert "截止时间：2026-11-23 10:00。" in opened and "已按客户等级填入本期应拜访的客户：2 家。" in opened
    await w.li.press("🎯 订单目标")
    assert "订单目标：50,000.00" in await w.li.says("5万")
    await w.li.press("🎯 收款目标")
    await w.li.says("3万")
    done = "\n".join(m.plain_text() for m in await w.li.press("✅ 提交"))
    assert "✅ 计划已提交。" in done and "已发送给 Mia Manager 审批。" in done
    await harness.deliver_pushes()
    assert "周计划 · Li Wei (North) · 2026-11-23 – 2026-11-29 这一周" in w.mia.last.plain_text()
    await w.mia.press("💬 评论")
    assert "已将评论发送给 Li Wei" in await w.mia.says("请加上 Bright Tools")
    await w.mia.press("✅ 批准")
    await harness.deliver_pushes()
    texts = "\n".join(m.plain_text() for m in w.li.chat)
    assert "💬 Mia Manager 评论了你 2026-11-23 – 2026-11-29 这一周的计划：\n请加上 Bright Tools" in texts
    assert "✅ Mia Manager 批准了你 2026-11-23 – 2026-11-29 这一周的计划。" in texts
    card = await w.mia.says("/rep Li 本周")
    assert "计划与实际 · 周计划" in card and "订单：0.00，目标 50,000.00（0%）" in card


# -- redelivery -----------------------------------------------------------------------------------


async def test_a_redelivered_submit_and_comment_record_once(harness: Harness) -> None:
    w = await world(harness)
    await w.li.send("/plan")
    await w.li.press("🎯 Orders target")
    await w.li.send("1000")
    await w.li.press("🎯 Collections target")
    [draft] = await w.li.send("1000")
    update = harness.api.press(2001, "✅ Submit", message_id=draft.message_id)
    await harness.settle(update)
    # The same update again (a replay after a crash): the service sees its key and writes nothing.
    async with harness.db.transaction() as session:
        li = await session.get(User, w.people.rep.id)
        assert li is not None
        again = await plans.submit(
            session,
            Caller.of(li, "en"),
            plans.week_of(MONDAY),
            [w.customers["DDD"].id],
            Decimal("1"),
            Decimal("1"),
            now=harness.clock.now(),
            zone=ZONE,
            source_key=f"cb:{update['callback_query']['id']}",
        )
    assert again.repeated and again.plan.orders_target == Decimal("1000.00")
    second = harness.api.callback(2001, draft.message_id, "plan:send")  # a double tap
    await harness.settle(second)
    assert toast(harness, second) == "This plan draft has closed. Send /plan to open it again."
    [plan] = await rows(harness, WorkPlan)
    assert plan.source_key == f"cb:{update['callback_query']['id']}"
    assert await audits(harness, "plan.submit") == 1
    assert len(await rows(harness, WorkPlanCustomer)) == 2
    async with harness.db.reading() as session:
        pushes = await session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.job == "plan_filed")
        )
    assert pushes == 1

    await harness.deliver_pushes()
    await w.mia.press("💬 Comment")
    comment = harness.api.message(5001, "Looks good")
    await harness.settle(comment)
    await harness.process_directly(comment)
    assert len(await rows(harness, WorkPlanComment)) == 1
    assert await audits(harness, "plan.comment") == 1


async def test_a_prospect_merged_into_a_customer_moves_its_plan_line_once(harness: Harness) -> None:
    w = await world(harness)
    now = harness.clock.now()
    twin = await factories.customer(
        harness.db, now, name="Apex Twin", rep=w.people.rep, code="P-1", status=CustomerStatus.PROSPECT
    )
    other = await factories.customer(
        harness.db, now, name="Other Shop", rep=w.people.rep, code="P-2", status=CustomerStatus.PROSPECT
    )
    await w.li.send("/plan")
    await w.li.send("P-1, P-2")  # planned with AAA and BBB (the prefill): the twin of AAA, and another
    await w.li.press("🎯 Orders target")
    await w.li.send("1000")
    await w.li.press("🎯 Collections target")
    await w.li.send("1000")
    await w.li.press("✅ Submit")
    async with harness.db.transaction() as session:
        mia = await session.get(User, w.people.manager.id)
        assert mia is not None
        caller = Caller.of(mia, "en")
        await prospects.merge(session, caller, twin.id, w.customers["AAA"].id, now=now, zone=ZONE)
        await prospects.merge(session, caller, other.id, w.customers["DDD"].id, now=now, zone=ZONE)
    planned = sorted(row.customer_id for row in await rows(harness, WorkPlanCustomer))
    # AAA once (the twin's line dropped), BBB, and DDD in place of the other prospect.
    assert planned == sorted([w.customers["AAA"].id, w.customers["BBB"].id, w.customers["DDD"].id])


async def test_a_merge_moves_routes_trips_and_complaints_keeping_each_list_single(harness: Harness) -> None:
    """The route, a trip's customers and complaints follow a merged prospect; a route or trip that
    already lists the customer keeps it once (their keys would refuse a second line)."""
    w = await world(harness)
    now = harness.clock.now()
    rep_id, target = w.people.rep.id, w.customers["AAA"]
    twin = await factories.customer(
        harness.db, now, name="Apex Twin", rep=w.people.rep, code="P-1", status=CustomerStatus.PROSPECT
    )
    async with harness.db.transaction() as session:
        session.add_all(
            [
                RouteStop(rep_id=rep_id, customer_id=target.id, position=0, saved_at=now),
                RouteStop(rep_id=rep_id, customer_id=twin.id, position=1, saved_at=now),
            ]
        )
        trip = Trip(rep_id=rep_id, started_at=now, odometer_start=100, source_key="trip:1")
        session.add(trip)
        await session.flush()
        session.add_all(
            [
                TripCustomer(trip_id=trip.id, customer_id=twin.id, position=0),
                TripCustomer(trip_id=trip.id, customer_id=target.id, position=1),
            ]
        )
        session.add(
            Complaint(
                customer_id=twin.id,
                logged_by=rep_id,
                kind=ComplaintKind.COMPLAINT,
                tag=ComplaintTag.QUALITY,
                text="cracked tiles",
                opened_at=now,
                answer_due=now.date() + timedelta(days=3),
                onsite_due=now.date() + timedelta(days=5),
                source_key="cmp:1",
            )
        )
    async with harness.db.transaction() as session:
        mia = await session.get(User, w.people.manager.id)
        assert mia is not None
        await prospects.merge(session, Caller.of(mia, "en"), twin.id, target.id, now=now, zone=ZONE)
    assert [(r.rep_id, r.customer_id) for r in await rows_of(harness, RouteStop)] == [(rep_id, target.id)]
    assert [(r.trip_id, r.customer_id) for r in await rows_of(harness, TripCustomer)] == [
        (trip.id, target.id)
    ]
    assert [c.customer_id for c in await rows(harness, Complaint)] == [target.id]


async def rows_of(harness: Harness, model: Any) -> list[Any]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(model)))


async def test_a_plan_of_sixty_long_named_customers_fits_in_a_message(harness: Harness) -> None:
    w = await world(harness)
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        for number in range(70):
            session.add(
                Customer(
                    code=f"L{number:03d}",
                    name=f"客户名称很长的五金建材批发零售有限公司第{number:03d}分店" * 3,
                    grade="C",
                    rep_id=w.people.rep.id,
                    team_id=w.people.rep.team_id,
                    created_at=now,
                )
            )
    [draft] = await w.li.send("/plan")
    assert "Customers to visit: 60" in draft.plain_text() and "…and " in draft.plain_text()
    done = await file_week(w.li)
    assert "✅ Plan filed." in done
    assert len(await rows(harness, WorkPlanCustomer)) == 60
    await harness.deliver_pushes()  # the manager's copy fits too (the fake Bot API refuses > 4096)
    assert "Customers to visit: 60" in w.mia.last.plain_text()


async def test_a_summary_of_many_plans_fits_its_first_page(harness: Harness) -> None:
    w = await world(harness)
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        for number in range(40):
            rep = factories.user(
                session, 3000 + number, f"代表姓名很长的销售员{number:02d}" * 2, Role.REP, w.people.north, now
            )
            await session.flush()
            session.add(
                WorkPlan(
                    rep_id=rep.id,
                    kind=PlanKind.WEEK,
                    starts_on=MONDAY,
                    ends_on=MONDAY + timedelta(days=6),
                    orders_target=Decimal("1000"),
                    collections_target=Decimal("1000"),
                    planned_visits=3,
                    submitted_at=now,
                    source_key=f"t:{next(_keys)}",
                )
            )
        for number in range(40):
            factories.user(
                session, 4000 + number, f"没有计划的销售员{number:02d}" * 2, Role.REP, w.people.north, now
            )
    summary = await w.mia.says("/summary week")  # the fake Bot API refuses a message over 4096
    assert "Plans · Weekly plan · week 2026-11-23 – 2026-11-29" in summary
    assert "…and " in summary and "No plan filed: " in summary and " more" in summary


# -- the export -----------------------------------------------------------------------------------


def sheet_records(content: bytes, title: str) -> tuple[list[str], list[list[Any]]]:
    """A sheet's header and data rows, read back with openpyxl."""
    sheet = load_workbook(io.BytesIO(content))[title]
    rows_read = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return [str(value) for value in rows_read[0]], rows_read[1:]


def summary_figures(content: bytes) -> dict[str, Any]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return {str(row[0].value): row[1].value for row in sheet.iter_rows(min_row=2)}


async def test_the_export_has_a_plans_sheet_with_the_figures_rep_and_summary_show(harness: Harness) -> None:
    """Issue 20: /export had no sheet for work plans. The Plans row carries the same figures as /rep."""
    w = await world(harness)
    await file_week(w.li, orders="10000", collections="5000")  # AAA (2 visits), BBB (1)
    await harness.deliver_pushes()
    await w.mia.press("✅ Approve")
    harness.clock.set(local(MONDAY + timedelta(days=1), 10))
    assert "Visit saved" in await w.li.says("/visit Apex Hardware: talked about the spring order")
    assert "Visit saved" in await w.li.says("/visit Delta Depot: checked the shelf")
    assert "Apex Hardware" in await w.li.says("/order Apex Hardware: 4000")
    assert "2,500.00" in await w.li.says("/collect Apex Hardware: 2500 transfer")
    harness.clock.set(local(MONDAY + timedelta(days=2), 11))
    assert "Visit saved" in await w.li.says("/visit Apex Hardware: delivered samples")
    card = await w.mia.says("/rep Li week")
    assert "Visits: 3 of 3 planned (100%); to planned customers: 2" in card
    assert "Planned customers visited: 1 of 2 (50%)" in card
    assert "Orders: 4,000.00 of 10,000.00 (40%)" in card and "Collections: 2,500.00 of 5,000.00 (50%)" in card

    await w.mia.send("/export week")
    document = harness.api.last(5001)
    header, found = sheet_records(document.file_bytes or b"", "Plans")
    assert header == [
        "Rep",
        "Team",
        "Kind",
        "Period from",
        "Period to",
        "Filed at (Asia/Shanghai)",
        "Late",
        "Approved by",
        "Approved at (Asia/Shanghai)",
        "Customers planned",
        "Of them visited",
        "Visits planned",
        "Visits done",
        "Of them to planned customers",
        "Orders target",
        "Orders",
        "Collections target",
        "Collections",
    ]
    [row] = found
    filed_at, approved_at = row[5], row[8]
    assert filed_at.date() == MONDAY and approved_at >= filed_at
    assert row[:5] == ["Li Wei", "North", "Weekly plan", datetime(2026, 11, 23), datetime(2026, 11, 29)]
    assert row[6:8] == ["No", "Mia Manager"]
    assert row[9:] == [2, 1, 3, 3, 2, 10000, 4000, 5000, 2500]
    summary = summary_figures(document.file_bytes or b"")
    assert summary["Work plans filed"] == 1 and summary["Work plans approved"] == 1
    assert summary["Work plans filed late"] == 0

    await w.dee.send("/lang zh")
    await w.dee.send("/export week")
    document = harness.api.last(7001)
    header, found = sheet_records(document.file_bytes or b"", "计划")
    assert header[:9] == [
        "销售员",
        "团队",
        "类型",
        "期间开始",
        "期间结束",
        "提交时间（Asia/Shanghai）",
        "迟交",
        "批准人",
        "批准时间（Asia/Shanghai）",
    ]
    assert header[9:] == [
        "计划客户数",
        "其中已拜访",
        "计划拜访次数",
        "实际拜访次数",
        "其中拜访计划客户",
        "订单目标",
        "订单",
        "收款目标",
        "收款",
    ]
    [row] = found  # Bob (South) filed none: the director sees Li's plan only
    assert row[:3] == ["Li Wei", "North", "周计划"] and row[6:8] == ["否", "Mia Manager"]
    assert row[9:] == [2, 1, 3, 3, 2, 10000, 4000, 5000, 2500]
    assert summary_figures(document.file_bytes or b"")["已提交的工作计划"] == 1
