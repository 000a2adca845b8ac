"""/overdue through the fake Bot API: scopes, figures, paging, promises to pay and disputes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import event, select, update

from bot.devserver.formatting import parse_text
from bot.i18n import Translator
from bot.services.errors import Invalid
from bot.services.field.customers import CustomerRef
from bot.services.money.overdue import (
    INVOICES_PER_PAGE,
    PER_PAGE,
    CustomerOverdue,
    OverdueCustomer,
    OverdueInvoice,
    OverduePage,
    customer_overdue,
    overdue_by_customer,
    parse_promise,
)
from bot.services.people.access import Caller
from handlers.money.overdue import render_customer, render_list
from jobs.runner import run_job
from models import AuditLog, Customer, Receivable, ReceivableSource, Role, User
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness
from tests.test_jobs import local

TODAY = date(2026, 11, 23)


def overdue_by(days: int) -> dict[str, date]:
    return {"issued_on": TODAY - timedelta(days=days + 30), "due_on": TODAY - timedelta(days=days)}


@dataclass
class Books:
    people: Company
    wang: User  # a second North rep
    invoices: dict[str, Receivable]


async def books(harness: Harness) -> Books:
    """North: Li Wei's Acme and Beta, Wang Fang's Delta; South: Bob's South Shop.

    Overdue (open, due before today): Acme 1,000 (10 days) + 2,000 (40 days) = 3,000;
    Beta 5,000 less 1,000 paid = 4,000 (5 days); Delta 3,500 (70 days); South Shop 9,000 (20 days).
    Not overdue: Acme's 500 due today, Gamma's invoice fully paid.
    """
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        wang = factories.user(session, 2003, "Wang Fang", Role.REP, people.north, now)
        wang.username = "wang_fang"
    acme = await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)
    beta = await factories.customer(harness.db, now, name="Beta & Sons", code="BET", rep=people.rep)
    gamma = await factories.customer(harness.db, now, name="Gamma", code="GAM", rep=people.rep)
    delta = await factories.customer(harness.db, now, name="Delta Depot", code="DEL", rep=wang)
    south = await factories.customer(harness.db, now, name="South Shop", code="SOU", rep=people.other_rep)
    invoices = {}
    for name, customer, amount, days in (
        ("A-10", acme, "1000.00", 10),
        ("A-40", acme, "2000.00", 40),
        ("A-NOW", acme, "500.00", 0),
        ("B-5", beta, "5000.00", 5),
        ("G-30", gamma, "700.00", 30),
        ("D-70", delta, "3500.00", 70),
        ("S-20", south, "9000.00", 20),
    ):
        invoices[name] = await factories.receivable(
            harness.db, now, customer=customer, amount=amount, invoice_no=name, **overdue_by(days)
        )
    await factories.payment(harness.db, now, receivable=invoices["B-5"], amount="1000.00", rep=people.rep)
    await factories.payment(harness.db, now, receivable=invoices["G-30"], amount="700.00", rep=people.rep)
    return Books(people, wang, invoices)


async def set_columns(harness: Harness, invoice_no: str, **values: object) -> None:
    async with harness.db.transaction() as session:
        await session.execute(update(Receivable).where(Receivable.invoice_no == invoice_no).values(**values))


async def receivable(harness: Harness, invoice_no: str) -> Receivable:
    async with harness.db.reading() as session:
        return await session.scalar(select(Receivable).where(Receivable.invoice_no == invoice_no))


async def audits(harness: Harness, action: str) -> list[AuditLog]:
    async with harness.db.reading() as session:
        return list(
            await session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )


def order_of(text: str, *names: str) -> list[int]:
    return [text.index(name) for name in names]


async def test_each_role_sees_its_scope_largest_first(harness: Harness) -> None:
    await books(harness)
    await set_columns(harness, "A-40", followup_level=3)
    await set_columns(harness, "A-10", followup_level=1)
    await set_columns(harness, "B-5", promise_date=TODAY + timedelta(days=7), promise_amount=Decimal("1500"))
    await set_columns(harness, "D-70", disputed=True, followup_level=4)

    rep = await harness.person(2001, "Li").says("/overdue")
    assert "Your overdue receivables" in rep
    assert "7,000.00 on 3 invoices of 2 customers" in rep
    assert rep.index("Beta & Sons") < rep.index("Acme Trading")
    assert "Delta" not in rep and "South" not in rep and "Gamma" not in rep
    assert (
        "1. Beta & Sons (BET)\n    4,000.00 · invoices: 1 · 5 days overdue · promised 1,500.00 by 2026-11-30"
    ) in rep
    assert "2. Acme Trading (ACM)\n    3,000.00 · invoices: 2 · 40 days overdue · level 3" in rep

    manager = await harness.person(5001, "Mia").says("/overdue")
    assert "Your team's overdue receivables" in manager
    assert "10,500.00 on 4 invoices of 3 customers" in manager
    positions = order_of(manager, "Beta & Sons", "Delta Depot", "Acme Trading")
    assert positions == sorted(positions) and "South" not in manager
    assert (
        "Delta Depot (DEL) · Wang Fang\n    3,500.00 · invoices: 1 · 70 days overdue · level 4 · "
        "⚠️ disputed 3,500.00"
    ) in manager

    for telegram_id in (7001, 6001):  # the director and finance see every team
        everyone = await harness.person(telegram_id, "X").says("/overdue")
        assert "19,500.00 on 5 invoices of 4 customers" in everyone
        positions = order_of(everyone, "South Shop", "Beta & Sons", "Delta Depot", "Acme Trading")
        assert positions == sorted(positions)
        assert "South Shop (SOU) · Bob South\n    9,000.00 · invoices: 1 · 20 days overdue" in everyone


async def test_filter_by_rep_or_customer_within_scope(harness: Harness) -> None:
    data = await books(harness)
    manager = harness.person(5001, "Mia")
    by_name = await manager.says("/overdue Wang Fang")
    assert "carried by Wang Fang" in by_name and "Delta Depot" in by_name and "Acme" not in by_name
    assert "carried by Wang Fang" in await manager.says("/overdue @WANG_FANG")
    assert "carried by Li Wei" in await manager.says("/overdue li wei")
    assert "Nobody matches @nobody." in await manager.says("/overdue @nobody")
    assert "No customer or rep matches Bob South." in await manager.says("/overdue Bob South")

    acme = await manager.send("/overdue acm")
    text = acme[0].plain_text()
    assert text.startswith("Acme Trading (ACM) · Li Wei\nOverdue: 3,000.00 on 2 invoices, oldest first.")
    assert text.index("A-40 · due 2026-10-14 · 40 days overdue") < text.index("A-10 · due 2026-11-13")
    assert "open 2,000.00 of 2,000.00" in text and "A-NOW" not in text
    assert acme[0].button_texts() == [
        "🤝 Promise · A-40",
        "⚖️ Dispute · A-40",
        "🤝 Promise · A-10",
        "⚖️ Dispute · A-10",
    ]

    rep = harness.person(2001, "Li")
    assert "No customer matches South Shop" in await rep.says("/overdue South Shop")
    assert "No customer matches Wang Fang" in await rep.says("/overdue Wang Fang")
    mine = (await rep.send("/overdue Acme"))[0]
    assert mine.button_texts() == ["🤝 Promise · A-40", "🤝 Promise · A-10"]  # reps do not dispute
    finance = (await harness.person(6001, "Fay").send("/overdue South Shop"))[0]
    assert finance.button_texts() == ["⚖️ Dispute · S-20"]  # finance does not record promises
    # A forged page button for another team's rep is refused.
    forged = harness.api.callback(5001, manager.last.message_id, f"due:rep:{data.people.other_rep.id}:1")
    await harness.settle(forged)
    assert manager.last.plain_text() == "That person is not in your team."


async def test_nothing_overdue(harness: Harness) -> None:
    data = await books(harness)
    await factories.payment(
        harness.db, harness.clock.now(), receivable=data.invoices["D-70"], amount="3500.00", rep=data.wang
    )
    assert await harness.person(2003, "Wang").says("/overdue") == "Nothing is overdue. 👍"
    assert await harness.person(5001, "Mia").says("/overdue Wang Fang") == "Nothing overdue for Wang Fang."


async def test_five_hundred_invoices_page_within_the_limit(harness: Harness) -> None:
    """460 invoices over 115 customers with long, markup-laden names, and 40 on one customer."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    expected: dict[str, Decimal] = {}
    async with harness.db.transaction() as session:
        shops = [
            Customer(
                code=f"K{n:03d}",
                name=f"<Shop & Co> {n:03d} " + "长名字" * 60,
                grade="C",
                rep_id=people.rep.id,
                team_id=people.north.id,
                created_at=now,
            )
            for n in range(115)
        ]
        big = Customer(
            code="BIG",
            name="Big Buyer",
            grade="A",
            rep_id=people.rep.id,
            team_id=people.north.id,
            created_at=now,
        )
        session.add_all([*shops, big])
        await session.flush()
        for n, shop in enumerate(shops):
            for k in range(4):
                amount = Decimal(1000 + n * 10 + k).quantize(Decimal("0.01"))
                session.add(
                    Receivable(
                        invoice_no=f"INV-{n:03d}-{k}",
                        customer_id=shop.id,
                        rep_id=people.rep.id,
                        amount=amount,
                        source=ReceivableSource.IMPORT,
                        created_at=now,
                        **overdue_by(1 + n + k),
                    )
                )
                expected[shop.code] = expected.get(shop.code, Decimal(0)) + amount
        for k in range(40):
            session.add(
                Receivable(
                    invoice_no=f"BIG-{k:02d}-" + "X" * 40,
                    customer_id=big.id,
                    rep_id=people.rep.id,
                    amount=Decimal("100.00"),
                    source=ReceivableSource.IMPORT,
                    created_at=now,
                    **overdue_by(100 - k),
                )
            )
        expected["BIG"] = Decimal("4000.00")

    director = harness.person(7001, "Dee")
    message = (await director.send("/overdue"))[0]
    seen: list[tuple[str, Decimal]] = []
    line = re.compile(r"\((K\d{3}|BIG)\)(?: · Li Wei)?\n    ([\d,]+\.\d\d)")
    for page in range(1, 13):
        text = message.plain_text()
        assert len(text) < 4096
        assert f"{page}/12" in message.button_texts()
        seen += [(code, Decimal(amount.replace(",", ""))) for code, amount in line.findall(text)]
        if page < 12:
            message = (await director.press("Next ›"))[0]
    largest_first = sorted(expected, key=lambda code: (-expected[code], code))
    assert [code for code, _ in seen] == largest_first
    assert dict(seen) == expected  # every customer reached once, with its total
    assert "Next ›" not in message.button_texts()

    big_view = (await director.send("/overdue Big Buyer"))[0]
    invoices: list[str] = []
    for page in range(1, 6):
        text = big_view.plain_text()
        assert len(text) < 4096
        invoices += re.findall(r"• (BIG-\d\d)-X+", text)
        if page < 5:
            big_view = (await director.press("Next ›", message_id=big_view.message_id))[0]
    assert invoices == [f"BIG-{k:02d}" for k in range(40)]  # oldest first, each once

    # However many invoices, a page is a fixed handful of aggregate queries.
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(harness.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with harness.db.reading() as session:
            caller = Caller.of(people.director, "en")
            listing = await overdue_by_customer(session, caller, today=TODAY, page=7)
            invoices_view = await customer_overdue(session, caller, big.id, today=TODAY, page=2)
    finally:
        event.remove(harness.db.engine.sync_engine, "before_cursor_execute", count)
    assert len(listing.items) == PER_PAGE and len(invoices_view.items) == INVOICES_PER_PAGE
    selects = [
        statement for statement in statements if statement.lstrip().upper().startswith(("SELECT", "WITH"))
    ]
    # list: the rollup's day, then one statement (the page and the totals); invoices: customer,
    # totals, page, rep's name
    assert len(selects) == 6, [statement[:60] for statement in selects]
    async with harness.db.reading() as session:  # a stale button for a page that no longer exists
        beyond = await overdue_by_customer(session, caller, today=TODAY, page=50)
        nothing = await overdue_by_customer(session, caller, today=TODAY - timedelta(days=400))
    assert (beyond.page, beyond.pages, beyond.customers, beyond.invoices) == (12, 12, 116, 500)
    assert [item.customer.code for item in beyond.items] == [code for code, _ in seen[-len(beyond.items) :]]
    assert (nothing.items, nothing.page, nothing.pages, nothing.customers, nothing.total) == ([], 1, 1, 0, 0)


async def test_promise_from_the_followup_push_pauses_escalation(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="华东五金店", code="HD", rep=people.rep)
    await factories.receivable(
        harness.db, now, customer=shop, amount="2000.00", invoice_no="OLD", **overdue_by(40)
    )
    young = await factories.receivable(
        harness.db, now, customer=shop, amount="800.00", invoice_no="YOUNG", **overdue_by(14)
    )
    await factories.payment(harness.db, now, receivable=young, amount="300.00", rep=people.rep)
    rep = harness.person(2001, "Li")
    harness.person(5001, "Mia")
    await run_job(harness.db, "overdue_followup", local(TODAY, 9, 0), ZONE)
    await harness.deliver_pushes()
    push = harness.api.last(2001)
    assert push.button_texts() == ["🤝 Promise to pay · OLD", "🤝 Promise to pay · YOUNG"]  # level 3 first

    asked = (await rep.press("🤝 Promise to pay · YOUNG"))[0].plain_text()
    assert "Promise to pay on invoice YOUNG (华东五金店 (HD)), 500.00 open." in asked
    assert "2026-11-30 5000" in asked
    for typed, why in (
        ("2026-11-20 100", "The promised date 2026-11-20 has passed"),
        ("2026-11-26 600", "600.00 is more than the 500.00 still open on invoice YOUNG."),
        ("some day soon", "Write the date and the amount"),
        ("2026-02-30 100", "2026-02-30 is not a date."),
    ):
        said = await rep.says(typed)
        assert why in said and "Try again, or send /cancel to stop." in said
    assert (await receivable(harness, "YOUNG")).promise_date is None

    said = await rep.says("11/26 ¥400")
    assert "Promise recorded: 华东五金店 (HD) will pay 400.00 on invoice YOUNG by 2026-11-26." in said
    promised = await receivable(harness, "YOUNG")
    assert (promised.promise_date, promised.promise_amount) == (date(2026, 11, 26), Decimal("400.00"))
    (logged,) = await audits(harness, "promise_to_pay")
    assert logged.actor_id == people.rep.id and logged.entity_id == young.id
    assert logged.after == {"promise_date": "2026-11-26", "promise_amount": "400.00"}
    assert "I didn't understand" in await rep.says("2026-11-27 100")  # the flow is over

    # Tuesday YOUNG is 15 days overdue (level 2) but promised: no push. After the date, it escalates.
    tuesday = local(TODAY + timedelta(days=1), 9, 0)
    harness.clock.set(tuesday)
    assert (await run_job(harness.db, "overdue_followup", tuesday, ZONE)).pushes == 0
    friday = local(TODAY + timedelta(days=4), 9, 0)
    harness.clock.set(friday)
    assert (await run_job(harness.db, "overdue_followup", friday, ZONE)).pushes == 1
    await harness.deliver_pushes()
    assert "• YOUNG · 华东五金店" in harness.api.last(2001).plain_text()

    # The date alone promises all that is open; /overdue shows the promise.
    harness.clock.set(local(TODAY, 9, 0))
    await rep.send("/overdue HD")
    await rep.press("🤝 Promise · OLD")
    assert "will pay 2,000.00 on invoice OLD by 2026-12-05" in await rep.says("2026-12-05")
    listing = await rep.says("/overdue")
    # both promises: 400.00 by 2026-11-26 and 2,000.00 by 2026-12-05
    assert "2,500.00 · invoices: 2 · 40 days overdue · level 3 · promised 2,400.00 by 2026-12-05" in listing
    assert len(await audits(harness, "promise_to_pay")) == 2


async def test_who_may_promise_and_dispute(harness: Harness) -> None:
    data = await books(harness)
    acme_old = data.invoices["A-40"].id
    other = harness.person(2002, "Bob")
    await other.send("/overdue")
    for forged, refusal in (
        (f"due:promise:{acme_old}", "Only the invoice's rep, their manager"),
        (f"due:dispute:{acme_old}", "Only the team's manager, finance"),
    ):
        await harness.settle(harness.api.callback(2002, other.last.message_id, forged))
        assert refusal in other.last.plain_text()
    rep = harness.person(2001, "Li")
    await rep.send("/overdue")
    await harness.settle(harness.api.callback(2001, rep.last.message_id, f"due:undispute:{acme_old}"))
    assert "Only the team's manager, finance" in rep.last.plain_text()
    assert await audits(harness, "dispute") == [] and await audits(harness, "promise_to_pay") == []

    # The manager may promise for their team's customers, not for another team's.
    manager = harness.person(5001, "Mia")
    await manager.send("/overdue Acme")
    await manager.press("🤝 Promise · A-40")
    assert "Promise recorded" in await manager.says("2026-12-01 500")
    south = data.invoices["S-20"].id
    await harness.settle(harness.api.callback(5001, manager.last.message_id, f"due:promise:{south}"))
    assert "Only the invoice's rep, their manager" in manager.last.plain_text()


async def test_dispute_and_undispute(harness: Harness) -> None:
    data = await books(harness)
    manager = harness.person(5001, "Mia")
    await manager.send("/overdue Acme")
    asked = (await manager.press("⚖️ Dispute · A-40"))[0].plain_text()
    assert asked.startswith("Why is invoice A-40 (Acme Trading (ACM)) disputed?")
    assert await manager.says("/cancel") == "Stopped: nothing was recorded."
    assert (await receivable(harness, "A-40")).disputed is False

    await manager.send("/overdue Acme")
    await manager.press("⚖️ Dispute · A-40")
    said = await manager.says("customer says goods <damaged> & returned")
    assert "Invoice A-40 (Acme Trading (ACM)) is marked disputed" in said
    assert (await receivable(harness, "A-40")).disputed is True
    (logged,) = await audits(harness, "dispute")
    assert logged.actor_id == data.people.manager.id
    assert logged.after == {"disputed": True, "reason": "customer says goods <damaged> & returned"}
    view = (await manager.send("/overdue Acme"))[0]
    assert "⚠️ disputed" in view.plain_text()
    assert "Undispute · A-40" in view.button_texts()

    # Disputed invoices are left out of the follow-up pushes.
    for telegram_id in (2001, 2002, 2003, 7001):
        harness.person(telegram_id, "X")
    await run_job(harness.db, "overdue_followup", local(TODAY, 9, 0), ZONE)
    await harness.deliver_pushes()
    assert "A-40" not in harness.api.last(2001).plain_text()

    finance = harness.person(6001, "Fay")
    await finance.send("/overdue Acme")
    said = await finance.press("Undispute · A-40")
    assert "Invoice A-40 (Acme Trading (ACM)) is no longer disputed" in said[-1].plain_text()
    assert (await receivable(harness, "A-40")).disputed is False
    (lifted,) = await audits(harness, "undispute")
    assert lifted.actor_id == data.people.finance.id
    again = harness.api.press(6001, "Undispute · A-40")
    await harness.settle(again)
    answer = harness.api.callback_answers[again["callback_query"]["id"]]
    assert answer["text"] == "Invoice A-40 is not disputed."
    assert len(await audits(harness, "undispute")) == 1


async def test_in_chinese(harness: Harness) -> None:
    data = await books(harness)
    async with harness.db.transaction() as session:
        (await session.get_one(User, data.people.manager.id)).language = "zh"
    said = await harness.person(5001, "Mia", language_code="zh").says("/overdue")
    assert "逾期" in said and "Beta &amp;" not in said and "Beta & Sons" in said


# -- the promise parser -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05 5000", (date(2026, 12, 5), Decimal("5000.00"))),
        ("5,000.50 2026/12/5", (date(2026, 12, 5), Decimal("5000.50"))),
        ("2026年12月5日 1.5万", (date(2026, 12, 5), Decimal("15000.00"))),
        ("12月5日", (date(2026, 12, 5), None)),
        ("11-23 100", (date(2026, 11, 23), Decimal("100.00"))),  # today
        ("11-22 100", (date(2027, 11, 22), Decimal("100.00"))),  # a short date is the next one
        ("２０２６－１２－０５ ５０００", (date(2026, 12, 5), Decimal("5000.00"))),
        ("¥ 300 2026.12.01", (date(2026, 12, 1), Decimal("300.00"))),
    ],
)
def test_parse_promise(text: str, expected: tuple[date, Decimal | None]) -> None:
    assert parse_promise(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    ["", "5000", "2026-12-05 2026-12-06", "2026-13-01 5", "next fortnight", "2026-12-05 -5", "2026-12-05 0"],
)
def test_parse_promise_refuses(text: str) -> None:
    with pytest.raises(Invalid):
        parse_promise(text, TODAY)


@given(
    st.dates(min_value=TODAY, max_value=TODAY + timedelta(days=366)),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999"), places=2),
    st.booleans(),
)
def test_parse_promise_reads_back_what_it_is_given(day: date, amount: Decimal, amount_first: bool) -> None:
    parts = [day.isoformat(), f"{amount:,.2f}"]
    text = " ".join(reversed(parts) if amount_first else parts)
    assert parse_promise(text, TODAY) == (day, amount)


@given(st.text(max_size=40))
def test_parse_promise_says_why_or_reads(text: str) -> None:
    try:
        day, amount = parse_promise(text, TODAY)
    except Invalid:
        return
    assert isinstance(day, date) and (amount is None or amount > 0)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_page_of_the_longest_possible_lines_fits_a_message(language: str) -> None:
    """Every field at its column's width, full of characters HTML must escape: still one message."""
    t = Translator(language)
    caller = Caller(1, 1, "Dee", Role.DIRECTOR, None, language)
    most = Decimal("9999999999.99")
    items = [
        OverdueCustomer(
            CustomerRef(n, "&" * 40, "<&>" * 67, "A"),
            "&" * 120,
            most,
            99999,
            99999,
            4,
            date(2027, 11, 23),
            most,
            most,
        )
        for n in range(PER_PAGE)
    ]
    listing = OverduePage(items, 99999, 99999, 999999, 999999, most, None)
    assert len(parse_text(render_list(t, caller, listing, PER_PAGE), "HTML").text) < 4096
    invoices = [
        OverdueInvoice(n, "#" * 60, TODAY, TODAY, most, most, 99999, 4, True, TODAY, most)
        for n in range(INVOICES_PER_PAGE)
    ]
    view = CustomerOverdue(CustomerRef(1, "&" * 40, "<&>" * 67, "A"), "&" * 120, invoices, 1, 1, 999999, most)
    assert len(parse_text(render_customer(t, view), "HTML").text) < 4096
