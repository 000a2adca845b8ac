"""Customers: scope (who sees which), and resolving typed text to one customer.

Resolution order, everywhere a rep types a customer: exact code → exact name →
unique substring of the name or code → a short list of candidates to choose
from → nothing. Every comparison is of search keys (:func:`bot.text.search_key`),
which customers store (``code_key``, ``name_key``): case, full- or half-width and
compatibility forms do not matter (``élan bistro`` finds ``Élan Bistro``,
``abc商店`` finds ``ＡＢＣ商店``), the same on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    bindparam,
    false,
    func,
    inspect,
    select,
    true,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import AccessDenied, Conflict, Invalid, NotFound
from bot.services.field import stock, visit_extras
from bot.services.field.stock import NO_STOCK, StockLevels
from bot.services.field.visit_extras import Album, TopicFeedback
from bot.services.money import ledger
from bot.services.money.ledger import Balance
from bot.services.people.access import Caller, Permission, require
from bot.services.policy import (
    credit_terms,
    due_for_visit,
    grade_rules,
    local_date,
    next_visit_due,
    start_of_day,
)
from bot.text import one_line, search_key
from models import Customer, CustomerStatus, Role, User, Visit, VisitKind

MAX_CANDIDATES = 8
_RESOLVED = "fieldbot.resolved_customers"


@dataclass(frozen=True)
class CustomerRef:
    """Just enough to name a customer on a button or in a reply."""

    id: int
    code: str
    name: str
    grade: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"

    @classmethod
    def of(cls, customer: Customer) -> CustomerRef:
        return cls(customer.id, customer.code, customer.name, customer.grade)


@dataclass(frozen=True)
class Resolution:
    """Exactly one of: a customer, several candidates (2..8), or nothing.

    With ``near``, the candidates (1..8) match nothing as typed but are one edit away from it
    (:func:`near_matches`): "did you mean", never chosen without the caller's tap.
    """

    customer: CustomerRef | None = None
    candidates: tuple[CustomerRef, ...] = ()
    near: bool = False


@dataclass(frozen=True)
class Lead:
    """The customer that the first words of a line name (:func:`resolve_leading`), and the rest."""

    resolution: Resolution
    named: str  # the words that name the customer (or the candidates)
    rest: str  # what follows them, "" when nothing does


def in_scope(caller: Caller) -> ColumnElement[bool]:
    """The customers ``caller`` may see: all, their team's (managers), or their own (reps)."""
    if caller.sees_all_customers:
        return true()
    if caller.role == Role.MANAGER:
        return Customer.team_id == caller.team_id if caller.team_id is not None else false()
    return Customer.rep_id == caller.id


def is_in_scope(caller: Caller, customer: Customer) -> bool:
    """:func:`in_scope` for a customer already loaded."""
    if caller.sees_all_customers:
        return True
    if caller.role == Role.MANAGER:
        return caller.team_id is not None and customer.team_id == caller.team_id
    return customer.rep_id == caller.id


def _where_scope(caller: Caller) -> ColumnElement[bool]:
    return in_scope(caller) & (Customer.status != CustomerStatus.INACTIVE)


def _scope_of(caller: Caller) -> tuple[str, int | None]:
    """:func:`in_scope` as (kind, id) for the prebuilt :func:`_exact_match`."""
    if caller.sees_all_customers:
        return "all", None
    if caller.role == Role.MANAGER:
        return ("team", caller.team_id) if caller.team_id is not None else ("nobody", None)
    return "rep", caller.id


@cache
def _exact_match(scope: str, column: str) -> Select[Customer]:
    """Up to two customers of the scope (``:scope_id``) whose code or name key (``column``) is
    ``:folded``: built once per scope and column, as every typed ``/visit`` or ``/collect`` asks it."""
    scoped = {
        "all": true(),
        "team": Customer.team_id == bindparam("scope_id"),
        "rep": Customer.rep_id == bindparam("scope_id"),
        "nobody": false(),
    }[scope]
    return (
        select(Customer)
        .where(
            scoped,
            Customer.status != CustomerStatus.INACTIVE,
            getattr(Customer, column) == bindparam("folded"),
        )
        .order_by(Customer.id)
        .limit(2)
    )


async def resolve(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """Turn what the caller typed into a customer in their scope (see the module doc)."""
    require(caller, Permission.VIEW_CUSTOMERS)
    folded = search_key(text)
    if not folded:
        raise Invalid(N_("Name the customer: their code or (part of) their name."))
    scope, scope_id = _scope_of(caller)
    for column in ("code_key", "name_key"):
        exact = list(
            await session.scalars(_exact_match(scope, column), {"scope_id": scope_id, "folded": folded})
        )
        if len(exact) == 1:
            return Resolution(customer=_resolved(session, exact[0]))
        if exact:
            break
    matches = list(
        await session.scalars(
            select(Customer)
            .where(_where_scope(caller), _containing(folded))
            .order_by(Customer.name, Customer.id)
            .limit(MAX_CANDIDATES + 1)
        )
    )
    if len(matches) == 1:
        return Resolution(customer=_resolved(session, matches[0]))
    return Resolution(candidates=tuple(CustomerRef.of(c) for c in matches[:MAX_CANDIDATES]))


def _resolved(session: AsyncSession, customer: Customer) -> CustomerRef:
    """Keep ``customer`` in the session (it holds clean objects only weakly) for :func:`get_in_scope`."""
    session.info.setdefault(_RESOLVED, []).append(customer)
    return CustomerRef.of(customer)


def _nothing_matches(text: str) -> NotFound:
    return NotFound(
        N_("No customer matches {query}. Try part of the name or the customer code; /customers lists yours."),
        query=" ".join(text.split())[:100],
    )


async def resolve_one(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """Like :func:`resolve`; when nothing matches, the customers one edit away ("did you mean"),
    and with none of those either, "nothing matches" is an error the caller reads."""
    resolution = await resolve(session, caller, text)
    if resolution.customer is None and not resolution.candidates:
        near = await near_matches(session, caller, [search_key(text)])
        if near[0]:
            return Resolution(candidates=near[0], near=True)
        raise _nothing_matches(text)
    return resolution


#: How many leading words :func:`resolve_leading` tries as a customer's name or code.
MAX_LEAD_WORDS = 6
_WORD = re.compile(r"\S+")


async def resolve_leading(session: AsyncSession, caller: Caller, text: str) -> Lead:
    """The customer named by the first words of ``text``, and the words after them.

    ``/visit E06 checked shelf``, ``/collect 鑫源建材 500``: the longest run of leading words (up
    to :data:`MAX_LEAD_WORDS`) that resolves to exactly one customer in the caller's scope, as
    :func:`resolve` resolves (code, name, unique part). Failing that, the longest that several
    customers match (the caller chooses); then the longest one edit away from a customer's code
    or name ("did you mean"); then "nothing matches".
    """
    require(caller, Permission.VIEW_CUSTOMERS)
    ends = [match.end() for match in _WORD.finditer(text)][:MAX_LEAD_WORDS]
    if not ends:
        raise Invalid(N_("Name the customer: their code or (part of) their name."))
    ambiguous: Lead | None = None
    for end in reversed(ends):
        named, rest = text[:end].strip(), text[end:].strip()
        if not search_key(named):
            continue
        resolution = await resolve(session, caller, named)
        if resolution.customer is not None:
            return Lead(resolution, named, rest)
        if resolution.candidates and ambiguous is None:
            ambiguous = Lead(resolution, named, rest)
    if ambiguous is not None:
        return ambiguous
    prefixes = [text[:end].strip() for end in reversed(ends)]
    near = await near_matches(session, caller, [search_key(prefix) for prefix in prefixes])
    for prefix, end, found in zip(prefixes, reversed(ends), near, strict=True):
        if found:
            return Lead(Resolution(candidates=found, near=True), prefix, text[end:].strip())
    raise _nothing_matches(text)


def within_one_edit(typed: str, stored: str) -> bool:
    """Whether ``typed`` becomes ``stored`` by at most one edit: a character inserted, deleted or
    replaced, or two neighbours swapped (Damerau-Levenshtein distance 0 or 1)."""
    if typed == stored:
        return True
    short, long_ = sorted((typed, stored), key=len)
    if len(long_) - len(short) > 1:
        return False
    first = next((i for i, (a, b) in enumerate(zip(short, long_, strict=False)) if a != b), len(short))
    if len(short) != len(long_):
        return short[first:] == long_[first + 1 :]
    return (
        short[first + 1 :] == long_[first + 1 :]  # replaced
        or (  # swapped
            first + 1 < len(short)
            and short[first] == long_[first + 1]
            and short[first + 1] == long_[first]
            and short[first + 2 :] == long_[first + 2 :]
        )
    )


#: Keys shorter than this are not corrected: one edit away from ``E6`` is half the customer list.
NEAR_MIN_CHARS = 3


async def near_matches(
    session: AsyncSession, caller: Caller, keys: list[str]
) -> list[tuple[CustomerRef, ...]]:
    """For each search key, the caller's customers (up to :data:`MAX_CANDIDATES`, by name) whose
    code or name key is one edit away from it (:func:`within_one_edit`). One statement for all:
    only keys of a length within one of a typed key's are read."""
    usable = [key for key in keys if len(key) >= NEAR_MIN_CHARS]
    if not usable:
        return [() for _ in keys]
    lengths = sorted({n for key in usable for n in (len(key) - 1, len(key), len(key) + 1)})
    rows = (
        await session.execute(
            select(
                Customer.id,
                Customer.code,
                Customer.name,
                Customer.grade,
                Customer.code_key,
                Customer.name_key,
            )
            .where(
                _where_scope(caller),
                func.length(Customer.name_key).in_(lengths) | func.length(Customer.code_key).in_(lengths),
            )
            .order_by(Customer.name, Customer.id)
        )
    ).all()
    found = []
    for key in keys:
        near = (
            [
                CustomerRef(row.id, row.code, row.name, row.grade)
                for row in rows
                if within_one_edit(key, row.code_key) or within_one_edit(key, row.name_key)
            ]
            if len(key) >= NEAR_MIN_CHARS
            else []
        )
        found.append(tuple(near[:MAX_CANDIDATES]))
    return found


async def get_in_scope(
    session: AsyncSession, caller: Caller, customer_id: int, *, for_update: bool = False
) -> Customer:
    """A customer by id, re-checked against the caller's scope (e.g. from a button press).

    One this transaction already loaded (the customer just resolved from typed text) is
    checked without asking the database again, unless its row is to be locked (PostgreSQL; on
    SQLite the writing transaction already holds the whole database).
    """
    require(caller, Permission.VIEW_CUSTOMERS)
    for_update = for_update and session.get_bind().dialect.name == "postgresql"
    loaded = None if for_update else session.identity_map.get(identity_key(Customer, customer_id))
    if isinstance(loaded, Customer) and not inspect(loaded).expired_attributes:
        customer: Customer | None = loaded if is_in_scope(caller, loaded) else None
    else:
        statement = select(Customer).where(Customer.id == customer_id, in_scope(caller))
        # A locked row is read afresh: its trigger-kept columns (credit) may have moved since it was
        # first loaded in this transaction, before the lock.
        customer = await session.scalar(
            statement.with_for_update().execution_options(populate_existing=True) if for_update else statement
        )
    if customer is None:
        raise AccessDenied(N_("That customer is not one of yours."))
    return customer


# -- listing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerLine:
    """One row of a customer list."""

    id: int
    code: str
    name: str
    grade: str
    status: CustomerStatus
    days_since_visit: int | None  # None: never visited
    due: bool


@dataclass(frozen=True)
class CustomerList:
    items: list[CustomerLine]
    page: int
    pages: int
    total: int


def _containing(folded: str) -> ColumnElement[bool]:
    """Name or code key contains the search key ``folded``: the substring rule of :func:`resolve`."""
    return Customer.name_key.contains(folded, autoescape=True) | Customer.code_key.contains(
        folded, autoescape=True
    )


def _matching(text: str) -> ColumnElement[bool]:
    """Code or name contains ``text``, as :func:`resolve` compares them."""
    return _containing(search_key(text))


def days_since(instant: datetime | None, zone: ZoneInfo, today: date) -> int | None:
    """Whole local days from ``instant`` to ``today`` (0 = today), None if there is no instant."""
    return None if instant is None else (today - local_date(instant, zone)).days


async def list_customers(
    session: AsyncSession,
    caller: Caller,
    *,
    search: str | None,
    today: date,
    zone: ZoneInfo,
    page: int = 1,
    per_page: int = 15,
) -> CustomerList:
    """The caller's customers (optionally only those matching ``search``), a page at a time.

    Two queries per page (the count and the page) whatever the page size: whether
    each customer is due is decided in SQL by :func:`policy.due_for_visit`.
    """
    require(caller, Permission.VIEW_CUSTOMERS)
    where = _where_scope(caller)
    if search and search.strip():
        where = where & _matching(search)
    total = await session.scalar(select(func.count()).select_from(Customer).where(where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    due = due_for_visit(await grade_rules(session), zone, today)
    rows = await session.execute(
        select(
            Customer.id,
            Customer.code,
            Customer.name,
            Customer.grade,
            Customer.status,
            Customer.last_visit_at,
            type_coerce(due, Boolean).label("due"),
        )
        .where(where)
        .order_by(Customer.name, Customer.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        CustomerLine(id_, code, name, grade, status, days_since(last, zone, today), bool(is_due))
        for id_, code, name, grade, status, last, is_due in rows
    ]
    return CustomerList(items, page, pages, total)


# -- the card ---------------------------------------------------------------------------------------

RECENT_VISITS = 3


@dataclass(frozen=True)
class RecentVisit:
    day: date
    kind: VisitKind
    note: str  # first line of the notes


@dataclass(frozen=True)
class CustomerCard:
    ref: CustomerRef
    status: CustomerStatus
    rep_name: str | None
    phone: str | None
    address: str | None
    location: tuple[float, float] | None
    last_visit_on: date | None
    days_since_visit: int | None
    next_due: date
    balance: Balance
    credit_days: int
    credit_limit: Decimal
    recent: list[RecentVisit]
    #: The latest count of each product (bot/services/field/stock.py), shortfalls first.
    stock: StockLevels = NO_STOCK
    #: The latest market feedback on each topic, with how many there are on it.
    feedback: tuple[TopicFeedback, ...] = ()
    #: Photos taken on the customer's visits.
    photos: int = 0
    #: Unapplied credit (overpayments, returns beyond the open balance), used on the next invoice.
    credit: Decimal = Decimal("0.00")

    @property
    def credit_used_percent(self) -> int | None:
        """Open balance as a share of the limit; None for a cash-only (zero) limit."""
        if self.credit_limit <= 0:
            return None
        return int((self.balance.open * 100 / self.credit_limit).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def first_line(text: str, limit: int = 80) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def customer_card(
    session: AsyncSession, caller: Caller, customer_id: int, *, today: date, zone: ZoneInfo
) -> CustomerCard:
    """Everything a rep wants to know before walking in, for a customer in the caller's scope.

    A fixed number of statements, however long the customer's history: the stock levels, the
    feedback by topic and the photo count are one aggregate each.
    """
    customer = await get_in_scope(session, caller, customer_id)
    rules = await grade_rules(session)
    credit_days, credit_limit = credit_terms(customer, rules)
    rep_name = (
        await session.scalar(select(User.name).where(User.id == customer.rep_id))
        if customer.rep_id is not None
        else None
    )
    visits = await session.execute(
        select(Visit.visited_at, Visit.kind, Visit.notes)
        .where(Visit.customer_id == customer.id)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(RECENT_VISITS)
    )
    location = (
        (customer.latitude, customer.longitude)
        if customer.latitude is not None and customer.longitude is not None
        else None
    )
    return CustomerCard(
        ref=CustomerRef.of(customer),
        status=customer.status,
        rep_name=rep_name,
        phone=customer.phone,
        address=customer.address,
        location=location,
        last_visit_on=local_date(customer.last_visit_at, zone) if customer.last_visit_at else None,
        days_since_visit=days_since(customer.last_visit_at, zone, today),
        next_due=next_visit_due(customer.last_visit_at, customer.grade, rules, zone, today),
        balance=await ledger.balance(session, customer.id, today),
        credit_days=credit_days,
        credit_limit=credit_limit,
        recent=[
            RecentVisit(local_date(at, zone), kind, first_line(notes or "")) for at, kind, notes in visits
        ],
        stock=await stock.levels_at(session, customer.id),
        feedback=await visit_extras.latest_feedback(session, Visit.customer_id == customer.id),
        photos=await visit_extras.photo_count(session, Visit.customer_id == customer.id),
        credit=customer.credit,
    )


async def customer_photos(session: AsyncSession, caller: Caller, customer_id: int) -> Album:
    """The latest photos of a customer's visits (the card's button), re-checked against the
    presser's scope: a forged button shows nothing."""
    customer = await get_in_scope(session, caller, customer_id)
    return await visit_extras.latest_photos(
        session, Visit.customer_id == customer.id, CustomerRef.of(customer).label
    )


# -- prospects (/newcustomer) -----------------------------------------------------------------------

MAX_NAME, MAX_PHONE, MAX_ADDRESS = 200, 40, 300
CODE_ATTEMPTS = 5
_PHONE = re.compile(r"^\+?[\d\s\-().]+$")


@dataclass(frozen=True)
class Prospect:
    ref: CustomerRef
    created: bool  # False: this update had already registered it (a redelivery)


def clean_customer_name(text: str) -> str:
    name = one_line(text)
    if not name or len(name) > MAX_NAME:
        raise Invalid(N_("A customer's name has 1 to {limit} characters."), limit=MAX_NAME)
    return name


def clean_phone(text: str) -> str:
    phone = " ".join(unicodedata.normalize("NFKC", text).split())
    digits = sum(ch.isdigit() for ch in phone)
    if len(phone) > MAX_PHONE or not _PHONE.match(phone) or not 5 <= digits <= 20:
        raise Invalid(
            N_("{text} does not look like a phone number. Type the number, e.g. 138 0013 8000."),
            text=text.strip()[:40],
        )
    return phone


def clean_address(text: str) -> str:
    address = " ".join(text.split())
    if not address or len(address) > MAX_ADDRESS:
        raise Invalid(N_("An address has 1 to {limit} characters."), limit=MAX_ADDRESS)
    return address


def check_location(latitude: float, longitude: float) -> tuple[float, float]:
    if not (
        math.isfinite(latitude) and math.isfinite(longitude) and abs(latitude) <= 90 and abs(longitude) <= 180
    ):
        raise Invalid(N_("That is not a location on Earth."))
    return latitude, longitude


async def next_prospect_code(session: AsyncSession, today: date, zone: ZoneInfo) -> str:
    """``P-YYMMDD-n``: the day's next number, readable over the phone.

    Never one the day gave already: a prospect made an active customer takes a proper code, and
    its ``P-`` code is not handed to the next prospect (the rep and the audit log still know it
    by that), so the count of the day's registrations is a floor.
    """
    prefix = f"P-{today:%y%m%d}-"
    codes = await session.scalars(
        select(Customer.code).where(Customer.code_key.startswith(search_key(prefix), autoescape=True))
    )
    numbers = [int(code[len(prefix) :]) for code in codes if code[len(prefix) :].isdigit()]
    registered = (
        await session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(
                Customer.source_key.is_not(None),
                Customer.created_at >= start_of_day(today, zone),
                Customer.created_at < start_of_day(today + timedelta(days=1), zone),
            )
        )
        or 0
    )
    return f"{prefix}{max(*numbers, registered, 0) + 1}"


async def register_prospect(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
    phone: str | None = None,
    address: str | None = None,
    location: tuple[float, float] | None = None,
) -> Prospect:
    """A prospective customer (part 4, art. 30), assigned to the caller and their team, with the
    contact details given (each checked as the form checked it).

    The update's ``source_key`` makes a redelivered last step of /newcustomer find the first
    one instead of registering a second.
    """
    require(caller, Permission.REGISTER_PROSPECT)
    cleaned = clean_customer_name(name)
    contact = {
        "phone": clean_phone(phone) if phone is not None else None,
        "address": clean_address(address) if address is not None else None,
    }
    latitude, longitude = check_location(*location) if location is not None else (None, None)
    for _attempt in range(CODE_ATTEMPTS):
        earlier = await session.scalar(select(Customer).where(Customer.source_key == source_key))
        if earlier is not None:
            return Prospect(CustomerRef.of(earlier), created=False)
        customer = Customer(
            code=await next_prospect_code(session, local_date(now, zone), zone),
            name=cleaned,
            grade="C",
            rep_id=caller.id,
            team_id=caller.team_id,
            status=CustomerStatus.PROSPECT,
            latitude=latitude,
            longitude=longitude,
            created_at=now,
            source_key=source_key,
            **contact,
        )
        try:
            async with session.begin_nested():
                session.add(customer)
        except IntegrityError:  # another prospect took that code (or this key) a moment ago
            continue
        given: dict[str, object] = {key: value for key, value in contact.items() if value is not None}
        if location is not None:
            given["location"] = [latitude, longitude]
        audit.record(
            session,
            actor_id=caller.id,
            action="register_prospect",
            entity="customer",
            entity_id=customer.id,
            at=now,
            after={"code": customer.code, "name": cleaned, **given},
        )
        return Prospect(CustomerRef.of(customer), created=True)
    raise Conflict(N_("Too many customers are being registered at once; please try again."))


async def customer_ref(session: AsyncSession, caller: Caller, customer_id: int) -> CustomerRef:
    """The short reference of a customer in the caller's scope."""
    return CustomerRef.of(await get_in_scope(session, caller, customer_id))
