"""Settings read from the environment (and an optional ``.env`` file in the working directory)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///fieldbot.db"
DEFAULT_API_URL = "https://api.telegram.org/bot"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_REPORT_DEADLINE = time(19, 0)
DEFAULT_REPORT_CUTOFF = time(22, 0)
DEFAULT_HEALTH_ADDRESS = "127.0.0.1:9464"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
#: Pushes in any rolling second over all chats: under Telegram's free ~30 messages a second, no burst
#: (``bot/ratelimit.py`` paces them; ``jobs/wave.py`` estimates the morning wave from it).
BROADCAST_PER_SECOND = 29
#: Pushes in any rolling second with ``FIELDBOT_PAID_BROADCAST=1``: under the 1,000 messages a second
#: Telegram allows messages sent with ``allow_paid_broadcast`` (each costs Telegram Stars: README).
PAID_BROADCAST_PER_SECOND = 999
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is meant for the operator."""


@dataclass(frozen=True)
class Settings:
    token: str | None
    database_url: str
    api_url: str
    timezone: ZoneInfo
    #: Daily reports submitted after this local time are marked late.
    report_deadline: time = DEFAULT_REPORT_DEADLINE
    #: After this local time a day's report can no longer be submitted or replaced.
    report_cutoff: time = DEFAULT_REPORT_CUTOFF
    #: Where ``fieldbot run`` serves /healthz, /readyz and /metrics (host:port); None: not served.
    health_address: str | None = DEFAULT_HEALTH_ADDRESS
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object a line
    #: Errors are also reported to Sentry when set (needs the ``sentry`` extra).
    sentry_dsn: str | None = None
    #: The secret Telegram sends with each webhook call (``--secret`` overrides it).
    webhook_secret: str | None = None
    #: Pushes go out with the Bot API's ``allow_paid_broadcast`` (up to 1,000 a second, paid in
    #: Telegram Stars from the bot's balance); replies are sent as always.
    paid_broadcast: bool = False

    @property
    def pushes_per_second(self) -> int:
        """The rate the outbox sends pushes at: the free broadcast pace, or the paid one."""
        return PAID_BROADCAST_PER_SECOND if self.paid_broadcast else BROADCAST_PER_SECOND

    @property
    def file_url(self) -> str:
        """Where files are downloaded: the API URL with ``/bot`` replaced by ``/file/bot``."""
        base = self.api_url.rstrip("/")
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base + "/file/bot"

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(
                "FIELDBOT_TOKEN is not set: create a bot with @BotFather in Telegram "
                "(/newbot) and export the token it gives you as FIELDBOT_TOKEN."
            )
        return self.token

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        values: dict[str, str] = {}
        if dotenv and os.path.exists(".env"):
            values.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
        values.update(os.environ if environ is None else environ)
        zone_name = values.get("FIELDBOT_TIMEZONE") or DEFAULT_TIMEZONE
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"FIELDBOT_TIMEZONE={zone_name!r} is not a known time zone") from exc
        return cls(
            token=values.get("FIELDBOT_TOKEN") or None,
            database_url=values.get("FIELDBOT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            api_url=values.get("FIELDBOT_API_URL") or DEFAULT_API_URL,
            timezone=zone,
            report_deadline=_clock_time(values, "FIELDBOT_REPORT_DEADLINE", DEFAULT_REPORT_DEADLINE),
            report_cutoff=_clock_time(values, "FIELDBOT_REPORT_CUTOFF", DEFAULT_REPORT_CUTOFF),
            health_address=_health_address(values),
            log_level=_choice(values, "FIELDBOT_LOG_LEVEL", LOG_LEVELS, "INFO").upper(),
            log_format=_choice(values, "FIELDBOT_LOG_FORMAT", LOG_FORMATS, "text").lower(),
            sentry_dsn=values.get("FIELDBOT_SENTRY_DSN") or None,
            webhook_secret=values.get("FIELDBOT_WEBHOOK_SECRET") or None,
            paid_broadcast=_flag(values, "FIELDBOT_PAID_BROADCAST"),
        )


def _choice(values: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    text = (values.get(name) or default).strip()
    if text.upper() not in {a.upper() for a in allowed}:
        raise ConfigError(f"{name}={text!r}: use one of {', '.join(allowed)}")
    return text


def _flag(values: Mapping[str, str], name: str) -> bool:
    """An on/off setting: 1/true/yes/on, or 0/false/no/off (unset: off)."""
    text = (values.get(name) or "").strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ConfigError(f"{name}={text!r}: use 1 (on) or 0 (off)")


def _health_address(values: Mapping[str, str]) -> str | None:
    """FIELDBOT_HEALTH_ADDRESS: host:port, or ``off``."""
    text = (values.get("FIELDBOT_HEALTH_ADDRESS") or DEFAULT_HEALTH_ADDRESS).strip()
    if text.lower() in ("off", "no", "none", "0"):
        return None
    _host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"FIELDBOT_HEALTH_ADDRESS={text!r} is not host:port (or off)")
    return text


def _clock_time(values: Mapping[str, str], name: str, default: time) -> time:
    text = values.get(name)
    if not text:
        return default
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{name}={text!r} is not a time of day like 19:00") from exc
