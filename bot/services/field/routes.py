"""Route order (客戶路序, regulations part 4 art. 14): the order a rep goes round their customers.

A rep's own saved order wins (``route_stops``). Without one the order is automatic: nearest next,
starting from the first customer (the most overdue), by the stored coordinates; customers with no
coordinates come last, in the order they had. The morning plan lists the day's due customers in
this order; ``/route`` shows it and lets the rep move customers up and down and save.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import AccessDenied
from bot.services.field import geo
from bot.services.field.customers import CustomerRef
from bot.services.people.access import Caller, Permission, require
from models import Customer, CustomerStatus, Role, RouteStop

#: Customers a saved route may hold: more than any rep's book (a bound on what a button press writes).
MAX_ROUTE = 1000

ACTION_SAVE = "route.save"
ACTION_RESET = "route.reset"

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Stop(Generic[Key]):
    """One customer on a route: its key and its stored coordinates, if any."""

    key: Key
    point: tuple[float, float] | None


def nearest_neighbour(stops: Sequence[Stop[Key]]) -> list[Stop[Key]]:
    """Nearest next from the first located stop; stops with no coordinates after, in their order.

    Ties go to the stop that came first. Quadratic, which is nothing for a rep's book.
    """
    located = [stop for stop in stops if stop.point is not None]
    unlocated = [stop for stop in stops if stop.point is None]
    if not located:
        return unlocated
    route = [located.pop(0)]
    while located:
        here = route[-1].point
        assert here is not None
        index = min(
            range(len(located)),
            key=lambda i: (geo.distance_m(*here, *located[i].point), i),  # type: ignore[misc]
        )
        route.append(located.pop(index))
    return route + unlocated


def route_order(stops: Sequence[Stop[Key]], saved: Mapping[Key, int]) -> list[Stop[Key]]:
    """``stops`` in route order: those with a saved place first, by it; the rest nearest next."""
    listed = sorted((stop for stop in stops if stop.key in saved), key=lambda stop: saved[stop.key])
    return listed + nearest_neighbour([stop for stop in stops if stop.key not in saved])


async def saved_positions(
    session: AsyncSession, rep_ids: Sequence[int], customer_ids: Sequence[int] | None = None
) -> dict[int, dict[int, int]]:
    """Each rep's saved places, ``{rep id: {customer id: position}}`` (only customers asked for)."""
    query = select(RouteStop.rep_id, RouteStop.customer_id, RouteStop.position).where(
        RouteStop.rep_id.in_(rep_ids)
    )
    if customer_ids is not None:
        query = query.where(RouteStop.customer_id.in_(customer_ids))
    found: dict[int, dict[int, int]] = {}
    for rep_id, customer_id, position in await session.execute(query):
        found.setdefault(rep_id, {})[customer_id] = position
    return found


@dataclass(frozen=True)
class Route:
    """A rep's customers in route order, and whether the order is the rep's own."""

    customers: tuple[CustomerRef, ...]
    saved: bool


def _require_rep(caller: Caller) -> None:
    """A route orders a rep's own customers: managers and the rest have none to order."""
    require(caller, Permission.LOG_VISIT)
    if caller.role != Role.REP:
        raise AccessDenied(N_("Route order is only for sales reps: it orders a rep's own customers."))


def _own_customers(caller: Caller):  # type: ignore[no-untyped-def]
    return (
        select(Customer)
        .where(Customer.rep_id == caller.id, Customer.status != CustomerStatus.INACTIVE)
        # the automatic order starts from the most overdue: never visited, then longest ago
        .order_by(Customer.last_visit_at.asc().nulls_first(), Customer.id)
    )


async def rep_route(session: AsyncSession, caller: Caller) -> Route:
    """The caller's own customers in their route order."""
    _require_rep(caller)
    rows = list(await session.scalars(_own_customers(caller)))
    saved = (await saved_positions(session, [caller.id])).get(caller.id, {})
    stops = [Stop(row.id, _point(row)) for row in rows]
    by_id = {row.id: row for row in rows}
    ordered = route_order(stops, saved)
    return Route(tuple(CustomerRef.of(by_id[stop.key]) for stop in ordered), saved=bool(saved))


async def save_route(
    session: AsyncSession, caller: Caller, customer_ids: Sequence[int], *, now: datetime
) -> Route:
    """Save the caller's own order. Ids no longer theirs are left out; customers of theirs the
    list does not name (new since the list was shown) keep the automatic order after it."""
    _require_rep(caller)
    own = set(await session.scalars(select(Customer.id).where(Customer.rep_id == caller.id)))
    order = list(dict.fromkeys(i for i in customer_ids if i in own))[:MAX_ROUTE]
    before = await _saved_list(session, caller)
    await session.execute(delete(RouteStop).where(RouteStop.rep_id == caller.id))
    if order:
        await session.execute(
            insert(RouteStop),
            [
                {"rep_id": caller.id, "customer_id": customer_id, "position": position, "saved_at": now}
                for position, customer_id in enumerate(order)
            ],
        )
    audit.record(
        session,
        actor_id=caller.id,
        action=ACTION_SAVE,
        entity="route",
        entity_id=caller.id,
        at=now,
        before={"customer_ids": before},
        after={"customer_ids": order},
    )
    return await rep_route(session, caller)


async def reset_route(session: AsyncSession, caller: Caller, *, now: datetime) -> Route:
    """Back to the automatic order: the caller's saved order is deleted."""
    _require_rep(caller)
    before = await _saved_list(session, caller)
    if before:
        await session.execute(delete(RouteStop).where(RouteStop.rep_id == caller.id))
        audit.record(
            session,
            actor_id=caller.id,
            action=ACTION_RESET,
            entity="route",
            entity_id=caller.id,
            at=now,
            before={"customer_ids": before},
        )
    return await rep_route(session, caller)


async def _saved_list(session: AsyncSession, caller: Caller) -> list[int]:
    return list(
        await session.scalars(
            select(RouteStop.customer_id).where(RouteStop.rep_id == caller.id).order_by(RouteStop.position)
        )
    )


def _point(customer: Customer) -> tuple[float, float] | None:
    if customer.latitude is None or customer.longitude is None:
        return None
    return (customer.latitude, customer.longitude)
