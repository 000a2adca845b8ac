"""The real bot, long-polling a :class:`FakeBotApi` in this process: for tests, the demo and tools.

Waiting is exact, not timed: an update counts as handled once the bot has
confirmed it to the server (so it is in the bot's own queue) and that queue
is drained. Scheduled jobs and the outbox timer are left out; callers run jobs
and deliver pushes when they choose.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

from bot.app import FieldbotApp, build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database
from bot.devserver.server import FakeBotApi
from bot.runtime import runtime_of
from jobs.outbox import DrainResult

SETTLE_TIMEOUT = 20.0


class RunningBot:
    def __init__(self, api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings) -> None:
        self.api, self.db, self.clock, self.settings = api, db, clock, settings
        api.timestamp = lambda: clock.now().timestamp()  # people's messages are dated by the bot's clock
        self.app: FieldbotApp = build_application(settings, db, clock, background_jobs=False)

    async def __aenter__(self) -> Self:
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=5)
        await self.app.start()
        return self

    async def __aexit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType]) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)

    async def settle(
        self, update: dict[str, Any], within: float = SETTLE_TIMEOUT, *, background: bool = True
    ) -> None:
        """Wait until the bot has fetched ``update`` and finished handling everything queued,
        and (``background``) the work updates left running, such as an export being built."""
        async with asyncio.timeout(within):
            await self.api.wait_confirmed(update["update_id"])
            await self.app.update_queue.join()
            running = runtime_of(self.app).background
            while background and running:
                await asyncio.gather(*running.values(), return_exceptions=True)
                await self.app.update_queue.join()

    async def deliver_pushes(self) -> DrainResult:
        """Send what the outbox holds now (the running bot does this every few seconds)."""
        return await runtime_of(self.app).outbox.drain(self.app.bot)
