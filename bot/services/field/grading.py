"""Customer grades from sales (regulations part 4, art. 13): suggested changes and applying them.

Art. 13 has the rep grade their customers "by the monthly sales, or by the sales department's
uniform standard", and part 1 (item 6) has the director draw up that standard from customers'
sales and credit. Neither gives an amount. So the standard here is the company's to set: the
least *average monthly sales* for grades A, B and C (anything less is D), changed by an admin with
``/settings sales A B C`` (audited) and stored in ``company_settings`` under :data:`SETTING_KEY`.
Until it is set, :data:`DEFAULT_THRESHOLDS` apply: amounts chosen for this product as a starting
point, **not** taken from the regulations nor the company's; every list of suggestions says so.

Sales are the invoices issued (``receivables``: orders and imported invoices; voided ones never
count) in the three full calendar months before the 1st on which the suggestions are made. Only
active customers that were in the bot for all three months are graded: a newer one's average
would be too low, and before the bot only open invoices were imported, so its earlier sales are
unknown. A suggestion is made where the grade its sales give differs from the one it has.

Applying one (:func:`apply`) re-authorises the press (:data:`Permission.REVIEW_CUSTOMERS`, the
customer in scope), checks the customer still has the grade the suggestion started from and that
its sales still give the grade suggested (so a forged button can set no other grade), then
changes it with an audit entry. Pressing twice applies once: the second press finds it done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Conflict, Invalid
from bot.services.field import customers
from bot.services.field.customers import CustomerRef
from bot.services.money.amounts import parse_amount
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import start_of_day
from models import CompanySetting, Customer, CustomerStatus, Money, Receivable, Role, Team, User

SETTING_KEY = "grade_sales"
#: The ``/settings`` word that changes the standard: ``/settings sales 100000 30000 5000``.
SETTING_WORD = "sales"
MONTHS = 3
#: ``group`` of :func:`suggestions` for the customers no manager looks after: those of teams without
#: a manager who can be reached, and those of no team (the directors get them).
UNMANAGED = 0


@dataclass(frozen=True)
class SalesThresholds:
    """The least average monthly sales for A, B and C; below C is D."""

    a: Decimal
    b: Decimal
    c: Decimal
    #: True while the company has not set its own (the shipped defaults apply).
    default: bool = False

    def grade_for(self, monthly: Decimal) -> str:
        if monthly >= self.a:
            return "A"
        if monthly >= self.b:
            return "B"
        return "C" if monthly >= self.c else "D"


#: Shipped defaults, a starting point only: the regulations name no amounts (see the module doc).
DEFAULT_THRESHOLDS = SalesThresholds(
    Decimal("100000.00"), Decimal("30000.00"), Decimal("5000.00"), default=True
)


async def thresholds(session: AsyncSession) -> SalesThresholds:
    row = await session.get(CompanySetting, SETTING_KEY)
    if row is None:
        return DEFAULT_THRESHOLDS
    value = row.value
    return SalesThresholds(Decimal(value["A"]), Decimal(value["B"]), Decimal(value["C"]))


def _stored(standard: SalesThresholds) -> dict[str, str]:
    return {"A": str(standard.a), "B": str(standard.b), "C": str(standard.c)}


async def change_thresholds(
    session: AsyncSession, caller: Caller, words: list[str], now: datetime
) -> SalesThresholds:
    """``/settings sales A B C``: the least average monthly sales for each grade (admins; audited)."""
    require(caller, Permission.MANAGE_SETTINGS)
    if len(words) != 3:
        raise Invalid(
            N_(
                "Grades from sales need three amounts, the least average monthly sales for A, B "
                "and C (less is D), e.g. /settings sales 10万 3万 5000."
            )
        )
    a, b, c = (parse_amount(word) for word in words)
    if not a > b > c:
        raise Invalid(N_("Grade A needs more sales than B, and B more than C."))
    current = await thresholds(session)
    changed = SalesThresholds(a, b, c)
    row = await session.get(CompanySetting, SETTING_KEY)
    if row is None:
        session.add(
            CompanySetting(key=SETTING_KEY, value=_stored(changed), updated_at=now, updated_by=caller.id)
        )
    else:
        row.value, row.updated_at, row.updated_by = _stored(changed), now, caller.id
    audit.record(
        session,
        actor_id=caller.id,
        action="setting",
        entity="company_setting",
        entity_id=None,
        at=now,
        before={SETTING_KEY: None if current.default else _stored(current)},
        after={SETTING_KEY: _stored(changed)},
    )
    return changed


# -- the three months ------------------------------------------------------------------------------


def _month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Window:
    """The three full months before ``today``'s month: [first, end)."""

    first: date
    end: date

    @classmethod
    def before(cls, today: date) -> Window:
        return cls(_month_start(today, MONTHS), _month_start(today))

    @property
    def last_month(self) -> date:
        return _month_start(self.end, 1)

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m}..{self.last_month:%Y-%m}"


# -- suggestions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    customer: CustomerRef
    rep_name: str | None
    current: str
    suggested: str
    monthly: Decimal  # average monthly sales over the window


@dataclass(frozen=True)
class Suggestions:
    window: Window
    standard: SalesThresholds
    group: int  # a team id, or UNMANAGED
    group_name: str | None  # the team's name (None: the customers no manager looks after)
    items: tuple[Suggestion, ...]  # every one after the cursor, largest sales first


def _graded(window: Window, zone: ZoneInfo) -> ColumnElement[bool]:
    """The customers graded from the window's sales: active, and in the bot all three months."""
    return and_(
        Customer.status == CustomerStatus.ACTIVE, Customer.created_at < start_of_day(window.first, zone)
    )


def _has_manager(team_id: ColumnElement[int | None] | Any) -> ColumnElement[bool]:
    """Whether the team ``team_id`` has a manager a push can reach (an alias of ``users``: the
    statements this goes in join the reps' ``users`` rows too)."""
    manager = aliased(User)
    return exists().where(
        manager.role == Role.MANAGER,
        manager.active,
        manager.blocked_at.is_(None),
        manager.first_seen_at.is_not(None),
        manager.team_id == team_id,
    )


def _in_group(group: int) -> ColumnElement[bool]:
    if group != UNMANAGED:
        return Customer.team_id == group
    return or_(Customer.team_id.is_(None), not_(_has_manager(Customer.team_id)))


async def _ranked(
    session: AsyncSession, window: Window, zone: ZoneInfo, where: ColumnElement[bool]
) -> list[tuple[Any, ...]]:
    """(id, code, name, grade, rep name, sales) of the graded customers matching ``where``, largest
    sales first (then by id: a stable order, which the "more" button's cursor relies on)."""
    sales = type_coerce(func.coalesce(func.sum(Receivable.amount), 0), Money())
    rows = await session.execute(
        select(Customer.id, Customer.code, Customer.name, Customer.grade, User.name, sales)
        .select_from(Customer)
        .outerjoin(
            Receivable,
            and_(
                Receivable.customer_id == Customer.id,
                Receivable.voided_at.is_(None),
                Receivable.issued_on >= window.first,
                Receivable.issued_on < window.end,
            ),
        )
        .outerjoin(User, User.id == Customer.rep_id)
        .where(_graded(window, zone), where)
        .group_by(Customer.id, Customer.code, Customer.name, Customer.grade, User.name)
        .order_by(sales.desc(), Customer.id)
    )
    return [tuple(row) for row in rows]


def _monthly(total: Decimal) -> Decimal:
    return (total / MONTHS).quantize(Decimal("0.01"))


async def suggestions(
    session: AsyncSession,
    caller: Caller,
    *,
    today: date,
    zone: ZoneInfo,
    group: int,
    after: int | None = None,
) -> Suggestions:
    """The suggested grade changes of ``group`` (a team, or :data:`UNMANAGED`) within the caller's
    scope, largest sales first; with ``after`` (a customer id: the last one a message showed) only
    those ranked after it."""
    require(caller, Permission.REVIEW_CUSTOMERS)
    window, standard = Window.before(today), await thresholds(session)
    ranked = await _ranked(session, window, zone, customers.in_scope(caller) & _in_group(group))
    if after is not None:
        position = next((index for index, row in enumerate(ranked) if row[0] == after), None)
        ranked = ranked[position + 1 :] if position is not None else ranked
    items = []
    for id_, code, name, grade, rep_name, total in ranked:
        monthly = _monthly(total)
        suggested = standard.grade_for(monthly)
        if suggested != grade:
            items.append(Suggestion(CustomerRef(id_, code, name, grade), rep_name, grade, suggested, monthly))
    group_name = (
        await session.scalar(select(Team.name).where(Team.id == group)) if group != UNMANAGED else None
    )
    return Suggestions(window, standard, group, group_name, tuple(items))


# -- applying one ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    customer: CustomerRef
    done_now: bool  # False: it already had that grade (a second press)


async def apply(
    session: AsyncSession,
    caller: Caller,
    customer_id: int,
    current: str,
    suggested: str,
    *,
    today: date,
    zone: ZoneInfo,
    now: datetime,
) -> Applied:
    """Change the customer's grade from ``current`` to ``suggested``, as its sales suggest (module doc)."""
    require(caller, Permission.REVIEW_CUSTOMERS)
    customer = await customers.get_in_scope(session, caller, customer_id, for_update=True)
    ref = CustomerRef.of(customer)
    if customer.grade == suggested:
        return Applied(ref, done_now=False)
    if customer.grade != current:
        raise Conflict(
            N_("{customer} is grade {grade} now, not {was}: that suggestion no longer applies."),
            customer=ref.label,
            grade=customer.grade,
            was=current,
        )
    window, standard = Window.before(today), await thresholds(session)
    ranked = await _ranked(session, window, zone, Customer.id == customer.id)
    if not ranked:
        raise Conflict(
            N_(
                "{customer} is not graded from sales: it is not an active customer of three months' standing."
            ),
            customer=ref.label,
        )
    monthly = _monthly(ranked[0][5])
    if standard.grade_for(monthly) != suggested:
        raise Conflict(
            N_("{customer}'s sales suggest grade {grade} now: nothing changed."),
            customer=ref.label,
            grade=standard.grade_for(monthly),
        )
    customer.grade = suggested
    audit.record(
        session,
        actor_id=caller.id,
        action="grade.apply",
        entity="customer",
        entity_id=customer.id,
        at=now,
        before={"grade": current},
        after={
            "grade": suggested,
            "monthly_sales": str(monthly),
            "months": window.label,
            "standard": _stored(standard),
            "default_standard": standard.default,
        },
    )
    return Applied(CustomerRef.of(customer), done_now=True)
