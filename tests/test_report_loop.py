"""Reports reach the supervisor and come back answered (issue 18): the digest at the deadline, a
late report on its own, Mark read and comments, /reports by scope, a report for a past day."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.db import Database
from bot.services import company
from bot.services.people.access import Caller
from bot.services.reporting import report_loop
from bot.services.reporting.reports import ReportHours, ReportLines
from jobs.runner import run_job
from models import (
    AuditLog,
    CompanySetting,
    DailyReport,
    JobRun,
    Outbox,
    ReportComment,
    ReportRead,
    Role,
    User,
)
from tests import factories
from tests.conftest import PG_URL, ZONE
from tests.factories import Company
from tests.harness import Harness, Person

MONDAY = date(2026, 11, 23)
SATURDAY = date(2026, 11, 21)


def local(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


@dataclass
class World:
    people: Company
    li: Person  # North
    ann: Person  # North
    zoe: Person  # North
    bob: Person  # South, which has no manager
    mia: Person  # North's manager
    dee: Person  # the director
    fay: Person  # finance


async def world(harness: Harness) -> World:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        factories.user(session, 2003, "Ann North", Role.REP, people.north, now)
        factories.user(session, 2004, "Zoe North", Role.REP, people.north, now)
    return World(
        people,
        harness.person(2001, "Li"),
        harness.person(2003, "Ann"),
        harness.person(2004, "Zoe"),
        harness.person(2002, "Bob"),
        harness.person(5001, "Mia"),
        harness.person(7001, "Dee"),
        harness.person(6001, "Fay"),
    )


async def digest(harness: Harness, at: datetime) -> int:
    harness.clock.set(at)
    outcome = await run_job(harness.db, "report_digest", at, ZONE)
    await harness.deliver_pushes()
    return outcome.pushes


async def rows(harness: Harness, model: Any) -> list[Any]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def report_id(harness: Harness, rep_id: int, day: date = MONDAY) -> int:
    async with harness.db.reading() as session:
        found = await session.scalar(
            select(DailyReport.id).where(DailyReport.rep_id == rep_id, DailyReport.day == day)
        )
    assert found is not None
    return found


async def written(harness: Harness) -> tuple[int, ...]:
    """How many read receipts, comments and audit entries there are."""
    async with harness.db.reading() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (ReportRead, ReportComment, AuditLog)
            ]
        )


def toast(harness: Harness, update: dict[str, Any]) -> str:
    return harness.api.callback_answers[update["callback_query"]["id"]].get("text") or ""


async def press(harness: Harness, person: Person, label: str) -> tuple[str, list[str]]:
    """``person`` presses the newest button labelled ``label``: the toast, and what was shown."""
    before = len(person.chat)
    update = harness.api.press(person.id, label)
    await harness.settle(update)
    return toast(harness, update), [m.plain_text() for m in person.chat[before:]]


# -- the digest -----------------------------------------------------------------------------------


async def test_the_digest_carries_each_reps_lines_late_ones_marked_and_who_is_missing(
    harness: Harness,
) -> None:
    w = await world(harness)
    harness.clock.set(local(18, 40))
    await w.li.send("/report Visited 3 shops, Acme wants 20 drums")
    harness.clock.set(local(19, 10))
    said = await w.ann.says("/report Problems: van broke down\nPlan: Acme again")
    assert "Marked late: the deadline is 19:00." in said and "Sent to" not in said  # the digest carries it
    harness.clock.set(local(19, 20))
    await w.bob.send("/report Market: competitor cut prices 5%")
    assert await rows(harness, Outbox) == []

    assert await digest(harness, local(19, 30)) == 3  # Mia; Dee: the overview and South in full
    [mias] = harness.api.chat(5001)
    text = mias.plain_text()
    assert text.startswith(
        "📋 Daily reports · North · 2026-11-23\nReported: 2 of 3 · late: 1\nNot reported: Zoe North"
    )
    assert "Li Wei · submitted 18:40 · not read yet\nNotes: Visited 3 shops, Acme wants 20 drums" in text
    assert (
        "Ann North · submitted 19:10 · ⏰ late · not read yet\nProblems met: van broke down\n"
        "Plan for tomorrow: Acme again"
    ) in text
    assert "Bob" not in text and "competitor" not in text
    assert mias.button_texts() == [
        "✓ Mark read · Ann North",
        "💬 Comment · Ann North",
        "✓ Mark read · Li Wei",
        "💬 Comment · Li Wei",
    ]
    overview, south = harness.api.chat(7001)
    assert overview.plain_text() == (
        "📋 Daily reports · 2026-11-23\nNorth: Reported: 2 of 3 · late: 1 · Not reported: Zoe North\n\n"
        "Read them with /reports 2026-11-23, one rep's with /reports 2026-11-23 NAME."
    )
    assert overview.button_texts() == []
    assert south.plain_text().startswith(
        "📋 Daily reports · South · 2026-11-23\nReported: 1 of 1 · late: 1\n"
        "Everyone has reported.\n\nBob South · submitted 19:20 · ⏰ late"
    )
    assert "Market information: competitor cut prices 5%" in south.plain_text()
    assert south.button_texts() == ["✓ Mark read · Bob South", "💬 Comment · Bob South"]
    assert harness.api.chat(6001) == []  # finance is not a supervisor

    # Once a day: running it again queues nothing, and the old 20:30 list is gone.
    assert await digest(harness, local(19, 45)) == 0
    assert (await run_job(harness.db, "report_digest", local(19, 50), ZONE, again=True)).pushes == 0
    assert len(harness.api.chat(5001)) == 1
    async with harness.db.reading() as session:
        jobs = set(await session.scalars(select(Outbox.job)))
    assert jobs == {"report_digest"}


async def test_a_long_day_fits_one_message_and_points_to_the_rest(harness: Harness) -> None:
    w = await world(harness)
    now = harness.clock.now()
    async with harness.db.transaction() as session:
        for n in range(40):
            rep = factories.user(session, 3000 + n, f"Rep {n:02d} <&>", Role.REP, w.people.north, now)
            await session.flush()
            session.add(
                DailyReport(
                    rep_id=rep.id,
                    day=MONDAY,
                    summary="",
                    notes="长" * 900,
                    problems="x" * 900,
                    submitted_at=local(18),
                    source_key=f"long:{n}",
                )
            )
    await digest(harness, local(19))
    [mias] = harness.api.chat(5001)
    text = mias.plain_text()
    assert len((mias.text or "").encode("utf-16-le")) // 2 < 4096
    assert "Reported: 40 of 43" in text and "Not reported: Ann North, Li Wei, Zoe North" in text
    assert "Rep 00 <&>" in text and "长" * 299 + "…" in text  # each line cut in a digest
    shown = text.count("· submitted 18:00")
    assert 1 <= shown < 40
    assert text.endswith(f"…and {40 - shown} more: /reports 2026-11-23 NAME shows one rep's report.")
    assert len(mias.button_texts()) == 2 * shown
    one = await w.mia.says("/reports 2026-11-23 Rep 39")
    assert "📋 Rep 39 <&> (North) · 2026-11-23" in one and "长" * 900 in one


# -- a late report, on its own --------------------------------------------------------------------


async def test_a_report_after_the_digest_reaches_the_manager_on_its_own(harness: Harness) -> None:
    w = await world(harness)
    await digest(harness, local(19))
    assert "Not reported: Ann North, Li Wei, Zoe North" in w.mia.last.plain_text()

    harness.clock.set(local(20, 10))
    update = harness.api.message(2004, "/report Problems: customer closed for stocktaking")
    await harness.settle(update)
    said = w.zoe.last.plain_text()
    assert "Marked late: the deadline is 19:00." in said and "Sent to Mia Manager now." in said
    await harness.process_directly(update)  # delivered twice: pushed once
    await harness.deliver_pushes()
    late = w.mia.last
    assert late.plain_text().startswith(
        "📋 Late report · Zoe North (North) · 2026-11-23\nsubmitted 20:10 · ⏰ late · not read yet\n"
        "Problems met: customer closed for stocktaking\n\nRecords as submitted:\n"
        "No visits, orders, collections or new customers today."
    )
    assert late.button_texts() == ["✓ Mark read", "💬 Comment"]
    assert len(harness.api.chat(5001)) == 2
    assert "Zoe" not in harness.api.chat(7001)[0].plain_text().split("Not reported: ")[0]

    harness.clock.set(local(20, 30))
    said = await w.zoe.says("/report Problems: customer reopens Wednesday")
    assert "replaced at 20:30" in said and "Sent to Mia Manager now." in said
    await harness.deliver_pushes()
    assert w.mia.last.plain_text().startswith(
        "📋 Report replaced · Zoe North (North) · 2026-11-23\nsubmitted 20:30 · ⏰ late"
    )
    assert len(harness.api.chat(5001)) == 3
    said, _shown = await press(harness, w.mia, "✓ Mark read")
    assert said == "✓ Marked read: Zoe North's report for 2026-11-23. They see it in /reports."


async def test_a_report_before_the_digest_waits_for_it(harness: Harness) -> None:
    w = await world(harness)
    said = await w.li.says("/report All good")
    assert "Sent to" not in said
    await harness.deliver_pushes()
    assert harness.api.chat(5001) == []
    await digest(harness, local(19))
    assert "Notes: All good" in w.mia.last.plain_text()


# -- read receipts and comments -------------------------------------------------------------------


async def test_the_manager_marks_read_and_comments_and_the_rep_sees_both(harness: Harness) -> None:
    w = await world(harness)
    harness.clock.set(local(18, 40))
    await w.li.send("/report Problems: dealer short of 20L drums")
    await digest(harness, local(19))

    harness.clock.set(local(19, 5))
    said, shown = await press(harness, w.mia, "✓ Mark read · Li Wei")
    assert said == "✓ Marked read: Li Wei's report for 2026-11-23. They see it in /reports."
    assert shown == []
    said, _shown = await press(harness, w.mia, "✓ Mark read · Li Wei")
    assert said == "You had already marked Li Wei's report for 2026-11-23 read."

    harness.clock.set(local(19, 6))
    _said, shown = await press(harness, w.mia, "💬 Comment · Li Wei")
    assert shown == [
        "💬 Your comment on Li Wei's report for 2026-11-23: type it in one message (up to 1000 "
        "characters). Li Wei gets it at once. /cancel stops."
    ]
    answer = await w.mia.says("Good <b>work</b> & call Acme first")
    assert answer == "💬 Comment sent to Li Wei on their report for 2026-11-23. The report is marked read."
    assert "didn't understand" in await w.mia.says("more text")  # the step is over
    await harness.deliver_pushes()
    pushed = w.li.last
    assert pushed.plain_text() == (
        "💬 Mia Manager commented on your report for 2026-11-23:\n"
        "Good <b>work</b> & call Acme first\n\n"
        "/reports shows your reports, who read them and the comments."
    )
    assert "&lt;b&gt;work&lt;/b&gt; &amp; call" in (pushed.text or "")

    mine = await w.li.says("/reports")
    assert mine.startswith(
        "📋 Your reports\n\n2026-11-23 · submitted 18:40 · ✓ read by Mia Manager 19:05\n"
        "Problems met: dealer short of 20L drums\n"
        "💬 Mia Manager 19:06: Good <b>work</b> & call Acme first"
    )
    [comment] = await rows(harness, ReportComment)
    assert (comment.author_id, comment.text) == (w.people.manager.id, "Good <b>work</b> & call Acme first")
    assert comment.source_key.startswith("msg:5001:")
    [read] = await rows(harness, ReportRead)
    assert (read.reader_id, read.read_at) == (w.people.manager.id, local(19, 5))
    async with harness.db.reading() as session:
        actions = list(
            await session.scalars(
                select(AuditLog.action).where(AuditLog.entity == "daily_report").order_by(AuditLog.id)
            )
        )
    assert actions == ["report.submit", "report.read", "report.comment"]

    # A replacement is read anew: "read by" goes until it is marked again.
    harness.clock.set(local(19, 30))
    await w.li.send("/report Problems: dealer short of 20L drums; ordered")
    assert "not read yet" in await w.li.says("/reports")
    await harness.deliver_pushes()
    said, _shown = await press(harness, w.mia, "✓ Mark read")
    assert said.startswith("✓ Marked read: Li Wei's report")
    assert "✓ read by Mia Manager 19:30" in await w.li.says("/reports")


async def test_in_chinese_the_manager_comments_and_the_rep_reads_it(harness: Harness) -> None:
    w = await world(harness)
    await w.li.send("/lang zh")
    await w.mia.send("/lang zh")
    harness.clock.set(local(18, 30))
    said = await w.li.says(
        "/report 今天跑了三家店\n问题：经销商缺货；市场: 竞品降价 5%\n明日计划︰拜访王老板"
    )
    assert "2026-11-23 的工作日报已于 18:30 提交" in said
    [row] = await rows(harness, DailyReport)
    assert (row.notes, row.problems, row.market_info, row.plan_tomorrow) == (
        "今天跑了三家店",
        "经销商缺货",
        "竞品降价 5%",
        "拜访王老板",
    )
    await digest(harness, local(19))
    text = w.mia.last.plain_text()
    assert text.startswith("📋 日报 · North · 2026-11-23\n已提交：1/3\n未提交：Ann North, Zoe North")
    assert (
        "Li Wei · 提交于 18:30 · 尚未阅读\n备注: 今天跑了三家店\n遇到的问题: 经销商缺货\n"
        "市场信息: 竞品降价 5%\n明天计划: 拜访王老板"
    ) in text
    harness.clock.set(local(19, 10))
    _said, shown = await press(harness, w.mia, "💬 评论 · Li Wei")
    assert "对 Li Wei 2026-11-23 日报的评论" in shown[0]
    assert "已将评论发送给 Li Wei" in await w.mia.says("收到，明天先去王老板那里")
    await harness.deliver_pushes()
    assert w.li.last.plain_text().startswith(
        "💬 Mia Manager 评论了你 2026-11-23 的日报：\n收到，明天先去王老板那里"
    )
    mine = await w.li.says("/reports")
    assert mine.startswith("📋 你的日报\n\n2026-11-23 · 提交于 18:30 · ✓ 已读：Mia Manager 19:10")
    assert "💬 Mia Manager 19:10：收到，明天先去王老板那里" in mine


async def test_a_comment_can_be_cancelled_and_is_checked(harness: Harness) -> None:
    w = await world(harness)
    await w.li.send("/report All good")
    await digest(harness, local(19))
    await press(harness, w.mia, "💬 Comment · Li Wei")
    assert await w.mia.says("/cancel") == "Comment cancelled: nothing was sent."
    await press(harness, w.mia, "💬 Comment · Li Wei")
    too_long = await w.mia.says("x" * 1001)
    assert "keep it under 1000" in too_long and "Try again, or send /cancel to stop." in too_long
    typed = harness.api.message(5001, "ok")
    await harness.settle(typed)
    assert "Comment sent" in w.mia.last.plain_text()
    await harness.process_directly(typed)  # the same update again: stored and pushed once
    await harness.deliver_pushes()
    assert [m.plain_text().splitlines()[1] for m in w.li.chat if m.plain_text().startswith("💬")] == ["ok"]
    await press(harness, w.mia, "💬 Comment · Li Wei")
    assert "📋 Daily reports · North" in await w.mia.says("/reports")  # another command ends the step
    assert "didn't understand" in await w.mia.says("stray text")
    assert [c.text for c in await rows(harness, ReportComment)] == ["ok"]


# -- who reads what -------------------------------------------------------------------------------


async def test_reports_in_scope_and_nothing_outside_it(harness: Harness) -> None:
    w = await world(harness)
    async with harness.db.transaction() as session:
        factories.user(session, 5002, "Sam South", Role.MANAGER, w.people.south, harness.clock.now())
    sam = harness.person(5002, "Sam")
    await w.li.send("/report Notes: Li's day")
    await w.bob.send("/report Notes: Bob's day")
    bobs = await report_id(harness, w.people.other_rep.id)
    lis = await report_id(harness, w.people.rep.id)

    mia = await w.mia.says("/reports")
    assert "📋 Daily reports · North · 2026-11-23" in mia and "Li's day" in mia
    assert "Bob" not in mia
    for asked in ("/reports Bob", "/reports 2026-11-23 Bob South", "/reports 2002"):
        assert await w.mia.says(asked) == (
            "I found no sales rep called "
            f"{asked.split(' ', 1)[1].replace('2026-11-23 ', '')} "
            "whose reports you can read."
        )
    assert "Li's day" in await w.mia.says("/reports Li")
    # A forged button on another team's report: answered as none, nothing written, no comment step.
    before = await written(harness)
    for data in (f"rpt:read:{bobs}", f"rpt:comment:{bobs}", "rpt:read:999999"):
        update = harness.api.callback(5001, w.mia.last.message_id, data)
        await harness.settle(update)
        assert w.mia.last.plain_text() == "There is no such report."
    assert "didn't understand" in await w.mia.says("a comment nobody asked for")
    assert await written(harness) == before
    # Sam, South's manager, may answer Bob's and not Li's.
    sams = (await sam.send("/help"))[0].message_id
    await harness.settle(harness.api.callback(5002, sams, f"rpt:read:{lis}"))
    assert sam.last.plain_text() == "There is no such report."
    assert "Bob's day" in await sam.says("/reports") and "Li's day" not in sam.last.plain_text()

    dee = await w.dee.says("/reports")
    assert "North: Reported: 1 of 3" in dee and "South: Reported: 1 of 1" in dee
    assert "Li Wei (North) · submitted 09:00" in dee and "Bob South (South) · submitted 09:00" in dee
    said, _shown = await press(harness, w.dee, "✓ Mark read · Li Wei")  # the director answers any team's
    assert said.startswith("✓ Marked read: Li Wei's report")
    assert "Bob's day" in await w.dee.says("/reports Bob")

    own = await w.li.says("/reports")
    assert own.startswith(
        "📋 Your reports\n\n2026-11-23 · submitted 09:00 · ✓ read by Dee Director 09:00\nNotes: Li's day"
    )
    assert "Bob" not in own
    for asked in ("/reports Bob", "/reports 2026-11-23 Bob", "/reports Li"):
        assert await w.li.says(asked) == "You can read only your own reports: /reports shows them."
    one = await w.li.says("/reports today")
    assert one.startswith(
        "📋 Li Wei (North) · 2026-11-23\nsubmitted 09:00 · ✓ read by Dee Director 09:00\nNotes: Li's day"
    )
    assert w.li.last.button_texts() == []
    assert await w.li.says("/reports yesterday") == "You filed no report for 2026-11-22."
    update = harness.api.callback(2001, w.li.last.message_id, f"rpt:read:{lis}")
    await harness.settle(update)
    assert w.li.last.plain_text() == "Your role does not allow this."
    assert await w.fay.says("/reports") == "Your role does not allow this."
    assert [read.reader_id for read in await rows(harness, ReportRead)] == [w.people.director.id]


async def test_reports_of_another_day_and_bad_days(harness: Harness) -> None:
    w = await world(harness)
    assert await w.mia.says("/reports 2026-11-22") == "No reports for 2026-11-22: it is not a working day."
    assert "Not reported: Ann North, Li Wei, Zoe North" in await w.mia.says("/reports")
    assert await w.mia.says("/reports 2026-12-01") == "The period starting 2026-12-01 has not begun yet."
    assert await w.mia.says("/reports 2026-11") == (
        "/reports shows one day's reports: /reports, /reports yesterday or /reports 2026-11-23; add a "
        "rep's name for theirs, e.g. /reports 2026-11-23 Li."
    )


# -- a report for a past day ----------------------------------------------------------------------


async def test_report_yesterday_files_the_previous_working_day_late(harness: Harness) -> None:
    w = await world(harness)
    draft = await w.li.says("/report yesterday")
    assert "Daily report · 2026-11-21" in draft  # Monday: Sunday is a day off
    assert (
        "This is the report for 2026-11-21, a past working day: it will be marked late, and once "
        "submitted it cannot be replaced."
    ) in draft
    [preview] = await w.li.send("Visited the fair\nProblems: none")
    assert "Daily report · 2026-11-21" in preview.plain_text()
    [done] = await w.li.press("Submit")
    assert done.plain_text().startswith(
        "✅ Daily report for 2026-11-21 submitted at 09:00.\n"
        "Marked late: it is a past day's report.\nSent to Mia Manager now."
    )
    assert "It is final: a past day's report cannot be replaced." in done.plain_text()
    [row] = await rows(harness, DailyReport)
    assert (row.day, row.late, row.notes, row.problems) == (SATURDAY, True, "Visited the fair", "none")
    assert row.summary == "No visits, orders, collections or new customers that day."
    await harness.deliver_pushes()
    assert w.mia.last.plain_text().startswith(
        "📋 Late report · Li Wei (North) · 2026-11-21\nsubmitted 2026-11-23 09:00 · ⏰ late"
    )
    assert await w.li.says("/report yesterday Problems: more") == (
        "The report for 2026-11-21 was filed at 2026-11-23 09:00: it can no longer be replaced."
    )
    assert "a past day's report can no longer be replaced" in await w.li.says("/report yesterday")
    # Today's report is untouched by all this, and today's is still today's.
    assert "submitted at 09:00" in await w.li.says("/report Office day")
    assert [r.day for r in await rows(harness, DailyReport)] == [SATURDAY, MONDAY]

    # On Wednesday, Monday's report is closed: only Tuesday's may still be filed.
    harness.clock.set(local(9, 0, date(2026, 11, 25)))
    await w.ann.send("/lang zh")
    said = await w.ann.says("/report 昨天 市场：需求上升")
    assert "2026-11-24 的工作日报已于 09:00 提交" in said and "已标记为迟交：这是往日的日报。" in said
    stale = harness.api.callback(2003, w.ann.last.message_id, "report:day:2026-11-23")
    await harness.settle(stale)
    assert w.ann.last.plain_text() == (
        "2026-11-23 的日报已关闭：只能提交今天和上一个工作日（2026-11-24）的日报。"
    )
    async with harness.db.reading() as session:
        days = list(
            await session.scalars(
                select(DailyReport.day).where(DailyReport.rep_id == User.id, User.telegram_id == 2003)
            )
        )
    assert days == [date(2026, 11, 24)]


async def test_the_morning_plans_button_files_the_missing_report(harness: Harness) -> None:
    w = await world(harness)
    await w.li.send("/lang zh")
    harness.clock.set(local(8, 30))
    await run_job(harness.db, "morning_plan", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    plan = w.li.last
    assert (
        "你 2026-11-21 的日报还没有提交。请今天用 /report 昨天 或下方按钮补交，将被标记为迟交。"
        in plan.plain_text()
    )
    assert plan.button_texts()[-1] == "📝 补交 2026-11-21 的日报"
    assert plan.buttons()[-1][0]["callback_data"] == "report:day:2026-11-21"
    opened = await w.li.press("📝 补交 2026-11-21 的日报")
    assert "工作日报 · 2026-11-21" in opened[-1].plain_text()
    assert "这是 2026-11-21（已过去的工作日）的日报" in opened[-1].plain_text()
    [preview] = await w.li.send("市场：竞品降价")
    assert "这是 2026-11-21（已过去的工作日）的日报" in preview.plain_text()
    [done] = await w.li.press("提交")
    assert done.plain_text().startswith("✅ 2026-11-21 的工作日报已于 08:30 提交")
    [row] = await rows(harness, DailyReport)
    assert (row.day, row.late, row.market_info) == (SATURDAY, True, "竞品降价")
    # Pressed again: the day is filed, nothing more to do.
    again = await w.li.press("📝 补交 2026-11-21 的日报")
    assert "往日的日报不能再替换" in again[-1].plain_text()
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(DailyReport)) == 1


async def test_one_line_goes_to_the_notes_and_headings_in_both_languages(harness: Harness) -> None:
    w = await world(harness)
    said = await w.li.says("/report Quiet day in the office, quotes for Acme")
    assert "Notes: Quiet day in the office, quotes for Acme" in said and "Problems met: —" in said
    [row] = await rows(harness, DailyReport)
    assert (row.notes, row.problems) == ("Quiet day in the office, quotes for Acme", "")
    harness.clock.advance(timedelta(minutes=5))
    await w.li.send("/report 备注：坐班\n问题 : 无\n市场﹕涨价\n明日计划：拜访")
    [row] = await rows(harness, DailyReport)
    assert (row.notes, row.problems, row.market_info, row.plan_tomorrow) == ("坐班", "无", "涨价", "拜访")
    await w.li.send("/report Tomorrow's plan: Acme\nmarket feedback: prices up")
    [row] = await rows(harness, DailyReport)
    assert (row.notes, row.market_info, row.plan_tomorrow) == ("", "prices up", "Acme")


async def test_a_time_set_for_the_retired_missing_reports_job_is_left_alone(harness: Harness) -> None:
    """The digest replaced ``missing_reports``: a time an admin once set for it neither schedules
    nor warns about a job that no longer exists."""
    await world(harness)
    admin = await harness.admin()
    async with harness.db.transaction() as session:
        session.add(
            CompanySetting(key="job_time.missing_reports", value="22:30", updated_at=harness.clock.now())
        )
    async with harness.db.reading() as session:
        times = (await company.load(session)).job_times
    assert "missing_reports" not in times and times["report_digest"] == time(19, 0)
    said = await admin.says("/settings quiet 17:00 08:00")
    assert "⚠️ Daily reports digest at 19:00" in said and "missing_reports" not in said
    assert "missing_reports" not in await admin.says("/settings")


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: SQLite runs one writing transaction at a time")
async def test_on_postgresql_a_report_filed_while_the_digest_runs_is_pushed_on_its_own(
    db: Database, clock: FixedClock, database_url: str
) -> None:
    """Read committed: without taking turns, a report committed while the digest's transaction ran
    would be in neither the digest (its snapshot) nor a push of its own (the run not yet visible)."""
    people = await factories.company(db, clock.now())
    filer = Database(database_url, pool_size=1)
    hours = ReportHours(ZONE, time(19, 0), time(22, 0))

    async def file() -> report_loop.Filed:
        async with filer.transaction() as session:
            return await report_loop.file_report(
                session,
                Caller.of(people.rep, "en"),
                ReportLines(notes="x"),
                now=local(19, 1),
                hours=hours,
                source_key="t:filed",
            )

    try:
        async with db.transaction() as session:  # the digest, as run_job runs it, not yet committed
            session.add(JobRun(job="report_digest", ran_for=MONDAY.isoformat(), started_at=local(19, 0)))
            await session.flush()
            await report_loop.hold_digest(session, exclusive=True)
            filing = asyncio.create_task(file())
            await asyncio.sleep(0.5)
            assert not filing.done()  # the filing waits for the digest's turn to end
        filed = await asyncio.wait_for(filing, 10)
    finally:
        await filer.dispose()
    assert filed.told == ("Mia Manager",)
    async with db.reading() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.job == report_loop.LATE_JOB)
            )
            == 1
        )
