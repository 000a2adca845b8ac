"""Work queues through the fake Bot API: /approvals (what waits for the caller's decision, or the
rep's own requests) and /today (a rep's day so far and what is still due; a manager's queue)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.devserver import SentMessage
from models import Approval, ApprovalStatus, AuditLog, Customer, Role, User, Visit, VisitKind
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person

TODAY = date(2026, 11, 23)  # a Monday; Sunday is the day off, so the previous working day is Saturday


async def company(harness: Harness, *, joined: datetime | None = None) -> Company:
    """The factories' company with Sam managing South, Acme (Li's, North) and South Shop (Bob's)."""
    now = joined or harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        factories.user(session, 5002, "Sam South", Role.MANAGER, people.south, now)
    await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)
    await factories.customer(harness.db, now, name="South Shop", code="SOU", rep=people.other_rep)
    for telegram_id, name in (
        (2001, "Li"),
        (2002, "Bob"),
        (5001, "Mia"),
        (5002, "Sam"),
        (7001, "Dee"),
        (6001, "Fay"),
    ):
        harness.person(telegram_id, name)  # each has a chat with the bot: pushes reach them
    return people


async def set_language(harness: Harness, telegram_id: int, language: str) -> None:
    async with harness.db.transaction() as session:
        user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None
        user.language = language


async def statuses(harness: Harness) -> list[ApprovalStatus]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Approval.status).order_by(Approval.id)))


async def approval_ids(harness: Harness) -> list[int]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Approval.id).order_by(Approval.id)))


def decision_data(message: SentMessage) -> list[str]:
    return [button["callback_data"] for row in message.buttons() for button in row]


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(m.plain_text() for m in messages)


# -- /approvals -----------------------------------------------------------------------------------

APPROVALS = {
    "en": {
        "waiting": "Waiting for your decision: {n}",
        "approve": "✅ Approve",
        "approved": "✅ Approved by",
        "already": "Already approved by Mia Manager.",
        "nothing": "Nothing is waiting for your decision.",
        "request": "🏷 Discount request from Li Wei",
    },
    "zh": {
        "waiting": "等你审批：{n} 项",
        "approve": "✅ 批准",
        "approved": "已批准",
        "already": "已由 Mia Manager 批准。",
        "nothing": "没有等你审批的申请。",
        "request": "🏷 优惠申请，申请人 Li Wei",
    },
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_manager_decides_from_the_list_once_and_the_request_leaves_it(
    harness: Harness, language: str
) -> None:
    await company(harness)
    words = APPROVALS[language]
    await set_language(harness, 5001, language)
    li, bob, mia = harness.person(2001, "Li"), harness.person(2002, "Bob"), harness.person(5001, "Mia")
    await li.send("/discount Acme: 5% loyal customer")
    await li.send("/discount Acme: 3% <b>season</b> end")
    await bob.send("/discount South Shop: 2% nice")
    await harness.deliver_pushes()
    pushes = [m for m in mia.chat if m.buttons()]
    assert len(pushes) == 2  # North's requests reach Mia; South's go to Sam

    listed = await mia.send("/approvals")
    assert listed[0].plain_text() == words["waiting"].format(n=2)
    items = listed[1:]
    # the push's very text and buttons, oldest first; nothing of South
    assert [m.plain_text() for m in items] == [m.plain_text() for m in pushes]
    assert [decision_data(m) for m in items] == [decision_data(m) for m in pushes]
    assert "<b>season</b>" in items[1].plain_text()  # the rep's text shown as typed, never as markup
    assert words["request"] in items[0].plain_text()
    assert "South Shop" not in texts(listed) and "Bob" not in texts(listed)

    first = items[0]
    decided = await mia.press(words["approve"], message_id=first.message_id)
    assert [m.message_id for m in decided] == [first.message_id]
    assert words["approved"] in decided[0].plain_text() and decided[0].buttons() == []
    again = harness.api.callback(5001, first.message_id, decision_data(pushes[0])[0])  # the push's button
    await harness.settle(again)
    assert harness.api.callback_answers[again["callback_query"]["id"]].get("text") == words["already"]
    approved, pending = ApprovalStatus.APPROVED, ApprovalStatus.PENDING
    assert await statuses(harness) == [approved, pending, pending]
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).where(AuditLog.action == "approve")) == 1
    assert (await harness.deliver_pushes()).sent == 1  # Li hears it once

    listed = await mia.send("/approvals")
    assert [m.plain_text() for m in listed] == [words["waiting"].format(n=1), pushes[1].plain_text()]
    await mia.press("❌", message_id=listed[1].message_id)
    assert [m.plain_text() for m in await mia.send("/approvals")] == [words["nothing"]]


async def test_each_approver_lists_exactly_what_the_buttons_let_them_decide(harness: Harness) -> None:
    people = await company(harness)
    now = harness.clock.now()
    await harness.admin()
    li, bob, mia = harness.person(2001, "Li"), harness.person(2002, "Bob"), harness.person(5001, "Mia")
    big = await factories.customer(harness.db, now, name="Big Buyer", code="BB", rep=people.rep)
    await factories.receivable(
        harness.db, now, customer=big, amount="49000.00", issued_on=TODAY, due_on=TODAY + timedelta(30)
    )
    await li.send("/discount Acme: 5% loyal")
    await bob.send("/discount South Shop: 2% nice")
    await mia.send("/order BB: 2000 INV-MIA")  # Mia's own order past the limit: someone above decides
    await mia.press("Confirm")
    acme, south, own = await approval_ids(harness)
    sam, dee, ada = harness.person(5002, "Sam"), harness.person(7001, "Dee"), harness.person(1001, "Ada")

    async def decidable(person: Person) -> list[int]:
        shown = await person.send("/approvals")
        return [
            int(data.rsplit(":", 1)[1])
            for m in shown
            for data in decision_data(m)
            if data.startswith("appr:yes:")
        ]

    assert await decidable(mia) == [acme]
    assert await decidable(sam) == [south]
    assert await decidable(dee) == [acme, south, own]  # the director: all, teams without a manager too
    assert await decidable(ada) == [acme, south, own]
    # Mia's own request follows her queue, with where it stands and no buttons
    shown = await mia.send("/approvals")
    assert shown[-2].plain_text() == "Your requests: 1 waiting, 0 decided in the last 7 days"
    assert "Order over the credit limit from Mia Manager" in shown[-1].plain_text()
    assert shown[-1].plain_text().endswith("⏳ Waiting for a decision since 2026-11-23 09:00")
    assert shown[-1].buttons() == []
    # What a list leaves out, the buttons refuse: the list and the buttons never disagree.
    for person, approval_id, refusal in (
        (mia, south, "This request is for another team's manager to decide."),
        (mia, own, "This is your own request: someone above you decides it."),
        (sam, acme, "This request is for another team's manager to decide."),
        (sam, own, "This request is for another team's manager to decide."),
    ):
        forged = harness.api.callback(person.id, person.last.message_id, f"appr:yes:{approval_id}")
        await harness.settle(forged)
        assert person.last.plain_text() == refusal
    assert set(await statuses(harness)) == {ApprovalStatus.PENDING}
    # Sam sees nothing of North
    said = texts(await sam.send("/approvals"))
    assert "Acme" not in said and "Li Wei" not in said and "Big Buyer" not in said
    assert "Your role does not allow this." in await harness.person(6001, "Fay").says("/approvals")


async def test_show_more_skips_none_when_some_were_decided_meanwhile(harness: Harness) -> None:
    await company(harness)
    li, mia = harness.person(2001, "Li"), harness.person(5001, "Mia")
    for percent in range(1, 8):
        await li.send(f"/discount Acme: {percent}% order number {percent}")
    listed = await mia.send("/approvals")
    assert listed[0].plain_text() == "Waiting for your decision: 7"
    items, footer = listed[1:6], listed[6]
    assert ["Discount: 1%" in items[0].plain_text(), "Discount: 5%" in items[4].plain_text()] == [True, True]
    assert footer.plain_text() == "2 more not shown yet." and footer.button_texts() == ["Show more ›"]
    for item in items[:3]:  # decided from the list: a page number would now skip two
        await mia.press("✅ Approve", message_id=item.message_id)
    more = await mia.press("Show more ›", message_id=footer.message_id)
    assert more[0].message_id == footer.message_id and more[0].buttons() == []  # its work is done
    assert ["Discount: 6%" in more[1].plain_text(), "Discount: 7%" in more[2].plain_text()] == [True, True]
    assert all(m.button_texts() == ["✅ Approve", "❌ Reject"] for m in more[1:]) and len(more) == 3
    listed = await mia.send("/approvals")
    assert listed[0].plain_text() == "Waiting for your decision: 4" and len(listed) == 5
    # Li's own seven, five at a time, without buttons
    mine = await li.send("/approvals")
    assert mine[0].plain_text() == "Your requests: 4 waiting, 3 decided in the last 7 days"
    assert len(mine) == 7 and mine[6].plain_text() == "2 more not shown yet."
    more = await li.press("Show more ›")
    assert ["Discount: 6%" in more[1].plain_text(), "Discount: 7%" in more[2].plain_text()] == [True, True]
    assert [m.buttons() for m in more] == [[], [], []]


async def test_a_new_kind_of_request_is_listed_as_its_push_shows_it(harness: Harness) -> None:
    """A return of goods (a kind added after /approvals) is listed and decided with no change there."""
    people = await company(harness)
    now = harness.clock.now()
    zeta = await factories.customer(harness.db, now, name="Zeta", code="ZZ", rep=people.rep)
    await factories.receivable(
        harness.db, now, customer=zeta, amount="900.00", issued_on=TODAY, due_on=TODAY + timedelta(days=30)
    )
    li, mia = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await li.send("/return Zeta: 500 damaged")
    await harness.deliver_pushes()
    push = mia.last
    listed = await mia.send("/approvals")
    assert len(listed) == 2 and listed[1].plain_text() == push.plain_text() and "Zeta" in push.plain_text()
    assert decision_data(listed[1]) == decision_data(push)
    decided = await mia.press("✅ Approve", message_id=listed[1].message_id)
    assert decided[0].plain_text().startswith(push.plain_text() + "\n\n✅ Approved by Mia Manager")
    assert [m.plain_text() for m in await mia.send("/approvals")] == ["Nothing is waiting for your decision."]
    mine = await li.send("/approvals")
    assert mine[1].plain_text() == decided[0].plain_text() and mine[1].buttons() == []


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_rep_sees_their_own_requests_and_where_they_stand(harness: Harness, language: str) -> None:
    await company(harness)
    await set_language(harness, 2001, language)
    li, bob, mia = harness.person(2001, "Li"), harness.person(2002, "Bob"), harness.person(5001, "Mia")
    none = await li.says("/approvals")
    assert none.startswith("You have no requests waiting" if language == "en" else "你没有等待审批的申请")
    await li.send("/discount Acme: 5% loyal")
    harness.clock.set(harness.clock.now() + timedelta(hours=1))
    await li.send("/discount Acme: 8% big order")
    await bob.send("/discount South Shop: 2% Bob's secret")
    await harness.deliver_pushes()
    await mia.press("✅ Approve", message_id=next(m for m in mia.chat if m.buttons()).message_id)

    shown = await li.send("/approvals")
    assert all(m.buttons() == [] for m in shown)
    said = [m.plain_text() for m in shown]
    if language == "en":
        assert said[0] == "Your requests: 1 waiting, 1 decided in the last 7 days"
        assert "Discount: 5%" in said[1] and said[1].endswith("✅ Approved by Mia Manager, 2026-11-23 10:00")
        assert "Discount: 8%" in said[2]
        assert said[2].endswith("⏳ Waiting for a decision since 2026-11-23 10:00")
    else:
        assert said[0] == "你的申请：1 项等待审批，最近 7 天内已审批 1 项"
        assert "已批准" in said[1] and said[2].endswith("⏳ 自 2026-11-23 10:00 起等待审批")
    assert "Bob" not in "\n".join(said) and "South Shop" not in "\n".join(said)
    # A decision older than a week has left the list; the request still waiting has not.
    harness.clock.set(harness.clock.now() + timedelta(days=8))
    said = [m.plain_text() for m in await li.send("/approvals")]
    assert len(said) == 2 and "8%" in said[1] and "5%" not in said[1]


# -- /today ---------------------------------------------------------------------------------------


async def todays_world(harness: Harness) -> Company:
    """A week-old company: Li (North) and Bob (South) each work this Monday morning."""
    people = await company(harness, joined=harness.clock.now() - timedelta(days=7))
    now = harness.clock.now() - timedelta(days=7)
    await factories.customer(harness.db, now, name="Bright Store", code="BRI", rep=people.rep, grade="A")
    cedar = await factories.customer(
        harness.db,
        now,
        name="Cedar & <Sons>",
        code="CED",
        rep=people.rep,
        last_visit_at=harness.clock.now() - timedelta(days=2),
    )
    await factories.receivable(
        harness.db,
        now,
        customer=cedar,
        amount="4200.00",
        invoice_no="INV-CED",
        issued_on=TODAY - timedelta(days=50),
        due_on=TODAY - timedelta(days=20),
    )
    async with harness.db.transaction() as session:  # Cedar's last visit asked for a follow-up today
        session.add(
            Visit(
                rep_id=people.rep.id,
                customer_id=cedar.id,
                kind=VisitKind.VISIT,
                notes="call back",
                visited_at=harness.clock.now() - timedelta(days=2),
                next_follow_up=TODAY,
                source_key="cedar:1",
                created_at=now,
            )
        )
    theirs = await factories.customer(harness.db, now, name="Theirs", code="THEIRS", rep=people.other_rep)
    await factories.receivable(
        harness.db,
        now,
        customer=theirs,
        amount="900.00",
        invoice_no="BOB-INV",
        issued_on=TODAY - timedelta(days=50),
        due_on=TODAY - timedelta(days=20),
    )
    li, bob = harness.person(2001, "Li"), harness.person(2002, "Bob")
    await li.send("/visit Acme: talked about prices")
    await li.send("/order Acme: 1200")
    await li.send("/collect Acme: 500 cash")
    await li.send("/collect Acme: 300 transfer")
    await bob.send("/visit Theirs: secret plans")
    await bob.send("/order Theirs: 7777")
    await bob.send("/collect Theirs: 666 cash")
    return people


async def test_a_reps_day_so_far_and_what_is_still_due(harness: Harness) -> None:
    await todays_world(harness)
    li = harness.person(2001, "Li")
    day = (await li.send("/today"))[0]
    said = day.plain_text()
    assert said.startswith(
        "Your day so far · 2026-11-23, 09:00\n\n"
        "Visits: 1\n• 09:00 Acme Trading · on-site visit\n"
        "Orders: 1 · 1,200.00\n• SO-20261123-001 · Acme Trading · 1,200.00\n"
        "Collected: 800.00 (cash 500.00, transfer 300.00)\n"
        "• Acme Trading · 500.00 · cash · held\n• Acme Trading · 300.00 · transfer\n"
        "Held by you: 500.00 (hand it in to finance today) · handed in: 300.00\n\n"
        "📝 Report: not filed yet, due by 19:00.\n"
        "Your report for 2026-11-21 is missing."
    ), said
    assert said.endswith(
        "Still due today\nDue for a visit: 2\n• Bright Store (BRI) — never visited\n"
        "• Cedar & <Sons> (CED) — follow-up\n"
        "Overdue to chase: 1 invoice, 4,200.00 in all.\n"
        "• Cedar & <Sons> (CED) · 4,200.00 · 20 days overdue"
    ), said
    for secret in ("Theirs", "7,777.00", "666.00", "BOB-INV", "900.00", "secret"):
        assert secret not in said
    assert day.button_texts() == [
        "Write today's report",
        "📝 File the report for 2026-11-21",
        "Log visit: Bright Store",
        "Log visit: Cedar & <Sons>",
        "✏️ Edit: Acme Trading 09:00",  # today's visits can still be changed (handlers/field/visit_edits.py)
    ]
    assert "<b>Still due today</b>" in (day.text or "") and "Cedar &amp; &lt;Sons&gt;" in (day.text or "")

    # The button writes the report; filed, the line says so and the button is gone.
    shown = await li.press("Write today's report")
    assert "Now write your report" in texts(shown)
    await li.send("All good today")
    await li.press("Submit")
    day = (await li.send("/today"))[0]
    assert "✅ Report: filed at 09:00." in day.plain_text()
    assert "Write today's report" not in day.button_texts()
    # A visit to a customer due takes it off the list.
    await li.send("/visit Bright: first call")
    await li.send("/visit Cedar: called back")
    said = await li.says("/today")
    assert "Visits: 3" in said and "No customer is due for a visit today." in said


async def test_the_report_line_follows_the_clock(harness: Harness) -> None:
    await todays_world(harness)
    li = harness.person(2001, "Li")
    harness.clock.set(datetime(2026, 11, 23, 20, 0, tzinfo=ZONE))
    day = (await li.send("/today"))[0]
    assert (
        "⚠️ Report: not filed, it was due at 19:00. Filed now (until 22:00) it is marked late."
        in day.plain_text()
    )
    assert "Write today's report" in day.button_texts()
    await li.send("/report Late but here")
    assert "⚠️ Report: filed late at 20:00." in await li.says("/today")
    harness.clock.set(datetime(2026, 11, 24, 22, 30, tzinfo=ZONE))  # Tuesday, after the cut-off
    day = (await li.send("/today"))[0]
    assert "❌ Report: missing. The day closed at 22:00." in day.plain_text()
    assert "Visits:" not in day.plain_text() and "Nothing recorded yet today" in day.plain_text()
    assert "Write today's report" not in day.button_texts()
    assert "Your report for" not in day.plain_text()  # Monday's was filed (late)
    harness.clock.set(datetime(2026, 11, 29, 10, 0, tzinfo=ZONE))  # Sunday: the day off
    assert "Report: none is due today, a day off." in await li.says("/today")


async def test_today_in_chinese(harness: Harness) -> None:
    await todays_world(harness)
    await set_language(harness, 2001, "zh")
    li = harness.person(2001, "Li")
    day = (await li.send("/today"))[0]
    said = day.plain_text()
    assert said.startswith("你的今天 · 2026-11-23，截至 09:00")
    assert "拜访：1 次" in said and "订单：1 笔 · 1,200.00" in said and "收款：800.00" in said
    assert "你手中未上交：500.00（请今天交给财务）· 已上交：300.00" in said
    assert "📝 日报：尚未提交，请在 19:00 前提交。" in said
    assert "今天还要做的" in said and "Bright Store (BRI) — 从未拜访" in said and "(CED) — 需跟进" in said
    assert "Cedar & <Sons> (CED) · 4,200.00 · 逾期 20 天" in said
    assert "Theirs" not in said
    assert day.button_texts()[0] == "填写今天的日报"


async def test_a_managers_day_is_their_queue_and_their_team_in_totals(harness: Harness) -> None:
    await todays_world(harness)
    li, mia, sam = harness.person(2001, "Li"), harness.person(5001, "Mia"), harness.person(5002, "Sam")
    await li.send("/discount Acme: 5% loyal")
    said = await mia.says("/today")
    assert said == (
        "Your day · 2026-11-23\n\nWaiting for your decision: 1 — /approvals\n\n"
        "Your team today\nReports: 0 of 1 filed · 0 late · 1 missing — /missing\n"
        "Visits: 1 · orders: 1 (1,200.00) · collected: 800.00\n"
        "Cash and cheques still held by reps: 500.00\n\nEach rep's day, one line each: /team"
    )
    said = await sam.says("/today")  # South: Bob's day, nothing of North
    assert "Nothing is waiting for your decision." in said
    assert "Visits: 1 · orders: 1 (7,777.00) · collected: 666.00" in said
    said = await harness.person(7001, "Dee").says("/today")
    assert "Waiting for your decision: 1" in said and "Everyone today" in said
    assert "Reports: 0 of 2 filed · 0 late · 2 missing" in said
    assert "Visits: 2 · orders: 2 (8,977.00) · collected: 1,466.00" in said
    await mia.send("/visit Acme: with Li")  # a manager's own visit shows as theirs
    assert "Your own: visits 1 · orders 0 (0.00) · collected 0.00" in await mia.says("/today")
    assert "Your role does not allow this." in await harness.person(6001, "Fay").says("/today")


async def test_a_long_day_fits_one_message(harness: Harness) -> None:
    """Forty customers, twenty visited today and the rest due, names of 190 characters of markup, CJK
    and emoji: one message within Telegram's limit, each list cut to what fits, the counts whole."""
    people = await company(harness, joined=harness.clock.now() - timedelta(days=7))
    now = harness.clock.now()
    name = "長い名前 <i>&amp;</i> 🙂" * 8  # 200 characters of markup, CJK and emoji
    async with harness.db.transaction() as session:
        for n in range(40):
            customer = Customer(
                code=f"L{n:03d}",
                name=f"{name[:190]}{n}",
                grade="A",
                rep_id=people.rep.id,
                team_id=people.north.id,
                created_at=now - timedelta(days=7),
                last_visit_at=now if n < 20 else None,
            )
            session.add(customer)
            await session.flush()
            if n < 20:
                session.add(
                    Visit(
                        rep_id=people.rep.id,
                        customer_id=customer.id,
                        visited_at=now,
                        kind=VisitKind.CALL,
                        notes="x",
                        source_key=f"long:{n}",
                        created_at=now,
                    )
                )
    day = (await harness.person(2001, "Li").send("/today"))[0]
    assert len((day.text or "").encode("utf-16-le")) // 2 <= 4096
    said = day.plain_text()
    assert "Visits: 20" in said and "Due for a visit: 21" in said and "more /visit" in said
    assert "<i>&amp;</i>" in said  # shown as typed
    # the two report buttons, five customers to visit, the three latest visits to ✏️ Edit
    assert len(day.button_texts()) == 2 + 5 + 3
