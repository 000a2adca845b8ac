"""/summary, /team, /missing, /rep: every figure checked against plain Python over the data written."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import event, select, update

from bot.db import Database
from models import (
    DEFAULT_GRADE_POLICY,
    Allocation,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Collection,
    Customer,
    CustomerStatus,
    DailyReport,
    Outbox,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Role,
    Team,
    User,
    Visit,
    VisitKind,
)
from tests import factories
from tests.conftest import ZONE
from tests.factories import Company
from tests.harness import Harness, Person

#: Thursday 26 November 2026, 15:00 local: "week" is Mon 23 – Thu 26, "month" 1 – 26 November.
THURSDAY = datetime(2026, 11, 26, 15, 0, tzinfo=ZONE)
TODAY = THURSDAY.date()
EVERY = {grade: every for grade, (every, _days, _limit) in DEFAULT_GRADE_POLICY.items()}
METHOD_NAMES = {
    PaymentMethod.CASH: "cash",
    PaymentMethod.TRANSFER: "transfer",
    PaymentMethod.CHEQUE: "cheque",
    PaymentMethod.WECHAT: "WeChat Pay",
    PaymentMethod.ALIPAY: "Alipay",
    PaymentMethod.CARD: "card",
}
#: Paid into the company's account: stored handed in, never held by the rep.
ELECTRONIC = (PaymentMethod.TRANSFER, PaymentMethod.WECHAT, PaymentMethod.ALIPAY, PaymentMethod.CARD)
_keys = count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# -- the company, in the database and in plain Python --------------------------------------------


@dataclass
class Rep:
    id: int
    telegram_id: int
    name: str
    team: str
    joined: date


@dataclass
class Cust:
    id: int
    rep_id: int
    team: str
    grade: str
    status: CustomerStatus
    created_at: datetime
    registered: bool  # through /newcustomer (source_key set)


@dataclass
class World:
    people: Company
    reps: list[Rep] = field(default_factory=list)
    customers: list[Cust] = field(default_factory=list)
    #: (rep, customer, at, kind)
    visits: list[tuple[int, int, datetime, VisitKind]] = field(default_factory=list)
    #: (rep, customer, at) of the visits flagged far from the customer
    far_visits: set[tuple[int, int, datetime]] = field(default_factory=set)
    receivables: list[dict[str, Any]] = field(default_factory=list)
    allocated: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    collections: list[dict[str, Any]] = field(default_factory=list)
    reports: list[tuple[int, date, datetime, bool]] = field(default_factory=list)  # rep, day, at, late
    approvals: list[tuple[int, ApprovalStatus]] = field(default_factory=list)

    def rep(self, name: str) -> Rep:
        return next(rep for rep in self.reps if rep.name == name)


async def build(db: Database, seed: int = 7) -> World:
    """2 teams, 5 reps, six weeks of visits, orders, collections and reports, overdue invoices."""
    rng = random.Random(seed)
    start_of_time = local(date(2026, 9, 1), 9)
    people = await factories.company(db, start_of_time)
    world = World(people)
    async with db.transaction() as session:
        north, south = people.north, people.south
        extra = [
            factories.user(session, 2003, "Zhang San", Role.REP, north, start_of_time),
            factories.user(session, 2004, "Wang Fang", Role.REP, north, start_of_time),
            factories.user(session, 2005, "Chen Jie", Role.REP, south, start_of_time),
        ]
        await session.flush()
        # Wang Fang joined mid-month: reports are expected of her from 10 November only.
        extra[1].created_at = local(date(2026, 11, 10), 10)
        for user, team in (
            (people.rep, "North"),
            (people.other_rep, "South"),
            (extra[0], "North"),
            (extra[1], "North"),
            (extra[2], "South"),
        ):
            world.reps.append(
                Rep(user.id, user.telegram_id, user.name, team, user.created_at.astimezone(ZONE).date())
            )
        team_ids = {"North": north.id, "South": south.id}
        for rep in world.reps:
            for n, grade in enumerate("AABBCCDD"):
                status = CustomerStatus.INACTIVE if n == 7 else CustomerStatus.ACTIVE
                row = Customer(
                    code=f"K{rep.id}-{n}",
                    name=f"{rep.name} shop {n}",
                    grade=grade,
                    rep_id=rep.id,
                    team_id=team_ids[rep.team],
                    status=status,
                    created_at=start_of_time,
                )
                session.add(row)
                await session.flush()
                world.customers.append(Cust(row.id, rep.id, rep.team, grade, status, row.created_at, False))
            # New customers: registered prospects this month and last, one imported prospect, one
            # imported active customer (not new), one registered prospect activated since.
            for created, status, registered in (
                (local(date(2026, 11, 24), 11), CustomerStatus.PROSPECT, True),
                (local(date(2026, 11, 5), 11), CustomerStatus.PROSPECT, False),
                (local(date(2026, 11, 12), 11), CustomerStatus.ACTIVE, False),
                (local(date(2026, 11, 25), 16), CustomerStatus.ACTIVE, True),
                (local(date(2026, 10, 20), 11), CustomerStatus.PROSPECT, True),
            ):
                row = Customer(
                    code=f"P{rep.id}-{next(_keys)}",
                    name=f"{rep.name} prospect",
                    grade="C",
                    rep_id=rep.id,
                    team_id=team_ids[rep.team],
                    status=status,
                    created_at=created,
                    source_key=f"msg:{next(_keys)}" if registered else None,
                )
                session.add(row)
                await session.flush()
                world.customers.append(Cust(row.id, rep.id, rep.team, "C", status, created, registered))

        for rep in world.reps:
            mine = [c for c in world.customers if c.rep_id == rep.id and c.status != CustomerStatus.INACTIVE]
            for day in days(date(2026, 9, 20), TODAY):
                if day.isoweekday() == 7 or rng.random() < 0.35:
                    continue
                for _ in range(rng.randint(1, 3)):
                    customer = rng.choice(mine)
                    at = local(day, rng.randint(8, 14 if day == TODAY else 20), rng.randint(0, 59))
                    if customer.created_at > at:
                        continue
                    kind = rng.choice(list(VisitKind))
                    far = rng.random() < 0.1
                    session.add(
                        Visit(
                            rep_id=rep.id,
                            customer_id=customer.id,
                            visited_at=at,
                            kind=kind,
                            notes=f"note {next(_keys)}\nsecond line",
                            far_away=far,
                            source_key=f"v:{next(_keys)}",
                            created_at=at,
                        )
                    )
                    world.visits.append((rep.id, customer.id, at, kind))
                    if far:
                        world.far_visits.add((rep.id, customer.id, at))
        # One visit to a colleague's customer: the visitor's activity, the customer's coverage.
        colleague = next(c for c in world.customers if c.rep_id == world.reps[2].id and c.grade == "A")
        cross = local(date(2026, 11, 24), 9, 15)
        session.add(
            Visit(
                rep_id=world.reps[0].id,
                customer_id=colleague.id,
                visited_at=cross,
                kind=VisitKind.VISIT,
                source_key=f"v:{next(_keys)}",
                created_at=cross,
            )
        )
        world.visits.append((world.reps[0].id, colleague.id, cross, VisitKind.VISIT))

        receivables: list[Receivable] = []
        for rep in world.reps:
            mine = [
                c
                for c in world.customers
                if c.rep_id == rep.id
                and c.status == CustomerStatus.ACTIVE
                and c.created_at < local(date(2026, 10, 1), 0)
            ]
            for n in range(14):
                customer = rng.choice(mine)
                issued = TODAY - timedelta(days=rng.randint(0, 150))
                source = ReceivableSource.ORDER if n % 3 else ReceivableSource.IMPORT
                amount = Decimal(rng.randint(100, 90000)) + Decimal(rng.randint(0, 99)) / 100
                row = Receivable(
                    invoice_no=f"INV-{next(_keys)}",
                    customer_id=customer.id,
                    rep_id=rep.id,
                    amount=amount,
                    issued_on=issued,
                    due_on=issued + timedelta(days=30),
                    source=source,
                    disputed=n == 5,
                    created_at=local(issued, rng.randint(8, 14 if issued == TODAY else 18)),
                    source_key=f"r:{next(_keys)}",
                )
                session.add(row)
                receivables.append(row)
        await session.flush()
        for row in receivables:
            world.receivables.append(
                {
                    "id": row.id,
                    "customer_id": row.customer_id,
                    "rep_id": row.rep_id,
                    "amount": row.amount,
                    "issued_on": row.issued_on,
                    "due_on": row.due_on,
                    "source": row.source,
                    "created_at": row.created_at,
                }
            )

        async def collect(
            rep_id: int,
            receivable: dict[str, Any] | None,
            amount: Decimal,
            method: PaymentMethod,
            at: datetime,
            handed_in: bool,
            reverses: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            customer_id = receivable["customer_id"] if receivable else reverses["customer_id"]  # type: ignore[index]
            row = Collection(
                rep_id=rep_id,
                customer_id=customer_id,
                amount=amount,
                method=method,
                received_at=at,
                handed_in_at=at if handed_in else None,
                reverses_id=reverses["id"] if reverses else None,
                recorded_by=rep_id,
                source_key=f"c:{next(_keys)}",
                created_at=at,
            )
            session.add(row)
            await session.flush()
            target = receivable or reverses["receivable"]  # type: ignore[index]
            session.add(Allocation(collection_id=row.id, receivable_id=target["id"], amount=amount))
            world.allocated[target["id"]] += amount
            record = {
                "id": row.id,
                "rep_id": rep_id,
                "customer_id": customer_id,
                "amount": amount,
                "method": method,
                "received_at": at,
                "handed_in": handed_in,
                "reverses_id": reverses["id"] if reverses else None,
                "receivable": target,
            }
            world.collections.append(record)
            return record

        for rep in world.reps:
            theirs = [r for r in world.receivables if r["rep_id"] == rep.id]
            for _ in range(10):
                receivable = rng.choice(theirs)
                left = receivable["amount"] - world.allocated[receivable["id"]]
                if left <= 0:
                    continue
                amount = min(left, Decimal(rng.randint(50, 20000)))
                day = TODAY - timedelta(days=rng.randint(0, 40))
                at = local(day, rng.randint(8, 14 if day == TODAY else 19))
                method = rng.choice(list(PaymentMethod))
                await collect(
                    rep.id,
                    receivable,
                    amount,
                    method,
                    at,
                    handed_in=method in ELECTRONIC or rng.random() < 0.5,
                )
        # A cash collection this week, reversed the next day: neither counts, nor is it held.
        wrong = await collect(
            world.reps[0].id,
            world.receivables[1],
            Decimal("777.00"),
            PaymentMethod.CASH,
            local(date(2026, 11, 24), 10),
            handed_in=False,
        )
        await collect(
            world.reps[0].id,
            None,
            Decimal("-777.00"),
            PaymentMethod.CASH,
            local(date(2026, 11, 25), 9),
            handed_in=True,
            reverses=wrong,
        )

        for rep in world.reps:
            for day in days(max(date(2026, 10, 20), rep.joined), TODAY):
                if day == TODAY:  # Li Wei and Bob South have reported today, the others not
                    if rep.name not in ("Li Wei", "Bob South"):
                        continue
                elif day.isoweekday() == 7 and rng.random() < 0.7:
                    continue  # a Sunday report now and then: not expected, not counted
                elif rng.random() < 0.2:
                    continue
                late = rng.random() < 0.25
                at = local(day, 19 if late else 18, rng.randint(0, 59))
                if day == TODAY:
                    at, late = local(day, 13, 5), False
                session.add(
                    DailyReport(
                        rep_id=rep.id,
                        day=day,
                        summary="",
                        submitted_at=at,
                        late=late,
                        source_key=f"d:{next(_keys)}",
                    )
                )
                world.reports.append((rep.id, day, at, late))

        pending, approved = ApprovalStatus.PENDING, ApprovalStatus.APPROVED
        for rep, status in (
            (world.reps[0], pending),
            (world.reps[2], pending),
            (world.reps[2], approved),
            (world.reps[1], pending),
        ):
            customer = next(c for c in world.customers if c.rep_id == rep.id)
            session.add(
                Approval(
                    kind=ApprovalKind.DISCOUNT,
                    requested_by=rep.id,
                    customer_id=customer.id,
                    payload={},
                    status=status,
                    created_at=local(date(2026, 11, 25), 10),
                    source_key=f"a:{next(_keys)}",
                )
            )
            world.approvals.append((rep.id, status))
    return world


# -- the expected figures, computed in Python ----------------------------------------------------


@dataclass(frozen=True)
class View:
    """Whose figures: reps by id and customers by rep."""

    rep_ids: frozenset[int]
    teams: frozenset[str]


def view_of(world: World, *teams: str) -> View:
    return View(frozenset(r.id for r in world.reps if r.team in teams), frozenset(teams))


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def working(day: date) -> bool:
    return day.isoweekday() != 7


def bucket(due_on: date) -> str:
    late = (TODAY - due_on).days
    if late <= 0:
        return "current"
    return "1-30" if late <= 30 else "31-60" if late <= 60 else "61-90" if late <= 90 else "90+"


def is_order(receivable: dict[str, Any]) -> bool:
    return bool(receivable["source"] == ReceivableSource.ORDER)


def standing(world: World, collection: dict[str, Any]) -> bool:
    reversed_ids = {c["reverses_id"] for c in world.collections if c["reverses_id"]}
    return collection["reverses_id"] is None and collection["id"] not in reversed_ids


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    at = moment.astimezone(ZONE)
    return f"{at:%H:%M}" if at.date() == TODAY else f"{at:%m-%d %H:%M}"


def rep_lines(world: World, view: View, first: date, last: date, with_team: bool) -> dict[str, str]:
    until = min(last, TODAY)
    lines = {}
    for rep in world.reps:
        if rep.id not in view.rep_ids:
            continue
        visits = [v for v in world.visits if v[0] == rep.id and first <= local_day(v[2]) <= last]
        orders = [
            r
            for r in world.receivables
            if r["rep_id"] == rep.id and is_order(r) and first <= r["issued_on"] <= last
        ]
        collected = sum(
            (
                c["amount"]
                for c in world.collections
                if c["rep_id"] == rep.id
                and standing(world, c)
                and first <= local_day(c["received_at"]) <= last
            ),
            Decimal(0),
        )
        expected_days = [d for d in days(max(first, rep.joined), until) if working(d)]
        reports = [r for r in world.reports if r[0] == rep.id and r[1] in expected_days]
        moments = (
            [v[2] for v in world.visits if v[0] == rep.id]
            + [
                r["created_at"]
                for r in world.receivables
                if r["rep_id"] == rep.id and r["source"] == ReceivableSource.ORDER
            ]
            + [c["received_at"] for c in world.collections if c["rep_id"] == rep.id]
            + [r[2] for r in world.reports if r[0] == rep.id]
        )
        team = f" ({rep.team})" if with_team else ""
        customers = len({v[1] for v in visits})
        plural = "" if customers == 1 else "s"
        lines[rep.name] = (
            f"• {rep.name}{team} — visits {len(visits)} ({customers} customer{plural}) · "
            f"orders {money(sum((o['amount'] for o in orders), Decimal(0)))} · "
            f"collected {money(collected)} · "
            f"reports {len(reports)}/{len(expected_days)} · last {when(max(moments, default=None))}"
        )
        far = sum(1 for v in visits if v[:3] in world.far_visits)
        if far:  # the trust flags (bot/services/field/trust.py): only "far" is set in this world
            plural = "" if far == 1 else "s"
            lines[rep.name] += f" · ⚠️ {far} flagged visit{plural}: {far} far from the customer"
    return lines


def expected_figures(world: World, view: View, first: date, last: date, own: bool = False) -> list[str]:
    """Every figure line of the summary, as the user reads it (``own``: a rep reading their own)."""
    until = min(last, TODAY)
    customers = [c for c in world.customers if c.team in view.teams and c.rep_id in view.rep_ids]
    visits = [v for v in world.visits if v[0] in view.rep_ids and first <= local_day(v[2]) <= last]
    due = visited = 0
    for customer in customers:
        if customer.status == CustomerStatus.INACTIVE or local_day(customer.created_at) > until:
            continue
        before = [local_day(v[2]) for v in world.visits if v[1] == customer.id and local_day(v[2]) < first]
        if before and max(before) + timedelta(days=EVERY[customer.grade]) > until:
            continue
        due += 1
        visited += any(v[1] == customer.id and first <= local_day(v[2]) <= until for v in world.visits)
    new = sum(
        1
        for c in customers
        if first <= local_day(c.created_at) <= last and (c.status == CustomerStatus.PROSPECT or c.registered)
    )
    orders = [
        r
        for r in world.receivables
        if r["rep_id"] in view.rep_ids and is_order(r) and first <= r["issued_on"] <= last
    ]
    by_method: dict[PaymentMethod, Decimal] = defaultdict(Decimal)
    for c in world.collections:
        if (
            c["rep_id"] in view.rep_ids
            and standing(world, c)
            and first <= local_day(c["received_at"]) <= last
        ):
            by_method[c["method"]] += c["amount"]
    held = sum(
        (
            c["amount"]
            for c in world.collections
            if c["rep_id"] in view.rep_ids
            and standing(world, c)
            and c["method"] not in ELECTRONIC
            and not c["handed_in"]
        ),
        Decimal(0),
    )
    buckets: dict[str, Decimal] = defaultdict(Decimal)
    customer_ids = {c.id for c in customers}
    for r in world.receivables:
        left = r["amount"] - world.allocated[r["id"]]
        if r["customer_id"] in customer_ids and left > 0:
            buckets[bucket(r["due_on"])] += left
    open_total = sum(buckets.values(), Decimal(0))
    expected = submitted = late = 0
    for rep in world.reps:
        if rep.id in view.rep_ids:
            expected_days = [d for d in days(max(first, rep.joined), until) if working(d)]
            expected += len(expected_days)
            done = [r for r in world.reports if r[0] == rep.id and r[1] in expected_days]
            submitted += len(done)
            late += sum(1 for r in done if r[3])
    pending = sum(
        1 for rep_id, status in world.approvals if rep_id in view.rep_ids and status == ApprovalStatus.PENDING
    )
    methods = ", ".join(f"{METHOD_NAMES[m]} {money(by_method[m])}" for m in PaymentMethod if m in by_method)
    collected = sum(by_method.values(), Decimal(0))
    assert due and visited < due, "the data should leave some due customers unvisited"
    percent = (Decimal(100 * visited) / due).quantize(Decimal("0.1"))
    return [
        f"Visits: {len(visits)} · customers {len({v[1] for v in visits})}",
        f"Coverage: {visited} of {due} due customers visited ({percent}%)",
        f"New customers: {new}",
        f"Orders: {len(orders)} · {money(sum((o['amount'] for o in orders), Decimal(0)))}",
        f"Collected: {money(collected)} ({methods})" if methods else f"Collected: {money(collected)}",
        f"Still held by you: {money(held)}" if own else f"Still held by reps: {money(held)}",
        f"Receivables open: {money(open_total)} · overdue: {money(open_total - buckets['current'])}",
        f"1-30 days {money(buckets['1-30'])} · 31-60 days {money(buckets['31-60'])} · "
        f"61-90 days {money(buckets['61-90'])} · over 90 days {money(buckets['90+'])}",
        f"Reports: {submitted} of {expected} · late {late}",
        f"Your requests waiting for approval: {pending}" if own else f"Pending approvals: {pending}",
    ]


def assert_figures(text: str, world: World, view: View, first: date, last: date, own: bool = False) -> None:
    shown = text.splitlines()
    for line in expected_figures(world, view, first, last, own):
        assert line in shown or f"  {line}" in shown, f"{line!r} not in\n{text}"


def assert_rep_lines(text: str, world: World, view: View, first: date, last: date) -> None:
    lines = rep_lines(world, view, first, last, with_team=len(view.teams) > 1)
    shown = text.splitlines()
    for line in lines.values():
        assert line in shown, f"{line!r} not in\n{text}"
    others = {rep.name for rep in world.reps if rep.id not in view.rep_ids}
    assert not any(name in text for name in others), text


async def setup(harness: Harness, seed: int = 7) -> World:
    world = await build(harness.db, seed)
    harness.clock.set(THURSDAY)
    return world


def person(harness: Harness, telegram_id: int, language_code: str = "en") -> Person:
    return harness.person(telegram_id, f"User{telegram_id}", language_code=language_code)


# -- /summary -----------------------------------------------------------------------------------


async def test_director_week_and_month_every_figure(harness: Harness) -> None:
    world = await setup(harness)
    director = person(harness, 7001)
    everyone = view_of(world, "North", "South")

    week = await director.says("/summary week")
    assert "Summary · everyone" in week and "This week, 2026-11-23 – 2026-11-26" in week
    assert_figures(week, world, everyone, date(2026, 11, 23), TODAY)
    assert_rep_lines(week, world, everyone, date(2026, 11, 23), TODAY)
    assert "People: 5 · page 1 of 1" in week

    month = await director.says("/summary month")
    assert "This month, 2026-11-01 – 2026-11-26" in month
    assert_figures(month, world, everyone, date(2026, 11, 1), TODAY)
    assert_rep_lines(month, world, everyone, date(2026, 11, 1), TODAY)


async def test_manager_sees_only_their_team(harness: Harness) -> None:
    world = await setup(harness)
    manager = person(harness, 5001)
    north = view_of(world, "North")
    for command, first in (
        ("/summary week", date(2026, 11, 23)),
        ("/summary month", date(2026, 11, 1)),
        ("/summary", TODAY),
    ):
        text = await manager.says(command)
        assert "Summary · North" in text
        assert_figures(text, world, north, first, TODAY)
        assert_rep_lines(text, world, north, first, TODAY)
        assert "South" not in text
    refused = await manager.says("/summary week South")
    assert refused == "There is no team called South."  # as for a team that does not exist


async def test_director_narrows_to_a_team(harness: Harness) -> None:
    world = await setup(harness)
    director = person(harness, 7001)
    text = await director.says("/summary week South")
    assert "Summary · South" in text
    assert_figures(text, world, view_of(world, "South"), date(2026, 11, 23), TODAY)
    assert_rep_lines(text, world, view_of(world, "South"), date(2026, 11, 23), TODAY)
    await director.press("Month")
    month = harness.api.last(7001).plain_text()
    assert "Summary · South" in month and "This month" in month
    assert_figures(month, world, view_of(world, "South"), date(2026, 11, 1), TODAY)


async def test_rep_gets_their_own_figures_only(harness: Harness) -> None:
    world = await setup(harness)
    li = person(harness, 2001)
    mine = View(frozenset({world.rep("Li Wei").id}), frozenset({"North"}))
    text = await li.says("/summary week")
    assert "Summary · Li Wei" in text
    assert_figures(text, world, mine, date(2026, 11, 23), TODAY, own=True)
    assert not any(rep.name in text for rep in world.reps if rep.name != "Li Wei")
    assert [
        b
        for row in harness.api.last(2001).buttons()
        for b in row
        if b["callback_data"].startswith("sum:rep:")
    ] == []
    for command in ("/team", "/missing", "/rep Zhang", "/summary week South"):
        assert "/summary shows your own" in await li.says(command)


async def test_explicit_month_range_and_bad_periods(harness: Harness) -> None:
    world = await setup(harness)
    director = person(harness, 7001)
    everyone = view_of(world, "North", "South")
    november = await director.says("/summary 2026-11")
    assert "Month 2026-11" in november
    assert_figures(november, world, everyone, date(2026, 11, 1), date(2026, 11, 30))
    october = await director.says("/summary 2026-10-05..2026-10-31")
    assert "2026-10-05 – 2026-10-31" in october
    assert_figures(october, world, everyone, date(2026, 10, 5), date(2026, 10, 31))
    assert_rep_lines(october, world, everyone, date(2026, 10, 5), date(2026, 10, 31))

    assert "2026-13 is not a date" in await director.says("/summary 2026-13")
    assert "has not begun yet" in await director.says("/summary 2026-12")
    assert "366 days at most" in await director.says("/summary 2025-01-01..2026-11-01")
    assert "ends before it starts" in await director.says("/summary 2026-11-10..2026-11-01")
    assert "I don't understand the period" in await director.says("/summary fortnight")
    assert "I don't understand the period" in await director.says("/summary <b>x</b> y")


async def test_figures_settled_by_last_visit_at_match_the_visits(harness: Harness) -> None:
    """Coverage and the company's visited customers read ``last_visit_at`` (the latest visit, as the
    bot keeps it) and look in the visits only when it cannot tell: with it kept for half the
    customers and missing for the others, every figure still matches the visits themselves — for
    current periods and for a past one (where the latest visit comes after the period)."""
    world = await setup(harness)
    latest: dict[int, datetime] = {}
    for _rep, customer_id, at, _kind in world.visits:
        latest[customer_id] = max(at, latest.get(customer_id, at))
    async with harness.db.transaction() as session:
        for customer_id, at in latest.items():
            if customer_id % 2 == 0:
                await session.execute(
                    update(Customer).where(Customer.id == customer_id).values(last_visit_at=at)
                )
    director = person(harness, 7001)
    everyone = view_of(world, "North", "South")
    for command, first, last in (
        ("/summary week", date(2026, 11, 23), TODAY),
        ("/summary month", date(2026, 11, 1), TODAY),
        ("/summary 2026-10-05..2026-10-31", date(2026, 10, 5), date(2026, 10, 31)),
    ):
        assert_figures(await director.says(command), world, everyone, first, last)
    south = await director.says("/summary month South")
    assert_figures(south, world, view_of(world, "South"), date(2026, 11, 1), TODAY)


async def test_period_buttons_and_drill_down(harness: Harness) -> None:
    world = await setup(harness)
    manager = person(harness, 5001)
    north = view_of(world, "North")
    await manager.says("/summary")
    summary_message = harness.api.last(5001)
    await manager.press("Week")
    week = harness.api.last(5001)
    assert week.message_id == summary_message.message_id
    assert_figures(week.plain_text(), world, north, date(2026, 11, 23), TODAY)

    await manager.press("Zhang San")
    card = harness.api.last(5001).plain_text()
    zhang = world.rep("Zhang San")
    assert card.startswith("Zhang San · North") and "This week" in card
    only_zhang = View(frozenset({zhang.id}), frozenset({"North"}))
    assert_figures(card, world, only_zhang, date(2026, 11, 23), TODAY)
    latest = sorted((v for v in world.visits if v[0] == zhang.id), key=lambda v: v[2], reverse=True)[:5]
    visit_lines = [line for line in card.splitlines() if line.startswith("• ")]
    assert [line[2:13] for line in visit_lines] == [f"{v[2].astimezone(ZONE):%m-%d %H:%M}" for v in latest]

    await manager.press("Month")
    assert_figures(harness.api.last(5001).plain_text(), world, only_zhang, date(2026, 11, 1), TODAY)
    await manager.press("‹ Summary")
    assert_figures(harness.api.last(5001).plain_text(), world, north, date(2026, 11, 1), TODAY)


async def test_forged_drill_down_is_refused(harness: Harness) -> None:
    world = await setup(harness)
    manager = person(harness, 5001)
    await manager.says("/summary week")
    message = harness.api.last(5001)
    bob = world.rep("Bob South")
    update = harness.api.callback(5001, message.message_id, f"sum:rep:{bob.id}:w")
    await harness.settle(update)
    assert harness.api.last(5001).plain_text() == "That person is not in your team."
    assert "Bob South" not in "".join(m.plain_text() for m in harness.api.chat(5001))
    forged_team = harness.api.callback(5001, message.message_id, f"sum:p:w:{world.people.south.id}:1")
    await harness.settle(forged_team)
    assert harness.api.last(5001).plain_text() == "There is no such team."


async def test_many_reps_paginate_and_every_rep_is_reachable(harness: Harness) -> None:
    people = await factories.company(harness.db, THURSDAY)
    harness.clock.set(THURSDAY)
    async with harness.db.transaction() as session:
        names = [f"Representative number {n:02d} with a rather long name 很长的名字" for n in range(59)]
        names.append("Amy <b>&</b> Co")
        for n, name in enumerate(names):
            factories.user(session, 30000 + n, name, Role.REP, people.north, THURSDAY)
    director = person(harness, 7001)
    await director.says("/summary month")
    seen: set[str] = set()
    buttons: set[str] = set()
    pages = 0
    while True:
        message = harness.api.last(7001)
        text = message.text or ""
        assert len(text.encode("utf-16-le")) // 2 < 4096
        plain = message.plain_text()
        pages += 1
        for name in names:
            if f"• {name}" in plain:
                seen.add(name)
        buttons |= {
            b["callback_data"]
            for row in message.buttons()
            for b in row
            if b["callback_data"].startswith("sum:rep:")
        }
        if "Next ›" not in message.button_texts():
            break
        await director.press("Next ›")
    assert seen == set(names)
    assert len(buttons) == 62  # 60 + Li Wei and Bob South
    assert f"page {pages} of {pages}" in plain and pages > 5
    assert all(len(data.encode()) <= 64 for data in buttons)

    for command, prefix in (("/team", "• "), ("/missing", "• ")):
        await director.says(command)
        seen = set()
        while True:
            message = harness.api.last(7001)
            assert len((message.text or "").encode("utf-16-le")) // 2 < 4096
            seen |= {name for name in names if f"{prefix}{name}" in message.plain_text()}
            if "Next ›" not in message.button_texts():
                break
            await director.press("Next ›")
        assert seen == set(names), command


async def test_query_count_does_not_grow_with_reps(harness: Harness) -> None:
    """/summary month costs the same statements for 45 reps as for 5: no query per rep or row."""
    world = await setup(harness, seed=3)
    director = person(harness, 7001)
    await director.says("/summary")  # first contact: the command menu is set once, outside the count
    statements: list[str] = []

    def count_statement(*args: Any) -> None:
        statements.append(args[2])

    async def summary_month() -> tuple[int, str]:
        statements.clear()
        event.listen(harness.db.engine.sync_engine, "before_cursor_execute", count_statement)
        try:
            text = await director.says("/summary month")
        finally:
            event.remove(harness.db.engine.sync_engine, "before_cursor_execute", count_statement)
        return len(statements), text

    await summary_month()  # the first builds the visits' monthly counts (visit_months.py)
    small, text = await summary_month()
    assert "People: 5 ·" in text
    async with harness.db.transaction() as session:
        team = await session.scalar(select(Team).where(Team.id == world.people.north.id))
        assert team is not None
        for n in range(40):
            rep = factories.user(
                session, 40000 + n, f"Extra {n}", Role.REP, team, THURSDAY - timedelta(days=60)
            )
            await session.flush()
            customer = Customer(
                code=f"X{n}",
                name=f"Extra shop {n}",
                grade="A",
                rep_id=rep.id,
                team_id=team.id,
                created_at=THURSDAY - timedelta(days=60),
            )
            session.add(customer)
            await session.flush()
            for d in range(5):
                at = THURSDAY - timedelta(days=d)
                session.add(
                    Visit(
                        rep_id=rep.id,
                        customer_id=customer.id,
                        visited_at=at,
                        kind=VisitKind.VISIT,
                        source_key=f"qv:{n}:{d}",
                        created_at=at,
                    )
                )
                session.add(
                    Collection(
                        rep_id=rep.id,
                        customer_id=customer.id,
                        amount=Decimal(10),
                        method=PaymentMethod.CASH,
                        received_at=at,
                        recorded_by=rep.id,
                        source_key=f"qc:{n}:{d}",
                        created_at=at,
                    )
                )
            session.add(
                DailyReport(rep_id=rep.id, day=TODAY, submitted_at=THURSDAY, late=False, source_key=f"qd:{n}")
            )
    large, text = await summary_month()
    assert "People: 45 ·" in text
    assert large == small, (small, large)
    assert small <= 21, statements  # 20, and whether the visits' monthly counts answer (issue 24)


# -- /team, /missing, /rep ------------------------------------------------------------------------


async def test_team_today(harness: Harness) -> None:
    world = await setup(harness)
    manager = person(harness, 5001)
    text = await manager.says("/team")
    assert "Today at a glance · 2026-11-26" in text
    for rep in world.reps:
        if rep.team != "North":
            assert rep.name not in text
            continue
        visits = [v for v in world.visits if v[0] == rep.id and local_day(v[2]) == TODAY]
        collected = sum(
            (
                c["amount"]
                for c in world.collections
                if c["rep_id"] == rep.id and standing(world, c) and local_day(c["received_at"]) == TODAY
            ),
            Decimal(0),
        )
        report = [r for r in world.reports if r[0] == rep.id and r[1] == TODAY]
        status = f"report ✓ {report[0][2].astimezone(ZONE):%H:%M}" if report else "report missing"
        rows = rep_lines(world, view_of(world, "North"), TODAY, TODAY, with_team=False)
        last = rows[rep.name].rsplit("· last ", 1)[1]
        assert (
            f"• {rep.name} — visits {len(visits)} · collected {money(collected)} · {status} · last {last}"
            in text.splitlines()
        ), text
    await manager.press("Li Wei")
    assert harness.api.last(5001).plain_text().startswith("Li Wei · North\nToday, 2026-11-26")


async def test_missing_and_nudge_once(harness: Harness) -> None:
    world = await setup(harness)
    director = person(harness, 7001)
    manager = person(harness, 5001)
    for rep in world.reps:
        person(harness, rep.telegram_id)
    text = await manager.says("/missing")
    assert text.splitlines()[0] == "Not reported yet today (2026-11-26): 2"
    assert "• Zhang San (North)" in text and "• Wang Fang (North)" in text
    assert "Chen Jie" not in text and "Li Wei" not in text
    everyone = await director.says("/missing")
    assert "Not reported yet today (2026-11-26): 3" in everyone and "• Chen Jie (South)" in everyone

    replies = await manager.press("Nudge them now")
    assert replies[-1].plain_text() == "Reminders sent: 2."
    again = await manager.press("Nudge them now")
    assert again[-1].plain_text() == "2 had already been nudged today: no second reminder."
    async with harness.db.reading() as session:
        rows = list(await session.scalars(select(Outbox).where(Outbox.job == "nudge")))
    assert sorted(row.recipient_id for row in rows) == sorted(
        [world.rep("Zhang San").id, world.rep("Wang Fang").id]
    )
    await harness.deliver_pushes()
    for name in ("Zhang San", "Wang Fang"):
        pushed = [m for m in harness.api.chat(world.rep(name).telegram_id) if "waiting for" in m.plain_text()]
        assert len(pushed) == 1
        assert pushed[0].plain_text() == (
            f"{name}, Mia Manager is waiting for today's work report. It takes a minute:"
        )
        assert pushed[0].button_texts() == ["Write today's report"]
    assert not [m for m in harness.api.chat(world.rep("Chen Jie").telegram_id) if "waiting" in m.plain_text()]

    # The director nudging everyone now reaches only the one not yet nudged today.
    await director.says("/missing")
    assert (await director.press("Nudge them now"))[-1].plain_text() == (
        "Reminders sent: 1. 2 had already been nudged today: no second reminder."
    )

    finance = person(harness, 6001)
    listed = await finance.says("/missing")
    assert "Not reported yet today" in listed
    assert "Nudge them now" not in harness.api.last(6001).button_texts()


async def test_missing_after_the_cutoff_and_everyone_reported(harness: Harness) -> None:
    world = await setup(harness)
    manager = person(harness, 5001)
    await manager.says("/missing")
    harness.clock.set(local(TODAY, 22, 30))
    replies = await manager.press("Nudge them now")
    assert replies[-1].plain_text() == "Today's reports closed at 22:00: it is too late for a reminder."
    async with harness.db.transaction() as session:
        for n, name in enumerate(("Zhang San", "Wang Fang")):
            session.add(
                DailyReport(
                    rep_id=world.rep(name).id,
                    day=TODAY,
                    submitted_at=THURSDAY,
                    late=False,
                    source_key=f"late:{n}",
                )
            )
    assert await manager.says("/missing") == "Everyone has reported today (2026-11-26)."


async def test_rep_command(harness: Harness) -> None:
    world = await setup(harness)
    manager = person(harness, 5001)
    card = await manager.says("/rep zhang san month")
    zhang = world.rep("Zhang San")
    assert card.startswith("Zhang San · North\nThis month, 2026-11-01 – 2026-11-26")
    assert_figures(card, world, View(frozenset({zhang.id}), frozenset({"North"})), date(2026, 11, 1), TODAY)
    rows = rep_lines(world, view_of(world, "North"), date(2026, 11, 1), TODAY, with_team=False)
    assert f"Last activity: {rows['Zhang San'].rsplit('· last ', 1)[1]}" in card

    assert "Nobody in your view matches Bob" in await manager.says("/rep Bob")
    assert "Usage: /rep" in await manager.says("/rep")
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 2004).values(name="Zhang Fang"))
    await manager.says("/rep zhang")
    assert harness.api.last(5001).button_texts() == ["Zhang Fang · North", "Zhang San · North"]
    await manager.press("Zhang Fang · North")
    assert harness.api.last(5001).plain_text().startswith("Zhang Fang · North\nToday, 2026-11-26")

    director = person(harness, 7001)
    assert (await director.says("/rep Bob South week")).startswith("Bob South · South\nThis week")


async def test_chinese_summary(harness: Harness) -> None:
    world = await setup(harness)
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 5001).values(language="zh"))
    manager = person(harness, 5001, "zh-hans")
    text = await manager.says("/summary 本周")
    assert "本周" in text and "拜访" in text and "应收" in text
    assert "Visits" not in text and "Coverage" not in text
    assert any(rep.name in text for rep in world.reps)
    assert "Month" not in harness.api.last(5001).button_texts()
    assert "期间" in await manager.says("/summary blah")
    missing = await manager.says("/missing")
    assert "未" in missing and "Zhang San" in missing


async def test_summary_redelivery_and_no_writes(harness: Harness) -> None:
    """Reading figures writes nothing: the same update twice gives the same answer."""
    await setup(harness)
    director = person(harness, 7001)
    update_ = harness.api.message(7001, "/summary week")
    await harness.settle(update_)
    first = harness.api.last(7001).plain_text()
    await harness.process_directly(update_)
    assert harness.api.last(7001).plain_text() == first
    async with harness.db.reading() as session:
        assert not list(await session.scalars(select(Outbox)))
    assert director.id == 7001
