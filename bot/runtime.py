"""What every handler and job needs, built once per process and kept in ``bot_data``."""

from __future__ import annotations

import asyncio
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
    #: Work an update started and left running after its turn (an export being built), by a key
    #: naming what and for whom: one at a time per key (handlers/reporting/exports.py).
    background: dict[str, asyncio.Task[None]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.outbox = OutboxSender(self.db, self.clock, paid=self.settings.paid_broadcast)


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with the runtime one attribute away."""

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.application)


def runtime_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = application.bot_data[RUNTIME_KEY]  # set by bot.app.build_application
    return runtime
