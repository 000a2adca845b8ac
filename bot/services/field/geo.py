"""Distances on the Earth's surface, for "was the rep really at the customer?"."""

from __future__ import annotations

import math

#: Mean Earth radius (IUGG), metres. The haversine formula is within ~0.5 % of the ellipsoid,
#: plenty for a 1 km "far away" flag.
EARTH_RADIUS_M = 6_371_008.8


def is_valid_point(latitude: float, longitude: float) -> bool:
    """A finite latitude in [-90, 90] and longitude in [-180, 180]."""
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90.0 <= latitude <= 90.0
        and -180.0 <= longitude <= 180.0
    )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = math.radians(lat2 - lat1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    a = min(1.0, max(0.0, a))  # rounding can push it a hair outside [0, 1]
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
