"""Customers: scope (who sees which), and resolving typed text to one customer.

Resolution order, everywhere a rep types a customer: exact code
(case-insensitive) → exact name → unique substring of the name → a short list
of candidates to choose from → nothing. Substring matching works for Chinese
names as for Latin ones (``lower()`` leaves CJK untouched).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.access import Caller, Permission, require
from bot.services.errors import AccessDenied, Invalid, NotFound
from models import Customer, CustomerStatus, Role

MAX_CANDIDATES = 8


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
    """Exactly one of: a customer, several candidates (2..8), or nothing."""

    customer: CustomerRef | None = None
    candidates: tuple[CustomerRef, ...] = ()


def in_scope(caller: Caller) -> ColumnElement[bool]:
    """The customers ``caller`` may see: all, their team's (managers), or their own (reps)."""
    if caller.sees_all_customers:
        return true()
    if caller.role == Role.MANAGER:
        return Customer.team_id == caller.team_id if caller.team_id is not None else false()
    return Customer.rep_id == caller.id


def _where_scope(caller: Caller) -> ColumnElement[bool]:
    return in_scope(caller) & (Customer.status != CustomerStatus.INACTIVE)


async def resolve(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """Turn what the caller typed into a customer in their scope (see the module doc)."""
    require(caller, Permission.VIEW_CUSTOMERS)
    query = " ".join(text.split())
    if not query:
        raise Invalid(N_("Name the customer: their code or (part of) their name."))
    folded = query.lower()
    scope = select(Customer).where(_where_scope(caller))
    for clause in (func.lower(Customer.code) == folded, func.lower(Customer.name) == folded):
        exact = list(await session.scalars(scope.where(clause).order_by(Customer.id).limit(2)))
        if len(exact) == 1:
            return Resolution(customer=CustomerRef.of(exact[0]))
        if exact:
            break
    matches = list(await session.scalars(
        scope.where(func.lower(Customer.name).contains(folded, autoescape=True)
                    | func.lower(Customer.code).contains(folded, autoescape=True))
        .order_by(Customer.name, Customer.id).limit(MAX_CANDIDATES + 1)))
    if len(matches) == 1:
        return Resolution(customer=CustomerRef.of(matches[0]))
    return Resolution(candidates=tuple(CustomerRef.of(c) for c in matches[:MAX_CANDIDATES]))


async def resolve_one(session: AsyncSession, caller: Caller, text: str) -> Resolution:
    """Like :func:`resolve`, but "nothing matches" is an error the caller reads."""
    resolution = await resolve(session, caller, text)
    if resolution.customer is None and not resolution.candidates:
        raise NotFound(N_("No customer matches {query}. Try part of the name or the customer code; "
                          "/customers lists yours."), query=" ".join(text.split()))
    return resolution


async def get_in_scope(session: AsyncSession, caller: Caller, customer_id: int) -> Customer:
    """A customer by id, re-checked against the caller's scope (e.g. from a button press)."""
    require(caller, Permission.VIEW_CUSTOMERS)
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id, in_scope(caller)))
    if customer is None:
        raise AccessDenied(N_("That customer is not one of yours."))
    return customer
