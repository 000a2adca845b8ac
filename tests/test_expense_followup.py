"""Expense claims nobody decides (issue 20): a claim still pending after 2 working days reminds whoever
it waits for, once; after 4 it goes a level up, once (the director; above the director, the admins);
deciding stops both, and a follow-up still queued when the claim is decided is dropped. Working days
are the company's (days off and holidays left out)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from bot.services.company import CompanySettings
from bot.services.money import expenses
from jobs.runner import run_job
from models import Expense, ExpenseStatus, Outbox
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_expenses import claims_of_three, pushed, setup, speaks

MONDAY = date(2026, 11, 23)  # the harness clock's first day; Sunday is the company's day off


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


async def followup(harness: Harness, at: datetime) -> int:
    """Run the job as of ``at`` (again, as a re-run would) and deliver what is due; pushes queued."""
    harness.clock.set(at)
    outcome = await run_job(harness.db, "expense_followup", at, ZONE, again=True)
    await harness.deliver_pushes()
    return outcome.pushes


async def followups(harness: Harness) -> list[tuple[str, bool, bool]]:
    """The job's outbox rows: (key, sent, dropped)."""
    async with harness.db.reading() as session:
        rows = await session.execute(
            select(Outbox.dedup_key, Outbox.sent_at.is_not(None), Outbox.dropped_at.is_not(None))
            .where(Outbox.job == expenses.FOLLOWUP_JOB)
            .order_by(Outbox.id)
        )
        return [(key, bool(sent), bool(dropped)) for key, sent, dropped in rows]


def texts(harness: Harness, telegram_id: int, marker: str) -> list[str]:
    return [m.plain_text() for m in harness.api.chat(telegram_id) if marker in m.plain_text()]


def test_working_days_leave_out_days_off_and_holidays_and_count_make_up_days() -> None:
    company = CompanySettings(
        holidays=frozenset({date(2026, 11, 25)}), workdays=frozenset({date(2026, 11, 29)})
    )
    waited = [expenses.working_days_waited(MONDAY, MONDAY + timedelta(days=n), company) for n in range(7)]
    # Tue 1, Wed a holiday, Thu 2, Fri 3, Sat 4, and the make-up Sunday the 5th.
    assert waited == [0, 1, 1, 2, 3, 4, 5]
    plain = CompanySettings()
    friday = MONDAY + timedelta(days=4)
    # Claimed on a Friday: Saturday is worked, Sunday is not; Monday is the second working day.
    assert [expenses.working_days_waited(friday, friday + timedelta(days=n), plain) for n in (1, 2, 3)] == [
        1,
        1,
        2,
    ]
    assert expenses.followup_stages(1) == ()
    assert expenses.followup_stages(2) == expenses.followup_stages(3) == ("remind",)
    assert expenses.followup_stages(4) == ("remind", "escalate")


async def test_the_manager_is_reminded_once_then_the_director_once_and_nothing_after_the_decision(
    harness: Harness,
) -> None:
    await setup(harness)
    rep, director = harness.person(2001, "Li"), harness.person(7001, "Dee")
    harness.person(5001, "Mia")
    await rep.send("/expense 45 meals lunch with the buyer")  # Monday 09:00
    await pushed(harness, 5001, "Expense claim #1")  # the push when it is claimed

    assert await followup(harness, local(MONDAY + timedelta(days=1), 9, 20)) == 0  # Tuesday: 1 day
    assert await followup(harness, local(MONDAY + timedelta(days=2), 9, 20)) == 1  # Wednesday: 2 days
    [reminder] = texts(harness, 5001, "has waited")
    assert reminder.splitlines() == [
        "⏰ Expense claim #1 from Li Wei has waited 2 working days for your decision.",
        "Amount: 45.00 · Meals",
        "Note: lunch with the buyer",
        "Claimed: 2026-11-23 09:00",
    ]
    assert harness.api.last(5001).button_texts() == ["✅ Approve", "❌ Reject", "🧾 Receipt"]
    assert texts(harness, 7001, "Expense claim #1") == []  # the director is not told yet
    assert await followup(harness, local(MONDAY + timedelta(days=2), 15)) == 0  # a re-run: nothing again
    assert await followup(harness, local(MONDAY + timedelta(days=3), 9, 20)) == 0  # Thursday: 3 days

    assert await followup(harness, local(MONDAY + timedelta(days=4), 9, 20)) == 1  # Friday: 4 days
    [escalated] = texts(harness, 7001, "Expense claim #1")
    assert escalated.splitlines()[0] == (
        "⚠️ Expense claim #1 from Li Wei has waited 4 working days and nobody has decided it "
        "(waiting for Mia Manager). You can decide it."
    )
    assert len(texts(harness, 5001, "has waited")) == 1  # the manager was reminded once
    assert await followup(harness, local(MONDAY + timedelta(days=5), 9, 20)) == 0  # Saturday

    await director.press("✅ Approve", message_id=harness.api.last(7001).message_id)
    async with harness.db.reading() as session:
        claim = await session.scalar(select(Expense))
    assert claim is not None and claim.status == ExpenseStatus.APPROVED
    assert await followup(harness, local(MONDAY + timedelta(days=7), 9, 20)) == 0  # next Monday: decided
    keys = [key.split(":", 2)[2] for key, _sent, _dropped in await followups(harness)]
    assert keys == ["1:remind", "1:escalate"]


async def test_a_reminder_still_queued_when_the_claim_is_decided_is_dropped(harness: Harness) -> None:
    """The job run late in the evening queues the reminder for the morning (quiet hours); the manager
    decides first: the reminder is never sent, and no escalation follows."""
    await setup(harness)
    rep, manager = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await rep.send("/expense 45 meals lunch")
    push = await pushed(harness, 5001, "Expense claim #1")
    assert await followup(harness, local(MONDAY + timedelta(days=2), 22)) == 1  # queued for 08:00
    assert texts(harness, 5001, "has waited") == []
    await manager.press("❌ Reject", message_id=push)
    harness.clock.set(local(MONDAY + timedelta(days=3), 9))
    await harness.deliver_pushes()
    assert texts(harness, 5001, "has waited") == []
    [(key, sent, dropped)] = await followups(harness)
    assert key.endswith(":1:remind") and not sent and dropped
    assert await followup(harness, local(MONDAY + timedelta(days=4), 9, 20)) == 0
    assert texts(harness, 7001, "Expense claim #1") == []


async def test_a_claim_waiting_for_the_director_goes_to_the_admin_in_chinese(harness: Harness) -> None:
    """Over the month's budget the director decides; after 4 working days the admins hear of it."""
    await setup(harness, budget="100")
    rep = harness.person(2001, "Li")
    harness.person(7001, "Dee")
    admin = await harness.admin()
    await speaks(harness, 7001, "zh")
    await speaks(harness, 1001, "zh")
    assert "the director decides it" in await rep.says("/expense 150 lodging hotel")
    await pushed(harness, 7001, "#1")
    assert await followup(harness, local(MONDAY + timedelta(days=2), 9, 20)) == 1
    [reminder] = texts(harness, 7001, "个工作日")
    assert reminder.splitlines()[0] == "⏰ Li Wei 的费用报销 #1 已等待你审批 2 个工作日。"
    assert "⚠️ 这笔报销使当月超出预算，由销售总监审批。" in reminder
    assert texts(harness, 5001, "#1") == []  # not the manager: over the budget

    assert await followup(harness, local(MONDAY + timedelta(days=4), 9, 20)) == 1
    [escalated] = texts(harness, 1001, "个工作日")
    assert escalated.splitlines()[0] == (
        "⚠️ Li Wei 的费用报销 #1 已等待 4 个工作日，仍无人审批（等待：Dee Director）。你可以直接审批。"
    )
    assert len(texts(harness, 7001, "个工作日")) == 1
    await admin.press("✅ 批准", message_id=harness.api.last(1001).message_id)
    async with harness.db.reading() as session:
        claim = await session.scalar(select(Expense))
    assert claim is not None and claim.status == ExpenseStatus.APPROVED and claim.decided_by is not None
    assert await followup(harness, local(MONDAY + timedelta(days=7), 9, 20)) == 0
    assert len(await followups(harness)) == 2


# -- the team's month against its budget in /expenses ----------------------------------------------


async def test_expenses_shows_each_teams_month_so_far_against_its_budget(harness: Harness) -> None:
    """/summary has no statement to spare (tests/test_query_counts.py): the team's approved claims of the
    month against the team's budget (each active rep's and manager's role budget) are in /expenses."""
    await setup(harness)
    assert "Saved." in await (await harness.admin()).says("/settings budget manager 500")
    await claims_of_three(harness)
    team = await harness.person(5001, "Mia").says("/expenses")
    assert team.split("Approved this month against the team budget:\n")[1].splitlines()[0] == (
        "• North, 2026-11 so far: approved 45.00 of a budget of 1,500.00 · left 1,455.00"
    )
    assert "South" not in team
    await speaks(harness, 7001, "zh")
    everyone = await harness.person(7001, "Dee").says("/expenses")
    assert everyone.split("本月已批准报销与团队预算：\n")[1].splitlines()[:2] == [
        "• North，2026-11 至今：已批准 45.00，预算 1,500.00，剩余 1,455.00",
        "• South，2026-11 至今：已批准 60.00，预算 1,000.00，剩余 940.00",
    ]
    assert "team budget" not in await harness.person(2001, "Li").says("/expenses")  # a rep: their own
