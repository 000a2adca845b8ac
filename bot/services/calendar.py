"""When a push may go out: never in quiet hours, never on a non-working day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.services.company import CompanySettings


def in_quiet_hours(local: time, settings: CompanySettings) -> bool:
    return settings.in_quiet_hours(local)


def next_allowed(instant: datetime, settings: CompanySettings, zone: ZoneInfo) -> datetime:
    """``instant`` if a push may go out then, else the first moment after it that is allowed."""
    local = instant.astimezone(zone)
    for _ in range(400):  # a year of days off at most
        if settings.is_working_day(local.date()) and not in_quiet_hours(local.time(), settings):
            return local.astimezone(UTC)
        if in_quiet_hours(local.time(), settings) and local.time() < settings.quiet_until:
            local = datetime.combine(local.date(), settings.quiet_until, tzinfo=zone)
        else:
            local = datetime.combine(local.date() + timedelta(days=1), settings.quiet_until, tzinfo=zone)
    raise ValueError("no working day within a year: check days_off and holidays")
