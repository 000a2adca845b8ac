"""Issue 21, "understand what people type", through the fake Bot API: each new input form in English
and Chinese — commands without the colon, "did you mean", dates and periods in words, stock with
units, holiday ranges and make-up workdays in /settings."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import Translator
from bot.services.field import units
from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import parse_period
from jobs.runner import run_job
from models import Collection, Receivable, StockLine, User, Visit
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness, Person
from tests.test_jobs import local

MONDAY = date(2026, 11, 23)


async def _zh(harness: Harness, user: User, telegram_id: int, name: str) -> Person:
    async with harness.db.transaction() as session:
        (await session.get_one(User, user.id)).language = "zh"
    return harness.person(telegram_id, name, language_code="zh-hans")


async def _visits(harness: Harness) -> list[Visit]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Visit).order_by(Visit.id)))


# -- commands without the colon -----------------------------------------------------------------------


async def test_visit_without_the_colon_in_english_and_chinese(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    dragon = await factories.customer(harness.db, now, name="Golden Dragon", code="E06", rep=people.rep)
    xinyuan = await factories.customer(harness.db, now, name="鑫源建材", code="XY01", rep=people.rep)
    rep = harness.person(2001, "Li")

    said = await rep.says("/visit E06 checked shelf")
    assert "Visit saved: Golden Dragon (E06)" in said and "Notes: checked shelf" in said
    said = await rep.says("/visit Golden Dragon owner wants a new price list")  # a two-word name
    assert "Visit saved: Golden Dragon (E06)" in said and "owner wants a new price list" in said

    zh = await _zh(harness, people.rep, 2001, "Li")
    said = await zh.says("/visit 鑫源建材 店主说下月加单")
    assert "拜访已保存" in said and "鑫源建材" in said and "店主说下月加单" in said
    first, second, third = await _visits(harness)
    assert (first.customer_id, first.notes) == (dragon.id, "checked shelf")
    assert second.notes == "owner wants a new price list"
    assert (third.customer_id, third.notes) == (xinyuan.id, "店主说下月加单")

    # A customer alone still opens the guided flow.
    await zh.send("/visit E06")
    assert any("上门拜访" in label for label in zh.last.button_texts())


async def test_ambiguous_leading_words_ask_and_keep_the_notes(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="Shop East", rep=people.rep)
    west = await factories.customer(harness.db, now, name="Shop West", rep=people.rep)
    rep = harness.person(2001, "Li")
    said = await rep.says("/visit shop paid a courtesy call")
    assert "Several customers match shop. Which one?" in said
    assert await _visits(harness) == []
    await rep.press("Shop West")
    [visit] = await _visits(harness)
    assert (visit.customer_id, visit.notes) == (west.id, "paid a courtesy call")


async def test_collect_and_order_without_the_colon(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    xinyuan = await factories.customer(harness.db, now, name="鑫源建材", code="XY01", rep=people.rep)
    await factories.receivable(
        harness.db,
        now,
        customer=xinyuan,
        amount="800",
        issued_on=MONDAY - timedelta(days=40),
        due_on=MONDAY - timedelta(days=10),
        invoice_no="INV-1",
    )
    rep = harness.person(2001, "Li")
    said = await rep.says("/collect 鑫源建材 500")
    assert "500.00 (cash) from 鑫源建材" in said and "INV-1: 500.00 applied, 300.00 still open" in said
    said = await rep.says("/order XY01 1200 INV-77")
    assert "Order recorded for 鑫源建材 (XY01)" in said

    zh = await _zh(harness, people.rep, 2001, "Li")
    said = await zh.says("/collect 鑫源建材 200 转账")
    assert "200.00" in said and "鑫源建材" in said and "收款" in said
    async with harness.db.reading() as session:
        amounts = [c.amount for c in await session.scalars(select(Collection).order_by(Collection.id))]
        invoices = [r.invoice_no for r in await session.scalars(select(Receivable).order_by(Receivable.id))]
    assert amounts == [Decimal("500.00"), Decimal("200.00")]
    assert invoices == ["INV-1", "INV-77"]


# -- did you mean ---------------------------------------------------------------------------------


async def test_did_you_mean_offers_a_customer_one_edit_away(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    xinyuan = await factories.customer(harness.db, now, name="鑫源建材", code="XY01", rep=people.rep)
    await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)
    # Another rep's customer one edit away is never offered.
    await factories.customer(harness.db, now, name="Acme Tradin", code="SOU", rep=people.other_rep)
    zh = await _zh(harness, people.rep, 2001, "Li")

    said = await zh.says("/visit 鑫源建才：看了货架")  # 才 for 材
    assert "没有客户与 鑫源建才 匹配。你是不是要找：" in said
    assert zh.last.button_texts() == ["鑫源建材 (XY01)"]
    assert await _visits(harness) == []
    await zh.press("鑫源建材 (XY01)")
    [visit] = await _visits(harness)
    assert (visit.customer_id, visit.notes) == (xinyuan.id, "看了货架")

    async with harness.db.transaction() as session:
        (await session.get_one(User, people.rep.id)).language = "en"
    rep = harness.person(2001, "Li")
    said = await rep.says("/customer Acme Tradnig")  # two letters swapped
    assert "No customer matches Acme Tradnig. Did you mean:" in said
    assert rep.last.button_texts() == ["Acme Trading (ACM)"]
    card = await rep.press("Acme Trading (ACM)")
    assert "Acme Trading" in card[0].plain_text()
    assert "No customer matches" in await rep.says("/customer Zebra Crossing")


# -- dates and periods in words ---------------------------------------------------------------------


async def _to_follow_up(rep: Person, customer: str, kind: str, notes: str, button: str) -> None:
    await rep.send(f"/visit {customer}")
    await rep.press(kind)
    await rep.send(notes)
    await rep.press(button)


async def test_follow_up_dates_in_words(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Acme Trading", code="ACM", rep=people.rep)
    rep = harness.person(2001, "Li")
    await _to_follow_up(rep, "ACM", "On-site visit", "Met the owner", "Follow-up date")
    assert "Follow-up: 2026-12-04" in await rep.says("下周五")  # Friday of next week (today is Monday)
    await rep.press("Follow-up date")
    assert "Follow-up: 2026-11-27" in await rep.says("friday")
    await rep.press("Follow-up date")
    assert "Follow-up: 2026-12-15" in await rep.says("15号")
    await rep.press("Save")
    [visit] = await _visits(harness)
    assert visit.next_follow_up == date(2026, 12, 15)

    zh = await _zh(harness, people.rep, 2001, "Li")
    await _to_follow_up(zh, "ACM", "上门拜访", "谈了价格", "跟进日期")
    assert "2026-11-25" in await zh.says("后天")
    await zh.press("跟进日期")
    assert "2026-12-04" in await zh.says("next friday")
    await zh.press("保存")
    assert (await _visits(harness))[-1].next_follow_up == date(2026, 12, 4)


async def test_summary_periods_in_words(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    manager = harness.person(5001, "Mia")
    said = await manager.says("/summary lastweek")
    assert "Last week, 2026-11-16 – 2026-11-22" in said
    said = await manager.says("/summary last month")
    assert "Month 2026-10" in said
    said = await manager.says("/summary Q4")
    assert "2026 Q4, 2026-10-01 – 2026-12-31" in said

    zh = await _zh(harness, people.manager, 5001, "Mia")
    said = await zh.says("/summary 上月")
    assert "2026-10" in said and "看不懂" not in said
    said = await zh.says("/summary 上周")
    assert "上周，2026-11-16 – 2026-11-22" in said
    said = await zh.says("/summary 第四季度")
    assert "2026 Q4，2026-10-01 – 2026-12-31" in said


async def test_report_for_a_day_named_in_words(harness: Harness) -> None:
    """``/report 周六: …`` files the previous working day's report (Saturday, before a Sunday off)."""
    people = await factories.company(harness.db, harness.clock.now())
    rep = harness.person(2001, "Li")
    said = await rep.says("/report saturday: visited 3 shops")
    assert "2026-11-21" in said
    zh = await _zh(harness, people.rep, 2001, "Li")
    said = await zh.says("/report 上周四")
    assert "2026-11-19" in said and "已关闭" in said  # only today and the previous working day


# -- stock with units ---------------------------------------------------------------------------------


async def test_stock_with_units_is_stored_and_shown(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    acme = await factories.customer(
        harness.db, harness.clock.now(), name="Acme Trading", code="ACM", rep=people.rep
    )
    rep = harness.person(2001, "Li")
    await _to_follow_up(rep, "ACM", "Stock check", "Counted the shelf", "Stock levels")
    said = await rep.says("胶水：10箱\nGlue gun 3 boxes\nProduct A 12\n12 ctn 水泥")
    assert "📦 胶水: 10 boxes" in said and "📦 Glue gun: 3 boxes" in said
    assert "📦 Product A: 12" in said and "📦 水泥: 12 boxes" in said
    await rep.press("Save")
    async with harness.db.reading() as session:
        lines = [(s.product, s.quantity, s.unit) for s in await session.scalars(select(StockLine))]
    assert lines == [
        ("胶水", 10, "box"),
        ("Glue gun", 3, "box"),
        ("Product A", 12, None),
        ("水泥", 12, "box"),
    ]
    card = await rep.says("/customer ACM")
    assert "胶水: 10 boxes" in card and "Product A: 12 (first count)" in card

    zh = await _zh(harness, people.rep, 2001, "Li")
    harness.clock.advance(timedelta(hours=1))
    await _to_follow_up(zh, "ACM", "库存检查", "又数了一次", "库存")
    said = await zh.says("胶水 2 瓶\n水泥 5 widgets")
    assert "📦 胶水: 2 瓶" in said and "📦 水泥: 5 widgets" in said
    await zh.press("保存")
    card = await zh.says("/customer ACM")
    assert "胶水: 2 瓶 (−8)" in card and "水泥: 5 widgets" in card

    async with harness.db.reading() as session:
        book = await exports.build_workbook(
            session, Caller.of(people.manager, "zh"), parse_period("month", MONDAY), ZONE, MONDAY
        )
    sheet = load_workbook(io.BytesIO(book.content)).worksheets[2]
    header = [cell.value for cell in sheet[1]]
    rows = [
        dict(zip(header, (cell.value for cell in row), strict=True)) for row in sheet.iter_rows(min_row=2)
    ]
    assert [(row["产品"], row["数量"], row["单位"]) for row in rows] == [
        ("胶水", 10, "箱"),
        ("Glue gun", 3, "箱"),
        ("Product A", 12, None),
        ("水泥", 12, "箱"),
        ("胶水", 2, "瓶"),
        ("水泥", 5, "widgets"),
    ]
    assert acme.id


def test_units_are_named_in_the_readers_language() -> None:
    assert units.normalise_unit("CTN") == units.normalise_unit("箱") == "box"
    assert units.normalise_unit(" big  crates ") == "big crates"
    assert units.normalise_unit("") is None
    assert units.quantity_text(Translator("en"), 1, "box") == "1 box"
    assert units.quantity_text(Translator("en"), 3, "box", bold=True) == "<b>3</b> boxes"
    assert units.quantity_text(Translator("zh"), 3, "pcs") == "3 个"
    assert units.quantity_text(Translator("en"), 3, "<b>") == "3 &lt;b&gt;"
    assert units.quantity_text(Translator("en"), 7, None) == "7"


# -- holidays and make-up workdays --------------------------------------------------------------------


async def test_holiday_range_suppresses_the_morning_plan_and_a_make_up_saturday_gets_it(
    harness: Harness,
) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Acme Trading", rep=people.rep)
    rep = harness.person(2001, "Li")
    for telegram_id, name in ((2002, "Bob"), (5001, "Mia"), (6001, "Fay"), (7001, "Dee")):
        harness.api.add_user(telegram_id, name)
    admin = await harness.admin()
    assert "Saved." in await admin.says("/settings daysoff 6 7")
    said = await admin.says("/settings holiday add 2026-11-24..2026-11-26")
    assert "Saved." in said and "Holidays: 2026-11-24..2026-11-26" in said
    said = await admin.says("/settings workday add 2026-11-28")
    assert "Make-up workdays: 2026-11-28 (Sat)" in said

    for day in (24, 25, 26):  # the holiday range: no plan, no report reminder
        assert not (await run_job(harness.db, "morning_plan", local(date(2026, 11, day), 8, 30), ZONE)).ran
        assert not (await run_job(harness.db, "report_reminder", local(date(2026, 11, day), 18), ZONE)).ran
    await harness.deliver_pushes()
    assert rep.chat == []
    assert (await run_job(harness.db, "morning_plan", local(date(2026, 11, 27), 8, 30), ZONE)).ran
    saturday = local(date(2026, 11, 28), 8, 30)
    assert (await run_job(harness.db, "morning_plan", saturday, ZONE)).ran  # the make-up workday
    assert not (await run_job(harness.db, "morning_plan", local(date(2026, 11, 29), 8, 30), ZONE)).ran
    harness.clock.set(saturday)
    await harness.deliver_pushes()
    assert sum("Your plan for" in m.plain_text() for m in rep.chat) == 2  # Friday's and Saturday's

    zh = await _zh(harness, await _admin_user(harness), 1001, "Ada")
    said = await zh.says("/settings 调休 添加 2026-12-05")
    assert "调休上班日：2026-11-28（周六），2026-12-05（周六）" in said
    said = await zh.says("/settings holiday remove 2026-11-25")
    assert "节假日：2026-11-24，2026-11-26" in said
    assert "范围的结束日期早于开始日期" in await zh.says("/settings holiday add 2026-12-10..2026-12-01")
    assert "最多 31 天" in await zh.says("/settings holiday add 2027-01-01..2027-03-01")


async def _admin_user(harness: Harness) -> User:
    async with harness.db.reading() as session:
        admin = await session.scalar(select(User).where(User.telegram_id == 1001))
    assert admin is not None
    return admin
