"""Weekly and monthly work plans (工作計劃表 / 一周銷售計劃表 / 月銷售計劃表).

Regulations part 4, art. 10: a rep submits their work for the week or the month as a plan for the
supervisor to approve; part 3, art. 9: monthly plans are reported ten days before the month; part 5,
item 5: a weekly report of one's work. Rules decided here:

* **Periods.** A weekly plan covers Monday to Sunday; a monthly plan a calendar month.
* **Deadlines** (company time zone): a week's plan is due by :data:`CUTOFF` (10:00) on its
  Monday — Monday morning, before the day's round; a month's plan by 10:00 on the day ten days
  before the month begins (the December plan by 21 November, 10:00).
* **Which plan ``/plan`` opens.** Monday to Thursday, this week's; from Friday, next week's
  (Friday is when the reminder comes). ``/plan month`` opens next month's; ``/plan month
  YYYY-MM`` this month's or a later one.
* **Prefill.** The planner's own customers (not inactive) that their grade makes due for a visit
  by the period's last day — the morning plan's rule (:func:`bot.services.policy.due_for_visit`),
  applied to the period's end. Each carries the visits its grade calls for in the period
  (``days // visit_every_days``, at least one).
* **Filing again** before the deadline replaces the customers and targets (an approval is then
  void: the supervisor sees the new version). After the deadline a filed plan is fixed; one never
  filed may still be filed, marked late.
* **Who files.** Reps, and managers for themselves. **Who answers.** A rep's plan: the managers
  of the rep's team, the director and admins; a manager's own plan: the director and admins. The
  plan is pushed, when filed, to the team's managers (without a reachable one, the directors); a
  manager's plan to the directors.
* **Plan against actual**, for a plan's period: visits by the planner in total and to the planned
  customers (visits, and planned customers visited), orders issued (voided ones left out) against
  the orders target, collections received (reversals and reversed ones left out) against the
  collections target. One statement for any number of plans, of one period or of many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    delete,
    distinct,
    false,
    func,
    literal,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, Translator, escape
from bot.services import audit, company, outbox
from bot.services.calendar import next_allowed
from bot.services.errors import Conflict, Invalid, NotFound
from bot.services.field.customers import in_scope
from bot.services.money.amounts import format_amount
from bot.services.money.ledger import standing
from bot.services.outbox import Buttons
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import GradeRule, due_for_visit, grade_rules
from models import (
    Collection,
    Customer,
    CustomerStatus,
    Money,
    PlanKind,
    Receivable,
    ReceivableSource,
    Role,
    Team,
    User,
    Visit,
    WorkPlan,
    WorkPlanComment,
    WorkPlanCustomer,
)
from models.base import UTCDateTime

#: The local time a plan is due on its deadline day.
CUTOFF = time(10, 0)
#: A monthly plan is due this many days before its month begins (part 3, art. 9: 月前十天).
MONTH_LEAD_DAYS = 10
#: Customers in one plan.
MAX_CUSTOMERS = 60
MAX_COMMENT = 1000
#: Characters for the customers in a plan's message (comments and the rest take the other ~1000 of
#: Telegram's 4096).
CUSTOMERS_BUDGET = 2400
#: The latest comments shown with a plan (300 characters each at most).
COMMENTS_SHOWN = 3
NAME_SHOWN = 40
ZERO = Decimal("0.00")

FILED_JOB = "plan_filed"
APPROVED_JOB = "plan_approved"
COMMENT_JOB = "plan_comment"

NO_SUCH_PLAN = N_("There is no such plan.")
KIND_LABELS = {PlanKind.WEEK: N_("Weekly plan"), PlanKind.MONTH: N_("Monthly plan")}


# -- periods --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanPeriod:
    kind: PlanKind
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def due_on(self) -> date:
        """The local day the plan is due (by :data:`CUTOFF`)."""
        if self.kind == PlanKind.WEEK:
            return self.start
        return self.start - timedelta(days=MONTH_LEAD_DAYS)

    def deadline(self, zone: ZoneInfo) -> datetime:
        """The UTC instant the plan is due."""
        return datetime.combine(self.due_on, CUTOFF, tzinfo=zone).astimezone(UTC)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """(first instant, first instant after the period), in UTC."""
        first = datetime.combine(self.start, time.min, tzinfo=zone).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        return first, after

    @property
    def key(self) -> str:
        """Language-neutral, for outbox keys and buttons: ``w20261207`` or ``m202612``."""
        return f"w{self.start:%Y%m%d}" if self.kind == PlanKind.WEEK else f"m{self.start:%Y%m}"

    def title(self, t: Translator) -> str:
        if self.kind == PlanKind.WEEK:
            return t(N_("week {start} – {end}"), start=self.start.isoformat(), end=self.end.isoformat())
        return t(N_("month {month}"), month=f"{self.start:%Y-%m}")


def week_of(day: date) -> PlanPeriod:
    monday = day - timedelta(days=day.weekday())
    return PlanPeriod(PlanKind.WEEK, monday, monday + timedelta(days=6))


def month_of(day: date) -> PlanPeriod:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return PlanPeriod(PlanKind.MONTH, first, following - timedelta(days=1))


def week_to_plan(today: date) -> PlanPeriod:
    """Monday to Thursday this week's plan; from Friday on, next week's."""
    if today.weekday() >= 4:
        return week_of(today + timedelta(days=7))
    return week_of(today)


def month_to_plan(today: date) -> PlanPeriod:
    return month_of(month_of(today).end + timedelta(days=1))


def parse_month(text: str, today: date) -> PlanPeriod:
    """``YYYY-MM``: this month or a later one, up to a year ahead."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise Invalid(N_("Write the month as 2026-12.")) from None
    if first < today.replace(day=1) or first > today + timedelta(days=366):
        raise Invalid(
            N_("Plans are for this month or a month ahead, e.g. /plan month {month}."),
            month=f"{month_to_plan(today).start:%Y-%m}",
        )
    return month_of(first)


def period_from_key(key: str) -> PlanPeriod | None:
    """Read :attr:`PlanPeriod.key` back (None for anything else)."""
    try:
        if key.startswith("w") and len(key) == 9:
            day = datetime.strptime(key[1:], "%Y%m%d").date()
            return week_of(day) if day.weekday() == 0 else None
        if key.startswith("m") and len(key) == 7:
            return month_of(datetime.strptime(key[1:], "%Y%m").date())
    except ValueError:
        return None
    return None


def visits_called_for(rule: GradeRule | None, days: int) -> int:
    """The visits a grade calls for in ``days`` days: at least one for a customer in the plan."""
    if rule is None or rule.visit_every_days <= 0:
        return 1
    return max(1, days // rule.visit_every_days)


# -- what the services return ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCustomer:
    id: int
    code: str
    name: str
    grade: str
    visits: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


@dataclass(frozen=True)
class PlanComment:
    author: str
    text: str
    at: datetime  # local


@dataclass(frozen=True)
class PlanView:
    id: int
    rep_id: int
    rep: str
    rep_role: Role
    team_id: int | None
    team: str | None
    period: PlanPeriod
    customers: tuple[PlanCustomer, ...]
    orders_target: Decimal
    collections_target: Decimal
    planned_visits: int
    submitted_at: datetime  # local
    late: bool
    approved_by: str | None
    approved_at: datetime | None  # local
    comments: tuple[PlanComment, ...]

    @property
    def version(self) -> str:
        return f"{self.submitted_at.astimezone(UTC):%Y%m%d%H%M%S%f}"

    @property
    def stamp(self) -> int:
        """The version on an Approve button (seconds): a button under a replaced version approves
        nothing."""
        return int(self.submitted_at.timestamp())


@dataclass(frozen=True)
class Opened:
    """What ``/plan`` opens: the period, what is filed (if anything), and whether it may change."""

    period: PlanPeriod
    deadline: datetime  # local
    filed: PlanView | None
    customers: tuple[PlanCustomer, ...]
    orders_target: Decimal | None
    collections_target: Decimal | None

    @property
    def editable(self) -> bool:
        return self.filed is None or self.filed.submitted_at < self.deadline

    def open_at(self, now: datetime) -> bool:
        """Whether filing now writes: nothing filed yet, or before the deadline."""
        return self.filed is None or now < self.deadline


@dataclass(frozen=True)
class Filed:
    plan: PlanView
    replaced: bool
    repeated: bool  # the same update again: nothing written
    told: tuple[str, ...]


@dataclass(frozen=True)
class Approved:
    plan: PlanView
    already: bool


@dataclass(frozen=True)
class Commented:
    plan: PlanView
    text: str
    repeated: bool


@dataclass(frozen=True)
class Attainment:
    """One plan against the records of its period."""

    plan_id: int
    rep_id: int
    rep: str
    period: PlanPeriod
    approved: bool
    planned_customers: int
    planned_visits: int
    visits: int  # every visit by the planner in the period
    planned_visited: int  # planned customers the planner visited
    visits_to_planned: int
    orders_target: Decimal
    orders: Decimal
    collections_target: Decimal
    collected: Decimal


@dataclass(frozen=True)
class PlanFigures:
    """Plans of one period in a scope: each one's attainment, and who in scope filed none."""

    period: PlanPeriod
    plans: tuple[Attainment, ...]
    unfiled: tuple[str, ...]


@dataclass(frozen=True)
class Supervisor:
    id: int
    name: str
    language: str


@dataclass(frozen=True)
class Unfiled:
    id: int
    name: str
    language: str
    team_id: int | None
    team: str | None
    reachable: bool


# -- filing ---------------------------------------------------------------------------------------


def _reachable() -> ColumnElement[bool]:
    return User.active & User.blocked_at.is_(None) & User.first_seen_at.is_not(None)


async def _customers(
    session: AsyncSession, condition: ColumnElement[bool], period: PlanPeriod, *, limit: int | None = None
) -> tuple[PlanCustomer, ...]:
    rules = await grade_rules(session)
    rows = await session.execute(
        select(Customer.id, Customer.code, Customer.name, Customer.grade)
        .where(condition)
        .order_by(Customer.last_visit_at.asc().nulls_first(), Customer.name, Customer.id)
        .limit(limit)
    )
    return tuple(
        PlanCustomer(id_, code, name, grade, visits_called_for(rules.get(grade), period.days))
        for id_, code, name, grade in rows
    )


async def due_customers(
    session: AsyncSession, caller: Caller, period: PlanPeriod, zone: ZoneInfo
) -> tuple[PlanCustomer, ...]:
    """The caller's own customers due a visit by grade by the period's last day (the prefill)."""
    require(caller, Permission.FILE_PLAN)
    rules = await grade_rules(session)
    condition = (
        (Customer.rep_id == caller.id)
        & (Customer.status != CustomerStatus.INACTIVE)
        & due_for_visit(rules, zone, period.end)
    )
    return await _customers(session, condition, period, limit=MAX_CUSTOMERS)


async def customers_by_id(
    session: AsyncSession, caller: Caller, ids: tuple[int, ...] | list[int], period: PlanPeriod
) -> tuple[PlanCustomer, ...]:
    """The customers among ``ids`` the caller may plan (their scope, not inactive), in ``ids``' order."""
    require(caller, Permission.FILE_PLAN)
    if not ids:
        return ()
    found = await _customers(
        session,
        Customer.id.in_(list(ids)) & in_scope(caller) & (Customer.status != CustomerStatus.INACTIVE),
        period,
    )
    by_id = {customer.id: customer for customer in found}
    return tuple(by_id[id_] for id_ in dict.fromkeys(ids) if id_ in by_id)


async def _plan_row(session: AsyncSession, rep_id: int, period: PlanPeriod) -> WorkPlan | None:
    return await session.scalar(
        select(WorkPlan).where(
            WorkPlan.rep_id == rep_id, WorkPlan.kind == period.kind, WorkPlan.starts_on == period.start
        )
    )


async def open_plan(session: AsyncSession, caller: Caller, period: PlanPeriod, zone: ZoneInfo) -> Opened:
    """The caller's plan for ``period``: as filed, or prefilled from the customers due."""
    require(caller, Permission.FILE_PLAN)
    deadline = period.deadline(zone).astimezone(zone)
    row = await _plan_row(session, caller.id, period)
    if row is None:
        return Opened(period, deadline, None, await due_customers(session, caller, period, zone), None, None)
    view = await plan_view(session, row.id, zone)
    return Opened(period, deadline, view, view.customers, view.orders_target, view.collections_target)


def require_planner(caller: Caller) -> None:
    """Reps file plans, and managers their own; everyone else is refused."""
    require(caller, Permission.FILE_PLAN)


def check_target(amount: Decimal) -> Decimal:
    if amount < 0:
        raise Invalid(N_("A target cannot be negative."))
    return amount


async def submit(
    session: AsyncSession,
    caller: Caller,
    period: PlanPeriod,
    customer_ids: tuple[int, ...] | list[int],
    orders_target: Decimal | None,
    collections_target: Decimal | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> Filed:
    """File (or, before the deadline, replace) the caller's plan and push it to their supervisors."""
    require(caller, Permission.FILE_PLAN)
    done = await session.scalar(select(WorkPlan.id).where(WorkPlan.source_key == source_key))
    if done is not None:
        return Filed(await plan_view(session, done, zone), replaced=False, repeated=True, told=())
    today = now.astimezone(zone).date()
    if period.end < today:
        raise Invalid(N_("That period is over: plans are filed ahead of it."))
    if orders_target is None or collections_target is None:
        raise Invalid(N_("Set both targets first: the orders target and the collections target."))
    customers = await customers_by_id(session, caller, customer_ids, period)
    if not customers:
        raise Invalid(N_("Add at least one customer to visit."))
    if len(customers) > MAX_CUSTOMERS:
        raise Invalid(N_("A plan holds {limit} customers at most."), limit=MAX_CUSTOMERS)
    deadline = period.deadline(zone)
    row = await _plan_row(session, caller.id, period)
    values = {
        "orders_target": check_target(orders_target),
        "collections_target": check_target(collections_target),
        "planned_visits": sum(customer.visits for customer in customers),
        "submitted_at": now,
        "source_key": source_key,
    }
    replaced = row is not None
    if row is None:
        row = WorkPlan(
            rep_id=caller.id,
            kind=period.kind,
            starts_on=period.start,
            ends_on=period.end,
            late=now >= deadline,
            **values,
        )
        session.add(row)
        await session.flush()
    else:
        if now >= deadline:
            raise Conflict(
                N_(
                    "Your plan for the {period} was due {deadline} and is filed: it can no longer be changed."
                ),
                period=period.title(Translator(caller.language)),
                deadline=f"{deadline.astimezone(zone):%Y-%m-%d %H:%M}",
            )
        for key, value in values.items():
            setattr(row, key, value)
        row.approved_by = None
        row.approved_at = None
        await session.execute(delete(WorkPlanCustomer).where(WorkPlanCustomer.plan_id == row.id))
    session.add_all(
        WorkPlanCustomer(plan_id=row.id, customer_id=customer.id, visits=customer.visits)
        for customer in customers
    )
    await session.flush()
    audit.record(
        session,
        actor_id=caller.id,
        action="plan.replace" if replaced else "plan.submit",
        entity="work_plan",
        entity_id=row.id,
        at=now,
        after={
            "period": period.key,
            "customers": [customer.id for customer in customers],
            "orders_target": str(values["orders_target"]),
            "collections_target": str(values["collections_target"]),
        },
    )
    view = await plan_view(session, row.id, zone)
    told = await _push_to_supervisors(session, view, replaced=replaced, now=now, zone=zone)
    return Filed(view, replaced=replaced, repeated=False, told=told)


# -- reading --------------------------------------------------------------------------------------


async def plan_view(session: AsyncSession, plan_id: int, zone: ZoneInfo) -> PlanView:
    approver = aliased(User)
    row = (
        await session.execute(
            select(WorkPlan, User.name, User.role, User.team_id, Team.name, approver.name)
            .join(User, User.id == WorkPlan.rep_id)
            .outerjoin(Team, Team.id == User.team_id)
            .outerjoin(approver, approver.id == WorkPlan.approved_by)
            .where(WorkPlan.id == plan_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(NO_SUCH_PLAN)
    plan, rep, role, team_id, team, approved_by = row
    period = PlanPeriod(plan.kind, plan.starts_on, plan.ends_on)
    rules = await grade_rules(session)
    customers = tuple(
        PlanCustomer(id_, code, name, grade, visits or visits_called_for(rules.get(grade), period.days))
        for id_, code, name, grade, visits in await session.execute(
            select(Customer.id, Customer.code, Customer.name, Customer.grade, WorkPlanCustomer.visits)
            .join(WorkPlanCustomer, WorkPlanCustomer.customer_id == Customer.id)
            .where(WorkPlanCustomer.plan_id == plan.id)
            .order_by(WorkPlanCustomer.id)
        )
    )
    comments = tuple(
        PlanComment(name, text, at.astimezone(zone))
        for name, text, at in await session.execute(
            select(User.name, WorkPlanComment.text, WorkPlanComment.at)
            .join(User, User.id == WorkPlanComment.author_id)
            .where(WorkPlanComment.plan_id == plan.id)
            .order_by(WorkPlanComment.at, WorkPlanComment.id)
        )
    )
    return PlanView(
        plan.id,
        plan.rep_id,
        rep,
        role,
        team_id,
        team,
        period,
        customers,
        plan.orders_target,
        plan.collections_target,
        plan.planned_visits,
        plan.submitted_at.astimezone(zone),
        plan.late,
        approved_by,
        plan.approved_at.astimezone(zone) if plan.approved_at else None,
        comments,
    )


# -- the supervisor's answer ----------------------------------------------------------------------


async def supervisors(session: AsyncSession, role: Role, team_id: int | None) -> list[Supervisor]:
    """Who a plan goes to: a rep's team managers who can be reached, else the directors; a manager's
    own plan, the directors."""
    candidates: list[ColumnElement[bool]] = [User.role == Role.DIRECTOR]
    if role == Role.REP and team_id is not None:
        candidates.insert(0, (User.role == Role.MANAGER) & (User.team_id == team_id))
    for who in candidates:
        rows = await session.execute(
            select(User.id, User.name, User.language).where(who, _reachable()).order_by(User.id)
        )
        found = [Supervisor(id_, name, language or "en") for id_, name, language in rows]
        if found:
            return found
    return []


def _may_answer(caller: Caller, plan: PlanView) -> bool:
    if not caller.can(Permission.APPROVE) or caller.id == plan.rep_id:
        return False
    if caller.sees_all_teams:
        return True
    return (
        caller.role == Role.MANAGER
        and plan.rep_role == Role.REP
        and caller.team_id is not None
        and caller.team_id == plan.team_id
    )


async def answerable(session: AsyncSession, caller: Caller, plan_id: int, zone: ZoneInfo) -> PlanView:
    """The plan if the caller may approve or comment on it; else, as for none, NotFound."""
    require(caller, Permission.APPROVE)
    row = await session.scalar(select(WorkPlan.id).where(WorkPlan.id == plan_id))
    if row is None:
        raise NotFound(NO_SUCH_PLAN)
    plan = await plan_view(session, plan_id, zone)
    if not _may_answer(caller, plan):
        raise NotFound(NO_SUCH_PLAN)
    return plan


async def _language(session: AsyncSession, user_id: int) -> str:
    return (await session.scalar(select(User.language).where(User.id == user_id))) or "en"


async def approve(
    session: AsyncSession, caller: Caller, plan_id: int, stamp: int, *, now: datetime, zone: ZoneInfo
) -> Approved:
    """Approve the version of the plan the caller was shown (``stamp``), once; the rep is told.

    A version replaced since is not approved: the supervisor has the newest one pushed to them.
    """
    plan = await answerable(session, caller, plan_id, zone)
    if stamp != plan.stamp:
        raise Conflict(
            N_("{rep} replaced this plan since: approve the newest version, pushed to you with it."),
            rep=plan.rep,
        )
    if plan.approved_at is not None:
        return Approved(plan, already=True)
    row = await session.get(WorkPlan, plan.id)
    assert row is not None
    row.approved_by, row.approved_at = caller.id, now
    await session.flush()
    audit.record(
        session,
        actor_id=caller.id,
        action="plan.approve",
        entity="work_plan",
        entity_id=plan.id,
        at=now,
        after={"version": plan.version},
    )
    t = Translator(await _language(session, plan.rep_id))
    await outbox.enqueue(
        session,
        recipient_id=plan.rep_id,
        job=APPROVED_JOB,
        dedup_key=f"{APPROVED_JOB}:{plan.id}:{plan.version}",
        text=t(
            N_("✅ {author} approved your plan for the {period}."),
            author=caller.name,
            period=plan.period.title(t),
        ),
        now=now,
        not_before=next_allowed(now, await company.load(session), zone),
    )
    return Approved(await plan_view(session, plan.id, zone), already=False)


def clean_comment(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise Invalid(N_("Write a few words for the rep."))
    if len(cleaned) > MAX_COMMENT:
        raise Invalid(
            N_("Your comment is {length} characters long; keep it under {limit}."),
            length=len(cleaned),
            limit=MAX_COMMENT,
        )
    return cleaned


async def add_comment(
    session: AsyncSession,
    caller: Caller,
    plan_id: int,
    text: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> Commented:
    """Store a supervisor's comment on a plan and push it to the plan's rep."""
    require(caller, Permission.APPROVE)
    done = await session.scalar(select(WorkPlanComment).where(WorkPlanComment.source_key == source_key))
    if done is not None:
        return Commented(await answerable(session, caller, done.plan_id, zone), done.text, repeated=True)
    cleaned = clean_comment(text)
    plan = await answerable(session, caller, plan_id, zone)
    row = WorkPlanComment(plan_id=plan.id, author_id=caller.id, text=cleaned, at=now, source_key=source_key)
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor_id=caller.id,
        action="plan.comment",
        entity="work_plan",
        entity_id=plan.id,
        at=now,
        after={"comment_id": row.id, "text": cleaned},
    )
    t = Translator(await _language(session, plan.rep_id))
    await outbox.enqueue(
        session,
        recipient_id=plan.rep_id,
        job=COMMENT_JOB,
        dedup_key=f"{COMMENT_JOB}:{row.id}",
        text="\n".join(
            [
                t(
                    N_("💬 {author} commented on your plan for the {period}:"),
                    author=caller.name,
                    period=plan.period.title(t),
                ),
                escape(cleaned),
                "",
                t(N_("/plan shows your plan and its comments.")),
            ]
        ),
        now=now,
        not_before=next_allowed(now, await company.load(session), zone),
    )
    return Commented(await plan_view(session, plan.id, zone), cleaned, repeated=False)


# -- texts pushed ---------------------------------------------------------------------------------


def _short(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_lines(t: Translator, lines: list[str], budget: int) -> list[str]:
    """As many of ``lines`` as fit in ``budget`` characters, then "…and N more" (long names
    everywhere must not take a message past Telegram's 4096)."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        used += len(line) + 1
        if used > budget:
            return [*kept, t(N_("…and {count} more"), count=len(lines) - index)]
        kept.append(line)
    return kept


def plan_html(t: Translator, plan: PlanView, *, title: str | None = None, with_customers: bool = True) -> str:
    """A filed plan: who, the period, its status, the targets and the customers."""
    who = _short(plan.rep) + (f" ({_short(plan.team)})" if plan.team else "")
    heading = title or t(
        N_("🗓 {kind} · {rep} · {period}"),
        kind=t.gettext(KIND_LABELS[plan.period.kind]),
        rep=who,
        period=plan.period.title(t),
    )
    status = [t(N_("filed {time}"), time=f"{plan.submitted_at:%Y-%m-%d %H:%M}")]
    if plan.late:
        status.append(t(N_("⏰ late")))
    if plan.approved_at is not None:
        status.append(
            t(
                N_("✅ approved by {name} {time}"),
                name=_short(plan.approved_by or ""),
                time=f"{plan.approved_at:%m-%d %H:%M}",
            )
        )
    else:
        status.append(t(N_("not approved yet")))
    lines = [
        f"<b>{heading}</b>",
        " · ".join(status),
        t(N_("Orders target: {amount}"), amount=format_amount(plan.orders_target)),
        t(N_("Collections target: {amount}"), amount=format_amount(plan.collections_target)),
        t(
            N_("Customers to visit: {count} · visits planned: {visits}"),
            count=len(plan.customers),
            visits=plan.planned_visits,
        ),
    ]
    if with_customers:
        listed = [
            f"• {escape(customer.label)} · {escape(customer.grade)}"
            + (f" ×{customer.visits}" if customer.visits > 1 else "")
            for customer in plan.customers
        ]
        lines += fit_lines(t, listed, CUSTOMERS_BUDGET)
    for comment in plan.comments[-COMMENTS_SHOWN:]:
        lines.append(
            t(
                N_("💬 {author} {time}: {text}"),
                author=_short(comment.author),
                time=f"{comment.at:%m-%d %H:%M}",
                text=_short(comment.text, 300),
            )
        )
    return "\n".join(lines)


def answer_buttons(t: Translator, plan: PlanView) -> Buttons:
    row = []
    if plan.approved_at is None:
        row.append({"text": t.gettext(N_("✅ Approve")), "callback_data": f"plan:ok:{plan.id}:{plan.stamp}"})
    row.append({"text": t.gettext(N_("💬 Comment")), "callback_data": f"plan:cm:{plan.id}"})
    return [row]


async def _push_to_supervisors(
    session: AsyncSession, plan: PlanView, *, replaced: bool, now: datetime, zone: ZoneInfo
) -> tuple[str, ...]:
    people = await supervisors(session, plan.rep_role, plan.team_id)
    not_before = next_allowed(now, await company.load(session), zone)
    for person in people:
        t = Translator(person.language)
        title = None
        if replaced:
            title = t(
                N_("🗓 Plan replaced · {rep} · {period}"), rep=_short(plan.rep), period=plan.period.title(t)
            )
        await outbox.enqueue(
            session,
            recipient_id=person.id,
            job=FILED_JOB,
            dedup_key=f"{FILED_JOB}:{plan.id}:{person.id}:{plan.version}",
            text=plan_html(t, plan, title=title),
            buttons=answer_buttons(t, plan),
            now=now,
            not_before=not_before,
        )
    return tuple(person.name for person in people)


# -- plan against actual --------------------------------------------------------------------------


def _standing_collections() -> ColumnElement[bool]:
    reversal = aliased(Collection)
    reversed_ids = select(reversal.reverses_id).where(reversal.reverses_id.is_not(None))
    return Collection.reverses_id.is_(None) & Collection.id.not_in(reversed_ids)


def periods_overlapping(start: date, end: date) -> list[PlanPeriod]:
    """Every week and month with a day from ``start`` to ``end`` (both included)."""
    found: list[PlanPeriod] = []
    week = week_of(start)
    while week.start <= end:
        found.append(week)
        week = week_of(week.end + timedelta(days=1))
    month = month_of(start)
    while month.start <= end:
        found.append(month)
        month = month_of(month.end + timedelta(days=1))
    return found


def attainment_select(
    periods: Sequence[PlanPeriod], people: ColumnElement[bool], zone: ZoneInfo
) -> Select[*tuple[Any, ...]]:  # more columns than SQLAlchemy types one by one
    """One statement: every plan of ``periods`` whose planner matches ``people`` (a condition on

    ``User``, or on ``WorkPlan.rep_id``), against the records of its own period.

    The periods' UTC bounds (their local midnights) are computed here and joined as a small table,
    so plans of different weeks and months are measured together (the export's Plans sheet) by
    correlated subqueries per plan: no statement per plan, per person or per period. Columns, in
    order: plan id, rep id, rep, team, kind, start, end, filed at, late, approved by, approved at,
    planned customers, planned visits, visits, planned customers visited, visits to planned
    customers, orders target, orders, collections target, collected (sums ``None`` when nothing).
    """
    rows = []
    for period in periods:
        first, after = period.bounds(zone)
        rows.append(
            select(
                literal(period.kind.value, String(16)).label("kind"),
                literal(period.start, Date()).label("starts_on"),
                literal(first, UTCDateTime()).label("first"),
                literal(after, UTCDateTime()).label("after"),
            )
        )
    table = (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("plan_periods")
    in_period = (Visit.visited_at >= table.c.first) & (Visit.visited_at < table.c.after)
    planner_visits = (Visit.rep_id == WorkPlan.rep_id) & in_period
    planned = select(WorkPlanCustomer.customer_id).where(WorkPlanCustomer.plan_id == WorkPlan.id)
    to_planned = planner_visits & Visit.customer_id.in_(planned)
    approver = aliased(User)
    return (
        select(
            WorkPlan.id,
            WorkPlan.rep_id,
            User.name,
            Team.name,
            WorkPlan.kind,
            WorkPlan.starts_on,
            WorkPlan.ends_on,
            WorkPlan.submitted_at,
            WorkPlan.late,
            approver.name,
            WorkPlan.approved_at,
            select(func.count())
            .select_from(WorkPlanCustomer)
            .where(WorkPlanCustomer.plan_id == WorkPlan.id)
            .scalar_subquery(),
            WorkPlan.planned_visits,
            select(func.count(Visit.id)).where(planner_visits).scalar_subquery(),
            select(func.count(distinct(Visit.customer_id))).where(to_planned).scalar_subquery(),
            select(func.count(Visit.id)).where(to_planned).scalar_subquery(),
            WorkPlan.orders_target,
            select(type_coerce(func.sum(Receivable.amount), Money()))
            .where(
                Receivable.rep_id == WorkPlan.rep_id,
                Receivable.source == ReceivableSource.ORDER,
                Receivable.issued_on >= WorkPlan.starts_on,
                Receivable.issued_on <= WorkPlan.ends_on,
                standing(),
            )
            .scalar_subquery(),
            WorkPlan.collections_target,
            select(type_coerce(func.sum(Collection.amount), Money()))
            .where(
                Collection.rep_id == WorkPlan.rep_id,
                Collection.received_at >= table.c.first,
                Collection.received_at < table.c.after,
                _standing_collections(),
            )
            .scalar_subquery(),
        )
        .join(
            table,
            (type_coerce(WorkPlan.kind, String(16)) == table.c.kind)
            & (WorkPlan.starts_on == table.c.starts_on),
        )
        .join(User, User.id == WorkPlan.rep_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(approver, approver.id == WorkPlan.approved_by)
        .where(people)
    )


def attainment_of(row: Sequence[Any]) -> Attainment:
    """A row of :func:`attainment_select` as the views read it."""
    (plan_id, rep_id, name, _team, kind, start, end, _filed, _late, _by, approved_at) = row[:11]
    customers, planned_visits, visits, visited, to_planned, orders_target, orders = row[11:18]
    collections_target, collected = row[18:20]
    return Attainment(
        plan_id,
        rep_id,
        name,
        PlanPeriod(kind, start, end),
        approved_at is not None,
        customers or 0,
        planned_visits,
        visits or 0,
        visited or 0,
        to_planned or 0,
        orders_target,
        orders or ZERO,
        collections_target,
        collected or ZERO,
    )


async def attainment(
    session: AsyncSession, period: PlanPeriod, people: ColumnElement[bool], zone: ZoneInfo
) -> list[Attainment]:
    """Every plan of ``period`` whose planner matches ``people`` (a condition on ``User``), against
    the records: one statement, whatever the number of plans (:func:`attainment_select`)."""
    rows = await session.execute(attainment_select([period], people, zone).order_by(User.name, WorkPlan.id))
    return [attainment_of(row) for row in rows]


def _people_in_scope(
    caller: Caller, *, team_id: int | None = None, rep_id: int | None = None
) -> ColumnElement[bool]:
    """A condition on ``User``: whose plans the caller sees (reps their own; managers their team's;
    the director, admins and finance everyone's), narrowed to a team or a person."""
    require(caller, Permission.VIEW_FIGURES)
    if caller.role == Role.REP:
        return User.id == caller.id
    condition: ColumnElement[bool] = true()
    if caller.role == Role.MANAGER:
        condition = User.team_id == caller.team_id if caller.team_id is not None else false()
    elif not (caller.sees_all_teams or caller.role == Role.FINANCE):
        return false()
    if team_id is not None:
        condition = condition & (User.team_id == team_id)
    if rep_id is not None:
        condition = condition & (User.id == rep_id)
    return condition


def period_for(start: date, end: date, monthly: bool) -> PlanPeriod:
    """The plan period a report period reads against: a month's, or the week its first day is in."""
    return month_of(start) if monthly else week_of(start)


async def figures(
    session: AsyncSession,
    caller: Caller,
    period: PlanPeriod,
    zone: ZoneInfo,
    *,
    team_id: int | None = None,
    rep_id: int | None = None,
) -> PlanFigures:
    """Plan against actual for ``period`` in the caller's scope, and the active reps in it who
    filed no plan."""
    people = _people_in_scope(caller, team_id=team_id, rep_id=rep_id)
    found = await attainment(session, period, people, zone)
    filed = select(WorkPlan.rep_id).where(WorkPlan.kind == period.kind, WorkPlan.starts_on == period.start)
    unfiled = tuple(
        await session.scalars(
            select(User.name)
            .where(people, User.role == Role.REP, User.active, User.id.not_in(filed))
            .order_by(User.name, User.id)
        )
    )
    return PlanFigures(period, tuple(found), unfiled)


async def own_figures(
    session: AsyncSession, caller: Caller, period: PlanPeriod, zone: ZoneInfo
) -> Attainment | None:
    """The caller's own plan of ``period`` against the records, if they filed one."""
    found = await attainment(session, period, User.id == caller.id, zone)
    return found[0] if found else None


# -- a prospect merged into the customer it is ---------------------------------------------------


# -- reminders and who is missing (the jobs) ------------------------------------------------------


async def unfiled(session: AsyncSession, period: PlanPeriod) -> list[Unfiled]:
    """Active reps without a plan for ``period`` (created before its deadline day ended)."""
    filed = select(WorkPlan.rep_id).where(WorkPlan.kind == period.kind, WorkPlan.starts_on == period.start)
    rows = await session.execute(
        select(
            User.id,
            User.name,
            User.language,
            User.team_id,
            Team.name,
            User.blocked_at.is_(None) & User.first_seen_at.is_not(None),
        )
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.role == Role.REP, User.active, User.id.not_in(filed))
        .order_by(User.name, User.id)
    )
    return [
        Unfiled(id_, name, language or "en", team_id, team, bool(reachable))
        for id_, name, language, team_id, team, reachable in rows
    ]
