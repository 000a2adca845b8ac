"""What every handler and job needs, built once per process and kept in ``bot_data``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from jobs.outbox import OutboxSender

RUNTIME_KEY = "fieldbot.runtime"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    outbox: OutboxSender = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = OutboxSender(self.db, self.clock)


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with the runtime one attribute away."""

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.application)


def runtime_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Runtime:
    return application.bot_data[RUNTIME_KEY]
