"""The scripted working day, Monday 2026-11-23 in Asia/Shanghai: from the 08:30 plans to the evening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from bot.demo.company import Cast
from bot.demo.driver import DemoError, Driver
from bot.devserver import SentMessage
from bot.i18n import N_, Translator
from models import Customer

DAY = date(2026, 11, 23)


@dataclass(frozen=True)
class Lines:
    """What the people type, in their language."""

    one_liner: str
    guided_notes: str
    order: str
    collect: str
    report: str
    comment: str


LINES = {
    "en": Lines(
        one_liner="/visit {customer}: owner wants 20 more cases before Christmas",
        guided_notes="Met the owner; shelf half empty, competitor 5% cheaper",
        order="/order {customer}: 15,000",
        collect="/collect {customer}: 8000 cash R-1029",
        report=(
            "/report Saw 2 customers, one order over the limit (approved). "
            "Market: competitor cut prices 5%. Plan: chase the overdue invoices"
        ),
        comment="Good. Send me the competitor's new price list tomorrow.",
    ),
    "zh": Lines(
        one_liner="/visit {customer}：老板要在圣诞前加 20 箱",
        guided_notes="见了老板；货架半空，竞品便宜 5%",
        order="/order {customer}：1.5万",
        collect="/collect {customer}：8000 现金 R-1029",
        report="/report 拜访 2 家客户，一张超额度订单已批准。市场：竞品降价 5%。明天：催收逾期欠款",
        comment="好的。明天把竞品的新价格表发给我。",
    ),
}


@dataclass(frozen=True)
class Files:
    workbook: Path
    chart: Path


def _file(messages: list[SentMessage], kind: str) -> SentMessage:
    for message in messages:
        if message.kind == kind and message.file_bytes:
            return message
    raise DemoError(f"the bot sent no {kind}")


async def play(driver: Driver, cast: Cast, language: str, out: Path) -> Files:
    t = Translator(language)
    lines = LINES[language]
    rep, emma, manager = cast.rep, cast.second_rep, cast.manager
    say, press, heading = driver.say, driver.press, driver.transcript.heading
    async with driver.db.reading() as session:
        guided_id = await session.scalar(select(Customer.id).where(Customer.name == cast.guided_customer))
        guided = await session.get_one(Customer, guided_id)
    if guided.latitude is None or guided.longitude is None:
        raise DemoError("the guided visit's customer has no location")

    driver.at(8, 30)
    heading(driver.now, t.gettext(N_("The morning plans go out")))
    await driver.job("morning_plan")

    driver.at(9, 40)
    heading(driver.now, t.gettext(N_("A visit in one line")))
    await say(emma, lines.one_liner.format(customer=cast.one_liner_customer))

    driver.at(10, 15)
    heading(driver.now, t.gettext(N_("A guided visit, from the plan's button")))
    await press(rep, rf"visit:start:{guided_id}")
    await press(rep, r"visit:kind:visit")
    await say(rep, lines.guided_notes)
    await press(rep, r"visit:add:location")
    await driver.share_location(rep, round(guided.latitude + 0.0004, 5), round(guided.longitude, 5))
    await press(rep, r"visit:save:[0-9a-f]+")

    driver.at(11, 30)
    heading(driver.now, t.gettext(N_("An order over the credit limit, and the manager's approval")))
    await say(rep, lines.order.format(customer=cast.over_limit_customer))
    await press(rep, r"order:confirm:\d+")
    driver.at(11, 45)
    await press(manager, r"appr:yes:\d+")

    driver.at(14, 20)
    heading(driver.now, t.gettext(N_("Money collected")))
    await say(rep, lines.collect.format(customer=cast.collect_customer))

    driver.at(17, 0)
    heading(driver.now, t.gettext(N_("Cash not yet handed in to finance")))
    await driver.job("cash_handin")

    driver.at(18, 0)
    heading(driver.now, t.gettext(N_("The reminder to write the daily report")))
    await driver.job("report_reminder")

    driver.at(18, 20)
    heading(driver.now, t.gettext(N_("A daily report in one message")))
    await say(rep, lines.report)

    driver.at(19, 0)
    heading(driver.now, t.gettext(N_("The day's reports reach the manager, with who has not reported")))
    await driver.job("report_digest")

    driver.at(19, 10)
    heading(driver.now, t.gettext(N_("The manager answers a report")))
    await press(manager, r"rpt:comment:\d+")
    await say(manager, lines.comment)

    driver.at(20, 40)
    heading(driver.now, t.gettext(N_("The manager's evening look at the figures")))
    await say(manager, "/summary today")
    await say(manager, "/overdue")
    workbook = _file(await say(manager, "/export today"), "document")
    chart = _file(await say(manager, "/chart month"), "photo")

    files = Files(
        out / (workbook.file_name or f"fieldbot-{DAY}.xlsx"), out / f"fieldbot-chart-{DAY:%Y-%m}.png"
    )
    files.workbook.write_bytes(workbook.file_bytes or b"")
    files.chart.write_bytes(chart.file_bytes or b"")
    return files
