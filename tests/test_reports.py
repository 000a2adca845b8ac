"""The daily work report (/report): the draft from the day's records, the rep's lines, one report a day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count

from hypothesis import assume, given, strategies as st
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.db import Database
from bot.i18n import Translator
from bot.services.errors import Invalid
from bot.services.people.access import Caller
from bot.services.reporting import reports
from bot.services.reporting.reports import ReportHours, ReportLines, format_lines, parse_lines, segments
from models import (
    AuditLog,
    Collection,
    Customer,
    CustomerStatus,
    DailyReport,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    User,
    Visit,
    VisitKind,
)
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person

_keys = count(1)
REP_TG = 2001


def local(hour: int, minute: int = 0, day: date = date(2026, 11, 23)) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


# -- the day's records, written straight to the tables ------------------------------------------


async def visit(
    db: Database,
    rep: User,
    customer: Customer,
    at: datetime,
    notes: str = "",
    kind: VisitKind = VisitKind.VISIT,
    far_away: bool = False,
) -> None:
    async with db.transaction() as session:
        session.add(
            Visit(
                rep_id=rep.id,
                customer_id=customer.id,
                visited_at=at,
                kind=kind,
                notes=notes,
                far_away=far_away,
                source_key=f"t:{next(_keys)}",
                created_at=at,
            )
        )


async def order(
    db: Database,
    rep: User,
    customer: Customer,
    amount: str,
    issued_on: date,
    invoice: str,
    source: ReceivableSource = ReceivableSource.ORDER,
) -> None:
    async with db.transaction() as session:
        session.add(
            Receivable(
                invoice_no=invoice,
                customer_id=customer.id,
                rep_id=rep.id,
                amount=Decimal(amount),
                issued_on=issued_on,
                due_on=issued_on + timedelta(days=30),
                source=source,
                created_at=local(10, day=issued_on),
                source_key=f"t:{next(_keys)}",
            )
        )


async def collection(
    db: Database,
    rep: User,
    customer: Customer,
    amount: str,
    method: PaymentMethod,
    at: datetime,
    *,
    receipt: str | None = None,
    handed_in: bool = False,
    reverses: Collection | None = None,
) -> Collection:
    async with db.transaction() as session:
        row = Collection(
            rep_id=rep.id,
            customer_id=customer.id,
            amount=Decimal(amount),
            method=method,
            receipt_no=receipt,
            received_at=at,
            handed_in_at=at if handed_in else None,
            reverses_id=reverses.id if reverses else None,
            recorded_by=rep.id,
            source_key=f"t:{next(_keys)}",
            created_at=at,
        )
        session.add(row)
    return row


async def report_rows(harness: Harness) -> list[DailyReport]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(DailyReport).order_by(DailyReport.id)))


async def setup(harness: Harness) -> tuple[Company, Person]:
    people = await factories.company(harness.db, harness.clock.now())
    return people, harness.person(REP_TG, "Li")


def toast_of(harness: Harness, update: dict[str, object]) -> str | None:
    query = update["callback_query"]
    assert isinstance(query, dict)
    return harness.api.callback_answers[query["id"]].get("text")


# -- through the front door -----------------------------------------------------------------------


async def test_draft_from_the_days_records_then_preview_and_submit(harness: Harness) -> None:
    people, li = await setup(harness)
    db, now, today = harness.db, harness.clock.now(), harness.clock.today()
    acme = await factories.customer(db, now, name="Acme Trading", rep=people.rep)
    wang = await factories.customer(db, now, name="王记五金", rep=people.rep)
    theirs = await factories.customer(db, now, name="Southern Shop", rep=people.other_rep)
    await visit(db, people.rep, acme, local(8, 30), "Short of 20L drums\nsecond line stays out")
    await visit(db, people.rep, wang, local(8, 45), "", kind=VisitKind.CALL, far_away=True)
    await visit(db, people.rep, acme, local(23, 30, today - timedelta(days=1)), "yesterday")
    await visit(db, people.other_rep, theirs, local(8, 0), "not mine")
    await order(db, people.rep, acme, "12000", today, "SO-1")
    await order(db, people.rep, acme, "999", today, "IMP-1", source=ReceivableSource.IMPORT)
    await order(db, people.rep, acme, "777", today - timedelta(days=1), "SO-0")
    await collection(db, people.rep, acme, "500", PaymentMethod.CASH, local(8, 40), receipt="R-7")
    await collection(db, people.rep, wang, "1000", PaymentMethod.TRANSFER, local(8, 50))
    await collection(db, people.rep, wang, "200", PaymentMethod.CHEQUE, local(8, 55), handed_in=True)
    wrong = await collection(db, people.rep, acme, "300", PaymentMethod.CASH, local(8, 41))
    await collection(db, people.rep, acme, "-300", PaymentMethod.CASH, local(8, 42), reverses=wrong)
    await factories.customer(
        db, now, name="New Corner Shop", rep=people.rep, code="P-1", status=CustomerStatus.PROSPECT
    )
    await factories.customer(db, now, name="Imported Active", rep=people.rep)
    await factories.customer(
        db, now - timedelta(days=1), name="Old Prospect", rep=people.rep, status=CustomerStatus.PROSPECT
    )

    draft = await li.says("/report")
    assert "Daily report · 2026-11-23" in draft
    assert "Visits: 2, 1 far from the customer" in draft
    assert "08:30 Acme Trading · on-site visit · Short of 20L drums" in draft
    assert "second line" not in draft and "yesterday" not in draft and "not mine" not in draft
    assert "08:45 王记五金 · phone call · far away" in draft
    assert "Orders: 1, total 12,000.00" in draft and "SO-1 · Acme Trading · 12,000.00" in draft
    assert "IMP-1" not in draft and "SO-0" not in draft
    assert (
        "Collections: 3, total 1,700.00 (cash 500.00, transfer 1,000.00, cheque 200.00); still held: 500.00"
    ) in draft
    assert "Acme Trading · 500.00 · cash · receipt R-7 · held" in draft
    assert "300.00" not in draft
    assert "New customers: 1" in draft and "New Corner Shop (P-1)" in draft
    assert "Imported Active" not in draft and "Old Prospect" not in draft
    assert "Problems: / Market: / Plan:" in draft

    preview = await li.send(
        "Problems: dealer short of stock\nMarket: competitor cut prices 5%\nPlan: visit Acme again"
    )
    assert len(preview) == 1 and preview[0].button_texts() == ["Submit", "Edit", "Cancel"]
    text = preview[0].plain_text()
    assert "Records: visits 2 · orders 1 · collections 3 · new customers 1" in text
    assert "Problems met: dealer short of stock" in text
    assert "Market information: competitor cut prices 5%" in text
    assert "Plan for tomorrow: visit Acme again" in text
    assert await report_rows(harness) == []

    done = await li.press("Submit")
    assert len(done) == 1 and done[0].message_id == preview[0].message_id
    assert "✅ Daily report for 2026-11-23 submitted at 09:00." in done[0].plain_text()
    assert done[0].button_texts() == []
    [row] = await report_rows(harness)
    assert (row.problems, row.market_info, row.plan_tomorrow) == (
        "dealer short of stock",
        "competitor cut prices 5%",
        "visit Acme again",
    )
    assert row.rep_id == people.rep.id and row.day == today and not row.late
    assert row.source_key.startswith("cb:")
    assert row.summary.splitlines()[0] == "Visits: 2, 1 far from the customer"
    assert "- SO-1 · Acme Trading · 12,000.00" in row.summary and "New Corner Shop (P-1)" in row.summary
    async with harness.db.reading() as session:
        logged = await session.scalar(select(AuditLog).where(AuditLog.entity == "daily_report"))
    assert logged is not None and logged.action == "report.submit" and logged.entity_id == row.id
    assert logged.actor_id == people.rep.id and logged.after and logged.after["problems"] == row.problems


async def test_quiet_day_and_one_liner(harness: Harness) -> None:
    _people, li = await setup(harness)
    draft = await li.says("/report")
    assert "No visits, orders, collections or new customers recorded today" in draft
    assert "You can still submit" in draft
    await li.send("/cancel")
    said = await li.says("/report Office day: prepared the quotes. Plan: call Acme")
    assert "submitted at 09:00" in said and "Plan for tomorrow: call Acme" in said
    assert "Notes: Office day: prepared the quotes." in said
    [row] = await report_rows(harness)
    assert row.notes == "Office day: prepared the quotes." and row.problems == ""
    assert row.plan_tomorrow == "call Acme" and row.market_info == ""
    assert row.summary == "No visits, orders, collections or new customers today."


async def test_the_reminder_button_opens_the_draft(harness: Harness) -> None:
    _people, li = await setup(harness)
    reminder = (await li.send("/help"))[-1]  # any message of the bot's can carry the button
    press = harness.api.callback(REP_TG, reminder.message_id, "report:start")
    await harness.settle(press)
    assert "Now write your report in one message" in li.last.plain_text()
    assert li.last.message_id != reminder.message_id
    [preview] = await li.send("Plan: rest")
    assert "Plan for tomorrow: rest" in preview.plain_text()
    await li.press("Submit")
    [row] = await report_rows(harness)
    assert row.plan_tomorrow == "rest"


async def test_chinese_headings_and_replies(harness: Harness) -> None:
    _people, li = await setup(harness)
    assert "中文" in await li.says("/lang zh")
    said = await li.says("/report 问题：经销商缺货；市场：竞品降价 明天：拜访王老板")
    assert "已于 09:00 提交" in said and "明天计划: 拜访王老板" in said
    [row] = await report_rows(harness)
    assert (row.problems, row.market_info, row.plan_tomorrow) == ("经销商缺货", "竞品降价", "拜访王老板")
    assert row.summary == "今天没有拜访、订单、收款或新客户。"

    draft = await li.says("/report")
    assert "已于 09:00 提交" in draft and "如需替换" in draft
    await li.send("问题：无\n市场：需求上升")
    await li.press("修改")
    prompt = li.last.plain_text()
    assert "遇到的问题: 无\n市场信息: 需求上升" in prompt
    await li.send("遇到的问题: 无\n市场信息: 需求上升\n明天计划: 去南区")
    assert "替换" in (await li.press("提交"))[0].plain_text()
    [row] = await report_rows(harness)
    assert (row.problems, row.market_info, row.plan_tomorrow) == ("无", "需求上升", "去南区")


async def test_replacement_before_cutoff_late_after_deadline_refused_after_cutoff(harness: Harness) -> None:
    _people, li = await setup(harness)
    await li.send("/report Problems: none")
    [first] = await report_rows(harness)
    assert not first.late

    harness.clock.set(local(20, 15))
    shown = await li.says("/report")
    assert "Submitted at 09:00." in shown and "Problems met: none" in shown
    assert "send your new lines before 22:00" in shown and "Records as submitted:" in shown
    preview = (await li.send("Market: prices up"))[0].plain_text()
    assert "This replaces the report you submitted at 09:00." in preview
    assert "the report will be marked late" in preview
    done = (await li.press("Submit"))[0].plain_text()
    assert "replaced at 20:15" in done and "Marked late: the deadline is 19:00." in done
    [row] = await report_rows(harness)
    assert row.id == first.id and row.source_key != first.source_key
    assert (row.problems, row.market_info, row.late) == ("", "prices up", True)
    assert row.submitted_at == local(20, 15)

    harness.clock.set(local(21, 0))
    await li.send("/report Plan: early start")
    [row] = await report_rows(harness)
    assert row.late and row.plan_tomorrow == "early start"

    harness.clock.set(local(22, 0))
    closed = await li.says("/report")
    assert "Submitted at 21:00. Marked late." in closed
    assert "closed at 22:00: it can no longer be submitted or replaced" in closed
    assert "closed at 22:00" in await li.says("/report Problems: too late")
    assert "didn't understand" in await li.says("Problems: still too late")
    [row] = await report_rows(harness)
    assert row.plan_tomorrow == "early start" and row.problems == ""
    async with harness.db.reading() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == ["report.submit", "report.replace", "report.replace"]


async def test_preview_before_cutoff_submit_after_is_refused(harness: Harness) -> None:
    _people, li = await setup(harness)
    harness.clock.set(local(21, 58))
    await li.send("/report")
    await li.send("Problems: none")
    harness.clock.set(local(22, 1))
    refused = await li.press("Submit")
    assert "closed at 22:00" in refused[-1].plain_text()
    assert await report_rows(harness) == []

    harness.clock.set(local(19, 0, date(2026, 11, 24)))
    on_time = await li.says("/report Problems: none")
    assert "submitted at 19:00" in on_time and "Marked late" not in on_time
    [row] = await report_rows(harness)
    assert row.day == date(2026, 11, 24) and not row.late


async def test_redelivered_update_and_double_tap_write_once(harness: Harness) -> None:
    _people, li = await setup(harness)
    update = harness.api.message(REP_TG, "/report Problems: none")
    await harness.settle(update)
    await harness.process_directly(update)
    rows = await report_rows(harness)
    assert len(rows) == 1 and rows[0].source_key == f"msg:{REP_TG}:{update['message']['message_id']}"
    confirmations = [m for m in li.chat if "submitted at 09:00" in m.plain_text()]
    assert len(confirmations) == 2

    await li.send("/report")
    [preview] = await li.send("Problems: a broken van")
    data = preview.buttons()[0][0]["callback_data"]
    first = harness.api.callback(REP_TG, preview.message_id, data)
    second = harness.api.callback(REP_TG, preview.message_id, data)
    await harness.settle(first)
    await harness.settle(second)
    [row] = await report_rows(harness)
    assert row.problems == "a broken van" and row.source_key == f"cb:{first['callback_query']['id']}"
    assert toast_of(harness, second) == "Your report for today is already submitted."
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == 2


async def test_edit_cancel_and_out_of_date_previews(harness: Harness) -> None:
    _people, li = await setup(harness)
    await li.send("/report")
    [old] = await li.send("Problems: first try")
    [new] = await li.send("Problems: second try\nPlan: rest")
    stale = harness.api.press(REP_TG, "Submit", message_id=old.message_id)
    await harness.settle(stale)
    assert toast_of(harness, stale) == (
        "This preview is out of date: use the newest one, or send /report again."
    )
    assert await report_rows(harness) == []

    [edited] = await li.press("Edit", message_id=new.message_id)
    assert "Problems met: second try\nPlan for tomorrow: rest" in edited.plain_text()
    assert edited.button_texts() == []
    [again] = await li.send("Problems: third try")
    [cancelled] = await li.press("Cancel", message_id=again.message_id)
    assert "Report not submitted" in cancelled.plain_text()
    assert "didn't understand" in await li.says("more text")
    late_press = harness.api.callback(REP_TG, old.message_id, old.buttons()[0][0]["callback_data"])
    await harness.settle(late_press)
    assert toast_of(harness, late_press) == "This preview has expired. Send /report again."

    await li.send("/report")
    assert "Report cancelled: nothing was submitted." in await li.says("/cancel")
    assert "There is nothing to cancel." in await li.says("/cancel")
    assert "Write at least one line" in await li.says("/report Problems:")
    assert await report_rows(harness) == []


async def test_managers_and_finance_do_not_file_reports(harness: Harness) -> None:
    await setup(harness)
    for telegram_id, name in ((5001, "Mia"), (6001, "Fay"), (7001, "Dee")):
        person = harness.person(telegram_id, name)
        assert "Your role does not allow this." in await person.says("/report")
        assert "Your role does not allow this." in await person.says("/report Problems: none")
        assert "didn't understand" in await person.says("Problems: none")
    assert await report_rows(harness) == []


async def test_hostile_text_is_stored_verbatim_and_shown_escaped(harness: Harness) -> None:
    people, li = await setup(harness)
    db, now = harness.db, harness.clock.now()
    muller = await factories.customer(db, now, name="<Müller & Söhne>", rep=people.rep)
    await visit(db, people.rep, muller, local(8, 0), "<b>not bold</b> & co")
    draft = await li.send("/report")
    assert "08:00 <Müller & Söhne> · on-site visit · <b>not bold</b> & co" in draft[0].plain_text()
    assert "&lt;Müller &amp; Söhne&gt;" in (draft[0].text or "")
    said = await li.says("/report <script>alert(1)</script> & Market: <i>x</i>")
    assert "Notes: <script>alert(1)</script> &" in said
    [row] = await report_rows(harness)
    assert row.notes == "<script>alert(1)</script> &" and row.market_info == "<i>x</i>"
    assert "<Müller & Söhne> · on-site visit · <b>not bold</b> & co" in row.summary
    shown = li.last.text or ""
    assert "&lt;script&gt;" in shown and "<script>" not in shown


async def test_a_very_long_day_fits_one_message(harness: Harness) -> None:
    people, li = await setup(harness)
    db, now = harness.db, harness.clock.now()
    async with db.transaction() as session:
        shops = [
            Customer(
                code=f"L{i:03d}",
                name=f"{'Very Long Customer Name & Sons ' * 6}{i}",
                rep_id=people.rep.id,
                team_id=people.rep.team_id,
                created_at=now,
            )
            for i in range(80)
        ]
        session.add_all(shops)
        await session.flush()
        for i, shop in enumerate(shops):
            session.add(
                Visit(
                    rep_id=people.rep.id,
                    customer_id=shop.id,
                    visited_at=local(6) + timedelta(minutes=i),
                    kind=VisitKind.VISIT,
                    notes="<notes> " * 40,
                    source_key=f"long:{i}",
                    created_at=now,
                )
            )
            session.add(
                Collection(
                    rep_id=people.rep.id,
                    customer_id=shop.id,
                    amount=Decimal("10.50"),
                    method=PaymentMethod.CASH,
                    received_at=local(7),
                    recorded_by=people.rep.id,
                    source_key=f"longc:{i}",
                    created_at=now,
                )
            )
    [draft] = await li.send("/report")
    text = draft.plain_text()
    assert len(text) < 4096
    assert "Visits: 80" in text and "Collections: 80, total 840.00 (cash 840.00)" in text
    assert "…and" in text and "more" in text
    [preview] = await li.send("Problems: " + "长" * 2900)
    assert "Records: visits 80 · orders 0 · collections 80" in preview.plain_text()
    assert "too long" not in preview.plain_text()
    [done] = await li.press("Submit")
    assert "submitted at 09:00" in done.plain_text()
    [row] = await report_rows(harness)
    assert sum(1 for line in row.summary.splitlines() if "· on-site visit ·" in line) == 80
    assert row.summary.count("· cash · held") == 80

    shown = await li.send("/report")
    assert len(shown) == 1 and "Records as submitted:" in shown[0].plain_text()
    assert "more lines" in shown[0].plain_text()
    assert "keep it under 3000" in await li.says("Problems: " + "x" * 3001)


# -- the service and the parser -------------------------------------------------------------------

HOURS = ReportHours(ZONE, time(19, 0), time(22, 0))


async def test_same_source_key_writes_once_and_answers_alike(db: Database, clock: FixedClock) -> None:
    people = await factories.company(db, clock.now())
    li = Caller.of(people.rep, "en")
    async with db.transaction() as session:
        first = await reports.submit(
            session, li, ReportLines("a"), now=clock.now(), hours=HOURS, source_key="cb:1"
        )
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        replaced = await reports.submit(
            session, li, ReportLines("b"), now=clock.now(), hours=HOURS, source_key="cb:2"
        )
    async with db.transaction() as session:
        again = await reports.submit(
            session, li, ReportLines("c"), now=clock.now(), hours=HOURS, source_key="cb:2"
        )
    assert again == replaced
    assert not first.replaced and replaced.replaced and replaced.report.lines.problems == "b"
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(DailyReport)) == 1
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == 2


def test_headings_where_they_are_and_are_not() -> None:
    assert parse_lines("Problems: a; market: b; plan: c") == ReportLines("a", "b", "c")
    assert parse_lines("none Market: price war Plan: visit") == ReportLines(
        market_info="price war", plan_tomorrow="visit", notes="none"
    )
    prose = "we discussed the plan: more stock"
    assert parse_lines(prose) == ReportLines(notes=prose)
    assert parse_lines("客户说明天：补货") == ReportLines(notes="客户说明天：补货")
    assert parse_lines("缺货 市场：涨价 明天：拜访") == ReportLines(
        market_info="涨价", plan_tomorrow="拜访", notes="缺货"
    )
    assert parse_lines("- Tomorrow: A\n• 市场: B\nmore B\nProblems met: C\nproblems: D") == ReportLines(
        "C\nD", "B\nmore B", "A"
    )
    assert parse_lines("replan: x") == ReportLines(notes="replan: x")
    assert parse_lines("问题：明天：去南区") == ReportLines(plan_tomorrow="去南区")
    assert parse_lines("  \n ") == ReportLines()


def test_check_lines_refuses_empty_and_overlong() -> None:
    for bad in (ReportLines(), ReportLines("x" * 2000, "y" * 1001), ReportLines("😀" * 1501)):
        try:
            reports.check_lines(bad)
        except Invalid:
            continue
        raise AssertionError(f"accepted {bad}")
    reports.check_lines(ReportLines("x" * 1000, "y" * 1000, "z" * 1000))


_field_text = st.text(st.characters(blacklist_characters=":：﹕︰"), max_size=40)


@given(st.text(st.characters(blacklist_characters=":：﹕︰"), max_size=200))
def test_text_without_colons_is_all_notes(text: str) -> None:
    lines = parse_lines(text)
    assert lines.problems == lines.market_info == lines.plan_tomorrow == ""
    assert lines.notes in text and lines.notes == lines.notes.strip()
    assert bool(lines.notes) == bool(text.strip().strip(";；,，|").strip())


@given(_field_text, _field_text, _field_text, _field_text, st.sampled_from(["en", "zh"]))
def test_written_back_lines_parse_to_the_same(
    notes: str, problems: str, market: str, plan: str, language: str
) -> None:
    lines = parse_lines(f"{notes}\nProblems: {problems}\nMarket: {market}\nPlan: {plan}")
    assert parse_lines(format_lines(Translator(language), lines)) == lines


_TOKENS = (
    "a",
    "b",
    " ",
    "\n",
    "\t",
    ":",
    "：",
    ";",
    "；",
    "。",
    ".",
    ",",
    "|",
    "-",
    "•",
    "说",
    "x",
    "plan",
    "Plan",
    "problems",
    "Problems met",
    "Market",
    "market info",
    "tomorrow",
    "问题",
    "市场",
    "明天",
    "计划",
    "遇到的问题",
    "市场信息",
    "notes",
    "Notes",
    "备注",
    "明日计划",
    "﹕",
    "︰",
    "\u3000",
)


@given(
    st.one_of(st.text(max_size=200), st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join)),
    st.sampled_from(["en", "zh"]),
)
def test_parsing_what_was_written_back_changes_nothing(text: str, language: str) -> None:
    """Editing shows the lines with their headings; sending that back must give the same report.
    (A heading used twice joins its parts on separate lines, which may read differently.)"""
    fields = [field for field, piece in segments(text) if piece]
    assume(len(fields) == len(set(fields)))
    lines = parse_lines(text)
    assert parse_lines(format_lines(Translator(language), lines)) == lines
