"""Process updates concurrently across chats but strictly in order within one chat.

python-telegram-bot's ``concurrent_updates(True)`` gives up ordering: a rep's
second message could overtake their first. Here each chat (or, failing
that, each user) has its own lock, so one slow rep never holds up another
and no rep's messages are reordered. An update first waits for its chat's turn and
only then takes one of the shared slots, so a chat with many updates waiting (a
flood, or a slow moment of the bot) holds at most one slot and never starves the
others; updates are not dropped because the bot is slow. Only an absurd backlog
from one chat (:data:`MAX_QUEUED_PER_CHAT`) is cut, to bound memory.

Once an update is handled, and still within its chat's turn, the journal
(bot/persistence.py) stores what it changed and marks it handled, so the chat's
next update starts from durable state.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import logs, metrics

log = logging.getLogger(__name__)


#: Updates one chat may have waiting; beyond this it is a flood no person types, dropped to bound memory.
MAX_QUEUED_PER_CHAT = 100


class UpdateJournal(Protocol):
    async def settled(self, update: object) -> None:
        """``update`` was handled: make what it changed durable and mark it handled."""

    def dropped(self, update: object) -> None:
        """``update`` was dropped on purpose: mark it handled without handling it."""


#: What PTB's own semaphore is given: more than can ever wait, so it never binds (see below).
UNBOUNDED = 1 << 30


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Per-chat order through PTB's extension point, :meth:`do_process_update`.

    PTB's ``process_update`` (``@final``) takes a slot of its semaphore *before* calling
    ``do_process_update``: updates waiting for their chat's turn would hold slots and starve other
    chats. So PTB's semaphore is made too large to bind (:data:`UNBOUNDED`) and the real limit is
    this class's own slots (:attr:`slots`), taken inside the chat's turn.
    """

    def __init__(
        self,
        max_concurrent_updates: int = 64,
        max_queued_per_chat: int = MAX_QUEUED_PER_CHAT,
        journal: UpdateJournal | None = None,
    ) -> None:
        super().__init__(UNBOUNDED)
        self._limit = max_concurrent_updates
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self.max_queued_per_chat = max_queued_per_chat
        self.journal = journal
        self.dropped = 0
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
        return None

    @property
    def slots(self) -> int:
        """Updates handled at once (PTB's ``max_concurrent_updates`` reports its unbinding figure)."""
        return self._limit

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """The chat's turn first, then a shared slot: updates waiting for their chat hold no slot."""
        key = self._key(update)
        if key is None:
            async with self._slots:
                await self._handle(update, coroutine)
            return
        if self._waiting.get(key, 0) >= self.max_queued_per_chat:
            # Log it once per burst rather than once per update.
            if inspect.iscoroutine(coroutine):
                coroutine.close()
            self.dropped += 1
            metrics.dropped(update)
            if self.journal is not None:
                self.journal.dropped(update)
            if self._waiting[key] == self.max_queued_per_chat:
                log.warning(
                    "chat %s is flooding: updates beyond %d waiting are dropped",
                    key,
                    self.max_queued_per_chat,
                )
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock, self._slots:
                await self._handle(update, coroutine)
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:  # forget idle chats so the map stays small
                del self._waiting[key]
                self._locks.pop(key, None)

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle and settle ``update``, counted, timed, and with its ids on every log record."""
        with logs.update_scope(update) as fields, metrics.handling(update):
            started = time.perf_counter()
            await coroutine
            await self._settled(update)
            fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            log.debug("update handled")

    async def _settled(self, update: object) -> None:
        if self.journal is not None:
            await self.journal.settled(update)

    @property
    def busy_chats(self) -> int:
        """Chats with an update being handled or waiting."""
        return len(self._locks)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
