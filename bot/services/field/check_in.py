"""Checking in at a customer: which customers are nearest to where the rep is, and how far.

A rep standing in a shop shares their location (or sends a photo); the bot answers with the
customers of their scope nearest to it, by the coordinates stored on the customer cards. The
search widens in steps (a box of a few kilometres, then tens, then everything) so a rep with a
big book does not have every customer loaded for each location; the answer is the same as
measuring them all, because a step is only trusted when its last customer is nearer than the
box's edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.errors import Invalid
from bot.services.field import customers, geo, visits
from bot.services.field.customers import CustomerRef
from bot.services.people.access import Caller, Permission, require
from models import Customer, CustomerStatus, Visit

#: Customers offered for one location.
NEAREST = 5
#: Customers offered for a photo when no location came in lately: due today, then recently visited.
PHOTO_CHOICES = 6
#: Half-widths of the search boxes tried before measuring every located customer, in metres.
SEARCH_RADII_M = (3_000, 30_000, 300_000)
#: Metres in one degree of latitude.
DEGREE_M = math.pi * geo.EARTH_RADIUS_M / 180


@dataclass(frozen=True)
class Nearby:
    customer: CustomerRef
    distance_m: int


@dataclass(frozen=True)
class CheckIn:
    """The customer a rep checks in at, and how far from the card's location they are."""

    customer: CustomerRef
    distance_m: int | None
    far_away: bool


def _check_point(latitude: float, longitude: float) -> None:
    if not geo.is_valid_point(latitude, longitude):
        raise Invalid(N_("That location is not a valid place on Earth."))


async def nearest_customers(
    session: AsyncSession, caller: Caller, latitude: float, longitude: float, *, limit: int = NEAREST
) -> list[Nearby]:
    """The caller's customers (their scope, not inactive) nearest to a point, nearest first."""
    require(caller, Permission.LOG_VISIT)
    _check_point(latitude, longitude)
    located = and_(
        customers.in_scope(caller),
        Customer.status != CustomerStatus.INACTIVE,
        Customer.latitude.is_not(None),
        Customer.longitude.is_not(None),
    )
    everyone: int | None = None
    for radius in SEARCH_RADII_M:
        box = _box(latitude, longitude, radius)
        if box is None:
            break
        found = await _measured(session, select(Customer).where(located, box), latitude, longitude)
        within = [item for item in found if item.distance_m <= radius]
        if len(within) >= limit:
            return within[:limit]
        if everyone is None:
            everyone = await session.scalar(select(func.count()).where(located)) or 0
        if len(found) == everyone:
            return found[:limit]  # the box holds every located customer: nothing is nearer outside
    return (await _measured(session, select(Customer).where(located), latitude, longitude))[:limit]


def _box(latitude: float, longitude: float, radius_m: float):  # type: ignore[no-untyped-def]
    """Latitude and longitude bounds holding every point within ``radius_m`` (None near a pole or
    the date line, where a box in degrees does not work: then everything is measured)."""
    d_lat = radius_m / DEGREE_M
    if abs(latitude) + d_lat >= 85:
        return None
    cos_lat = math.cos(math.radians(abs(latitude) + d_lat))  # the box's edge nearest the pole
    d_lon = d_lat / cos_lat
    if abs(longitude) + d_lon >= 180:
        return None
    return and_(
        Customer.latitude.between(latitude - d_lat, latitude + d_lat),
        Customer.longitude.between(longitude - d_lon, longitude + d_lon),
    )


async def _measured(session: AsyncSession, query, latitude: float, longitude: float) -> list[Nearby]:  # type: ignore[no-untyped-def]
    rows = list(await session.scalars(query))
    found = [
        Nearby(CustomerRef.of(row), round(geo.distance_m(latitude, longitude, row.latitude, row.longitude)))
        for row in rows
    ]
    return sorted(found, key=lambda item: (item.distance_m, item.customer.name, item.customer.id))


async def check_in(
    session: AsyncSession, caller: Caller, customer_id: int, location: tuple[float, float] | None
) -> CheckIn:
    """The customer a button names, re-checked against the presser's scope, and the distance."""
    require(caller, Permission.LOG_VISIT)
    customer = await customers.get_in_scope(session, caller, customer_id)
    distance: int | None = None
    if location is not None:
        _check_point(*location)
        if customer.latitude is not None and customer.longitude is not None:
            distance = round(geo.distance_m(*location, customer.latitude, customer.longitude))
    return CheckIn(CustomerRef.of(customer), distance, distance is not None and distance > visits.FAR_AWAY_M)


async def recent_customers(
    session: AsyncSession, caller: Caller, *, today: date, zone: ZoneInfo, limit: int = PHOTO_CHOICES
) -> list[CustomerRef]:
    """For a photo with no location: the caller's customers due today, then those they visited last."""
    require(caller, Permission.LOG_VISIT)
    plan = await visits.due_today(session, caller, today=today, zone=zone, limit=limit)
    chosen = {due.customer.id: due.customer for due in plan.customers}
    last_visit = func.max(Visit.visited_at)
    recent = await session.scalars(
        select(Customer)
        .join(Visit, Visit.customer_id == Customer.id)
        .where(
            Visit.rep_id == caller.id,
            customers.in_scope(caller),
            Customer.status != CustomerStatus.INACTIVE,
        )
        .group_by(Customer.id)
        .order_by(last_visit.desc(), Customer.id)
        .limit(limit)
    )
    for row in recent:
        chosen.setdefault(row.id, CustomerRef.of(row))
    return list(chosen.values())[:limit]
