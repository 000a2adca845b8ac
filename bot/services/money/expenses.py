"""Expense claims (regulations part 4 art. 3–5): claiming, deciding, the month's budget, the lists.

A rep (or a manager) claims ``/expense AMOUNT CATEGORY [NOTE]``, with the receipt's photo if they
have one. The claim is keyed by the update that made it (``source_key``): the same update twice
claims once. Its approvers get a push (the outbox, ``expense:<id>:<approver id>``, once each) with
Approve / Reject buttons: the claimant's team managers — or, when the claim takes the month past
the role's budget, the directors (else the admins). :func:`check_decider` is the one rule the
buttons apply. A decision is a conditional UPDATE on ``status = pending``: of two approvers pressing
at once one wins, the other is told who did. The claimant hears the decision, with what is left of
the month, through the outbox (``expense:<id>:decision``). Within 10 minutes, while undecided, the
claimant may undo a claim (withdrawn).

Why not the ``approvals`` table (bot/services/people/approvals.py): its requests are about a
customer (``customer_id`` is required, and the team that decides is the customer's), and a claim is
about nobody but the claimant; it also decides by the claimant's own team and by the budget. The
machinery is the same (pushes keyed once, a conditional decision, the requester told through the
outbox), and :func:`bot.services.people.approvals.approvers` picks who is told.

Budgets and allowances are company settings (``company_settings`` key ``expense_budgets``), per
role: none until an admin sets them (the regulations leave the amounts blank; see
bot/services/money/expense_rules.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, select, true, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, Translator, escape
from bot.services import audit, company, outbox
from bot.services.calendar import next_allowed
from bot.services.errors import AccessDenied, Invalid, NotFound
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.money.expense_rules import (
    CATEGORY_LABELS,
    CLAIMANTS,
    ZERO,
    BudgetState,
    ClaimTerms,
    Limits,
    above_allowance,
    month_of,
    next_month,
)
from bot.services.outbox import Buttons
from bot.services.people.access import Caller, Permission, require
from bot.services.people.approvals import approvers
from bot.services.reporting.periods import Period
from models import CompanySetting, Expense, ExpenseCategory, ExpenseStatus, Money, Outbox, Role, Team, User

JOB = "expenses"
SETTING_KEY = "expense_budgets"
#: The ``/settings`` words: ``/settings budget rep 3000``, ``/settings meal rep 30`` (or ``off``).
SETTING_WORDS = ("budget", "meal")
UNDO_WINDOW = timedelta(minutes=10)
#: Claims listed by /expenses in one message; the rest are counted (the export has them all).
LIST_LIMIT = 40
#: Pending claims read for ``/expenses pending``: a short queue, each one decided or withdrawn.
PENDING_LIMIT = 200
#: The word after /expenses that lists the claims waiting for the caller's decision.
PENDING_WORDS = ("pending", "待审批", "待審批")
_ROLE_WORDS: dict[str, Role] = {
    "rep": Role.REP,
    "reps": Role.REP,
    "销售员": Role.REP,
    "銷售員": Role.REP,
    "manager": Role.MANAGER,
    "managers": Role.MANAGER,
    "经理": Role.MANAGER,
    "主管": Role.MANAGER,
    "經理": Role.MANAGER,
}
_OFF_WORDS = {"off", "none", "-", "无", "無"}


# -- budgets and allowances (company settings) --------------------------------------------------------


async def limits(session: AsyncSession) -> dict[Role, Limits]:
    """Each claiming role's budget and meal allowance: none unless an admin set them."""
    row = await session.get(CompanySetting, SETTING_KEY)
    stored: dict[str, dict[str, str | None]] = dict(row.value) if row is not None else {}
    result = {}
    for role in CLAIMANTS:
        values = stored.get(role.value) or {}
        result[role] = Limits(_decimal_or_none(values.get("budget")), _decimal_or_none(values.get("meal")))
    return result


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _stored(table: dict[Role, Limits]) -> dict[str, dict[str, str | None]]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        role.value: {"budget": text(item.budget), "meal": text(item.meal)} for role, item in table.items()
    }


async def change_limits(session: AsyncSession, caller: Caller, words: list[str], now: datetime) -> Role:
    """``budget ROLE AMOUNT|off`` or ``meal ROLE AMOUNT|off`` (admins; audited). The role changed."""
    require(caller, Permission.MANAGE_SETTINGS)
    what = words[0].lower() if words else ""
    if what not in SETTING_WORDS or len(words) != 3:
        raise Invalid(
            N_(
                "Write budget or meal, a role (rep or manager) and an amount or off, e.g. "
                "/settings budget rep 3000 or /settings meal rep 30."
            )
        )
    role = _ROLE_WORDS.get(words[1].lower())
    if role is None:
        raise Invalid(N_("Expense budgets are set for the roles rep and manager."))
    amount = None if words[2].lower() in _OFF_WORDS else parse_amount(words[2])
    table = await limits(session)
    before = _stored(table)
    current = table[role]
    table[role] = Limits(amount, current.meal) if what == "budget" else Limits(current.budget, amount)
    after = _stored(table)
    row = await session.get(CompanySetting, SETTING_KEY)
    if row is None:
        session.add(CompanySetting(key=SETTING_KEY, value=after, updated_at=now, updated_by=caller.id))
    else:
        row.value, row.updated_at, row.updated_by = after, now, caller.id
    audit.record(
        session,
        actor_id=caller.id,
        action="setting",
        entity="company_setting",
        entity_id=None,
        at=now,
        before={SETTING_KEY: before},
        after={SETTING_KEY: after},
    )
    return role


# -- reading claims -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpenseView:
    """A claim as people see it."""

    id: int
    rep_id: int
    rep: str
    role: Role
    team_id: int | None
    team: str | None
    amount: Decimal
    category: ExpenseCategory
    note: str | None
    receipt_file_id: str | None
    claimed_at: datetime
    month: date
    status: ExpenseStatus
    budget: Decimal | None
    over_budget: bool
    decided_by: str | None
    decided_at: datetime | None


def _views() -> Select[*tuple[Any, ...]]:  # more columns than SQLAlchemy types one by one

    claimant, decider = aliased(User), aliased(User)
    return (
        select(
            Expense.id,
            Expense.rep_id,
            claimant.name,
            claimant.role,
            claimant.team_id,
            Team.name,
            Expense.amount,
            Expense.category,
            Expense.note,
            Expense.receipt_file_id,
            Expense.claimed_at,
            Expense.month,
            Expense.status,
            Expense.budget,
            Expense.over_budget,
            decider.name,
            Expense.decided_at,
        )
        .join(claimant, claimant.id == Expense.rep_id)
        .outerjoin(Team, Team.id == claimant.team_id)
        .outerjoin(decider, decider.id == Expense.decided_by)
    )


async def load(session: AsyncSession, expense_id: int) -> ExpenseView:
    row = (await session.execute(_views().where(Expense.id == expense_id))).one_or_none()
    if row is None:
        raise NotFound(N_("There is no expense claim #{id}."), id=expense_id)
    return ExpenseView(*row)


async def budget_state(session: AsyncSession, rep_id: int, role: Role, month: date) -> BudgetState:
    """``rep_id``'s claims of ``month`` (its first day) against their role's budget."""
    budget = (await limits(session)).get(role, Limits()).budget
    rows = await session.execute(
        select(Expense.status, func.coalesce(func.sum(Expense.amount), 0))
        .where(
            Expense.rep_id == rep_id,
            Expense.month == month,
            Expense.status.in_((ExpenseStatus.APPROVED, ExpenseStatus.PENDING)),
        )
        .group_by(Expense.status)
    )
    sums = {status: Decimal(str(total)) for status, total in rows}
    return BudgetState(
        month,
        budget,
        sums.get(ExpenseStatus.APPROVED, ZERO).quantize(ZERO),
        sums.get(ExpenseStatus.PENDING, ZERO).quantize(ZERO),
    )


async def my_budget(session: AsyncSession, caller: Caller, today: date) -> BudgetState:
    check_may_claim(caller)
    return await budget_state(session, caller.id, caller.role, month_of(today))


async def in_range(session: AsyncSession, rep_id: int, start: datetime, end: datetime) -> list[ExpenseView]:
    """``rep_id``'s claims made from ``start`` (included) to ``end`` (excluded), oldest first, whatever
    their status (for the vehicle log: the fuel claimed during a trip). No permission check: the
    caller has already decided that the rep's records are theirs to see."""
    rows = await session.execute(
        _views()
        .where(Expense.rep_id == rep_id, Expense.claimed_at >= start, Expense.claimed_at < end)
        .order_by(Expense.claimed_at, Expense.id)
    )
    return [ExpenseView(*row) for row in rows]


# -- claiming -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    view: ExpenseView
    budget: BudgetState  # the month with this claim in it
    above_allowance: bool
    meal_allowance: Decimal | None
    repeated: bool  # this update had already claimed it (a redelivery, a second tap)
    approvers: int  # pushes queued now (0: nobody who can decide it can be reached, or repeated)


def check_may_claim(caller: Caller) -> None:
    if caller.role not in CLAIMANTS:
        raise AccessDenied(N_("Your role does not allow this."))


async def claim(
    session: AsyncSession,
    caller: Caller,
    terms: ClaimTerms,
    *,
    receipt_file_id: str | None,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
) -> Claimed:
    """Write the claim against the month's budget and queue its approvers' pushes (once per update)."""
    check_may_claim(caller)
    if terms.category is None:
        raise Invalid(N_("Name the expense's category, e.g. /expense 45 meals."))
    table = await limits(session)
    role_limits = table.get(caller.role, Limits())
    earlier = await session.scalar(
        select(Expense.id).where(Expense.source_key == source_key, Expense.rep_id == caller.id)
    )
    if earlier is not None:
        return await _claimed(session, earlier, role_limits, repeated=True, queued=0)
    month = month_of(now.astimezone(zone).date())
    state = await budget_state(session, caller.id, caller.role, month)
    expense = Expense(
        rep_id=caller.id,
        amount=terms.amount,
        category=terms.category,
        note=terms.note,
        receipt_file_id=receipt_file_id,
        claimed_at=now,
        month=month,
        status=ExpenseStatus.PENDING,
        budget=state.budget,
        over_budget=state.over_with(terms.amount),
        source_key=source_key,
    )
    try:
        async with session.begin_nested():
            session.add(expense)
    except IntegrityError:  # a concurrent delivery of the same update wrote it first
        found = await session.scalar(select(Expense.id).where(Expense.source_key == source_key))
        if found is None:
            raise
        return await _claimed(session, found, role_limits, repeated=True, queued=0)
    audit.record(
        session,
        actor_id=caller.id,
        action="expense.claim",
        entity="expense",
        entity_id=expense.id,
        at=now,
        after={
            "amount": str(terms.amount),
            "category": terms.category.value,
            "month": month.isoformat(),
            "over_budget": expense.over_budget,
        },
    )
    queued = await notify_approvers(session, expense.id, now, zone)
    return await _claimed(session, expense.id, role_limits, repeated=False, queued=queued)


async def _claimed(
    session: AsyncSession, expense_id: int, role_limits: Limits, *, repeated: bool, queued: int
) -> Claimed:
    view = await load(session, expense_id)
    state = await budget_state(session, view.rep_id, view.role, view.month)
    return Claimed(
        view,
        state,
        above_allowance(view.category, view.amount, role_limits),
        role_limits.meal,
        repeated,
        queued,
    )


async def _own_pending(session: AsyncSession, caller: Caller, expense_id: int) -> ExpenseView:
    view = await load(session, expense_id)
    if view.rep_id != caller.id:
        raise AccessDenied(N_("That is not your claim."))
    return view


async def attach_receipt(
    session: AsyncSession, caller: Caller, expense_id: int, file_id: str, *, now: datetime
) -> ExpenseView:
    """The receipt's photo, sent after the claim: kept while nobody has decided it."""
    view = await _own_pending(session, caller, expense_id)
    if view.status != ExpenseStatus.PENDING:
        raise Invalid(N_("Claim #{id} has been decided: its receipt can no longer change."), id=expense_id)
    await session.execute(
        update(Expense)
        .where(Expense.id == expense_id)
        .values(receipt_file_id=file_id)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor_id=caller.id,
        action="expense.receipt",
        entity="expense",
        entity_id=expense_id,
        at=now,
        before={"receipt": view.receipt_file_id is not None},
        after={"receipt": True},
    )
    return await load(session, expense_id)


async def undo(session: AsyncSession, caller: Caller, expense_id: int, *, now: datetime) -> ExpenseView:
    """The claimant's Undo: within :data:`UNDO_WINDOW`, while nobody has decided it."""
    view = await _own_pending(session, caller, expense_id)
    if view.status == ExpenseStatus.WITHDRAWN:
        return view
    if view.status != ExpenseStatus.PENDING:
        raise Invalid(N_("Claim #{id} has already been decided: it cannot be undone."), id=expense_id)
    if now - view.claimed_at > UNDO_WINDOW:
        raise Invalid(N_("Undo is possible for 10 minutes after a claim; ask your manager instead."))
    won = await session.execute(
        update(Expense)
        .where(Expense.id == expense_id, Expense.status == ExpenseStatus.PENDING)
        .values(status=ExpenseStatus.WITHDRAWN, decided_by=caller.id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if not won.rowcount:  # type: ignore[attr-defined]  # decided a moment ago
        raise Invalid(N_("Claim #{id} has already been decided: it cannot be undone."), id=expense_id)
    audit.record(
        session,
        actor_id=caller.id,
        action="expense.undo",
        entity="expense",
        entity_id=expense_id,
        at=now,
        before={"status": ExpenseStatus.PENDING.value},
        after={"status": ExpenseStatus.WITHDRAWN.value},
    )
    await drop_followups(session, expense_id, now)
    return await load(session, expense_id)


# -- deciding -----------------------------------------------------------------------------------------


def check_decider(caller: Caller, view: ExpenseView) -> None:
    """Refuse unless ``caller`` may decide ``view``: the one rule for the buttons.

    A claim within the budget: the claimant's team manager, the director or an admin. A claim over
    the month's budget: the director or an admin only. Nobody decides their own.
    """
    require(caller, Permission.APPROVE)
    if view.rep_id == caller.id:
        raise AccessDenied(N_("This is your own claim: someone above you decides it."))
    if caller.sees_all_teams:
        return
    if view.over_budget:
        raise AccessDenied(N_("This claim is over the month's budget: the director decides it."))
    if caller.role != Role.MANAGER or caller.team_id is None or caller.team_id != view.team_id:
        raise AccessDenied(N_("This claim is for another team's manager to decide."))


def may_decide(caller: Caller, view: ExpenseView) -> bool:
    try:
        check_decider(caller, view)
    except AccessDenied:
        return False
    return True


async def to_decide(session: AsyncSession, caller: Caller) -> list[ExpenseView]:
    """Every pending claim ``caller`` may decide, oldest first: filtered by :func:`check_decider`
    itself, so the list never offers a claim the buttons would refuse (``/expenses pending``)."""
    require(caller, Permission.APPROVE)
    rows = await session.execute(
        _views().where(Expense.status == ExpenseStatus.PENDING).order_by(Expense.id).limit(PENDING_LIMIT)
    )
    return [view for view in (ExpenseView(*row) for row in rows) if may_decide(caller, view)]


async def request_text(session: AsyncSession, t: Translator, view: ExpenseView, zone: ZoneInfo) -> str:
    """The approvers' push text of ``view`` as it stands now."""
    state = await budget_state(session, view.rep_id, view.role, view.month)
    role_limits = (await limits(session)).get(view.role, Limits())
    return render_request(t, view, state, role_limits, zone)


@dataclass(frozen=True)
class ExpenseDecision:
    view: ExpenseView
    decided_now: bool  # False: it had already been decided (a double tap, another approver first)


async def decide(
    session: AsyncSession, caller: Caller, expense_id: int, approve: bool, *, now: datetime, zone: ZoneInfo
) -> ExpenseDecision:
    """Approve or reject a pending claim; a decided one is reported as it stands."""
    view = await load(session, expense_id)
    check_decider(caller, view)
    if view.status != ExpenseStatus.PENDING:
        return ExpenseDecision(view, decided_now=False)
    status = ExpenseStatus.APPROVED if approve else ExpenseStatus.REJECTED
    won = await session.execute(
        update(Expense)
        .where(Expense.id == expense_id, Expense.status == ExpenseStatus.PENDING)
        .values(status=status, decided_by=caller.id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if not won.rowcount:  # type: ignore[attr-defined]  # another approver decided a moment ago
        return ExpenseDecision(await load(session, expense_id), decided_now=False)
    audit.record(
        session,
        actor_id=caller.id,
        action="expense.approve" if approve else "expense.reject",
        entity="expense",
        entity_id=expense_id,
        at=now,
        before={"status": ExpenseStatus.PENDING.value},
        after={"status": status.value, "amount": str(view.amount), "over_budget": view.over_budget},
    )
    await drop_followups(session, expense_id, now)
    decided = await load(session, expense_id)
    await _tell_claimant(session, decided, now, zone)
    return ExpenseDecision(decided, decided_now=True)


async def receipt_of(session: AsyncSession, caller: Caller, expense_id: int) -> ExpenseView:
    """A claim whose receipt ``caller`` may see: the claimant, whoever may decide it, or list it."""
    view = await load(session, expense_id)
    if view.rep_id == caller.id:
        return view
    if not _may_see(caller, view):
        raise AccessDenied(N_("Your role does not allow this."))
    return view


def _may_see(caller: Caller, view: ExpenseView) -> bool:
    if caller.role in (Role.ADMIN, Role.DIRECTOR, Role.FINANCE):
        return True
    return caller.role == Role.MANAGER and caller.team_id is not None and caller.team_id == view.team_id


# -- the pushes ---------------------------------------------------------------------------------------


async def notify_approvers(session: AsyncSession, expense_id: int, now: datetime, zone: ZoneInfo) -> int:
    """Queue the claim's push to each approver (once per approver, however often called)."""
    view = await load(session, expense_id)
    if view.status != ExpenseStatus.PENDING:
        return 0
    state = await budget_state(session, view.rep_id, view.role, view.month)
    role_limits = (await limits(session)).get(view.role, Limits())
    not_before = next_allowed(now, await company.load(session), zone)
    team = None if view.over_budget else view.team_id
    queued = 0
    for person in await approvers(session, team, view.rep_id):
        t = Translator(person.language)
        queued += await outbox.enqueue(
            session,
            recipient_id=person.id,
            job=JOB,
            dedup_key=f"expense:{view.id}:{person.id}",
            text=render_request(t, view, state, role_limits, zone),
            buttons=decision_buttons(t, view.id),
            now=now,
            not_before=not_before,
        )
    return queued


async def _tell_claimant(session: AsyncSession, view: ExpenseView, now: datetime, zone: ZoneInfo) -> None:
    language = await session.scalar(select(User.language).where(User.id == view.rep_id))
    state = await budget_state(session, view.rep_id, view.role, view.month)
    t = Translator(language or "en")
    await outbox.enqueue(
        session,
        recipient_id=view.rep_id,
        job=JOB,
        dedup_key=f"expense:{view.id}:decision",
        text=render_outcome(t, view, state),
        now=now,
        not_before=next_allowed(now, await company.load(session), zone),
    )


def decision_buttons(t: Translator, expense_id: int) -> Buttons:
    return [
        [
            {"text": t.gettext(N_("✅ Approve")), "callback_data": f"exp:yes:{expense_id}"},
            {"text": t.gettext(N_("❌ Reject")), "callback_data": f"exp:no:{expense_id}"},
        ],
        [{"text": t.gettext(N_("🧾 Receipt")), "callback_data": f"exp:rcpt:{expense_id}"}],
    ]


# -- claims nobody decides (jobs/expense_followup.py) -------------------------------------------------

#: The follow-up job; its outbox keys are ``expense_followup:<recipient>:<claim>:<stage>``.
FOLLOWUP_JOB = "expense_followup"
#: Working days a claim may wait before its approvers are reminded, and before it goes a level up.
REMIND_AFTER, ESCALATE_AFTER = 2, 4
REMIND, ESCALATE = "remind", "escalate"


async def pending_claims(session: AsyncSession) -> list[ExpenseView]:
    """Every claim still waiting for a decision, oldest first (one statement)."""
    rows = await session.execute(_views().where(Expense.status == ExpenseStatus.PENDING).order_by(Expense.id))
    return [ExpenseView(*row) for row in rows]


def working_days_waited(claimed_on: date, today: date, settings: company.CompanySettings) -> int:
    """The company's working days after the day of the claim, up to and including ``today`` (so a
    claim made on Monday has waited 2 on Wednesday): days off and holidays left out, make-up workdays
    counted."""
    return sum(
        settings.is_working_day(claimed_on + timedelta(days=n))
        for n in range(1, (today - claimed_on).days + 1)
    )


def followup_stages(waited: int) -> tuple[str, ...]:
    """What a claim that has waited ``waited`` working days is owed: each stage is pushed once."""
    stages = []
    if waited >= REMIND_AFTER:
        stages.append(REMIND)
    if waited >= ESCALATE_AFTER:
        stages.append(ESCALATE)
    return tuple(stages)


async def drop_followups(session: AsyncSession, expense_id: int, now: datetime) -> None:
    """A claim decided or withdrawn: its reminders and escalations still waiting to go out (queued on
    a day off, or in quiet hours) are dropped, so nobody is chased about a decided claim."""
    await session.execute(
        update(Outbox)
        .where(
            Outbox.job == FOLLOWUP_JOB,
            Outbox.dedup_key.like(f"{FOLLOWUP_JOB}:%:{expense_id}:%"),
            Outbox.sent_at.is_(None),
            Outbox.dropped_at.is_(None),
        )
        .values(dropped_at=now, last_error="decided before it was sent")
        .execution_options(synchronize_session=False)
    )


def render_reminder(t: Translator, view: ExpenseView, waited: int, zone: ZoneInfo) -> str:
    """The reminder to the claim's approvers: the claim, and how long it has waited."""
    lines = [
        t(
            N_("⏰ Expense claim #{id} from {name} has waited {days} working days for your decision."),
            id=view.id,
            name=view.rep,
            days=waited,
        )
    ]
    lines += _claim_lines(t, view, zone)
    if view.over_budget:
        lines.append(t(N_("⚠️ This claim takes the month over the budget: the director decides it.")))
    return "\n".join(lines)


def render_escalation(
    t: Translator, view: ExpenseView, waited: int, waiting_for: Sequence[str], zone: ZoneInfo
) -> str:
    """The claim as the next level up reads it: who it has waited for, and that they may decide it."""
    lines = [
        t(
            N_(
                "⚠️ Expense claim #{id} from {name} has waited {days} working days and nobody has "
                "decided it (waiting for {people}). You can decide it."
            ),
            id=view.id,
            name=view.rep,
            days=waited,
            people=", ".join(waiting_for) or "—",
        )
    ]
    lines += _claim_lines(t, view, zone)
    return "\n".join(lines)


# -- the lists ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonMonth:
    """One person's claims in a listing, and their month's budget (for a one-month period)."""

    rep_id: int
    name: str
    approved: Decimal
    pending: Decimal
    budget: BudgetState | None


@dataclass(frozen=True)
class Listing:
    period: Period
    people: tuple[PersonMonth, ...]
    claims: tuple[ExpenseView, ...]  # at most LIST_LIMIT, newest first
    count: int  # every claim of the period in scope
    approved: Decimal
    pending: Decimal
    rejected: Decimal


def _scope(caller: Caller) -> ColumnElement[bool]:
    """Whose claims ``caller`` lists: their own (a rep), their team's (a manager), everyone's."""
    if caller.role in (Role.ADMIN, Role.DIRECTOR, Role.FINANCE):
        return true()
    if caller.role == Role.MANAGER:
        team = select(User.id).where(User.team_id == caller.team_id) if caller.team_id is not None else None
        return Expense.rep_id.in_(team) if team is not None else Expense.rep_id == caller.id
    if caller.role == Role.REP:
        return Expense.rep_id == caller.id
    raise AccessDenied(N_("Your role does not allow this."))


def _month_bounds(period: Period) -> tuple[date, date]:
    """The budget months a period touches: claims count in the month they were made."""
    return month_of(period.start), next_month(period.end)


async def listing(session: AsyncSession, caller: Caller, period: Period, zone: ZoneInfo) -> Listing:
    """``/expenses [period]``: the claims made in ``period`` in the caller's scope, with totals."""
    scope = _scope(caller)
    start, end = period.bounds(zone)
    where = (scope, Expense.claimed_at >= start, Expense.claimed_at < end)
    live = Expense.status.in_((ExpenseStatus.PENDING, ExpenseStatus.APPROVED, ExpenseStatus.REJECTED))
    rows = await session.execute(
        _views().where(*where, live).order_by(Expense.claimed_at.desc(), Expense.id.desc()).limit(LIST_LIMIT)
    )
    claims = tuple(ExpenseView(*row) for row in rows)

    def summed(status: ExpenseStatus) -> Any:
        return func.coalesce(func.sum(case((Expense.status == status, Expense.amount), else_=0)), 0)

    per_person = await session.execute(
        select(
            Expense.rep_id,
            User.name,
            User.role,
            summed(ExpenseStatus.APPROVED),
            summed(ExpenseStatus.PENDING),
            summed(ExpenseStatus.REJECTED),
            func.count(),
        )
        .join(User, User.id == Expense.rep_id)
        .where(*where, live)
        .group_by(Expense.rep_id, User.name, User.role)
        .order_by(User.name)
    )
    one_month = period.start.replace(day=1) == period.end.replace(day=1)
    people: list[PersonMonth] = []
    approved = pending = rejected = ZERO
    count = 0
    for rep_id, name, role, ok, waiting, refused, n in per_person:
        ok, waiting = _money(ok), _money(waiting)
        approved, pending, rejected = approved + ok, pending + waiting, rejected + _money(refused)
        count += n
        state = await budget_state(session, rep_id, role, month_of(period.start)) if one_month else None
        people.append(PersonMonth(rep_id, name, ok, waiting, state))
    return Listing(period, tuple(people), claims, count, approved, pending, rejected)


@dataclass(frozen=True)
class TeamMonth:
    """A team's month so far: approved claims against the sum of its claimants' budgets."""

    team: str
    month: date
    reps: int
    managers: int
    approved: Decimal
    budget: Decimal | None  # None: neither claiming role in the team has a budget set

    @property
    def left(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.approved


async def team_months(session: AsyncSession, caller: Caller, today: date) -> list[TeamMonth]:
    """``/expenses`` for a manager (their team) or the director, admins and finance (every team): each
    team's approved claims of this month against its budget (each active rep's and manager's role
    budget, added up). One aggregate statement, and the settings row for the budgets; reps and the
    other roles get nothing (their scope is their own claims)."""
    if caller.role == Role.MANAGER:
        if caller.team_id is None:
            return []
        scope: ColumnElement[bool] = Team.id == caller.team_id
    elif caller.role in (Role.ADMIN, Role.DIRECTOR, Role.FINANCE):
        scope = true()
    else:
        return []
    month = month_of(today)

    def members(role: Role) -> Any:
        member = aliased(User)
        return (
            select(func.count())
            .select_from(member)
            .where(member.team_id == Team.id, member.active, member.role == role)
            .scalar_subquery()
        )

    claimant = aliased(User)
    approved = (
        select(type_coerce(func.sum(Expense.amount), Money()))
        .join(claimant, claimant.id == Expense.rep_id)
        .where(claimant.team_id == Team.id, Expense.status == ExpenseStatus.APPROVED, Expense.month == month)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Team.name, members(Role.REP), members(Role.MANAGER), approved).where(scope).order_by(Team.name)
    )
    table = await limits(session)
    found = []
    for name, reps, managers, total in rows:
        budgets = [
            count * table[role].budget
            for role, count in ((Role.REP, reps), (Role.MANAGER, managers))
            if count and table[role].budget is not None
        ]
        found.append(
            TeamMonth(name, month, reps, managers, total or ZERO, sum(budgets, ZERO) if budgets else None)
        )
    return found


def team_lines(t: Translator, months: Sequence[TeamMonth]) -> list[str]:
    """One line per team: this month's approved claims against the team's budget."""
    lines = []
    for item in months:
        values = {
            "team": item.team,
            "month": f"{item.month:%Y-%m}",
            "approved": format_amount(item.approved),
        }
        if item.budget is None or item.left is None:
            lines.append(t(N_("• {team}, {month} so far: approved {approved} · no budget set"), **values))
        elif item.left >= 0:
            lines.append(
                t(
                    N_("• {team}, {month} so far: approved {approved} of a budget of {budget} · left {left}"),
                    budget=format_amount(item.budget),
                    left=format_amount(item.left),
                    **values,
                )
            )
        else:
            lines.append(
                t(
                    N_(
                        "• {team}, {month} so far: approved {approved} of a budget of {budget} · "
                        "{over} over the budget"
                    ),
                    budget=format_amount(item.budget),
                    over=format_amount(-item.left),
                    **values,
                )
            )
    return lines


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(ZERO)


# -- texts --------------------------------------------------------------------------------------------


def category_label(t: Translator, category: ExpenseCategory) -> str:
    return t.gettext(CATEGORY_LABELS[category])


def _when(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def budget_line(t: Translator, state: BudgetState) -> str:
    """The month's budget as the claimant and the approvers read it."""
    month = f"{state.month:%Y-%m}"
    if state.budget is None or state.left is None:
        return t(
            N_(
                "No monthly expense budget is set for this role (the regulations leave the amount to "
                "the company; an admin sets it with /settings budget). Claimed in {month}: "
                "{approved} approved, {pending} pending."
            ),
            month=month,
            approved=format_amount(state.approved),
            pending=format_amount(state.pending),
        )
    if state.left < 0:
        return t(
            N_(
                "Budget for {month}: {budget} · approved {approved} · pending {pending} · "
                "{over} over the budget"
            ),
            month=month,
            budget=format_amount(state.budget),
            approved=format_amount(state.approved),
            pending=format_amount(state.pending),
            over=format_amount(-state.left),
        )
    return t(
        N_("Budget for {month}: {budget} · approved {approved} · pending {pending} · left {left}"),
        month=month,
        budget=format_amount(state.budget),
        approved=format_amount(state.approved),
        pending=format_amount(state.pending),
        left=format_amount(state.left),
    )


def _claim_lines(t: Translator, view: ExpenseView, zone: ZoneInfo) -> list[str]:
    lines = [
        t(
            N_("Amount: {amount} · {category}"),
            amount=format_amount(view.amount),
            category=category_label(t, view.category),
        )
    ]
    if view.note:
        lines.append(t(N_("Note: {note}"), note=view.note))
    lines.append(t(N_("Claimed: {when}"), when=_when(view.claimed_at, zone)))
    return lines


def allowance_line(t: Translator, meal: Decimal | None) -> str:
    return t(
        N_("⚠️ Above the meal allowance of {allowance} per meal (regulations part 4, art. 3)."),
        allowance=format_amount(meal or ZERO),
    )


def render_request(
    t: Translator, view: ExpenseView, state: BudgetState, role_limits: Limits, zone: ZoneInfo
) -> str:
    """The claim as an approver reads it."""
    lines = [t(N_("🧾 <b>Expense claim</b> #{id} from {name}"), id=view.id, name=view.rep)]
    lines += _claim_lines(t, view, zone)
    if above_allowance(view.category, view.amount, role_limits):
        lines.append(allowance_line(t, role_limits.meal))
    lines.append(budget_line(t, state))
    if view.over_budget:
        lines.append(t(N_("⚠️ This claim takes the month over the budget: the director decides it.")))
    return "\n".join(lines)


def render_decided(t: Translator, view: ExpenseView, zone: ZoneInfo) -> str:
    """The claim and its decision, as the pressed push shows it afterwards."""
    lines = [t(N_("🧾 <b>Expense claim</b> #{id} from {name}"), id=view.id, name=view.rep)]
    lines += _claim_lines(t, view, zone)
    lines.append("")
    lines.append(status_line(t, view, zone))
    return "\n".join(lines)


def status_line(t: Translator, view: ExpenseView, zone: ZoneInfo) -> str:
    name = view.decided_by or "—"
    when = _when(view.decided_at, zone) if view.decided_at else "—"
    if view.status == ExpenseStatus.APPROVED:
        return t(N_("✅ Approved by {name}, {when}"), name=name, when=when)
    if view.status == ExpenseStatus.REJECTED:
        return t(
            N_("❌ Rejected by {name}, {when}: it does not count against the budget"), name=name, when=when
        )
    if view.status == ExpenseStatus.WITHDRAWN:
        return t(N_("↩ Withdrawn by {name}, {when}: nothing to decide"), name=name, when=when)
    if view.over_budget:
        return t(N_("⏳ Pending: over the month's budget, waiting for the director"))
    return t(N_("⏳ Pending: waiting for the manager"))


def render_outcome(t: Translator, view: ExpenseView, state: BudgetState) -> str:
    """The decision as the claimant reads it, with what is left of the month."""
    values = {
        "id": view.id,
        "amount": format_amount(view.amount),
        "category": category_label(t, view.category),
        "name": view.decided_by or "—",
    }
    if view.status == ExpenseStatus.APPROVED:
        head = t(N_("✅ Your expense claim #{id} ({amount}, {category}) was approved by {name}."), **values)
    else:
        head = t(
            N_(
                "❌ Your expense claim #{id} ({amount}, {category}) was rejected by {name}. "
                "It does not count against your budget."
            ),
            **values,
        )
    return "\n".join([head, budget_line(t, state)])


def approvers_line(t: Translator, claimed: Claimed) -> str:
    if claimed.view.over_budget:
        return t(
            N_("This claim takes you over the month's budget: the director decides it. I will tell you.")
        )
    return t(N_("Your manager decides it; I will tell you."))


def person_lines(t: Translator, listing: Listing) -> list[str]:
    """One line per person: approved, pending, and their month's budget when the period is a month."""
    lines = []
    for person in listing.people:
        line = t(
            N_("• {name}: approved {approved}, pending {pending}"),
            name=person.name,
            approved=format_amount(person.approved),
            pending=format_amount(person.pending),
        )
        state = person.budget
        if state is not None and state.budget is not None and state.left is not None:
            line += t(
                N_(" · budget {budget}, left {left}")
                if state.left >= 0
                else N_(" · budget {budget}, {over} over the budget"),
                budget=format_amount(state.budget),
                left=format_amount(state.left),
                over=format_amount(-state.left),
            )
        lines.append(line)
    return lines


def claim_line(t: Translator, view: ExpenseView, zone: ZoneInfo, *, with_name: bool) -> str:
    marks = {
        ExpenseStatus.APPROVED: "✅",
        ExpenseStatus.REJECTED: "❌",
        ExpenseStatus.PENDING: "⏳",
        ExpenseStatus.WITHDRAWN: "↩",
    }
    text = t(
        N_("{mark} #{id} {day} {amount} {category}"),
        mark=marks[view.status],
        id=view.id,
        day=f"{view.claimed_at.astimezone(zone):%m-%d}",
        amount=format_amount(view.amount),
        category=category_label(t, view.category),
    )
    if with_name:
        text += " · " + escape(view.rep)
    if view.note:
        text += " · " + escape(view.note[:60])
    if view.receipt_file_id:
        text += " 📷"
    return text


def sum_of(views: Sequence[ExpenseView]) -> Decimal:
    return sum((view.amount for view in views), ZERO)
