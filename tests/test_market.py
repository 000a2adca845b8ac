"""Market intelligence (issue 18; regulations part 4, art. 8 (4)): the feedback reps record on visits
reaches the people who act on it, grouped by topic: the weekly digest and /market."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from bot.services.errors import Invalid
from bot.services.field import market
from bot.views.finance import MESSAGE_BUDGET, length
from jobs.runner import run_job
from models import Customer, Feedback, FeedbackTopic, Outbox, Role, User, Visit, VisitKind
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness
from tests.test_jobs import MONDAY, local

COMPETITOR, PRICE, QUALITY = FeedbackTopic.COMPETITOR, FeedbackTopic.PRICE, FeedbackTopic.QUALITY
DEMAND, NEW_PRODUCT = FeedbackTopic.DEMAND, FeedbackTopic.NEW_PRODUCT
LAST_WEEK = "2026-11-16..2026-11-22"
LINK = re.compile(r"https://t\.me/fieldbot_test_bot\?start=([A-Za-z0-9_-]+)")
_keys = count(1)


async def visit(
    harness: Harness, rep: User, shop: Customer, at: datetime, *notes: tuple[FeedbackTopic, str]
) -> None:
    """A visit with its feedback, as /visit stores it."""
    async with harness.db.transaction() as session:
        row = Visit(
            rep_id=rep.id,
            customer_id=shop.id,
            visited_at=at,
            kind=VisitKind.VISIT,
            notes="",
            photo_file_ids=[],
            source_key=f"market:{next(_keys)}",
            created_at=at,
        )
        session.add(row)
        await session.flush()
        session.add_all([Feedback(visit_id=row.id, topic=topic, text=text) for topic, text in notes])


@dataclass(frozen=True)
class Week:
    people: Company
    ann: User  # a second North rep
    sam: User  # South's manager
    max: User  # marketing
    north_shop: Customer
    hedong: Customer
    south_shop: Customer


async def feedback_week(harness: Harness) -> Week:
    """Last week (16-22 November): North heard 5 notes (Li 3 at North Shop, Ann 2 at 河东五金),
    South 3 (Bob at 南方建材); one note the Sunday before and one this Monday fall outside it."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        ann = factories.user(session, 2003, "Ann North", Role.REP, people.north, now)
        sam = factories.user(session, 5002, "Sam South", Role.MANAGER, people.south, now)
        max_ = factories.user(session, 8001, "Max Market", Role.MARKETING, None, now)
    north = await factories.customer(harness.db, now, name="North <Shop> & Co", rep=people.rep, code="NS")
    hedong = await factories.customer(harness.db, now, name="河东五金", rep=ann, code="HD")
    south = await factories.customer(harness.db, now, name="南方建材", rep=people.other_rep, code="SS")
    li, bob = people.rep, people.other_rep
    tuesday, wednesday = MONDAY - timedelta(days=6), MONDAY - timedelta(days=5)
    thursday, friday = MONDAY - timedelta(days=4), MONDAY - timedelta(days=3)
    sunday = MONDAY - timedelta(days=1)
    await visit(
        harness,
        li,
        north,
        local(tuesday, 10),
        (COMPETITOR, "Brand X cut prices by 5% <b>now</b>"),
        (PRICE, "Our price is 3% above the market"),
    )
    await visit(harness, li, north, local(thursday, 15), (COMPETITOR, "Brand X\ngives free delivery"))
    await visit(harness, ann, hedong, local(friday, 11), (COMPETITOR, "竞品降价 5%"), (DEMAND, "下月加单"))
    await visit(
        harness,
        bob,
        south,
        local(wednesday, 9),
        (PRICE, "价格太高"),
        (QUALITY, "Two broken boxes"),
        (NEW_PRODUCT, "Wants a 500ml size"),
    )
    await visit(harness, li, north, local(sunday - timedelta(days=7), 23, 50), (PRICE, "the week before"))
    await visit(harness, li, north, local(MONDAY, 8, 0), (PRICE, "this Monday"))
    await visit(harness, bob, south, local(sunday, 23, 59), (DEMAND, "Sunday night, still last week"))
    return Week(people, ann, sam, max_, north, hedong, south)


async def outbox(harness: Harness) -> list[Outbox]:
    async with harness.db.reading() as session:
        return list(
            await session.scalars(select(Outbox).where(Outbox.job == "market_digest").order_by(Outbox.id))
        )


def join(harness: Harness, *telegram_ids: int) -> None:
    for telegram_id in telegram_ids:
        harness.api.add_user(telegram_id, "x")


def block(lines: list[str], heading: str) -> list[str]:
    """The lines of one topic's block: from its heading to the blank line after it."""
    start = next(index for index, line in enumerate(lines) if line.startswith(heading + " — "))
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


# -- the weekly digest ----------------------------------------------------------------------------


async def test_weekly_digest_groups_last_weeks_feedback_by_topic_for_each_reader(harness: Harness) -> None:
    week = await feedback_week(harness)
    join(harness, 1001, 2001, 2002, 2003, 5001, 5002, 6001, 7001, 8001)
    outcome = await run_job(harness.db, "market_digest", local(MONDAY, 9, 30), ZONE)
    # Mia (North), Sam (South), the director and marketing; never reps, finance or admins
    assert outcome.ran and outcome.pushes == 4
    people = week.people
    assert [row.dedup_key for row in await outbox(harness)] == [
        f"market_digest:{person.id}:{LAST_WEEK}"
        for person in sorted((people.manager, week.sam, people.director, week.max), key=lambda p: p.id)
    ]
    harness.clock.set(local(MONDAY, 9, 30))
    await harness.deliver_pushes()

    [mias] = harness.api.chat(5001)
    lines = mias.plain_text().splitlines()
    assert lines[:2] == [
        "Market feedback · 2026-11-16 – 2026-11-22 · team North",
        "Notes: 5 · customers: 2 · reps: 2",
    ]
    assert block(lines, "Competitor") == [
        "Competitor — notes: 3 · customers: 2 · reps: 2",
        "Customers: North <Shop> & Co ×2, 河东五金",
        "Reps: Li Wei ×2, Ann North",
        "• 11-20 河东五金 · Ann North: 竞品降价 5%",  # newest first
        "• 11-19 North <Shop> & Co · Li Wei: Brand X gives free delivery",
        "• 11-17 North <Shop> & Co · Li Wei: Brand X cut prices by 5% <b>now</b>",
    ]
    assert block(lines, "Price") == [
        "Price — notes: 1 · customers: 1 · reps: 1",
        "Customers: North <Shop> & Co",
        "Reps: Li Wei",
        "• 11-17 North <Shop> & Co · Li Wei: Our price is 3% above the market",
    ]
    assert block(lines, "Demand")[0] == "Demand — notes: 1 · customers: 1 · reps: 1"
    headings = [line.split(" — ")[0] for line in lines if " — notes: " in line]
    assert headings == ["Competitor", "Price", "Demand"]  # the regulations' order; South's topics absent
    text = mias.plain_text()
    assert (
        "南方建材" not in text
        and "Bob" not in text
        and "the week before" not in text
        and "this Monday" not in text
    )
    assert "&lt;b&gt;now&lt;/b&gt;" in (mias.text or "")  # a rep's text is never markup

    [sams] = harness.api.chat(5002)
    lines = sams.plain_text().splitlines()
    assert lines[:2] == [
        "Market feedback · 2026-11-16 – 2026-11-22 · team South",
        "Notes: 4 · customers: 1 · reps: 1",
    ]
    headings = [line.split(" — ")[0] for line in lines if " — notes: " in line]
    assert headings == ["Price", "Quality", "Demand", "New product"]
    assert block(lines, "Demand")[-1] == "• 11-22 南方建材 · Bob South: Sunday night, still last week"

    [directors] = harness.api.chat(7001)
    lines = directors.plain_text().splitlines()
    assert lines[:2] == [
        "Market feedback · 2026-11-16 – 2026-11-22 · everyone",
        "Notes: 9 · customers: 3 · reps: 3",
    ]
    assert block(lines, "Price") == [
        "Price — notes: 2 · customers: 2 · reps: 2",
        "Customers: North <Shop> & Co, 南方建材",
        "Reps: Li Wei (North), Bob South (South)",
        "• 11-18 南方建材 · Bob South: 价格太高",
        "• 11-17 North <Shop> & Co · Li Wei: Our price is 3% above the market",
    ]
    assert block(lines, "Competitor")[2] == "Reps: Li Wei (North) ×2, Ann North (North)"
    assert block(lines, "Demand")[:2] == [
        "Demand — notes: 2 · customers: 2 · reps: 2",
        "Customers: 河东五金, 南方建材",
    ]
    [marketing] = harness.api.chat(8001)
    assert marketing.plain_text() == directors.plain_text()
    for nobody in (1001, 2001, 2002, 2003, 6001):
        assert harness.api.chat(nobody) == []
    # once a week: running it again queues nothing new, and it runs on Mondays only
    assert (await run_job(harness.db, "market_digest", local(MONDAY, 11), ZONE, again=True)).pushes == 0
    tuesday = await run_job(harness.db, "market_digest", local(MONDAY + timedelta(days=1), 9, 30), ZONE)
    assert not tuesday.ran


async def test_weekly_digest_in_chinese_and_nobody_gets_an_empty_one(harness: Harness) -> None:
    week = await feedback_week(harness)
    async with harness.db.transaction() as session:
        for person in (week.sam, week.max):
            (await session.get(User, person.id)).language = "zh"  # type: ignore[union-attr]
        # North heard nothing last week: its manager is sent nothing
        north = (week.people.rep.id, week.ann.id)
        for row in await session.scalars(select(Visit).where(Visit.rep_id.in_(north))):
            await session.delete(row)
    join(harness, 5001, 5002, 7001, 8001)
    outcome = await run_job(harness.db, "market_digest", local(MONDAY, 9, 30), ZONE)
    assert outcome.pushes == 3
    harness.clock.set(local(MONDAY, 9, 30))
    await harness.deliver_pushes()
    assert harness.api.chat(5001) == []
    [sams] = harness.api.chat(5002)
    lines = sams.plain_text().splitlines()
    assert lines[:2] == [
        "市场反馈 · 2026-11-16 – 2026-11-22 · 团队 South",
        "反馈 4 条 · 客户 1 家 · 销售员 1 人",
    ]
    assert block(lines, "价格") == [
        "价格 — 1 条 · 客户 1 家 · 销售员 1 人",
        "客户：南方建材",
        "销售员：Bob South",
        "• 11-18 南方建材 · Bob South: 价格太高",
    ]
    assert [line.split(" — ")[0] for line in lines if " 条 · " in line and " — " in line] == [
        "价格",
        "质量",
        "需求",
        "新产品",
    ]
    [maxs] = harness.api.chat(8001)
    assert maxs.plain_text().splitlines()[0] == "市场反馈 · 2026-11-16 – 2026-11-22 · 全公司"
    assert "销售员：Bob South（South）" in maxs.plain_text()


async def test_a_digest_of_a_busy_week_is_one_message_and_points_to_the_rest(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    join(harness, 5001, 7001)
    shops = [
        await factories.customer(
            harness.db,
            now,
            name=f"{n:02d} " + "Very Long Dealer Name & Sons " * 6,
            rep=people.rep if n % 2 else people.other_rep,
        )
        for n in range(12)
    ]
    for n in range(60):
        rep = people.rep if n % 2 else people.other_rep
        await visit(
            harness,
            rep,
            shops[n % 12],
            local(MONDAY - timedelta(days=7 - n % 7), 9, n % 60),
            *[
                (topic, f"<{topic.value} {n}> " + "a long note on what the customer said " * 12)
                for topic in market.TOPICS
            ],
        )
    await run_job(harness.db, "market_digest", local(MONDAY, 9, 30), ZONE)
    harness.clock.set(local(MONDAY, 9, 30))
    await harness.deliver_pushes()
    [digest] = harness.api.chat(7001)
    assert length(digest.text or "") <= MESSAGE_BUDGET
    lines = digest.plain_text().splitlines()
    assert lines[1] == "Notes: 300 · customers: 12 · reps: 2"
    for label, word in (
        ("Competitor", "competitor"),
        ("Price", "price"),
        ("Quality", "quality"),
        ("Demand", "demand"),
        ("New product", "new product"),
    ):
        topic = block(lines, label)
        assert topic[0] == f"{label} — notes: 60 · customers: 12 · reps: 2"
        assert topic[1].startswith("Customers: ") and topic[1].endswith(" and 9 more")
        assert topic[3].startswith("• ")  # every topic shows some texts
        shown = sum(line.startswith("• ") for line in topic)
        assert topic[-1] == f"  …and {60 - shown} more: /market {LAST_WEEK} {word}"
    # one topic on demand: more of its texts, still one message
    said = await harness.person(7001, "Dee").send(f"/market {LAST_WEEK} quality")
    [answer] = said
    assert length(answer.text or "") <= MESSAGE_BUDGET
    lines = answer.plain_text().splitlines()
    assert [line for line in lines if " — notes: " in line] == [
        "Quality — notes: 60 · customers: 12 · reps: 2"
    ]
    shown = sum(line.startswith("• ") for line in lines)
    assert shown > 5 and lines[-1] == f"  …and {60 - shown} older: ask for a shorter period to read them."


# -- /market on demand ----------------------------------------------------------------------------


async def test_market_by_period_and_topic_in_each_scope(harness: Harness) -> None:
    await feedback_week(harness)
    li = harness.person(2001, "Li")
    # today's feedback, recorded through the guided visit
    await li.send("/visit North")
    await li.press("On-site visit")
    await li.send("Talked about the new price list")
    await li.press("Market feedback")
    await li.press("Price")
    await li.send("Brand X is 5% cheaper since today")
    await li.press("Save")

    mia = harness.person(5001, "Mia")
    said = await mia.says("/market week price")
    lines = said.splitlines()
    assert lines[:2] == [
        "Market feedback · This week, 2026-11-23 – 2026-11-23 · team North",
        "Notes: 2 · customers: 1 · reps: 1",
    ]
    assert lines[3:] == [
        "Price — notes: 2 · customers: 1 · reps: 1",
        "Customers: North <Shop> & Co ×2",
        "Reps: Li Wei ×2",
        "• 11-23 North <Shop> & Co · Li Wei: Brand X is 5% cheaper since today",
        "• 11-23 North <Shop> & Co · Li Wei: this Monday",
    ]
    # the topic first, a range for the period; only the team's notes
    said = await mia.says(f"/market competitor {LAST_WEEK}")
    assert "Competitor — notes: 3 · customers: 2 · reps: 2" in said and "Price" not in said
    # nothing typed: the last 7 days, every topic
    said = await mia.says("/market")
    assert said.splitlines()[0] == "Market feedback · 2026-11-17 – 2026-11-23 · team North"
    assert "Notes: 7 · customers: 2 · reps: 2" in said and "the week before" not in said

    director = harness.person(7001, "Dee")
    said = await director.says(f"/market {LAST_WEEK} price")
    assert "· everyone" in said and "Price — notes: 2 · customers: 2 · reps: 2" in said
    assert "Reps: Li Wei (North), Bob South (South)" in said

    # a rep reads what they recorded, without naming themselves
    said = await li.says(f"/market {LAST_WEEK}")
    lines = said.splitlines()
    assert lines[:2] == ["Market feedback · 2026-11-16 – 2026-11-22 · yours", "Notes: 3 · customers: 1"]
    assert "Competitor — notes: 2 · customers: 1" in lines
    assert not any(line.startswith("Reps:") for line in lines)
    assert "• 11-19 North <Shop> & Co: Brand X gives free delivery" in lines
    assert "Ann" not in said and "竞品降价" not in said

    assert "No market feedback for Month 2026-10." in await mia.says("/market 2026-10")
    assert "does not allow" in await harness.person(6001, "Fay").says("/market")  # finance
    usage = await mia.says("/market week discounts")
    assert "/market [period] [topic]" in usage
    assert "competitor, price, quality, demand or new product" in usage
    assert "has not begun yet" in await mia.says("/market 2027-01 price")


async def test_market_in_chinese(harness: Harness) -> None:
    await feedback_week(harness)
    sam = harness.person(5002, "Sam", language_code="zh")
    await sam.says("/lang zh")
    said = await sam.says(f"/market {LAST_WEEK} 价格")
    lines = said.splitlines()
    assert lines[:2] == [
        "市场反馈 · 2026-11-16 – 2026-11-22 · 团队 South",
        "反馈 1 条 · 客户 1 家 · 销售员 1 人",
    ]
    assert lines[3] == "价格 — 1 条 · 客户 1 家 · 销售员 1 人"
    said = await sam.says("/market 本周需求")  # a topic typed without a space after the period
    assert said == "本周，2026-11-23 – 2026-11-23：没有市场反馈。"
    said = await sam.says(f"/market 新品 {LAST_WEEK}")
    assert "新产品 — 1 条 · 客户 1 家 · 销售员 1 人" in said
    assert "• 11-18 南方建材 · Bob South: Wants a 500ml size" in said
    usage = await sam.says("/market 下个月")
    assert "/market [期间] [主题]" in usage


@pytest.mark.parametrize(
    ("typed", "start", "end", "topic"),
    [
        ("", date(2026, 11, 17), MONDAY, None),
        ("price", date(2026, 11, 17), MONDAY, PRICE),
        ("week price", MONDAY, MONDAY, PRICE),
        ("PRICE  week", MONDAY, MONDAY, PRICE),
        ("ｐｒｉｃｅ", date(2026, 11, 17), MONDAY, PRICE),
        ("week new product", MONDAY, MONDAY, NEW_PRODUCT),
        ("new-product 2026-11", date(2026, 11, 1), date(2026, 11, 30), NEW_PRODUCT),
        ("2026-11-01 .. 2026-11-15 competitors", date(2026, 11, 1), date(2026, 11, 15), COMPETITOR),
        ("本周价格", MONDAY, MONDAY, PRICE),
        ("竞品 本月", date(2026, 11, 1), MONDAY, COMPETITOR),
        ("質量", date(2026, 11, 17), MONDAY, QUALITY),
        ("需求 2026-11-20", date(2026, 11, 20), date(2026, 11, 20), DEMAND),
        ("month", date(2026, 11, 1), MONDAY, None),
    ],
)
def test_period_and_topic_words(typed: str, start: date, end: date, topic: FeedbackTopic | None) -> None:
    period, found = market.parse_query(typed, MONDAY)
    assert (period.start, period.end, found) == (start, end, topic)


@pytest.mark.parametrize("typed", ["week discounts", "price price", "brand", "week 价钱贵"])
def test_words_that_are_neither_a_period_nor_a_topic_are_refused(typed: str) -> None:
    with pytest.raises(Invalid) as refused:
        market.parse_query(typed, MONDAY)
    assert refused.value.message == market.USAGE


# -- the marketing role ---------------------------------------------------------------------------


async def test_a_marketing_person_is_invited_reads_the_market_and_nothing_else(harness: Harness) -> None:
    await feedback_week(harness)
    admin = await harness.admin()
    link = LINK.search(await admin.says("/invite marketing"))
    assert link, "no link"
    newcomer = harness.person(8002, "Mei", language_code="zh")
    said = await newcomer.says(f"/start {link.group(1)}")
    assert "你已注册为市场部" in said and "/market" in said and "/customers" not in said
    assert "/summary" not in said and "/overdue" not in said
    said = await newcomer.says(f"/market {LAST_WEEK} 竞品")
    lines = said.splitlines()
    assert lines[:2] == ["市场反馈 · 2026-11-16 – 2026-11-22 · 全公司", "反馈 3 条 · 客户 2 家 · 销售员 2 人"]
    assert "销售员：Li Wei（North） ×2, Ann North（North）" in lines
    for command in ("/customers", "/customer North", "/summary week", "/overdue", "/visit North: hello"):
        assert "你的角色没有这项权限" in await newcomer.says(command), command

    # an admin makes finance's Fay marketing: she reads the market, and no longer the deposits
    fay = harness.person(6001, "Fay")
    assert "marketing" in await admin.says("/role 6001 marketing")
    assert "Market feedback · 2026-11-16 – 2026-11-22 · everyone" in await fay.says(f"/market {LAST_WEEK}")
    assert "does not allow" in await fay.says("/deposits")

    # and both are sent the weekly digest
    join(harness, 5001, 5002, 7001, 8001)
    outcome = await run_job(harness.db, "market_digest", local(MONDAY, 9, 30), ZONE)
    assert outcome.pushes == 6  # Mia, Sam, the director, Max, Fay and Mei
    harness.clock.set(local(MONDAY, 9, 30))
    await harness.deliver_pushes()
    assert harness.api.chat(8002)[-1].plain_text().startswith("市场反馈 · 2026-11-16 – 2026-11-22 · 全公司")
    assert (
        harness.api.chat(6001)[-1]
        .plain_text()
        .startswith("Market feedback · 2026-11-16 – 2026-11-22 · everyone")
    )
