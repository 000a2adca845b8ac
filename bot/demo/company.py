"""The demo company: people, 60 customers and a month of history, written straight to a fresh database.

Everything is drawn from one seeded random generator, so every run of ``fieldbot demo`` tells the
same story. The rows are the same kind an import and a month of use would leave: visits (with each
customer's ``last_visit_at``), invoices from orders and imports, collections applied to them, cash
handed in to finance except one rep's, and daily reports with a few missing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from models import (
    DEFAULT_GRADE_POLICY,
    Allocation,
    Collection,
    Customer,
    DailyReport,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Role,
    Team,
    User,
    Visit,
    VisitKind,
)

SEED = 20261123
HISTORY_DAYS = 30


@dataclass(frozen=True)
class Member:
    """Someone in the demo company, as the demo drives them."""

    telegram_id: int
    name: str
    role: Role
    team: str | None


@dataclass(frozen=True)
class Cast:
    """Who plays which part in the scripted day, and the customers the script talks about."""

    people: list[Member]
    rep: Member  # logs the visits, the over-limit order, a collection and the report
    second_rep: Member  # a one-liner visit and a cash collection
    cash_holder: Member  # has held cash for days (the 17:00 hand-in push, and his manager's)
    manager: Member  # the rep's manager: approves, asks /summary, /overdue, /export, /chart
    director: Member
    one_liner_customer: str  # second_rep's
    guided_customer: str  # rep's, due a visit (a plan button)
    over_limit_customer: str  # rep's, near its credit limit
    collect_customer: str  # rep's, overdue invoices


# (telegram id, name, role, team)
PEOPLE: list[Member] = [
    Member(1001, "Ada Wong", Role.ADMIN, None),
    Member(7001, "周敏", Role.DIRECTOR, None),
    Member(6001, "Fay Lin", Role.FINANCE, None),
    Member(5001, "王芳", Role.MANAGER, "East"),
    Member(5002, "David Chen", Role.MANAGER, "South"),
    Member(2001, "李伟", Role.REP, "East"),
    Member(2002, "Emma Zhang", Role.REP, "East"),
    Member(2003, "刘洋", Role.REP, "East"),
    Member(2004, "Tom Huang", Role.REP, "South"),
    Member(2005, "张静", Role.REP, "South"),
    Member(2006, "Kevin Wu", Role.REP, "South"),
]

#: Ten customers per rep, in rep order; the first few names of 李伟 and Emma Zhang are the script's.
CUSTOMER_NAMES: list[str] = [
    # 李伟
    "华东五金店",
    "<Müller & Söhne>",
    "鑫源建材",
    "Acme Trading",
    "恒通贸易",
    "金桥超市",
    "Bright Tools",
    "联华便利",
    "宏达机电",
    "Pacific Hardware",
    # Emma Zhang
    "Harbor Supplies",
    "永丰商行",
    "Golden Gate Store",
    "东方日用品",
    "City Builders",
    "百佳建材",
    "Riverside Mart",
    "新世纪五金",
    "Summit Electric",
    "天宇批发",
    # 刘洋
    "大华商贸",
    "Orient Paints",
    "顺发建材",
    "Maple Home",
    "汇丰五金",
    "Lotus Trading",
    "万家超市",
    "Northstar Depot",
    "盛世家居",
    "Blue Ocean Co.",
    # Tom Huang
    "广源五金",
    "Pearl River Trading",
    "南方建材",
    "Sunrise Hardware",
    "岭南百货",
    "Canton Tools",
    "富力商行",
    "Jade Supplies",
    "珠江电器",
    "Palm Street Store",
    # 张静
    "华南批发",
    "Evergreen Mart",
    "兴隆五金",
    "Coral Bay Traders",
    "白云建材",
    "Lucky Star Shop",
    "新港商贸",
    "Red Lantern Co.",
    "佳美日化",
    "Seaview Hardware",
    # Kevin Wu
    "Delta Building Supply",
    "鹏程贸易",
    "Horizon Tools",
    "宝安建材",
    "Union Hardware",
    "福田百货",
    "Metro Depot",
    "星河五金",
    "Orchid Trading",
    "粤海商行",
]
#: Grades in the same order: A few, D few.
GRADE_CYCLE = "BAACBCDCBC"

CENTRES = {"East": (31.2304, 121.4737), "South": (23.1291, 113.2644)}  # Shanghai, Guangzhou
STREETS = ("南京路", "Century Ave", "淮海路", "Zhongshan Rd", "人民路", "Tianhe Rd", "解放路", "Binjiang Rd")

VISIT_NOTES = (
    "店主说下月加单",
    "Checked the shelf, stock is fine",
    "竞品降价 5%，客户在观望",
    "Owner asked for the new price list",
    "陈列位置调整到入口",
    "Promised payment by Friday",
    "介绍了新品，客户有兴趣",
    "Dealer short of the 25 kg bags",
    "客户反映物流慢了两天",
    "Agreed a display for December",
)
REPORT_PROBLEMS = ("无", "Two customers asked for longer credit", "物流延误", "None", "竞品促销力度大")
REPORT_PLANS = (
    "跟进欠款客户",
    "Visit the A customers",
    "拜访新客户",
    "Chase the overdue invoices",
    "准备月底报价",
)


@dataclass
class _Ledger:
    """Counters for unique keys and invoice numbers while the history is written."""

    keys: int = 0
    invoices: dict[date, int] = field(default_factory=dict)

    def key(self, kind: str) -> str:
        self.keys += 1
        return f"demo:{kind}:{self.keys}"

    def invoice_no(self, day: date) -> str:
        self.invoices[day] = self.invoices.get(day, 0) + 1
        return f"SO-{day:%Y%m%d}-{self.invoices[day]:03d}"


def _at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A round amount in hundreds."""
    return Decimal(rng.randrange(low // 100, high // 100 + 1) * 100).quantize(Decimal("0.01"))


def working_days(first: date, last: date) -> list[date]:
    """Monday to Saturday: Sunday is the company's day off."""
    days = (first + timedelta(n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() != 6]


def cast() -> Cast:
    by_id = {m.telegram_id: m for m in PEOPLE}
    return Cast(
        people=PEOPLE,
        rep=by_id[2001],
        second_rep=by_id[2002],
        cash_holder=by_id[2004],
        manager=by_id[5001],
        director=by_id[7001],
        one_liner_customer="Harbor Supplies",
        guided_customer="<Müller & Söhne>",
        over_limit_customer="鑫源建材",
        collect_customer="华东五金店",
    )


async def create_company(db: Database, today: date, zone: ZoneInfo, language: str, seed: int = SEED) -> Cast:
    """Write the company and its last month into ``db`` (a freshly migrated database).

    Everyone's reply language is stored: scheduled pushes follow ``users.language`` only (the
    Telegram app's language is known to the bot only while it answers a message).
    """
    rng = random.Random(seed)
    joined = _at(today - timedelta(days=90), 9, 0, zone)
    async with db.transaction() as session:
        teams = {name: Team(name=name, created_at=joined) for name in CENTRES}
        session.add_all(teams.values())
        await session.flush()
        users: dict[int, User] = {}
        for member in PEOPLE:
            team = teams[member.team] if member.team else None
            users[member.telegram_id] = User(
                telegram_id=member.telegram_id,
                name=member.name,
                role=member.role,
                team_id=team.id if team else None,
                active=True,
                created_at=joined,
                first_seen_at=joined,
                language=language,
            )
        session.add_all(users.values())
        await session.flush()
        for member in PEOPLE:
            if member.role == Role.MANAGER and member.team:
                teams[member.team].manager_id = users[member.telegram_id].id
        reps = [users[m.telegram_id] for m in PEOPLE if m.role == Role.REP]
        customers = _customers(session, rng, reps, {t.id: name for name, t in teams.items()}, joined)
        await session.flush()
        ledger = _Ledger()
        history = working_days(today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1))
        _visits(session, rng, ledger, customers, history, zone)
        await _money_history(session, rng, ledger, customers, users, today, history, zone)
        _reports(session, rng, ledger, reps, history, zone)
    return cast()


def _customers(
    session: AsyncSession, rng: random.Random, reps: list[User], team_names: dict[int, str], created: datetime
) -> list[Customer]:
    rows = []
    for n, name in enumerate(CUSTOMER_NAMES):
        rep = reps[n // 10]
        lat, lon = CENTRES[team_names[rep.team_id or 0]]
        rows.append(
            Customer(
                code=f"{'ES'[n // 30]}{n + 1:02d}",
                name=name,
                grade=GRADE_CYCLE[n % 10],
                rep_id=rep.id,
                team_id=rep.team_id,
                phone=f"138{rng.randrange(10**8):08d}",
                address=f"{rng.randrange(1, 999)} {rng.choice(STREETS)}",
                latitude=round(lat + rng.uniform(-0.08, 0.08), 5),
                longitude=round(lon + rng.uniform(-0.08, 0.08), 5),
                created_at=created,
            )
        )
    by_name = {c.name: c for c in rows}
    by_name["鑫源建材"].credit_limit = Decimal("100000.00")
    session.add_all(rows)
    return rows


def _visits(
    session: AsyncSession,
    rng: random.Random,
    ledger: _Ledger,
    customers: list[Customer],
    history: list[date],
    zone: ZoneInfo,
) -> None:
    """Each rep sees two to four of their customers a day, A and B customers more often.

    A few customers are left unvisited all month and one per rep for the last ten days, so the
    morning plans have something to say.
    """
    skipped = {
        "<Müller & Söhne>",
        "恒通贸易",
        "Golden Gate Store",
        "Maple Home",
        "岭南百货",
        "兴隆五金",
        "Horizon Tools",
        "鑫源建材",
    }
    weights = {"A": 6, "B": 4, "C": 2, "D": 1}
    per_rep: dict[int, list[Customer]] = {}
    for customer in customers:
        if customer.name not in skipped:
            per_rep.setdefault(customer.rep_id or 0, []).append(customer)
    stale_after = history[-1] - timedelta(days=10)
    for day in history:
        for rep_id, own in per_rep.items():
            # Each rep's third customer (grade A) was last seen over a week ago: due again today.
            seen = [c for c in own if day <= stale_after or c.code != own[1].code]
            chosen = set()
            for _ in range(rng.randint(2, 4)):
                chosen.add(rng.choices(seen, weights=[weights[c.grade] for c in seen])[0])
            for n, customer in enumerate(sorted(chosen, key=lambda c: c.code)):
                at = _at(day, 9 + 2 * n, rng.randrange(60), zone)
                kind = rng.choices([VisitKind.VISIT, VisitKind.CALL, VisitKind.STOCK_CHECK], [6, 2, 1])[0]
                session.add(
                    Visit(
                        rep_id=rep_id,
                        customer_id=customer.id,
                        visited_at=at,
                        kind=kind,
                        notes=rng.choice(VISIT_NOTES),
                        latitude=customer.latitude,
                        longitude=customer.longitude,
                        distance_m=rng.randrange(5, 120) if kind != VisitKind.CALL else None,
                        photo_file_ids=[],
                        source_key=ledger.key("visit"),
                        created_at=at,
                    )
                )
                if customer.last_visit_at is None or customer.last_visit_at < at:
                    customer.last_visit_at = at


async def _money_history(
    session: AsyncSession,
    rng: random.Random,
    ledger: _Ledger,
    customers: list[Customer],
    users: dict[int, User],
    today: date,
    history: list[date],
    zone: ZoneInfo,
) -> None:
    """Old imported invoices (some long overdue), the month's orders, and what was paid on them."""
    terms = {grade: policy[1] for grade, policy in DEFAULT_GRADE_POLICY.items()}
    invoices: list[Receivable] = []
    for n, customer in enumerate(customers):
        days = customer.credit_days if customer.credit_days is not None else terms[customer.grade]
        if n % 3 == 0 or customer.name == "华东五金店":  # an older invoice, imported at go-live
            issued = today - timedelta(days=rng.randrange(40, 110))
            invoices.append(
                Receivable(
                    invoice_no=f"INV-{2600 + n}",
                    customer_id=customer.id,
                    rep_id=customer.rep_id,
                    amount=_money(rng, 3000, 30000),
                    issued_on=issued,
                    due_on=issued + timedelta(days=days),
                    source=ReceivableSource.IMPORT,
                    created_at=_at(issued, 10, 0, zone),
                )
            )
        for day in rng.sample(history, rng.randint(0, 2)):
            invoices.append(
                Receivable(
                    invoice_no=ledger.invoice_no(day),
                    customer_id=customer.id,
                    rep_id=customer.rep_id,
                    amount=_money(rng, 2000, 20000),
                    issued_on=day,
                    due_on=day + timedelta(days=days),
                    source=ReceivableSource.ORDER,
                    created_at=_at(day, 15, 0, zone),
                    source_key=ledger.key("order"),
                )
            )
    big = next(c for c in customers if c.name == "鑫源建材")
    issued = today - timedelta(days=12)
    invoices.append(
        Receivable(
            invoice_no="INV-2999",
            customer_id=big.id,
            rep_id=big.rep_id,
            amount=Decimal("92000.00"),
            issued_on=issued,
            due_on=issued + timedelta(days=terms[big.grade]),
            source=ReceivableSource.IMPORT,
            created_at=_at(issued, 10, 0, zone),
        )
    )
    for invoice in invoices:
        overdue_days = (today - invoice.due_on).days
        invoice.followup_level = next(
            (level for level, after in ((4, 60), (3, 30), (2, 15), (1, 1)) if overdue_days >= after), 0
        )
    session.add_all(invoices)
    await session.flush()
    cash_holder = users[2004]
    for invoice in invoices:
        if invoice.invoice_no in ("INV-2999", "INV-2600") or rng.random() < 0.45:
            continue  # still open: these make the overdue list and the credit check
        paid_on = min(invoice.issued_on + timedelta(days=rng.randrange(3, 40)), today - timedelta(days=1))
        if paid_on.weekday() == 6:
            paid_on -= timedelta(days=1)
        received = _at(paid_on, 14, rng.randrange(60), zone)
        method = rng.choices([PaymentMethod.TRANSFER, PaymentMethod.CASH, PaymentMethod.CHEQUE], [6, 3, 1])[0]
        amount = invoice.amount if rng.random() < 0.7 else (invoice.amount / 2).quantize(Decimal("1.00"))
        collector = users_by_id(users)[invoice.rep_id or 0]
        holding = (
            collector.id == cash_holder.id and method == PaymentMethod.CASH and (today - paid_on).days <= 6
        )
        handed_in = None if holding or method == PaymentMethod.TRANSFER else received + timedelta(hours=3)
        collection = Collection(
            rep_id=collector.id,
            customer_id=invoice.customer_id,
            amount=amount,
            method=method,
            receipt_no=f"R-{rng.randrange(1000, 9999)}",
            received_at=received,
            handed_in_at=handed_in if method != PaymentMethod.TRANSFER else None,
            confirmed_by=users[6001].id if handed_in else None,
            recorded_by=collector.id,
            source_key=ledger.key("collect"),
            created_at=received,
        )
        session.add(collection)
        await session.flush()
        session.add(Allocation(collection_id=collection.id, receivable_id=invoice.id, amount=amount))
    await _cash_held_for_days(session, ledger, customers, cash_holder, today, zone)


async def _cash_held_for_days(
    session: AsyncSession,
    ledger: _Ledger,
    customers: list[Customer],
    holder: User,
    today: date,
    zone: ZoneInfo,
) -> None:
    """Tom Huang took 6,800.00 in cash four working days ago and has not handed it in."""
    shop = next(c for c in customers if c.rep_id == holder.id and c.name == "广源五金")
    day = today - timedelta(days=5)
    invoice = Receivable(
        invoice_no="INV-2950",
        customer_id=shop.id,
        rep_id=holder.id,
        amount=Decimal("6800.00"),
        issued_on=day - timedelta(days=20),
        due_on=day + timedelta(days=25),
        source=ReceivableSource.IMPORT,
        created_at=_at(day - timedelta(days=20), 10, 0, zone),
    )
    session.add(invoice)
    await session.flush()
    received = _at(day, 16, 20, zone)
    cash = Collection(
        rep_id=holder.id,
        customer_id=shop.id,
        amount=Decimal("6800.00"),
        method=PaymentMethod.CASH,
        receipt_no="R-5521",
        received_at=received,
        recorded_by=holder.id,
        source_key=ledger.key("collect"),
        created_at=received,
    )
    session.add(cash)
    await session.flush()
    session.add(Allocation(collection_id=cash.id, receivable_id=invoice.id, amount=cash.amount))


def users_by_id(users: dict[int, User]) -> dict[int, User]:
    return {u.id: u for u in users.values()}


def _reports(
    session: AsyncSession,
    rng: random.Random,
    ledger: _Ledger,
    reps: list[User],
    history: list[date],
    zone: ZoneInfo,
) -> None:
    """Most days' reports, a few late, a few missing (刘洋 forgot Saturday's)."""
    for day in history:
        for rep in reps:
            if rng.random() < 0.08 or (day == history[-1] and rep.telegram_id == 2003):
                continue
            submitted = _at(day, 18, 0, zone) + timedelta(minutes=rng.randrange(0, 90))
            session.add(
                DailyReport(
                    rep_id=rep.id,
                    day=day,
                    summary="",
                    problems=rng.choice(REPORT_PROBLEMS),
                    market_info="",
                    plan_tomorrow=rng.choice(REPORT_PLANS),
                    submitted_at=submitted,
                    late=submitted.time() > time(19, 0),
                    source_key=ledger.key("report"),
                )
            )
