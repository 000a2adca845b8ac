"""`fieldbot demo`: the demo company's day, played through the real bot, in English and Chinese."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.demo import DATABASE, add_arguments, run
from models import (
    Approval,
    ApprovalStatus,
    Collection,
    Customer,
    DailyReport,
    PaymentMethod,
    Receivable,
    User,
    Visit,
)

DAY = date(2026, 11, 23)

#: Each step of the day, as the transcript must show it: (step, lines that prove it happened).
STEPS = {
    "en": [
        (
            "plans",
            [
                "⏰ scheduled job Morning plan, pushes queued: 6",
                "📣 push to 李伟 (sales rep):",
                "Your plan for 2026-11-23",
                "[Log visit: <Müller & Söhne>]",
            ],
        ),
        (
            "one-liner visit",
            [
                "Emma Zhang (sales rep): /visit Harbor Supplies: owner wants",
                "bot: ✅ Visit saved: Harbor Supplies (E11)",
            ],
        ),
        (
            "guided visit",
            [
                "李伟 (sales rep): presses [Log visit: <Müller & Söhne>]",
                "李伟 (sales rep): presses [On-site visit]",
                "shares a location",
                "李伟 (sales rep): presses [✅ Save]",
                "bot (edits its message): ✅ Visit saved: <Müller & Söhne> (E02)",
            ],
        ),
        (
            "over the limit",
            [
                "李伟 (sales rep): /order 鑫源建材: 15,000",
                "takes 鑫源建材 (E03) over the credit limit",
                "李伟 (sales rep): presses [Confirm]",
                "📣 push to 王芳 (manager):",
                "⚠️ Order over the credit limit from 李伟",
                "王芳 (manager): presses [✅ Approve]",
                "over the credit limit, was approved by 王芳.",
            ],
        ),
        (
            "collection",
            ["李伟 (sales rep): /collect 华东五金店: 8000 cash R-1029", "8,000.00 (cash) from 华东五金店."],
        ),
        (
            "cash hand-in",
            [
                "⏰ scheduled job Cash hand-in reminder",
                "📣 push to Tom Huang (sales rep):",
                "that finance has not confirmed yet",
                "广源五金 · 6,800.00 · cash",
                "📣 push to David Chen (manager):",
            ],
        ),
        (
            "report nudge",
            [
                "⏰ scheduled job Daily report reminder, pushes queued: 6",
                "Emma Zhang, today's work report is not in yet",
                "[Write today's report]",
            ],
        ),
        (
            "report filed",
            [
                "李伟 (sales rep): /report Saw 2 customers",
                "✅ Daily report for 2026-11-23 submitted at 18:20.",
            ],
        ),
        (
            "report digest",
            [
                "⏰ scheduled job Daily reports digest",
                "📋 Daily reports · East · 2026-11-23",
                "Not reported: Emma Zhang, 刘洋",
                "[💬 Comment · 李伟]",
                "East: Reported: 1 of 3 · Not reported: Emma Zhang, 刘洋",
            ],
        ),
        (
            "comment",
            [
                "王芳 (manager): presses [💬 Comment · 李伟]",
                "📣 push to 李伟 (sales rep):",
                "💬 王芳 commented on your report for 2026-11-23:",
            ],
        ),
        ("summary", ["王芳 (manager): /summary today", "Summary · East", "Orders: 1 · 15,000.00"]),
        ("overdue", ["王芳 (manager): /overdue", "Your team's overdue receivables"]),
        (
            "export and chart",
            [
                "王芳 (manager): /export today",
                "📎 file fieldbot-2026-11-23.xlsx",
                "王芳 (manager): /chart month",
            ],
        ),
    ],
    "zh": [
        (
            "plans",
            [
                "⏰ 定时任务“早间计划”，排队推送：6 条",
                "📣 推送给 李伟（销售员）：",
                "[记录拜访：<Müller & Söhne>]",
            ],
        ),
        (
            "one-liner visit",
            [
                "Emma Zhang（销售员）：/visit Harbor Supplies：老板要在圣诞前加 20 箱",
                "机器人：✅ 拜访已保存：Harbor Supplies (E11)",
            ],
        ),
        (
            "guided visit",
            [
                "李伟（销售员）：点击 [记录拜访：<Müller & Söhne>]",
                "李伟（销售员）：点击 [上门拜访]",
                "发送位置",
                "李伟（销售员）：点击 [✅ 保存]",
                "机器人（修改了消息）：✅ 拜访已保存：<Müller & Söhne> (E02)",
            ],
        ),
        (
            "over the limit",
            [
                "李伟（销售员）：/order 鑫源建材：1.5万",
                "鑫源建材 (E03) 超出信用额度",
                "📣 推送给 王芳（主管）：",
                "王芳（主管）：点击 [✅ 批准]",
                "已由 王芳 批准",
            ],
        ),
        (
            "collection",
            ["李伟（销售员）：/collect 华东五金店：8000 现金 R-1029", "华东五金店 付款 8,000.00（现金）"],
        ),
        (
            "cash hand-in",
            ["⏰ 定时任务“现金上交提醒”", "📣 推送给 Tom Huang（销售员）：", "广源五金 · 6,800.00 · 现金"],
        ),
        (
            "report nudge",
            ["⏰ 定时任务“日报提醒”，排队推送：6 条", "你今天的工作日报还没有提交", "[填写今天的日报]"],
        ),
        ("report filed", ["2026-11-23 的工作日报已于 18:20 提交"]),
        (
            "report digest",
            ["⏰ 定时任务“日报汇总”", "📋 日报 · East · 2026-11-23", "未提交：Emma Zhang, 刘洋"],
        ),
        ("comment", ["王芳（主管）：点击 [💬 评论 · 李伟]", "💬 王芳 评论了你 2026-11-23 的日报："]),
        ("summary", ["王芳（主管）：/summary today", "汇总 · East", "订单：1 笔 · 15,000.00"]),
        ("overdue", ["王芳（主管）：/overdue", "你团队的逾期应收账款"]),
        (
            "export and chart",
            ["王芳（主管）：/export today", "📎 文件 fieldbot-2026-11-23.xlsx", "王芳（主管）：/chart month"],
        ),
    ],
}


def arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fieldbot demo")
    add_arguments(parser)
    return parser.parse_args(list(argv))


async def the_days_records(out: Path) -> dict[str, object]:
    db = Database(f"sqlite+aiosqlite:///{out / DATABASE}")
    try:
        async with db.reading() as session:
            count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
            return {
                "people": await count(User),
                "customers": await count(Customer),
                "grades": set(await session.scalars(select(Customer.grade).distinct())),
                "visits": await count(Visit),
                "approved": list(await session.scalars(select(Approval.status))),
                "over_limit": await session.scalar(select(func.count()).where(Receivable.over_limit)),
                "held": await session.scalar(
                    select(func.count())
                    .select_from(Collection)
                    .where(Collection.handed_in_at.is_(None), Collection.method == PaymentMethod.CASH)
                ),
                "reports_today": await session.scalar(
                    select(func.count()).select_from(DailyReport).where(DailyReport.day == DAY)
                ),
            }
    finally:
        await db.dispose()


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_demo_day(language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fieldbot-demo"
    started = time.monotonic()
    assert await asyncio.to_thread(run, arguments("--lang", language, "--out", str(out))) == 0
    assert time.monotonic() - started < 60

    transcript = (out / "transcript.txt").read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    for step, expected in STEPS[language]:
        for line in expected:
            assert line in transcript, f"{step}: {line!r} missing from the transcript"
    positions = [transcript.index(expected[0]) for _, expected in STEPS[language]]
    assert positions == sorted(positions), "the steps are out of order"
    assert "transcript.txt" in printed and len(printed) < len(transcript)  # the console's is shortened
    assert "⏰" in printed and "📣" in printed

    workbook = openpyxl.load_workbook(out / "fieldbot-2026-11-23.xlsx", read_only=True)
    assert {"Visits", "Orders", "Collections"} <= set(workbook.sheetnames) or language == "zh"
    assert len(workbook.sheetnames) >= 5
    workbook.close()
    assert (out / "fieldbot-chart-2026-11.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    records = await the_days_records(out)
    assert records["people"] == 11 and records["customers"] == 60 and records["grades"] == set("ABCD")
    assert records["approved"] == [ApprovalStatus.APPROVED] and records["over_limit"] == 1
    assert records["held"] >= 2 and records["reports_today"] == 1


async def test_same_story_every_run_and_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert arguments().out == Path("fieldbot-demo") and arguments().lang == "en"
    assert await asyncio.to_thread(run, arguments()) == 0
    first = (tmp_path / "fieldbot-demo" / "transcript.txt").read_text(encoding="utf-8")
    assert await asyncio.to_thread(run, arguments()) == 0  # over the previous run's folder
    again = (tmp_path / "fieldbot-demo" / "transcript.txt").read_text(encoding="utf-8")
    without_timing = [line for line in first.splitlines() if "Took" not in line]
    assert without_timing == [line for line in again.splitlines() if "Took" not in line]
