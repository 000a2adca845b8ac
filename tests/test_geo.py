"""Great-circle distances (haversine)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from bot.services.field.geo import EARTH_RADIUS_M, distance_m, is_valid_point

latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
points = st.tuples(latitudes, longitudes)


@given(points, points)
def test_symmetric_non_negative_and_at_most_half_the_circumference(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    there = distance_m(*a, *b)
    back = distance_m(*b, *a)
    assert there >= 0
    assert there == pytest.approx(back, rel=1e-9, abs=1e-6)
    assert there <= math.pi * EARTH_RADIUS_M + 1e-6


@given(points)
def test_zero_for_the_same_point(a: tuple[float, float]) -> None:
    assert distance_m(*a, *a) == 0


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((51.5074, -0.1278), (48.8566, 2.3522), 343.6),  # London – Paris
        ((31.2304, 121.4737), (39.9042, 116.4074), 1067.3),  # Shanghai – Beijing
        ((0.0, 0.0), (0.0, 180.0), math.pi * EARTH_RADIUS_M / 1000),  # antipodes on the equator
    ],
)
def test_known_distances(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert distance_m(*a, *b) / 1000 == pytest.approx(km, rel=0.005)


def test_a_kilometre_north_is_a_kilometre() -> None:
    one_km_of_latitude = 1000 / (math.pi * EARTH_RADIUS_M / 180)
    assert distance_m(31.0, 121.0, 31.0 + one_km_of_latitude, 121.0) == pytest.approx(1000, abs=0.01)


def test_valid_points() -> None:
    assert is_valid_point(31.2, 121.5)
    assert is_valid_point(-90, 180)
    assert not is_valid_point(91, 0)
    assert not is_valid_point(0, -181)
    assert not is_valid_point(math.nan, 0)
    assert not is_valid_point(0, math.inf)
