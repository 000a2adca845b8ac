"""Overdue receivables by customer (/overdue), promises to pay and disputes.

Scope: a rep sees the receivables they carry, a manager those of their team's
customers, the director, admins and finance everything. A page of the list is
two aggregate queries (the totals and the page), however many invoices are
overdue, read from the open receivables' index (see ``bot/services/money/ledger.py``).

Who may change what: a promise to pay is recorded by the receivable's rep,
the manager of the customer's team, the director or an admin; a receivable is
marked disputed (or no longer disputed) by the manager of the customer's team,
finance, the director or an admin. Both pause the overdue follow-up pushes
(``jobs/overdue_followup.py``): a promise until its date, a dispute until it is
lifted.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Select,
    SQLColumnExpression,
    Subquery,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, echo
from bot.services import audit
from bot.services.errors import AccessDenied, Invalid, NotFound
from bot.services.field import customers
from bot.services.field.customers import CustomerRef
from bot.services.money import ledger, overdue_rollup
from bot.services.money.amounts import format_amount, parse_amount
from bot.services.money.ledger import ZERO, is_open
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import local_date
from bot.services.reporting import dates
from models import Customer, Money, OverdueTotal, Receivable, Role, User

PER_PAGE = 10
INVOICES_PER_PAGE = 8
#: A promise further away than this is a typo, not a promise.
MAX_PROMISE_DAYS = 366
MAX_REASON = 300

PROMISE_ROLES = frozenset({Role.REP, Role.MANAGER, Role.DIRECTOR, Role.ADMIN})
DISPUTE_ROLES = frozenset({Role.MANAGER, Role.FINANCE, Role.DIRECTOR, Role.ADMIN})


@dataclass(frozen=True)
class RepRef:
    id: int
    name: str


@dataclass(frozen=True)
class OverdueCustomer:
    """One customer's overdue receivables, summed."""

    customer: CustomerRef
    rep_name: str | None  # the customer's rep
    total: Decimal
    invoices: int
    days: int  # days overdue of the oldest invoice
    level: int  # highest follow-up level already pushed (0: none yet)
    promise_date: date | None  # the last date of the promises to pay still ahead
    promise_amount: Decimal | None  # what those promises add up to
    disputed: Decimal  # overdue amount under dispute


@dataclass(frozen=True)
class OverduePage:
    items: list[OverdueCustomer]
    page: int
    pages: int
    customers: int
    invoices: int
    total: Decimal
    rep: RepRef | None  # the list is limited to this rep's receivables
    #: Customers in scope holding unapplied credit (they owe nothing: credit is used on every open
    #: invoice), and how much: shown beside what is overdue, never netted against it.
    credit_customers: int = 0
    credit: Decimal = ZERO


@dataclass(frozen=True)
class OverdueInvoice:
    id: int
    invoice_no: str
    issued_on: date
    due_on: date
    amount: Decimal
    open: Decimal
    days: int
    level: int
    disputed: bool
    promise_date: date | None
    promise_amount: Decimal | None


@dataclass(frozen=True)
class CustomerOverdue:
    customer: CustomerRef
    rep_name: str | None
    items: list[OverdueInvoice]
    page: int
    pages: int
    invoices: int
    total: Decimal
    #: The customer's unapplied credit (overpayments, returns beyond what they owed).
    credit: Decimal = ZERO


@dataclass(frozen=True)
class Target:
    """What ``/overdue TEXT`` names: a rep, a customer, or several candidate customers."""

    rep: RepRef | None = None
    customer: CustomerRef | None = None
    candidates: tuple[CustomerRef, ...] = ()


@dataclass(frozen=True)
class InvoiceRef:
    """A receivable someone may act on, with its open amount now."""

    id: int
    invoice_no: str
    customer: CustomerRef
    open: Decimal
    disputed: bool
    promise_date: date | None
    promise_amount: Decimal | None


@dataclass(frozen=True)
class Promise:
    invoice: InvoiceRef
    promise_date: date
    amount: Decimal
    changed: bool  # False: exactly this promise was already recorded


@dataclass(frozen=True)
class DisputeChange:
    invoice: InvoiceRef
    disputed: bool
    changed: bool  # False: it already was in that state


# -- scope ----------------------------------------------------------------------------------------


def receivable_scope(caller: Caller) -> ColumnElement[bool]:
    """The receivables ``caller`` sees (the query must join Customer)."""
    if caller.sees_all_customers:
        return true()
    if caller.role == Role.MANAGER:
        return Customer.team_id == caller.team_id if caller.team_id is not None else false()
    return Receivable.rep_id == caller.id


@dataclass(frozen=True)
class _Overdue:
    """Overdue receivables in a caller's scope: the open amount and how to select from them."""

    remaining: SQLColumnExpression[Decimal]
    condition: ColumnElement[bool]
    #: The scope is a condition on the customers (a manager's team): selecting needs their table.
    on_customers: bool

    @classmethod
    def of(cls, caller: Caller, today: date) -> _Overdue:
        return cls(
            Receivable.open_amount,
            (Receivable.due_on < today) & is_open() & receivable_scope(caller),
            on_customers=not caller.sees_all_customers and caller.role == Role.MANAGER,
        )

    def narrowed(self, condition: ColumnElement[bool]) -> _Overdue:
        return _Overdue(self.remaining, self.condition & condition, self.on_customers)

    def select(self, *columns: Any) -> Select[*tuple[Any, ...]]:
        """``SELECT columns`` over the overdue receivables (joined to their customers if the scope
        needs them; otherwise the open receivables' index alone answers)."""
        query = select(*columns).select_from(Receivable)
        if self.on_customers:
            query = query.join(Customer, Customer.id == Receivable.customer_id)
        return query.where(self.condition)

    def per_customer(self) -> CTE:
        """(customer_id, total, invoices) of every customer with overdue receivables in scope."""
        return (
            self.select(
                Receivable.customer_id.label("customer_id"),
                type_coerce(func.sum(self.remaining), Money()).label("total"),
                func.count().label("invoices"),
            )
            .group_by(Receivable.customer_id)
            .cte("per_customer")
        )


async def _per_customer(
    session: AsyncSession, caller: Caller, overdue: _Overdue, today: date, *, narrowed: bool
) -> FromClause:
    """(customer_id, total, invoices) of the customers with overdue receivables in scope.

    For the company or a team, read from the customers' overdue rollup
    (``bot/services/money/overdue_rollup.py``) once it is as of ``today``. A rep's own list, or one
    narrowed to a rep, counts receivables by *their* rep, which the per-customer rollup cannot tell
    apart: those few are summed, as is everything in a read-only transaction on a day the rollup
    has not been moved to yet. The sums are one pass over the overdue receivables, shared by the
    page and the totals.
    """
    rolled_up = caller.sees_all_customers or caller.role == Role.MANAGER
    if narrowed or not rolled_up or not await overdue_rollup.current(session, today):
        return overdue.per_customer()
    rows = select(
        OverdueTotal.customer_id.label("customer_id"),
        OverdueTotal.amount.label("total"),
        OverdueTotal.invoices.label("invoices"),
    )
    if not caller.sees_all_customers:  # a manager: their team's customers
        rows = rows.join(Customer, Customer.id == OverdueTotal.customer_id).where(
            Customer.team_id == caller.team_id if caller.team_id is not None else false()
        )
    return rows.subquery("per_customer")


def page_of_customers(per_customer: FromClause, page: int, per_page: int) -> Subquery:
    """(customer_id, total) of one page of customers, largest total first, then by name.

    The page is among the customers whose total reaches the ``page × per_page``-th largest
    total: a prefix of the whole order, so only that prefix (not every overdue customer) is
    sorted by name. The name is looked up per row of the prefix rather than joined: the
    planner cannot tell how small the prefix is, and a join made PostgreSQL hash every customer.
    """
    cutoff = (
        select(per_customer.c.total)
        .order_by(per_customer.c.total.desc())
        .limit(1)
        .offset(page * per_page - 1)
        .scalar_subquery()
    )
    name = select(Customer.name).where(Customer.id == per_customer.c.customer_id).scalar_subquery()
    return (
        select(per_customer.c.customer_id, per_customer.c.total)
        .where(per_customer.c.total >= func.coalesce(cutoff, 0))
        .order_by(per_customer.c.total.desc(), name, per_customer.c.customer_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page")
    )


def _pages(total: int, per_page: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-total // per_page))
    return min(max(page, 1), pages), pages


async def _rep_in_scope(session: AsyncSession, caller: Caller, rep_id: int) -> RepRef:
    """A person whose receivables the caller may list (a rep only their own)."""
    scope = User.id == caller.id if caller.role == Role.REP else _people_in_scope(caller)
    found = (await session.execute(select(User.id, User.name).where(User.id == rep_id, scope))).one_or_none()
    if found is None:
        raise AccessDenied(N_("That person is not in your team."))
    return RepRef(*found)


# -- the list -------------------------------------------------------------------------------------


async def overdue_by_customer(
    session: AsyncSession,
    caller: Caller,
    *,
    today: date,
    rep_id: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> OverduePage:
    """Overdue receivables grouped by customer, largest amount first, a page at a time."""
    require(caller, Permission.VIEW_FIGURES)
    rep = await _rep_in_scope(session, caller, rep_id) if rep_id is not None else None
    overdue = _Overdue.of(caller, today)
    if rep is not None:
        overdue = overdue.narrowed(Receivable.rep_id == rep.id)
    per_customer = await _per_customer(session, caller, overdue, today, narrowed=rep is not None)
    counts = select(
        func.count().label("customers"),
        func.sum(per_customer.c.invoices).label("invoices"),
        type_coerce(func.sum(per_customer.c.total), Money()).label("amount"),
    ).subquery("counts")
    # The customers' unapplied credit, in the same statements (one row, joined to the totals).
    holding = customers.in_scope(caller) & (Customer.rep_id == rep.id if rep is not None else true())
    credit = ledger.credit_totals(holding).subquery("credit")
    totals = (
        select(
            counts.c.customers,
            counts.c.invoices,
            counts.c.amount,
            credit.c.customers.label("credit_customers"),
            credit.c.total.label("credit"),
        )
        .select_from(counts)
        .join(credit, true())
        .subquery("totals")
    )
    rep_user = aliased(User)
    shown = page_of_customers(per_customer, max(page, 1), per_page)
    ahead = Receivable.promise_date >= today
    remaining = overdue.remaining
    rows = (
        await session.execute(
            select(
                Customer.id,
                Customer.code,
                Customer.name,
                Customer.grade,
                rep_user.name,
                shown.c.total,
                func.count(),
                func.min(Receivable.due_on),
                func.max(Receivable.followup_level),
                func.max(case((ahead, Receivable.promise_date))),
                type_coerce(func.sum(case((ahead, Receivable.promise_amount))), Money()),
                type_coerce(func.sum(case((Receivable.disputed, remaining), else_=0)), Money()),
                totals.c.customers,
                totals.c.invoices,
                totals.c.amount,
                totals.c.credit_customers,
                totals.c.credit,
            )
            .select_from(shown)
            .join(totals, true())
            .join(Customer, Customer.id == shown.c.customer_id)
            .join(Receivable, Receivable.customer_id == shown.c.customer_id)
            .outerjoin(rep_user, rep_user.id == Customer.rep_id)
            .where(overdue.condition)
            .group_by(
                Customer.id,
                Customer.code,
                Customer.name,
                Customer.grade,
                rep_user.name,
                shown.c.total,
                totals.c.customers,
                totals.c.invoices,
                totals.c.amount,
                totals.c.credit_customers,
                totals.c.credit,
            )
            .order_by(shown.c.total.desc(), Customer.name, Customer.id)
        )
    ).all()
    if not rows:  # nothing overdue, or a page past the end (a stale button): ask for the totals
        customer_count, invoice_count, grand_total, credit_count, credit_total = (
            await session.execute(select(totals))
        ).one()
        if customer_count and page > 1:
            last_page, _ = _pages(customer_count, per_page, page)
            return await overdue_by_customer(
                session, caller, today=today, rep_id=rep_id, page=last_page, per_page=per_page
            )
    else:
        customer_count, invoice_count, grand_total, credit_count, credit_total = rows[0][-5:]
    page, pages = _pages(customer_count or 0, per_page, page)
    items = [
        OverdueCustomer(
            CustomerRef(id_, code, name, grade),
            rep_name,
            amount,
            count,
            (today - oldest).days,
            level or 0,
            promise_date,
            promise_amount,
            disputed or ZERO,
        )
        for (
            id_,
            code,
            name,
            grade,
            rep_name,
            amount,
            count,
            oldest,
            level,
            promise_date,
            promise_amount,
            disputed,
            *_totals,
        ) in rows
    ]
    return OverduePage(
        items,
        page,
        pages,
        customer_count or 0,
        int(invoice_count or 0),
        grand_total or ZERO,
        rep,
        int(credit_count or 0),
        credit_total or ZERO,
    )


# -- one customer ---------------------------------------------------------------------------------


async def _customer_in_scope(session: AsyncSession, caller: Caller, customer_id: int) -> Customer:
    """A customer the caller may see, or whose receivables they carry (a rep after a reassignment)."""
    carried = exists().where(Receivable.customer_id == Customer.id, Receivable.rep_id == caller.id)
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id, or_(customers.in_scope(caller), carried))
    )
    if customer is None:
        raise AccessDenied(N_("That customer is not one of yours."))
    return customer


async def customer_overdue(
    session: AsyncSession,
    caller: Caller,
    customer_id: int,
    *,
    today: date,
    page: int = 1,
    per_page: int = INVOICES_PER_PAGE,
) -> CustomerOverdue:
    """One customer's overdue invoices in the caller's scope, oldest first, a page at a time."""
    require(caller, Permission.VIEW_FIGURES)
    customer = await _customer_in_scope(session, caller, customer_id)
    overdue = _Overdue.of(caller, today).narrowed(Receivable.customer_id == customer.id)
    count, total = (
        await session.execute(overdue.select(func.count(), type_coerce(func.sum(overdue.remaining), Money())))
    ).one()
    page, pages = _pages(count, per_page, page)
    rows = await session.execute(
        overdue.select(
            Receivable.id,
            Receivable.invoice_no,
            Receivable.issued_on,
            Receivable.due_on,
            Receivable.amount,
            overdue.remaining,
            Receivable.followup_level,
            Receivable.disputed,
            Receivable.promise_date,
            Receivable.promise_amount,
        )
        .order_by(Receivable.due_on, Receivable.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        OverdueInvoice(
            id_,
            invoice_no,
            issued_on,
            due_on,
            amount,
            open_,
            (today - due_on).days,
            level,
            disputed,
            promise_date,
            promise_amount,
        )
        for (
            id_,
            invoice_no,
            issued_on,
            due_on,
            amount,
            open_,
            level,
            disputed,
            promise_date,
            promise_amount,
        ) in rows
    ]
    rep_name = (
        await session.scalar(select(User.name).where(User.id == customer.rep_id))
        if customer.rep_id is not None
        else None
    )
    return CustomerOverdue(
        CustomerRef.of(customer), rep_name, items, page, pages, count, total or ZERO, credit=customer.credit
    )


# -- what /overdue TEXT names ---------------------------------------------------------------------


def _people_in_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.role == Role.MANAGER:
        return User.team_id == caller.team_id if caller.team_id is not None else false()
    return true()


async def _reps_named(session: AsyncSession, caller: Caller, clause: ColumnElement[bool]) -> list[RepRef]:
    rows = await session.execute(
        select(User.id, User.name)
        .where(_people_in_scope(caller), clause)
        .order_by(User.name, User.id)
        .limit(6)
    )
    return [RepRef(*row) for row in rows]


async def find_target(session: AsyncSession, caller: Caller, text: str) -> Target:
    """A rep (``@username`` or exact name), else a customer, else a rep whose name contains the text.

    Reps only ever name customers: their own list is already theirs alone.
    """
    require(caller, Permission.VIEW_FIGURES)
    query = " ".join(text.split())
    if not query:
        raise Invalid(N_("Name a customer or a rep."))
    names_reps = caller.role != Role.REP
    if names_reps:
        folded = query.lower()
        clause = (
            func.lower(User.username) == folded.removeprefix("@")
            if query.startswith("@")
            else func.lower(User.name) == folded
        )
        exact = await _reps_named(session, caller, clause)
        if len(exact) == 1:
            return Target(rep=exact[0])
        if query.startswith("@"):
            raise NotFound(N_("Nobody matches {query}."), query=echo(query))
    resolution = await customers.resolve(session, caller, query)
    if resolution.customer is not None or resolution.candidates:
        return Target(customer=resolution.customer, candidates=resolution.candidates)
    if names_reps:
        similar = await _reps_named(
            session, caller, func.lower(User.name).contains(query.lower(), autoescape=True)
        )
        if len(similar) == 1:
            return Target(rep=similar[0])
        if similar:
            raise Invalid(
                N_("{query} matches several people: {names}. Use the @username."),
                query=query[:100],
                names=", ".join(rep.name for rep in similar[:5]),
            )
        raise NotFound(N_("No customer or rep matches {query}."), query=echo(query))
    raise NotFound(
        N_("No customer matches {query}. Try part of the name or the customer code; /customers lists yours."),
        query=echo(query),
    )


# -- promises and disputes ------------------------------------------------------------------------


async def _invoice(session: AsyncSession, receivable_id: int) -> tuple[Receivable, Customer, Decimal]:
    found = (
        await session.execute(
            select(Receivable, Customer, Receivable.open_amount)
            .join(Customer, Customer.id == Receivable.customer_id)
            .where(Receivable.id == receivable_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound(N_("That invoice no longer exists."))
    receivable, customer, open_ = found
    return receivable, customer, open_


def _ref(receivable: Receivable, customer: Customer, open_: Decimal) -> InvoiceRef:
    return InvoiceRef(
        receivable.id,
        receivable.invoice_no,
        CustomerRef.of(customer),
        open_,
        receivable.disputed,
        receivable.promise_date,
        receivable.promise_amount,
    )


def _may_promise(caller: Caller, receivable: Receivable, customer: Customer) -> bool:
    if caller.role not in PROMISE_ROLES:
        return False
    if caller.role == Role.REP:
        return receivable.rep_id == caller.id
    if caller.role == Role.MANAGER:
        return caller.team_id is not None and customer.team_id == caller.team_id
    return True


def _may_dispute(caller: Caller, customer: Customer) -> bool:
    if caller.role not in DISPUTE_ROLES:
        return False
    if caller.role == Role.MANAGER:
        return caller.team_id is not None and customer.team_id == caller.team_id
    return True


async def invoice_for_promise(session: AsyncSession, caller: Caller, receivable_id: int) -> InvoiceRef:
    """The invoice a promise would be recorded on, if the caller may record one and money is open."""
    require(caller, Permission.VIEW_FIGURES)
    receivable, customer, open_ = await _invoice(session, receivable_id)
    if not _may_promise(caller, receivable, customer):
        raise AccessDenied(
            N_("Only the invoice's rep, their manager or the director records a promise to pay.")
        )
    if open_ <= 0:
        raise Invalid(N_("Invoice {invoice} is paid: nothing to promise."), invoice=receivable.invoice_no)
    return _ref(receivable, customer, open_)


async def record_promise(
    session: AsyncSession,
    caller: Caller,
    receivable_id: int,
    promise_date: date,
    amount: Decimal | None,
    now: datetime,
    *,
    zone: ZoneInfo,
) -> Promise:
    """Record (or replace) the customer's promise to pay; ``amount`` None means all that is open."""
    invoice = await invoice_for_promise(session, caller, receivable_id)
    today = local_date(now, zone)
    if promise_date < today:
        raise Invalid(
            N_("The promised date {date} has passed: give today or a later date."),
            date=promise_date.isoformat(),
        )
    if promise_date > today + timedelta(days=MAX_PROMISE_DAYS):
        raise Invalid(N_("{date} is more than a year away: check the date."), date=promise_date.isoformat())
    promised = invoice.open if amount is None else amount
    if promised <= 0:
        raise Invalid(N_("The amount must be more than zero."))
    if promised > invoice.open:
        raise Invalid(
            N_("{amount} is more than the {open} still open on invoice {invoice}."),
            amount=format_amount(promised),
            open=format_amount(invoice.open),
            invoice=invoice.invoice_no,
        )
    receivable = await session.get_one(Receivable, receivable_id)
    if (receivable.promise_date, receivable.promise_amount) == (promise_date, promised):
        return Promise(invoice, promise_date, promised, changed=False)
    before = {
        "promise_date": _iso(receivable.promise_date),
        "promise_amount": _text(receivable.promise_amount),
    }
    receivable.promise_date, receivable.promise_amount = promise_date, promised
    audit.record(
        session,
        actor_id=caller.id,
        action="promise_to_pay",
        entity="receivable",
        entity_id=receivable.id,
        at=now,
        before=before,
        after={"promise_date": promise_date.isoformat(), "promise_amount": str(promised)},
    )
    return Promise(invoice, promise_date, promised, changed=True)


async def invoice_for_dispute(session: AsyncSession, caller: Caller, receivable_id: int) -> InvoiceRef:
    """The invoice whose dispute flag the caller would change, if they may."""
    require(caller, Permission.VIEW_FIGURES)
    receivable, customer, open_ = await _invoice(session, receivable_id)
    if not _may_dispute(caller, customer):
        raise AccessDenied(N_("Only the team's manager, finance or the director marks an invoice disputed."))
    return _ref(receivable, customer, open_)


def clean_reason(text: str | None, *, required: bool) -> str | None:
    reason = " ".join((text or "").split())
    if not reason:
        if required:
            raise Invalid(N_("Say why the invoice is disputed, in a few words."))
        return None
    if len(reason) > MAX_REASON:
        raise Invalid(N_("Keep the reason under {limit} characters."), limit=MAX_REASON)
    return reason


async def set_disputed(
    session: AsyncSession,
    caller: Caller,
    receivable_id: int,
    disputed: bool,
    reason: str | None,
    now: datetime,
) -> DisputeChange:
    """Mark a receivable disputed (a reason is required) or lift the dispute."""
    invoice = await invoice_for_dispute(session, caller, receivable_id)
    cleaned = clean_reason(reason, required=disputed)
    if invoice.disputed == disputed:
        return DisputeChange(invoice, disputed, changed=False)
    receivable = await session.get_one(Receivable, receivable_id)
    receivable.disputed = disputed
    audit.record(
        session,
        actor_id=caller.id,
        action="dispute" if disputed else "undispute",
        entity="receivable",
        entity_id=receivable.id,
        at=now,
        before={"disputed": not disputed},
        after={"disputed": disputed, "reason": cleaned},
    )
    return DisputeChange(invoice, disputed, changed=True)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _text(amount: Decimal | None) -> str | None:
    return str(amount) if amount is not None else None


# -- reading "2026-12-05 5000" --------------------------------------------------------------------


def parse_promise(text: str, today: date) -> tuple[date, Decimal | None]:
    """``2026-12-05 5000``, ``12/5 ¥5,000``, ``5000 2026年12月5日``, ``friday 5000``, ``下周五 1.5万``
    or a date alone (all that is open).

    Any form of :mod:`bot.services.reporting.dates` (a date of up to three words, such as
    ``next friday`` or ``in 3 days``); a date without a year is the next such day from ``today`` on.
    """
    tokens = unicodedata.normalize("NFKC", text).split()
    for words in (3, 2, 1):
        found = [
            (index, day)
            for index in range(len(tokens) - words + 1)
            if (day := dates.read_date(" ".join(tokens[index : index + words]), today)) is not None
        ]
        if found:
            break
    if len(found) != 1:
        raise Invalid(
            N_(
                "Write the date and the amount, e.g. 2026-12-05 5000 (the amount may be left "
                "out: then all that is open)."
            )
        )
    index, promised_on = found[0]
    rest = " ".join(tokens[:index] + tokens[index + words :])
    return promised_on, parse_amount(rest) if rest else None
