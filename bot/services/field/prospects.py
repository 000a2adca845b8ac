"""New customers (regulations part 4, art. 30 and art. 12): registered, announced, reviewed.

**Registering.** ``/newcustomer`` gathers the name, phone, address and location in the
conversation and writes nothing until the rep finishes (:func:`register`): cancelling, or leaving
the form, saves nothing. Before it saves, a customer the company already works with that has the
same name (:func:`bot.text.search_key`: case, width and spacing do not matter) or the same phone
number (:func:`bot.text.phone_key`: its digits) is reported (:func:`duplicates`), and the rep
chooses to save anyway or stop. The whole company is searched, not only the rep's own customers,
since a shop another rep looks after is just as much a duplicate; but a match outside the rep's
scope is only said to exist, never named.

**Announcing.** The saved prospect is the "new customer report" of art. 30: the managers of the
rep's team (or, with none who can be reached, the directors, then the admins: the approvers of
``bot/services/people/approvals.py``) get a push through the outbox (``prospect:<id>:<recipient>``) with
"Make active customer" and "Merge into existing" buttons. Someone who may review it themselves (a
manager, the director, an admin registering) gets the buttons in their own reply instead.

**Reviewing.** Every press is re-authorised here: :data:`Permission.REVIEW_CUSTOMERS`, the prospect
and the customer it is merged into both in the presser's scope, and the prospect still a prospect.

* :func:`activate` gives it a proper code (unique by its search key; :func:`suggest_code` offers the
  next of the team's codes) and a grade: it becomes an active customer.
* :func:`merge` moves everything filed under the prospect to the existing customer in one
  transaction: visits (their stock lines and feedback follow them), invoices, collections and credit
  notes (their allocations follow, since both ends move), returns and approval requests, with an
  audit entry for the merge and one per invoice, collection and credit note moved. Money records
  move too: the prospect's invoices and payments are the customer's own dealings, and left on a
  closed record they would drop out of every balance, ``/overdue``, credit check and reminder while
  still owed. Each row keeps its id, invoice number, amounts, rep and allocations; only the
  customer it is filed under changes (``customers.credit``'s triggers move unapplied credit with
  its collection), and the audit log names each one. The prospect is then kept, inactive, with
  ``merged_into_id`` set: never deleted, so the audit log and anything else naming it still finds
  it. Contact details the customer lacks (phone, address, location) are taken from the prospect.

Either way the rep who registered it is told, through the outbox (``prospect:<id>:reviewed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, or_, select, true, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from bot.services import audit, company, outbox
from bot.services.calendar import next_allowed
from bot.services.errors import Conflict, Invalid
from bot.services.field import customers
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.money import ledger
from bot.services.money.amounts import format_amount
from bot.services.outbox import Buttons
from bot.services.people.access import Caller, Permission, require
from bot.services.people.approvals import approvers
from bot.text import one_line, phone_key, search_key
from models import (
    GRADES,
    Approval,
    Collection,
    Complaint,
    CreditNote,
    Customer,
    CustomerStatus,
    Money,
    OverdueTotal,
    Receivable,
    RouteStop,
    SalesReturn,
    TripCustomer,
    User,
    Visit,
    WorkPlanCustomer,
)

JOB = "prospects"
MAX_CODE = 40
#: Matches shown in the duplicate warning; more are summed up in one line.
MAX_DUPLICATES = 5
#: Likely customers offered as buttons when a manager merges a prospect.
MAX_TARGETS = 8
#: A word of the prospect's name this long is looked for in other names too (``Harbor Supply`` finds
#: ``Harbor Supplies``); shorter ones (``the``, ``co``) would find everyone.
MIN_WORD = 4
#: How /newcustomer numbers prospects (``customers.next_prospect_code``): never a customer's code.
PROSPECT_CODE = re.compile(r"^P-\d{6}-\d+$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(.*?)(\d+)$")
#: The fallback for a company none of whose codes ends in a number: ``C0001``…
DEFAULT_PREFIX, DEFAULT_WIDTH = "C", 4
SUGGESTION_ATTEMPTS = 20
#: Everything filed under a customer, moved by :func:`merge`. ``tests/test_prospects.py`` fails when
#: a table gains a reference to ``customers`` that is not here: a merge would leave its rows behind.
MOVED_ON_MERGE = (
    Visit,
    Receivable,
    Collection,
    Approval,
    SalesReturn,
    CreditNote,
    Complaint,
    WorkPlanCustomer,
)
#: Lists that name a customer once per owner (a plan, a rep's route, a trip): where the owner already
#: lists the customer the prospect is, the prospect's line is dropped; the rest move with the others.
LISTED_ONCE_PER: tuple[tuple[Any, Any], ...] = (
    (WorkPlanCustomer, WorkPlanCustomer.plan_id),
    (RouteStop, RouteStop.rep_id),
    (TripCustomer, TripCustomer.trip_id),
)
#: Figures about a customer that the database keeps from the rows above: moving those moves them
#: (``overdue_totals`` follows its receivables' ``customer_id``, migration 0034).
KEPT_FROM_MOVED_ROWS = (OverdueTotal,)
#: The money among them: an audit entry for each row moved.
MONEY_MOVED = ((Receivable, "receivable"), (Collection, "collection"), (CreditNote, "credit_note"))


# -- the form's details ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProspectDetails:
    """What the /newcustomer form has gathered so far (kept in the conversation, not saved)."""

    name: str
    phone: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def location(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


def details(name: str) -> ProspectDetails:
    """A new form's details from the name typed (checked now, so a bad name is asked again)."""
    return ProspectDetails(customers.clean_customer_name(name))


def with_phone(given: ProspectDetails, text: str) -> ProspectDetails:
    return replace(given, phone=customers.clean_phone(text))


def with_address(given: ProspectDetails, text: str) -> ProspectDetails:
    return replace(given, address=customers.clean_address(text))


def with_location(given: ProspectDetails, latitude: float, longitude: float) -> ProspectDetails:
    latitude, longitude = customers.check_location(latitude, longitude)
    return replace(given, latitude=latitude, longitude=longitude)


# -- duplicates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duplicate:
    """An existing customer with the new one's name or phone number."""

    same_name: bool
    same_phone: bool
    #: None when it is not in the caller's scope: it exists, and nothing else about it is said.
    customer: CustomerRef | None


@dataclass(frozen=True)
class Duplicates:
    shown: tuple[Duplicate, ...]
    more: int  # matches beyond those shown


def _matching(name_key: str, phone: str | None) -> tuple[ColumnElement[bool], str | None]:
    key = phone_key(phone)
    condition = Customer.name_key == name_key
    if key is not None:
        condition = condition | (Customer.phone_key == key)
    return condition, key


async def duplicates(session: AsyncSession, caller: Caller, given: ProspectDetails) -> Duplicates:
    """Customers the company works with (any scope; not inactive or merged ones) with the same name
    key or phone key as ``given``: those in the caller's scope named, the others only counted."""
    require(caller, Permission.REGISTER_PROSPECT)
    name_key = search_key(given.name)
    condition, key = _matching(name_key, given.phone)
    worked = Customer.status != CustomerStatus.INACTIVE
    rows = list(
        await session.scalars(
            select(Customer).where(condition, worked).order_by(Customer.id).limit(MAX_DUPLICATES + 1)
        )
    )
    total = (
        len(rows)
        if len(rows) <= MAX_DUPLICATES
        else await session.scalar(select(func.count()).select_from(Customer).where(condition, worked))
    )
    found = [
        Duplicate(
            row.name_key == name_key,
            key is not None and row.phone_key == key,
            CustomerRef.of(row) if customers.is_in_scope(caller, row) else None,
        )
        for row in rows[:MAX_DUPLICATES]
    ]
    found.sort(key=lambda match: match.customer is None)  # the caller's own first
    return Duplicates(tuple(found), (total or 0) - len(found))


# -- registering and announcing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """A prospect saved (or found saved by this very update), or the duplicates that stopped it."""

    ref: CustomerRef | None
    created: bool = False
    #: The caller may make it active or merge it themselves (so nobody was told).
    reviews_it: bool = False
    told: int = 0  # people the push was queued for
    duplicates: Duplicates | None = None


async def register(
    session: AsyncSession,
    caller: Caller,
    given: ProspectDetails,
    *,
    now: datetime,
    zone: ZoneInfo,
    source_key: str,
    check_duplicates: bool,
) -> Registered:
    """Save the prospect the form gathered, and tell whoever reviews it.

    With ``check_duplicates``, matching customers (:func:`duplicates`) stop it: nothing is saved
    and they are returned. An update that already saved it (a redelivery) finds it instead.
    """
    require(caller, Permission.REGISTER_PROSPECT)
    earlier = await session.scalar(select(Customer).where(Customer.source_key == source_key))
    if earlier is None and check_duplicates:
        found = await duplicates(session, caller, given)
        if found.shown:
            return Registered(None, duplicates=found)
    prospect = await customers.register_prospect(
        session,
        caller,
        given.name,
        now=now,
        zone=zone,
        source_key=source_key,
        phone=given.phone,
        address=given.address,
        location=given.location,
    )
    reviews_it = caller.can(Permission.REVIEW_CUSTOMERS)
    told = 0
    if prospect.created and not reviews_it:
        told = await _announce(session, caller, prospect.ref.id, now=now, zone=zone)
    return Registered(prospect.ref, created=prospect.created, reviews_it=reviews_it, told=told)


async def _announce(
    session: AsyncSession, caller: Caller, prospect_id: int, *, now: datetime, zone: ZoneInfo
) -> int:
    """Queue the new customer report to the prospect's reviewers, in their language and scope."""
    prospect = await session.get_one(Customer, prospect_id)
    people = [person.id for person in await approvers(session, prospect.team_id, caller.id)]
    if not people:
        return 0
    not_before = next_allowed(now, await company.load(session), zone)
    queued = 0
    for user in await session.scalars(select(User).where(User.id.in_(people)).order_by(User.id)):
        reviewer = Caller.of(user, user.language or "en")
        t = Translator(reviewer.language)
        found = await _similar(session, reviewer, prospect)
        queued += await outbox.enqueue(
            session,
            recipient_id=user.id,
            job=JOB,
            dedup_key=f"prospect:{prospect.id}:{user.id}",
            text=render_report(t, prospect, caller.name, found),
            buttons=review_buttons(t, prospect.id),
            now=now,
            not_before=not_before,
        )
    return queued


async def _similar(session: AsyncSession, reviewer: Caller, prospect: Customer) -> list[CustomerRef]:
    """Customers in the reviewer's scope with the prospect's name or phone number (not itself)."""
    condition, _key = _matching(prospect.name_key, prospect.phone)
    rows = await session.scalars(
        select(Customer)
        .where(
            condition,
            customers.in_scope(reviewer),
            Customer.id != prospect.id,
            Customer.status != CustomerStatus.INACTIVE,
        )
        .order_by(Customer.id)
        .limit(MAX_DUPLICATES)
    )
    return [CustomerRef.of(row) for row in rows]


def render_report(t: Translator, prospect: Customer, rep_name: str, similar: list[CustomerRef]) -> str:
    """The new customer report (art. 30) as a reviewer reads it."""
    lines = [
        t(N_("🆕 <b>New customer</b> registered by {rep}"), rep=rep_name),
        t(N_("{name} · prospect {code}"), name=prospect.name, code=prospect.code),
    ]
    if prospect.phone:
        lines.append(t(N_("Phone: {phone}"), phone=prospect.phone))
    if prospect.address:
        lines.append(t(N_("Address: {address}"), address=prospect.address))
    if prospect.latitude is not None and prospect.longitude is not None:
        lines.append(
            t(
                N_("Location: {latitude}, {longitude}"),
                latitude=f"{prospect.latitude:.5f}",
                longitude=f"{prospect.longitude:.5f}",
            )
        )
    for customer in similar:
        lines.append(t(N_("⚠️ Same name or phone number as {customer}"), customer=customer.label))
    lines += [
        "",
        t(
            N_(
                "Make it an active customer (with its customer code and grade), or merge it into "
                "the existing customer it is."
            )
        ),
    ]
    return "\n".join(lines)


def review_buttons(t: Translator, prospect_id: int) -> Buttons:
    return [
        [
            {"text": t.gettext(N_("✅ Make active customer")), "callback_data": f"pros:act:{prospect_id}"},
            {"text": t.gettext(N_("🔗 Merge into existing")), "callback_data": f"pros:merge:{prospect_id}"},
        ]
    ]


# -- reviewing ------------------------------------------------------------------------------------


async def _reviewable(
    session: AsyncSession, caller: Caller, prospect_id: int, *, lock: bool = False
) -> Customer:
    """The prospect, if the caller may review it and it is still a prospect."""
    require(caller, Permission.REVIEW_CUSTOMERS)
    prospect = await customers.get_in_scope(session, caller, prospect_id, for_update=lock)
    if prospect.status == CustomerStatus.PROSPECT:
        return prospect
    if prospect.merged_into_id is not None:
        target = await session.get_one(Customer, prospect.merged_into_id)
        raise Conflict(
            N_("{name} was merged into {customer} already."),
            name=prospect.name,
            customer=CustomerRef.of(target).label,
        )
    if prospect.status == CustomerStatus.ACTIVE:
        raise Conflict(
            N_("{name} is an active customer already ({code}, grade {grade})."),
            name=prospect.name,
            code=prospect.code,
            grade=prospect.grade,
        )
    raise Conflict(N_("{name} is inactive: there is nothing to review."), name=prospect.name)


async def open_review(session: AsyncSession, caller: Caller, prospect_id: int) -> CustomerRef:
    """The prospect a review button names, re-checked (:func:`_reviewable`)."""
    return CustomerRef.of(await _reviewable(session, caller, prospect_id))


def clean_code(text: str) -> str:
    code = one_line(text)
    if not code or len(code) > MAX_CODE:
        raise Invalid(N_("A customer code has 1 to {limit} characters."), limit=MAX_CODE)
    if PROSPECT_CODE.match(code):
        raise Invalid(
            N_("{code} is how prospects are numbered. Type the customer code your company uses."), code=code
        )
    return code


async def _code_taken(session: AsyncSession, code: str, prospect_id: int) -> bool:
    return (
        await session.scalar(
            select(Customer.id)
            .where(Customer.code_key == search_key(code), Customer.id != prospect_id)
            .limit(1)
        )
        is not None
    )


async def check_code(session: AsyncSession, caller: Caller, prospect_id: int, text: str) -> str:
    """``text`` as the prospect's new code: well formed and no other customer's (whoever's it is)."""
    await _reviewable(session, caller, prospect_id)
    code = clean_code(text)
    if await _code_taken(session, code, prospect_id):
        raise Invalid(N_("Another customer has the code {code}. Type another one."), code=code)
    return code


async def suggest_code(session: AsyncSession, caller: Caller, prospect_id: int) -> str:
    """The next code in the style of the team's latest customer (``HD041`` → ``HD042``: the highest
    number with that prefix, plus one, as wide), or of the company's; ``C0001``… if none has one."""
    prospect = await _reviewable(session, caller, prospect_id)
    prefix, width = DEFAULT_PREFIX, DEFAULT_WIDTH
    for team_only in (True, False):
        if team_only and prospect.team_id is None:
            continue
        codes = await session.scalars(
            select(Customer.code)
            .where(
                Customer.status != CustomerStatus.PROSPECT,
                Customer.merged_into_id.is_(None),
                Customer.team_id == prospect.team_id if team_only else true(),
            )
            .order_by(Customer.created_at.desc(), Customer.id.desc())
            .limit(20)
        )
        numbered = [
            match
            for match in map(_NUMBERED.match, codes)
            if match is not None and not PROSPECT_CODE.match(match[0])
        ]
        if numbered:
            prefix, width = numbered[0][1], len(numbered[0][2])
            break
    prefix_key = search_key(prefix)
    highest = 0
    for code in await session.scalars(
        select(Customer.code).where(Customer.code_key.startswith(prefix_key, autoescape=True))
    ):
        tail = code[len(prefix) :]
        if tail.isdecimal() and tail.isascii() and search_key(code[: len(prefix)]) == prefix_key:
            highest = max(highest, int(tail))
    for number in range(highest + 1, highest + 1 + SUGGESTION_ATTEMPTS):
        candidate = f"{prefix}{number:0{width}d}"
        if len(candidate) <= MAX_CODE and not await _code_taken(session, candidate, prospect.id):
            return candidate
    return f"{DEFAULT_PREFIX}{prospect.id:0{DEFAULT_WIDTH}d}"


@dataclass(frozen=True)
class Reviewed:
    """A prospect made active or merged, and whether its rep was told (not when they did it)."""

    prospect: CustomerRef
    target: CustomerRef | None = None  # merged into
    rep_name: str | None = None  # told, if someone else
    moved: dict[str, int] | None = None  # rows moved by a merge, per table


async def activate(
    session: AsyncSession,
    caller: Caller,
    prospect_id: int,
    code: str,
    grade: str,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> Reviewed:
    """Make the prospect an active customer with ``code`` and ``grade`` (audited; its rep told)."""
    prospect = await _reviewable(session, caller, prospect_id, lock=True)
    code = await check_code(session, caller, prospect_id, code)
    if grade not in GRADES:
        raise Invalid(N_("Grades are A, B, C and D."))
    before = {"status": prospect.status.value, "code": prospect.code, "grade": prospect.grade}
    try:
        async with session.begin_nested():
            prospect.code, prospect.grade, prospect.status = code, grade, CustomerStatus.ACTIVE
            await session.flush()
    except IntegrityError:  # another customer took the code a moment ago
        raise Invalid(N_("Another customer has the code {code}. Type another one."), code=code) from None
    audit.record(
        session,
        actor_id=caller.id,
        action="prospect.activate",
        entity="customer",
        entity_id=prospect.id,
        at=now,
        before=before,
        after={"status": CustomerStatus.ACTIVE.value, "code": code, "grade": grade},
    )
    ref = CustomerRef.of(prospect)
    told = await _tell_rep(
        session,
        caller,
        prospect,
        now=now,
        zone=zone,
        render=lambda t: t(
            N_("✅ Your new customer {name} is now an active customer: code {code}, grade {grade} ({by})."),
            name=ref.name,
            code=ref.code,
            grade=ref.grade,
            by=caller.name,
        ),
    )
    return Reviewed(ref, rep_name=told)


async def _tell_rep(
    session: AsyncSession,
    caller: Caller,
    prospect: Customer,
    *,
    now: datetime,
    zone: ZoneInfo,
    render: Callable[[Translator], str],
) -> str | None:
    """Queue the outcome to the prospect's rep (unless they reviewed it); their name, if queued."""
    if prospect.rep_id is None or prospect.rep_id == caller.id:
        return None
    rep = await session.get_one(User, prospect.rep_id)
    if not rep.active:
        return None
    await outbox.enqueue(
        session,
        recipient_id=rep.id,
        job=JOB,
        dedup_key=f"prospect:{prospect.id}:reviewed",
        text=render(Translator(rep.language or "en")),
        now=now,
        not_before=next_allowed(now, await company.load(session), zone),
    )
    return rep.name


# -- merging --------------------------------------------------------------------------------------


async def likely_targets(session: AsyncSession, caller: Caller, prospect_id: int) -> list[CustomerRef]:
    """Customers in the caller's scope the prospect may be: the same name or phone number first,
    then names containing the prospect's name, then its longest word."""
    prospect = await _reviewable(session, caller, prospect_id)
    same, key = _matching(prospect.name_key, prospect.phone)
    longest = max(prospect.name_key.split(), key=len)
    containing = Customer.name_key.contains(prospect.name_key, autoescape=True)
    if len(longest) >= MIN_WORD:
        containing = containing | Customer.name_key.contains(longest, autoescape=True)
    rows = list(
        await session.scalars(
            select(Customer)
            .where(
                customers.in_scope(caller),
                Customer.id != prospect.id,
                Customer.status == CustomerStatus.ACTIVE,
                or_(same, containing),
            )
            .order_by(Customer.name, Customer.id)
            .limit(MAX_TARGETS * 2)
        )
    )
    rows.sort(
        key=lambda row: (
            row.name_key != prospect.name_key,
            key is None or row.phone_key != key,
            prospect.name_key not in row.name_key,
        )
    )
    return [CustomerRef.of(row) for row in rows[:MAX_TARGETS]]


async def resolve_target(session: AsyncSession, caller: Caller, prospect_id: int, text: str) -> Resolution:
    """What the manager typed as the customer to merge into, in their scope, never the prospect."""
    prospect = await _reviewable(session, caller, prospect_id)
    resolution = await customers.resolve_one(session, caller, text)
    if resolution.customer is not None and resolution.customer.id == prospect.id:
        raise Invalid(N_("That is the new customer itself. Name the existing customer it is."))
    if resolution.customer is None:
        others = tuple(c for c in resolution.candidates if c.id != prospect.id)
        return Resolution(candidates=others, near=resolution.near)
    return resolution


@dataclass(frozen=True)
class MergePreview:
    prospect: CustomerRef
    target: CustomerRef
    visits: int
    invoices: int
    open_amount: Decimal
    collections: int
    requests: int


async def _target(session: AsyncSession, caller: Caller, prospect: Customer, target_id: int) -> Customer:
    target = await customers.get_in_scope(session, caller, target_id)
    if target.id == prospect.id:
        raise Invalid(N_("That is the new customer itself. Name the existing customer it is."))
    if target.status == CustomerStatus.INACTIVE:
        raise Invalid(
            N_("{customer} is inactive: merge into a customer the company works with."),
            customer=CustomerRef.of(target).label,
        )
    return target


async def merge_preview(
    session: AsyncSession, caller: Caller, prospect_id: int, target_id: int
) -> MergePreview:
    """What :func:`merge` would move, for the manager to confirm."""
    prospect = await _reviewable(session, caller, prospect_id)
    target = await _target(session, caller, prospect, target_id)
    return await _preview(session, prospect, target)


async def _preview(session: AsyncSession, prospect: Customer, target: Customer) -> MergePreview:
    visits = await session.scalar(select(func.count()).where(Visit.customer_id == prospect.id)) or 0
    invoices, open_amount = (
        await session.execute(
            select(
                func.count(), type_coerce(func.coalesce(func.sum(Receivable.open_amount), 0), Money())
            ).where(Receivable.customer_id == prospect.id, Receivable.voided_at.is_(None))
        )
    ).one()
    collections = await session.scalar(select(func.count()).where(Collection.customer_id == prospect.id)) or 0
    requests = await session.scalar(select(func.count()).where(Approval.customer_id == prospect.id)) or 0
    return MergePreview(
        CustomerRef.of(prospect), CustomerRef.of(target), visits, invoices, open_amount, collections, requests
    )


async def merge(
    session: AsyncSession, caller: Caller, prospect_id: int, target_id: int, *, now: datetime, zone: ZoneInfo
) -> Reviewed:
    """Move everything filed under the prospect to the customer it is, and close the prospect (see
    the module doc: one transaction, audited row by row for money, the prospect kept)."""
    prospect = await _reviewable(session, caller, prospect_id, lock=True)
    target = await _target(session, caller, prospect, target_id)
    moved: dict[str, list[int]] = {}
    for model, owner in LISTED_ONCE_PER:
        listing_target = select(owner).where(model.customer_id == target.id).scalar_subquery()
        await session.execute(
            delete(model)
            .where(model.customer_id == prospect.id, owner.in_(listing_target))
            .execution_options(synchronize_session=False)
        )
        if model not in MOVED_ON_MERGE:  # no id of its own to count: moved here
            await session.execute(
                update(model)
                .where(model.customer_id == prospect.id)
                .values(customer_id=target.id)
                .execution_options(synchronize_session=False)
            )
    for model in MOVED_ON_MERGE:
        ids = list(
            await session.scalars(select(model.id).where(model.customer_id == prospect.id).order_by(model.id))
        )
        if ids:
            await session.execute(
                update(model)
                .where(model.customer_id == prospect.id)
                .values(customer_id=target.id)
                .execution_options(synchronize_session=False)
            )
        moved[model.__tablename__] = ids
    for model, entity in MONEY_MOVED:
        for row_id in moved[model.__tablename__]:
            audit.record(
                session,
                actor_id=caller.id,
                action=f"{entity}.move",
                entity=entity,
                entity_id=row_id,
                at=now,
                before={"customer_id": prospect.id},
                after={"customer_id": target.id, "merged_prospect_id": prospect.id},
            )
    filled = _fill_contact(target, prospect)
    if prospect.last_visit_at is not None and (
        target.last_visit_at is None or prospect.last_visit_at > target.last_visit_at
    ):
        target.last_visit_at = prospect.last_visit_at
    prospect.last_visit_at = None
    prospect.status, prospect.merged_into_id = CustomerStatus.INACTIVE, target.id
    audit.record(
        session,
        actor_id=caller.id,
        action="prospect.merge",
        entity="customer",
        entity_id=prospect.id,
        at=now,
        before={"status": CustomerStatus.PROSPECT.value},
        after={
            "status": CustomerStatus.INACTIVE.value,
            "merged_into_id": target.id,
            "moved": moved,
            **({"filled": filled} if filled else {}),
        },
    )
    # Credit paid ahead by the prospect moved with its collections: it settles what the customer owes.
    await ledger.apply_credit(session, target.id, actor_id=caller.id, now=now, why="merge")
    ref, into = CustomerRef.of(prospect), CustomerRef.of(target)
    rep_sees_it = prospect.rep_id is not None and target.rep_id == prospect.rep_id
    told = await _tell_rep(
        session,
        caller,
        prospect,
        now=now,
        zone=zone,
        render=lambda t: (
            t(
                N_(
                    "🔗 Your new customer {name} ({code}) is your customer {customer}: {by} merged them. "
                    "Its visits, orders and collections are now under {customer}."
                ),
                name=ref.name,
                code=ref.code,
                customer=into.label,
                by=caller.name,
            )
            if rep_sees_it
            else t(
                N_(
                    "🔗 Your new customer {name} ({code}) is a customer the company already has, looked "
                    "after by someone else: {by} merged them. Its visits, orders and collections moved there."
                ),
                name=ref.name,
                code=ref.code,
                by=caller.name,
            )
        ),
    )
    return Reviewed(ref, target=into, rep_name=told, moved={table: len(ids) for table, ids in moved.items()})


def _fill_contact(target: Customer, prospect: Customer) -> dict[str, object]:
    """Give the customer the prospect's phone, address and location where it has none."""
    filled: dict[str, object] = {}
    for column in ("phone", "address"):
        value = getattr(prospect, column)
        if value and not getattr(target, column):
            setattr(target, column, value)
            filled[column] = value
    if target.latitude is None and prospect.latitude is not None and prospect.longitude is not None:
        target.latitude, target.longitude = prospect.latitude, prospect.longitude
        filled["location"] = [prospect.latitude, prospect.longitude]
    return filled


def render_preview(t: Translator, preview: MergePreview) -> str:
    lines = [
        t(
            N_("Merge {prospect} into {customer}?"),
            prospect=preview.prospect.label,
            customer=preview.target.label,
        ),
        t(
            N_(
                "Moves to {code}: visits {visits} · invoices {invoices} (open {open}) · collections "
                "{collections} · requests {requests}."
            ),
            code=preview.target.code,
            visits=preview.visits,
            invoices=preview.invoices,
            open=format_amount(preview.open_amount),
            collections=preview.collections,
            requests=preview.requests,
        ),
        t(N_("{code} is then closed: kept, marked as merged, never deleted."), code=preview.prospect.code),
    ]
    return "\n".join(lines)
