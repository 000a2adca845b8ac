"""Grades from sales (regulations part 4, art. 13): on the 1st each manager gets the grade changes
the last three months' sales suggest for their team's customers, each with an Apply button; the
customers no manager looks after go to the director. Driven through the fake Bot API."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.devserver import SentMessage
from bot.services.company import CompanySettings
from bot.views.finance import length
from jobs.catalogue import JOBS
from jobs.runner import run_job
from models import AuditLog, Customer, CustomerStatus, Receivable, User
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person

FIRST = date(2026, 12, 1)  # a Tuesday
LONG_AGO = datetime(2026, 8, 15, 9, 0, tzinfo=ZONE)  # in the bot for all of September to November


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


async def sells(harness: Harness, customer: Customer, amount: str, *days: date) -> list[Receivable]:
    return [
        await factories.receivable(
            harness.db,
            LONG_AGO,
            customer=customer,
            amount=amount,
            issued_on=day,
            due_on=day + timedelta(days=30),
        )
        for day in days
    ]


MONTHS = (date(2026, 9, 10), date(2026, 10, 10), date(2026, 11, 10))


@pytest.fixture
async def people(harness: Harness) -> Company:
    return await factories.company(harness.db, LONG_AGO)


@pytest.fixture
async def book(harness: Harness, people: Company) -> dict[str, Customer]:
    """North's customers (Mia's team) and one of South's (no manager: the director's)."""

    async def shop(
        name: str, code: str, grade: str, rep: User | None = None, at: datetime = LONG_AGO, **fields: object
    ) -> Customer:
        return await factories.customer(
            harness.db, at, name=name, rep=rep or people.rep, code=code, grade=grade, **fields
        )

    customers = {
        "big": await shop("Big Buyer", "BB1", "C"),
        "steady": await shop("Steady Store", "ST1", "B"),
        "quiet": await shop("Quiet Corner", "QT1", "B"),
        "voided": await shop("Void Mart", "VD1", "C"),
        "edges": await shop("Edge Goods", "EG1", "A"),
        "new": await shop("Newcomer", "NW1", "C", at=datetime(2026, 10, 10, 9, tzinfo=ZONE)),
        "prospect": await shop("Hopeful", "P-260901-1", "C", status=CustomerStatus.PROSPECT),
        "south": await shop("South Shop", "SS1", "C", rep=people.other_rep),
    }
    await sells(harness, customers["big"], "120000", *MONTHS)  # 120,000 a month: A
    await sells(harness, customers["steady"], "40000", *MONTHS)  # B, as it is: not listed
    await sells(harness, customers["quiet"], "1000", MONTHS[0])  # 333.33 a month: D
    [void] = await sells(harness, customers["voided"], "300000", MONTHS[1])
    async with harness.db.transaction() as session:
        await session.execute(update(Receivable).where(Receivable.id == void.id).values(voided_at=LONG_AGO))
    await sells(harness, customers["voided"], "6000", MONTHS[2])  # 2,000 a month once the void is left out
    # Only 1 September to 30 November count: 15,000 → 5,000 a month, C.
    await sells(harness, customers["edges"], "900000", date(2026, 8, 31), date(2026, 12, 1))
    await sells(harness, customers["edges"], "15000", date(2026, 9, 1))
    await sells(harness, customers["new"], "500000", *MONTHS[1:])  # newer than the three months: left out
    await sells(harness, customers["prospect"], "500000", *MONTHS)  # a prospect: graded when activated
    await sells(harness, customers["south"], "35000", *MONTHS)  # B
    return customers


async def run_on_the_first(harness: Harness) -> int:
    at = local(FIRST, 9, 45)
    harness.clock.set(at)
    outcome = await run_job(harness.db, "grade_suggestions", at, ZONE)
    assert outcome.ran
    await harness.deliver_pushes()
    return outcome.pushes


async def grade_of(harness: Harness, code: str) -> str:
    async with harness.db.reading() as session:
        grade = await session.scalar(select(Customer.grade).where(Customer.code == code))
    assert grade is not None
    return grade


async def applied(harness: Harness) -> list[AuditLog]:
    async with harness.db.reading() as session:
        return list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == "grade.apply").order_by(AuditLog.id)
            )
        )


def last_toast(harness: Harness) -> str:
    return str(list(harness.api.callback_answers.values())[-1].get("text"))


async def press_data(harness: Harness, person: Person, message: SentMessage, data: str) -> str:
    """Press a button carrying ``data`` on ``message``; the toast shown (or the newest message)."""
    update_ = harness.api.callback(person.id, message.message_id, data)
    await harness.settle(update_)
    answer = harness.api.callback_answers[update_["callback_query"]["id"]].get("text")
    return answer or person.last.plain_text()


async def test_on_the_first_managers_get_suggestions_and_apply_each_once(
    harness: Harness, people: Company, book: dict[str, Customer]
) -> None:
    mia, li = harness.person(5001, "Mia"), harness.person(2001, "Li")
    director = harness.person(7001, "Dee")
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 7001).values(language="zh"))
    assert await run_on_the_first(harness) == 2  # Mia (North), the director (South: no manager)

    push = mia.last
    assert push.plain_text().splitlines() == [
        "📊 Suggested grades · team North · sales 2026-09..2026-11",
        "Grade by average monthly sales: A from 100,000.00 · B from 30,000.00 · C from 5,000.00 · D below. "
        "(Shipped defaults, not your company's standard: an admin sets it with /settings sales A B C.)",
        "",
        "1. Big Buyer (BB1) · Li Wei: C → A · 120,000.00 a month",
        "2. Edge Goods (EG1) · Li Wei: A → C · 5,000.00 a month",
        "3. Void Mart (VD1) · Li Wei: C → D · 2,000.00 a month",
        "4. Quiet Corner (QT1) · Li Wei: B → D · 333.33 a month",
    ]
    assert push.button_texts() == [
        "✅ 1. BB1: grade A",
        "✅ 2. EG1: grade C",
        "✅ 3. VD1: grade D",
        "✅ 4. QT1: grade D",
    ]
    assert director.last.plain_text().splitlines()[0] == "📊 建议等级 · 无主管的客户 · 销售 2026-09..2026-11"
    assert "1. South Shop (SS1) · Bob South：C → B · 每月 35,000.00" in director.last.plain_text()
    assert "Big Buyer" not in director.last.plain_text()
    assert li.chat == []  # reps are not told

    await mia.press("✅ 1. BB1: grade A")
    assert last_toast(harness) == "Big Buyer (BB1) is now grade A."
    assert "✅ 1. BB1: grade A" not in mia.last.button_texts() and len(mia.last.button_texts()) == 3
    assert await grade_of(harness, "BB1") == "A"
    [entry] = await applied(harness)
    assert (entry.actor_id, entry.before) == (people.manager.id, {"grade": "C"})
    assert entry.after is not None
    assert entry.after["grade"] == "A" and entry.after["monthly_sales"] == "120000.00"
    assert entry.after["months"] == "2026-09..2026-11" and entry.after["default_standard"] is True
    # The same button again (a double tap, a stale copy of the message): applied once.
    assert await press_data(harness, mia, push, f"grd:apply:{book['big'].id}:CA") == (
        "Big Buyer (BB1) has grade A already."
    )
    assert len(await applied(harness)) == 1

    # A grade changed meanwhile, or a forged one the sales do not suggest: nothing changes.
    async with harness.db.transaction() as session:
        await session.execute(update(Customer).where(Customer.code == "QT1").values(grade="C"))
    assert "Quiet Corner (QT1) is grade C now, not B" in await press_data(
        harness, mia, push, f"grd:apply:{book['quiet'].id}:BD"
    )
    assert "Steady Store (ST1)'s sales suggest grade B now: nothing changed." in await press_data(
        harness, mia, push, f"grd:apply:{book['steady'].id}:BA"
    )
    assert "not graded from sales" in await press_data(harness, mia, push, f"grd:apply:{book['new'].id}:CA")
    assert (await grade_of(harness, "ST1"), await grade_of(harness, "NW1")) == ("B", "C")
    # Out of scope and out of role: refused, nothing shown.
    for who, data in ((5001, f"grd:apply:{book['south'].id}:CB"), (2001, f"grd:apply:{book['edges'].id}:AC")):
        person = harness.person(who, "x")
        await person.says("/help")
        answer = await press_data(harness, person, person.last, data)
        assert "not one of yours" in answer or "does not allow" in answer, answer
    assert (await grade_of(harness, "SS1"), await grade_of(harness, "EG1")) == ("C", "A")
    assert len(await applied(harness)) == 1

    # The director applies in Chinese.
    await director.press("✅ 1. SS1：B 级")
    assert last_toast(harness) == "South Shop (SS1) 现在是 B 级。"
    assert await grade_of(harness, "SS1") == "B"


async def test_only_on_the_first_and_only_who_has_something(harness: Harness, people: Company) -> None:
    spec, settings = JOBS["grade_suggestions"], CompanySettings()
    days = [FIRST + timedelta(days=n) for n in range(62)]
    assert [day for day in days if spec.runs_on(day, settings)] == [date(2026, 12, 1), date(2027, 1, 1)]
    assert settings.job_times["grade_suggestions"].strftime("%H:%M") == "09:45"
    harness.person(5001, "Mia")
    await factories.customer(harness.db, LONG_AGO, name="Fine", rep=people.rep, code="F1", grade="D")
    assert await run_on_the_first(harness) == 0  # no sales, already D: nothing to suggest, no push
    assert harness.api.chat(5001) == []


async def test_a_long_list_fits_one_message_and_more_lists_the_rest(
    harness: Harness, people: Company
) -> None:
    mia = harness.person(5001, "Mia")
    long_name = "Wholesale and Retail Hardware Trading Company of the Northern District No."
    for n in range(40):
        shop = await factories.customer(
            harness.db, LONG_AGO, name=f"{long_name} {n:02d}", rep=people.rep, code=f"W{n:03d}", grade="D"
        )
        await sells(harness, shop, str(30000 + 1000 * n), *MONTHS)  # all B or A: all suggested
    assert await run_on_the_first(harness) == 1
    seen: list[str] = []
    page = mia.last
    while True:
        assert length(page.plain_text()) <= 4096
        codes = [text.split(". ")[1].split(":")[0] for text in page.button_texts() if text.startswith("✅")]
        seen += codes
        if "More ▶" not in page.button_texts():
            assert "more" not in page.plain_text().splitlines()[-1]
            break
        assert page.plain_text().splitlines()[-1] == f"… and {40 - len(seen)} more: More ▶ lists them."
        if len(seen) == len(codes):  # apply one on the first page: the next page still follows on
            await mia.press(f"✅ 1. {codes[0]}", message_id=page.message_id)
        [page] = await mia.press("More ▶", message_id=page.message_id)
    assert seen == [f"W{n:03d}" for n in reversed(range(40))]  # largest sales first, each once


async def test_the_company_sets_its_own_standard(
    harness: Harness, people: Company, book: dict[str, Customer]
) -> None:
    admin = await harness.admin()
    harness.person(7001, "Dee")
    shown = await admin.says("/settings")
    assert "(Shipped defaults, not your company's standard" in shown and "/settings sales 100000" in shown
    assert "three amounts" in await admin.says("/settings sales 5000")
    assert "Grade A needs more sales than B" in await admin.says("/settings sales 1万 3万 5000")
    saved = await admin.says("/settings sales 20万 3万 5000")
    assert "Saved." in saved
    assert (
        "Grade by average monthly sales: A from 200,000.00 · B from 30,000.00 · C from 5,000.00 · D below."
    ) in saved and "Shipped defaults" not in saved
    async with harness.db.reading() as session:
        entry = await session.scalar(
            select(AuditLog).where(AuditLog.action == "setting").order_by(AuditLog.id.desc())
        )
    assert entry is not None and entry.before == {"grade_sales": None}
    assert entry.after == {"grade_sales": {"A": "200000.00", "B": "30000.00", "C": "5000.00"}}
    assert "Your role does not allow this." in await harness.person(5001, "Mia").says("/settings sales 1 2 3")

    await run_on_the_first(harness)
    text = harness.api.last(5001).plain_text()
    assert "1. Big Buyer (BB1) · Li Wei: C → B · 120,000.00 a month" in text  # under 200,000: B
    assert "Shipped defaults" not in text
