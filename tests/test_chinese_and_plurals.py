"""Issue 22, "Chinese and plurals", as people see it through the fake Bot API: /help's arguments in
the reader's language, job names translated, units as a Chinese user writes them, counted
messages in the form their number needs, and roles named as a sentence needs them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import Translator
from bot.menus import COMMANDS, ROLE_PERSON
from bot.services.errors import Invalid
from bot.services.people.users import MUTE_PATTERN
from bot.services.reporting.periods import parse_period
from jobs.morning_plan import Plan, render
from models import Role
from tests import factories
from tests.harness import Harness, Person
from tests.test_visits import FAR, NEAR, SHOP_LAT, SHOP_LON, share

TODAY = date(2026, 11, 23)


def usage(command: str) -> str:
    return next(spec.usage for spec in COMMANDS if spec.name == command)


# -- /help ----------------------------------------------------------------------------------------


async def test_chinese_help_has_chinese_placeholders_and_keeps_the_commands(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    english = await admin.says("/help")
    assert "/collect [CUSTOMER: AMOUNT [METHOD] [RECEIPT]] — Record money collected" in english
    assert "/summary [today|yesterday|week|month|YYYY-MM|FROM..TO]" in english

    await admin.send("/lang zh")
    said = await admin.says("/help")
    assert "/collect [客户：金额 [付款方式] [收据号]] — 记录收款" in said
    assert "/summary [今天|昨天|本周|本月|YYYY-MM|起始日..截止日] — " in said
    assert "/collections [今天|昨天|YYYY-MM-DD] — " in said
    assert "/mute 2小时|今天|关闭 — " in said and "/invite 角色 [团队] — " in said
    # no English placeholder or keyword is left, only the commands themselves
    arguments = "\n".join(
        line.split(" — ")[0].split(" ", 1)[1]
        for line in said.splitlines()
        if line.startswith("/") and " " in line.split(" — ")[0]
    )
    assert not re.search(
        r"\b(?:CUSTOMER|AMOUNT|METHOD|NAME|PERIOD|TEXT|WHO|ROLE|TEAM|REP|today|yesterday|"
        r"week|month|off)\b",
        arguments,
    ), arguments


async def test_a_rep_reads_the_words_the_bot_accepts(harness: Harness) -> None:
    """The rep's Chinese /help offers 2小时 and 昨天: typed, they work."""
    await factories.company(harness.db, harness.clock.now())
    rep = harness.person(2001, "Li")
    await rep.send("/lang zh")
    said = await rep.says("/help")
    assert "/report [昨天] [内容] — " in said and "/mute 2小时|今天|关闭 — " in said
    assert "推送已暂停至" in await rep.says("/mute 2小时")
    assert "推送已恢复" in await rep.says("/mute 关闭")


@pytest.mark.parametrize("command", ["summary", "collections", "reports", "export", "chart", "market"])
def test_every_period_word_chinese_help_shows_is_one_the_parser_reads(command: str) -> None:
    shown = Translator("zh").gettext(usage(command))
    placeholders = ("日期", "销售员", "期间", "主题")
    words = [
        word
        for word in re.split(r"[\[\]| ]+", shown)
        if re.fullmatch(r"[\u4e00-\u9fff]+", word) and word not in placeholders
    ]
    for word in words:
        parse_period(word, TODAY)  # raises Invalid for a word it does not read


def test_the_chinese_mute_words_are_read() -> None:
    shown = Translator("zh").gettext(usage("mute")).split("|")
    assert shown == ["2小时", "今天", "关闭"]
    assert MUTE_PATTERN.match(shown[0])
    with pytest.raises(Invalid):
        parse_period("昨儿", TODAY)  # the check above can fail: a word the parser does not read


# -- job names ------------------------------------------------------------------------------------


async def test_settings_name_the_jobs_in_the_readers_language(harness: Harness) -> None:
    admin = await harness.admin()
    assert "• Morning plan (morning_plan): 08:30" in await admin.says("/settings")
    await admin.send("/lang zh")
    said = await admin.says("/settings")
    assert "• 早间计划（morning_plan）：08:30" in said and "• 逾期催收（overdue_followup）：" in said
    assert "任务时间：" in said
    assert not re.search(r"^• [a-z_]+ \d\d:\d\d$", said, re.M)  # no bare keyword left
    said = await admin.says("/settings time cash_handin 22:00")
    assert "⚠️ “现金上交提醒”的时间 22:00 在免打扰时段" in said


def test_every_job_has_a_translated_label() -> None:
    from jobs.catalogue import JOBS

    zh = Translator("zh")
    for spec in JOBS.values():
        assert spec.label and spec.title(zh) != spec.label and re.search(r"[\u4e00-\u9fff]", spec.title(zh))


# -- units ----------------------------------------------------------------------------------------


async def save_visit_at(harness: Harness, rep: Person, location: tuple[float, float]) -> str:
    await rep.send("/visit Acme")
    await rep.press("上门拜访")
    await rep.send("见了店主")
    await share(harness, rep, location=location)
    [confirmation] = await rep.press("保存")
    return confirmation.plain_text()


async def test_a_chinese_rep_reads_metres_and_kilometres_in_chinese(harness: Harness) -> None:
    company = await factories.company(harness.db, harness.clock.now())
    await factories.customer(
        harness.db,
        harness.clock.now(),
        name="Acme Trading",
        rep=company.rep,
        latitude=SHOP_LAT,
        longitude=SHOP_LON,
    )
    rep = harness.person(2001, "Li")
    await rep.send("/lang zh")
    said = await save_visit_at(harness, rep, NEAR)
    assert re.search(r"📍 距客户位置 1\d\d 米。", said) and " m" not in said
    said = await save_visit_at(harness, rep, FAR)
    assert "⚠️ 距客户位置 2.2 公里：已标记为距离过远。" in said and "km" not in said


# -- plurals and roles ----------------------------------------------------------------------------


def test_counted_phrases_take_the_form_of_their_number() -> None:
    en, zh = Translator("en"), Translator("zh")
    assert en.ngettext("{count} invoice", "{count} invoices", 1, count=1) == "1 invoice"
    assert en.ngettext("{count} invoice", "{count} invoices", 2, count=2) == "2 invoices"
    assert zh.ngettext("{count} invoice", "{count} invoices", 2, count=2) == "2 张发票"
    assert en.ngettext("{count} invoice", "{count} invoices", 2) == "{count} invoices"  # no values: as it is


async def test_an_import_counts_one_problem_and_two_problems(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    header = "code,name,grade,rep,phone,address,latitude,longitude,credit_limit,credit_days\n"
    one = header + "C1,Shop One,Z,,,,,,,\n"
    await harness.settle(harness.api.message(admin.id, None, document=("c.csv", one.encode(), "text/csv")))
    said = admin.last.plain_text()
    assert "Nothing was imported: 1 problem. Fix it and send the whole file again." in said
    two = one + "C2,Shop Two,Y,,,,,,,\n"
    await harness.settle(harness.api.message(admin.id, None, document=("c.csv", two.encode(), "text/csv")))
    said = admin.last.plain_text()
    assert "Nothing was imported: 2 problems. Fix them and send the whole file again." in said


@pytest.mark.parametrize(
    ("count", "line"),
    [
        (1, "Overdue to chase: 1 invoice, 1,200.50 in all."),
        (2, "Overdue to chase: 2 invoices, 1,200.50 in all."),
    ],
)
def test_the_morning_plan_counts_overdue_invoices_right(count: int, line: str) -> None:
    plan = Plan(overdue_count=count, overdue_total=Decimal("1200.50"))
    text, _buttons = render(Translator("en"), "Li", TODAY, plan, ZoneInfo("Asia/Shanghai"))
    assert line in text
    zh, _buttons = render(Translator("zh"), "Li", TODAY, plan, ZoneInfo("Asia/Shanghai"))
    assert f"需催收的逾期账款：{count} 张发票，共 1,200.50。" in zh


@pytest.mark.parametrize(
    ("command", "english", "chinese"),
    [
        ("/invite finance", "Invite for a finance officer:", "邀请一位财务："),
        ("/invite admin", "Invite for an admin:", "邀请一位管理员："),
        ("/invite director", "Invite for a sales director:", "邀请一位销售总监："),
        ("/invite rep North", "Invite for a sales rep in team North:", "邀请一位销售员加入团队 North："),
    ],
)
async def test_an_invite_names_the_role_as_a_sentence_needs_it(
    harness: Harness, command: str, english: str, chinese: str
) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    said = await admin.says(command)
    assert english in said and "Invite for a finance:" not in said and "a admin" not in said
    await admin.send("/lang zh")
    assert chinese in await admin.says(command)


def test_every_role_has_a_person_phrase() -> None:
    assert set(ROLE_PERSON) == set(Role)
