"""Customer letters and complaints (issue 20; regulations part 3 art. 16–18): logged by a rep, a
manager or the director, answered within three days, a quality problem visited within five, the
owner reminded, the manager and then the director told of a missed deadline, each once; closing
stops the clock; the register, the summary and the export sheet."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import parse_period
from jobs.runner import run_job
from models import AuditLog, Complaint, ComplaintKind, ComplaintTag, Customer, Outbox, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness, Person

MONDAY = date(2026, 11, 23)


def at(day: date, hour: int = 9, minute: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


async def complaints(harness: Harness) -> list[Complaint]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Complaint).order_by(Complaint.id)))


async def clock_keys(harness: Harness) -> set[str]:
    async with harness.db.reading() as session:
        return set(await session.scalars(select(Outbox.dedup_key).where(Outbox.job == "complaint_clock")))


async def run_clock(harness: Harness, day: date, *, again: bool = False) -> int:
    harness.clock.set(at(day))
    outcome = await run_job(harness.db, "complaint_clock", at(day), ZONE, again=again)
    await harness.deliver_pushes()
    return outcome.pushes


async def setup(harness: Harness) -> tuple[factories.Company, Person]:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="华东五金店", rep=people.rep, code="HD01")
    await factories.customer(harness.db, now, name="Bob's Shop", rep=people.other_rep, code="BOB1")
    for telegram_id in (5001, 7001, 6001, 2002):
        harness.api.add_user(telegram_id, "x")
    return people, harness.person(2001, "Li")


async def test_a_rep_logs_with_buttons_and_a_redelivered_update_records_once(harness: Harness) -> None:
    await setup(harness)
    rep = harness.person(2001, "Li")
    assert "enquiry, a letter or a complaint" in await rep.says(
        "/complaint 华东五金店: the caps leak on the new batch"
    )
    assert "what is it about" in "\n".join(m.plain_text() for m in await rep.press("Complaint"))
    saved = "\n".join(m.plain_text() for m in await rep.press("Quality"))
    assert "📮 Logged as #1. The clock has started." in saved, saved
    assert "#1 · 华东五金店 (HD01) · Complaint · Quality" in saved
    assert "⏳ Answer due 2026-11-26" in saved and "⏳ Someone on site by 2026-11-28" in saved
    assert rep.last.button_texts() == ["✍️ Answer #1", "🚗 On site #1", "🏁 Resolve #1"]

    # Kind and tag typed: saved at once; the same update delivered twice records one item.
    update = harness.api.message(2001, "/complaint HD01: letter delivery came two days late", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    first, second = rep.chat[-2:]
    assert "📮 Logged as #2." in first.plain_text() and "Letter · Delivery" in first.plain_text()
    assert "📮 Already logged as #2." in second.plain_text()
    rows = await complaints(harness)
    assert [(r.kind, r.tag, r.answer_due, r.onsite_due) for r in rows] == [
        (ComplaintKind.COMPLAINT, ComplaintTag.QUALITY, date(2026, 11, 26), date(2026, 11, 28)),
        (ComplaintKind.LETTER, ComplaintTag.DELIVERY, date(2026, 11, 26), None),
    ]
    async with harness.db.reading() as session:
        logged = await session.scalar(select(func.count()).where(AuditLog.action == "complaint.log"))
    assert logged == 2

    # Another rep's customer is out of reach; finance may not log.
    assert "No customer matches" in await rep.says("/complaint Bob's Shop: complaint price too dear")
    finance = harness.person(6001, "Fay")
    assert "Your role does not allow this." in await finance.says("/complaint 华东五金店: enquiry price?")
    assert len(await complaints(harness)) == 2


async def test_the_visit_summary_starts_a_complaint_for_that_customer(harness: Harness) -> None:
    _, rep = await setup(harness)
    await rep.says("/visit 华东五金店: 店主说瓶盖漏液")
    assert "📮 Complaint" in rep.last.button_texts()
    asked = "\n".join(m.plain_text() for m in await rep.press("📮 Complaint"))
    assert "华东五金店 (HD01): type what the customer wrote or asked" in asked
    # The kind and the tag typed before the text: saved at once, for the visit's customer.
    assert "📮 Logged as #1." in await rep.says("complaint quality 瓶盖漏液，要求换货")
    [item] = await complaints(harness)
    assert (item.kind, item.tag, item.text) == (
        ComplaintKind.COMPLAINT,
        ComplaintTag.QUALITY,
        "瓶盖漏液，要求换货",
    )


async def test_the_clock_reminds_once_escalates_once_each_and_closing_stops_it(harness: Harness) -> None:
    people, rep = await setup(harness)
    manager = harness.person(5001, "Mia")
    async with harness.db.transaction() as session:  # the director reads Chinese
        await session.execute(update(User).where(User.telegram_id == 7001).values(language="zh"))
    await rep.says("/complaint 华东五金店: complaint quality caps leak")  # A: #1, quality
    await rep.says("/complaint 华东五金店: enquiry price what is the spring price?")  # B: #2
    r, m, d = people.rep.id, people.manager.id, people.director.id

    # B is answered the next day from /complaints: its clock stops before any reminder.
    harness.clock.set(at(MONDAY + timedelta(days=1), 10))
    listing = await rep.says("/complaints")
    assert (
        "Open letters and complaints: 2" in listing and "#2 · 华东五金店 (HD01) · Enquiry · Price" in listing
    )
    await rep.press("✍️ Answer #2")
    answered = await rep.says("Spring price list sent by e-mail")
    assert "✍️ Answer recorded." in answered and "✅ Answered 2026-11-24 (due 2026-11-26)" in answered

    assert await run_clock(harness, MONDAY + timedelta(days=1)) == 0  # Tuesday: nothing due tomorrow
    # Wednesday, the day before the answer is due: the owner is reminded, once however often it runs.
    assert await run_clock(harness, MONDAY + timedelta(days=2)) == 1
    assert await clock_keys(harness) == {f"complaint_clock:{r}:1:answer:remind"}
    reminder = harness.api.last(2001)
    assert "⏰ Answer the customer by 2026-11-26" in reminder.plain_text()
    assert reminder.button_texts() == ["📮 Open #1"]
    assert await run_clock(harness, MONDAY + timedelta(days=2), again=True) == 0
    assert await run_clock(harness, MONDAY + timedelta(days=3)) == 0  # due today: already reminded
    # Friday: the answer is a day late (the manager is told); someone on site is due tomorrow.
    assert await run_clock(harness, MONDAY + timedelta(days=4)) == 2
    assert "⚠️ Not answered by 2026-11-26. Owner: Li Wei." in harness.api.last(5001).plain_text()
    assert "⏰ Someone must be on site by 2026-11-28" in harness.api.last(2001).plain_text()
    # Saturday: two days late, the director hears of it (in Chinese).
    assert await run_clock(harness, MONDAY + timedelta(days=5)) == 1
    director = harness.api.last(7001).plain_text()
    assert "未在 2026-11-26 前答复" in director and "主管已于一天前收到通知" in director, director
    # Sunday, a day off: nobody on site by Saturday; the manager's push waits for Monday.
    assert await run_clock(harness, MONDAY + timedelta(days=6)) == 1
    assert "Nobody was on site" not in harness.api.last(5001).plain_text()
    assert await run_clock(harness, MONDAY + timedelta(days=7)) == 1  # Monday: the director
    assert "Nobody was on site by 2026-11-28" in harness.api.last(5001).plain_text()
    assert await clock_keys(harness) == {
        f"complaint_clock:{r}:1:answer:remind",
        f"complaint_clock:{m}:1:answer:manager",
        f"complaint_clock:{d}:1:answer:director",
        f"complaint_clock:{r}:1:onsite:remind",
        f"complaint_clock:{m}:1:onsite:manager",
        f"complaint_clock:{d}:1:onsite:director",
    }
    # The manager resolves it from the reminder's button: nothing more is sent, ever.
    opened = "\n".join(x.plain_text() for x in await manager.press("📮 Open #1"))
    assert "⚠️ Answer overdue: it was due 2026-11-26" in opened
    await manager.press("🏁 Resolve #1")
    closed = await manager.says("Batch replaced, customer satisfied")
    assert "🏁 Resolved and closed: its reminders stop." in closed
    assert "☑️ Answered 2026-11-30, late (due 2026-11-26)" in closed
    for days in (8, 9, 15):
        assert await run_clock(harness, MONDAY + timedelta(days=days)) == 0
    [a, b] = await complaints(harness)
    assert a.resolved_by == people.manager.id and a.resolution == "Batch replaced, customer satisfied"
    assert b.answered_by == people.rep.id and b.resolved_at is None
    async with harness.db.reading() as session:
        actions = list(await session.scalars(select(AuditLog.action).where(AuditLog.entity == "complaint")))
    assert sorted(actions) == ["complaint.answer", "complaint.log", "complaint.log", "complaint.resolve"]


async def test_an_onsite_visit_after_the_complaint_meets_the_five_day_clock(harness: Harness) -> None:
    people, rep = await setup(harness)
    await rep.says("/visit 华东五金店: routine visit")  # before the complaint: does not count
    harness.clock.advance(timedelta(hours=1))
    await rep.says("/complaint 华东五金店: complaint quality caps leak")
    harness.clock.set(at(MONDAY + timedelta(days=1), 11))
    await rep.says("/visit 华东五金店: checked the caps, took samples")
    listing = await rep.says("/complaints")
    assert "✅ On site 2026-11-24: visit logged (due 2026-11-28)" in listing, listing
    assert "🚗 On site #1" not in rep.last.button_texts()
    [item] = await complaints(harness)
    assert item.onsite_visit_id is not None and item.onsite_by == people.rep.id
    # Only the answer's clock runs on: reminded Wednesday; nothing about being on site, ever.
    for days in range(1, 8):
        await run_clock(harness, MONDAY + timedelta(days=days))
    keys = await clock_keys(harness)
    assert (
        not any(":onsite:" in key for key in keys)
        and f"complaint_clock:{people.rep.id}:1:answer:remind" in keys
    )


async def test_the_job_finds_the_visit_itself_and_on_site_can_be_recorded_by_hand(harness: Harness) -> None:
    people, rep = await setup(harness)
    await rep.says("/complaint 华东五金店: complaint quality caps leak")
    await rep.says("/complaint 华东五金店: letter quality labels peel off")
    harness.clock.set(at(MONDAY + timedelta(days=2), 10))
    await rep.says("/visit 华东五金店: looked at the caps")  # nobody opens /complaints
    await run_clock(harness, MONDAY + timedelta(days=4))
    first, second = await complaints(harness)
    assert first.onsite_visit_id is not None and second.onsite_visit_id is not None
    assert not any(":onsite:" in key for key in await clock_keys(harness))

    # Recorded by hand: for a quality problem nobody logged a visit for.
    await rep.says("/complaint 华东五金店: complaint quality rust on the hinges")
    await rep.says("/complaints")
    await rep.press("🚗 On site #3")
    said = await rep.says("The quality department went on 11-27 and took the batch back")
    assert "🚗 On-site visit recorded." in said and "✅ On site 2026-11-27 (due 2026-12-02)" in said
    third = (await complaints(harness))[2]
    assert third.onsite_note and third.onsite_by == people.rep.id and third.onsite_visit_id is None


async def test_a_manager_in_chinese_logs_for_a_customer_without_a_rep_and_owns_it(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="新店", rep=None, code="XD01")
    async with harness.db.transaction() as session:  # North's, with no rep
        await session.execute(update(Customer).where(Customer.id == shop.id).values(team_id=people.north.id))
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 5001).values(language="zh"))
    manager = harness.person(5001, "Mia", language_code="zh")
    said = await manager.says("/complaint 新店：投诉 质量 瓶盖漏液")
    assert "📮 已登记为 #1，时限开始计算。" in said, said
    assert "#1 · 新店 (XD01) · 投诉 · 质量" in said and "⏳ 答复期限 2026-11-26" in said
    said = await manager.says("/complaint 新店：服务态度不好")
    assert "是询问、来信还是投诉" in said
    await manager.press("投诉")
    said = "\n".join(m.plain_text() for m in await manager.press("服务"))
    assert "#2 · 新店 (XD01) · 投诉 · 服务" in said
    listing = await manager.says("/complaints 未结")
    assert "未结的来信和投诉：2" in listing
    [item, _] = await complaints(harness)
    assert item.customer_id == shop.id and item.logged_by == people.manager.id
    # The manager owns them: the manager is the one reminded.
    harness.api.add_user(5001, "Mia", language_code="zh")
    await run_clock(harness, MONDAY + timedelta(days=2))
    assert await clock_keys(harness) == {
        f"complaint_clock:{people.manager.id}:1:answer:remind",
        f"complaint_clock:{people.manager.id}:2:answer:remind",
    }
    assert "⏰ 请在 2026-11-26 前答复客户" in harness.api.last(5001).plain_text()


async def test_the_register_summary_and_export_sheet_by_scope(harness: Harness) -> None:
    people, rep = await setup(harness)
    bob = harness.person(2002, "Bob")
    director = harness.person(7001, "Dee")
    await rep.says("/complaint 华东五金店: complaint quality caps leak")
    await rep.says("/complaint 华东五金店: enquiry price spring prices?")
    await bob.says("/complaint Bob's Shop: complaint delivery late")
    harness.clock.set(at(MONDAY + timedelta(days=1), 10))
    await rep.says("/complaints")
    await rep.press("🏁 Resolve #2")
    await rep.says("Price list sent")
    harness.clock.set(at(MONDAY + timedelta(days=4), 10))  # Friday: #1 and #3 unanswered, overdue

    mine = await rep.says("/complaints all")
    assert "All letters and complaints: 2" in mine and "Still open: 1 · overdue: 1" in mine
    assert "Bob's Shop" not in mine
    assert mine.index("#1 · 华东五金店") < mine.index("#2 · 华东五金店")  # quality first
    assert "🏁 Resolved 2026-11-24: Price list sent" in mine
    everyone = await director.says("/complaints month")
    assert "Letters and complaints logged · This month, 2026-11-01 – 2026-11-27: 3" in everyone
    assert "Bob's Shop" in everyone and "Still open: 2 · overdue: 2" in everyone
    finance = harness.person(6001, "Fay")
    seen = await finance.says("/complaints")
    assert "Open letters and complaints: 2" in seen and finance.last.button_texts() == []
    assert "I don't understand the period" in await director.says("/complaints someday")

    assert "Customer letters and complaints open: 1 · overdue: 1" in await rep.says("/summary")
    assert "Customer letters and complaints open: 2 · overdue: 2" in await director.says("/summary week")

    async with harness.db.reading() as session:
        director_row = await session.get_one(User, people.director.id)
        manager_row = await session.get_one(User, people.manager.id)
        book = await exports.build_workbook(
            session,
            Caller.of(director_row, "en"),
            parse_period("2026-11", harness.clock.today()),
            ZONE,
            harness.clock.today(),
        )
        team_book = await exports.build_workbook(
            session,
            Caller.of(manager_row, "zh"),
            parse_period("2026-11", harness.clock.today()),
            ZONE,
            harness.clock.today(),
        )
    sheet = load_workbook(io.BytesIO(book.content))["Complaints"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[:4] == ("No.", "Logged at (Asia/Shanghai)", "Customer code", "Customer")
    by_no = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == [1, 2, 3]  # the quality complaint first
    assert by_no[1]["Tag"] == "Quality" and by_no[1]["On site due"] == datetime(2026, 11, 28)
    assert by_no[1]["Answered in time"] == "No" and by_no[1]["On site in time"] is None
    assert by_no[2]["Answered in time"] == "Yes" and by_no[2]["Resolution"] == "Price list sent"
    assert by_no[3]["Customer"] == "Bob's Shop" and by_no[3]["Owner"] == "Bob South"
    zh_sheet = load_workbook(io.BytesIO(team_book.content))["投诉"]
    zh_rows = list(zh_sheet.iter_rows(values_only=True))
    assert [row[0] for row in zh_rows[1:]] == [1, 2]  # North's customers only
    assert zh_rows[1][7] == "质量"


async def test_the_chinese_transcript_of_the_guides(harness: Harness) -> None:
    """docs/guide-rep.zh.md and docs/guide-manager.zh.md show this conversation."""
    people, _ = await setup(harness)
    async with harness.db.transaction() as session:
        await session.execute(update(User).values(language="zh"))
    rep = harness.person(2001, "Li", language_code="zh")
    manager = harness.person(5001, "Mia", language_code="zh")
    assert "📮 华东五金店 (HD01)：是询问、来信还是投诉？" in await rep.says(
        "/complaint 华东五金店：新批次瓶盖漏液"
    )
    assert rep.last.button_texts() == ["询问", "来信", "投诉"]
    await rep.press("投诉")
    logged = "\n".join(m.plain_text() for m in await rep.press("质量"))
    for line in (
        "📮 已登记为 #1，时限开始计算。",
        "#1 · 华东五金店 (HD01) · 投诉 · 质量",
        "2026-11-23 由 Li Wei 登记 · 负责人 Li Wei",
        "“新批次瓶盖漏液”",
        "⏳ 答复期限 2026-11-26",
        "⏳ 2026-11-28 前须派人到现场",
    ):
        assert line in logged, logged
    assert rep.last.button_texts() == ["✍️ 答复 #1", "🚗 到现场 #1", "🏁 结案 #1"]
    assert "📮 已登记为 #2，时限开始计算。" in await rep.says("/complaint HD01：询问 价格 春季价目表？")

    assert await run_clock(harness, MONDAY + timedelta(days=2)) == 2
    reminder = harness.api.last(2001)
    assert "⏰ 请在 2026-11-26 前答复客户：制度规定三天内必答。\n“春季价目表？”" in reminder.plain_text()
    assert reminder.button_texts() == ["📮 打开 #2"]
    await run_clock(harness, MONDAY + timedelta(days=4))
    assert "⚠️ 未在 2026-11-26 前答复。负责人：Li Wei。" in harness.api.last(5001).plain_text()
    await run_clock(harness, MONDAY + timedelta(days=5))
    assert "主管已于一天前收到通知。" in harness.api.last(7001).plain_text()

    harness.clock.set(at(MONDAY + timedelta(days=5), 11, 0))
    await rep.says("/visit 华东五金店：检查瓶盖，取样")
    listing = await rep.says("/complaints")
    assert "未结的来信和投诉：2\n逾期：2" in listing
    assert "⚠️ 答复已逾期：期限是 2026-11-26\n✅ 2026-11-28 已到现场：已记录拜访（期限 2026-11-28）" in listing
    await rep.press("✍️ 答复 #1")
    answered = await rep.says("已安排换货")
    assert "✍️ 答复已记录。" in answered and "☑️ 已于 2026-11-28 答复，逾期（期限 2026-11-26）" in answered
    assert "答复：已安排换货" in answered and rep.last.button_texts() == ["🏁 结案 #1"]

    listing = await manager.says("/complaints")
    assert "未结的来信和投诉：2\n逾期：1" in listing
    assert manager.last.button_texts() == ["🏁 结案 #1", "✍️ 答复 #2", "🏁 结案 #2"]
    await manager.press("🏁 结案 #1")
    closed = await manager.says("已换货，客户满意")
    assert "🏁 已处理并结案：不再提醒。" in closed and "🏁 2026-11-28 已处理：已换货，客户满意" in closed
    assert "未结的客户来信和投诉：1 · 逾期：1" in await manager.says("/summary")
    [first, _] = await complaints(harness)
    assert first.resolved_by == people.manager.id and first.answered_by == people.rep.id


async def test_an_undone_visit_no_longer_counts_as_someone_on_site(harness: Harness) -> None:
    _, rep = await setup(harness)
    await rep.says("/complaint 华东五金店: complaint quality caps leak")
    harness.clock.advance(timedelta(hours=1))
    await rep.says("/visit 华东五金店: checked the caps")
    visit_message = rep.last.message_id
    assert "✅ On site 2026-11-23: visit logged (due 2026-11-28)" in await rep.says("/complaints")
    harness.clock.advance(timedelta(minutes=5))
    await rep.press("↩️ Undo", message_id=visit_message)
    [item] = await complaints(harness)
    assert item.onsite_visit_id is None
    listing = await rep.says("/complaints")
    assert "⏳ Someone on site by 2026-11-28" in listing and "🚗 On site #1" in rep.last.button_texts()


async def test_a_push_waiting_for_monday_is_dropped_when_the_item_is_closed_on_sunday(
    harness: Harness,
) -> None:
    """An escalation queued on a day off waits for the next working day; closing the item meanwhile
    drops it, so the manager is not chased about something already done."""
    people, rep = await setup(harness)
    await rep.says("/complaint 华东五金店: complaint quality caps leak")
    await rep.says("/complaints")
    await rep.press("✍️ Answer #1")
    await rep.says("We will send someone")  # the answer's clock stops at once
    assert await run_clock(harness, MONDAY + timedelta(days=6)) == 1  # Sunday: nobody on site by Saturday
    key = f"complaint_clock:{people.manager.id}:1:onsite:manager"
    assert await clock_keys(harness) == {key}
    harness.clock.set(at(MONDAY + timedelta(days=6), 15))
    await rep.says("/complaints")
    await rep.press("🏁 Resolve #1")
    assert "🏁 Resolved and closed" in await rep.says(
        "Samples taken by the quality department; batch replaced"
    )
    assert await run_clock(harness, MONDAY + timedelta(days=7)) == 0  # Monday: nothing new, nothing sent
    assert not any("Nobody was on site" in m.plain_text() for m in harness.api.chat(5001))
    async with harness.db.reading() as session:
        dropped = await session.scalar(select(Outbox.dropped_at).where(Outbox.dedup_key == key))
    assert dropped is not None


async def test_several_customers_match_and_the_rep_picks_one(harness: Harness) -> None:
    people, rep = await setup(harness)
    await factories.customer(harness.db, harness.clock.now(), name="华东建材", rep=people.rep, code="HD02")
    said = await rep.says("/complaint 华东: letter other asks for a new catalogue")
    assert "Several customers match 华东. Which one?" in said
    assert set(rep.last.button_texts()) == {"华东五金店 (HD01)", "华东建材 (HD02)"}
    picked = "\n".join(m.plain_text() for m in await rep.press("华东建材 (HD02)"))
    assert "📮 Logged as #1." in picked and "#1 · 华东建材 (HD02) · Letter · Other" in picked
    [item] = await complaints(harness)
    assert item.text == "asks for a new catalogue" and item.onsite_due is None


async def test_an_old_answer_button_pressed_again_records_nothing(harness: Harness) -> None:
    _, rep = await setup(harness)
    await rep.says("/complaint 华东五金店: enquiry price spring prices?")
    logged = rep.last.message_id
    await rep.press("✍️ Answer #1", message_id=logged)
    await rep.says("Price list sent")
    again = harness.api.press(2001, "✍️ Answer #1", message_id=logged)
    await harness.settle(again)
    assert (
        harness.api.callback_answers[again["callback_query"]["id"]]["text"] == "Item #1 is already answered."
    )
    assert "Price list sent" in rep.last.plain_text()  # no question asked: the next text is not taken
    [item] = await complaints(harness)
    assert item.answer == "Price list sent"
    async with harness.db.reading() as session:
        answers = await session.scalar(select(func.count()).where(AuditLog.action == "complaint.answer"))
    assert answers == 1
