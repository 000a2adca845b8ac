"""Updates are not lost between Telegram and the handlers, and not handled twice.

With long polling, python-telegram-bot confirms a batch to Telegram (the next
``getUpdates`` offset) as soon as it is queued, so a ``kill -9`` would lose every
update queued but not yet handled. Here each batch is written to the
``telegram_inbox`` table (raw JSON, one INSERT … ON CONFLICT DO UPDATE per batch)
*before* ``getUpdates`` returns it to the Updater, so before it can be confirmed;
a webhook update is written before the webhook answers Telegram. An update is
marked handled once its handlers ran and the conversation state it changed is
stored (bot/persistence.py), in the same transaction. At start-up the unhandled
ones are queued again before polling begins; one fetched again (Telegram resends
what was never confirmed) is recognised by its ``update_id`` and content, and dropped.

Writes are grouped: state that must be durable before a chat's next update is
committed at once, together with whatever else is waiting (other chats' state,
handled marks); handled marks alone wait up to :data:`LAZY_SECONDS` for a ride.
A mark lost to a crash only means the update is handled again after the restart,
which handlers make harmless by writing under the update's ``source_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from sqlalchemy import Table, and_, delete, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError
from telegram.request import BaseRequest, RequestData

from bot import metrics
from bot.db import Database
from bot.telegram_http import AiohttpRequest
from models import InboxUpdate, TelegramState

log = logging.getLogger(__name__)

#: Longest a handled mark with no state change waits to be written with other work.
LAZY_SECONDS = 1.0
#: Handled updates are kept this long, so one Telegram sends again is still recognised.
KEEP_HANDLED = timedelta(days=1)
PURGE_EVERY_SECONDS = 600.0
RETRY_MAX_SECONDS = 30.0

#: A row of ``telegram_state``: (scope, owner, name).
StateKey = tuple[str, str, str]

INBOX: Table = InboxUpdate.__table__
STATE: Table = TelegramState.__table__


@dataclass
class StateChanges:
    """Rows of ``telegram_state`` to write (JSON text) or to delete."""

    upserts: dict[StateKey, str] = field(default_factory=dict)
    deletes: set[StateKey] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)

    def put(self, key: StateKey, data: str) -> None:
        self.deletes.discard(key)
        self.upserts[key] = data

    def remove(self, key: StateKey) -> None:
        self.upserts.pop(key, None)
        self.deletes.add(key)

    def merge_older(self, older: StateChanges) -> None:
        """Take back ``older`` changes that a failed commit returned, unless superseded since."""
        for key, data in older.upserts.items():
            if key not in self.upserts and key not in self.deletes:
                self.upserts[key] = data
        self.deletes |= {key for key in older.deletes if key not in self.upserts}


class Journal:
    """Group commit of inbox rows, state changes and handled marks: one transaction each time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._changes = StateChanges()
        self._handled: set[int] = set()
        self._lock = asyncio.Lock()
        self._lazy: asyncio.Task[None] | None = None
        self._next_purge = 0.0
        self.commits = 0

    def add(self, changes: StateChanges | None = None, handled: int | None = None) -> None:
        if changes:
            for key, data in changes.upserts.items():
                self._changes.put(key, data)
            for key in changes.deletes:
                self._changes.remove(key)
        if handled is not None:
            self._handled.add(handled)

    @property
    def pending(self) -> bool:
        return bool(self._changes or self._handled)

    async def commit(self, received: Sequence[dict[str, Any]] = ()) -> set[int]:
        """Write ``received`` updates and everything pending; return the ids that were new."""
        async with self._lock:
            changes, self._changes = self._changes, StateChanges()
            handled, self._handled = self._handled, set()
            if not (received or changes or handled):
                return set()
            try:
                async with self.db.transaction(inline=True) as session:
                    new = await self._write(session, received, changes, handled)
            except BaseException:
                changes.merge_older(self._changes)
                self._changes = changes
                self._handled |= handled
                raise
            self.commits += 1
            return new

    async def _write(
        self,
        session: AsyncSession,
        received: Sequence[dict[str, Any]],
        changes: StateChanges,
        handled: set[int],
    ) -> set[int]:
        now = datetime.now(UTC)
        new: set[int] = set()
        if time.monotonic() >= self._next_purge:  # first, so a purged id can be taken by a new update
            self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
            await session.execute(delete(INBOX).where(INBOX.c.handled_at < now - KEEP_HANDLED))
        # Both upserts are one statement given many rows (SQLAlchemy sends them as one multi-row
        # INSERT), so they are compiled once per process, not once per batch size.
        if received:
            rows = [
                {
                    "update_id": raw["update_id"],
                    "payload": json.dumps(raw, ensure_ascii=False),
                    "received_at": now,
                }
                for raw in received
            ]
            result = await session.execute(_inbox_upsert(session), rows)
            new = set(result.scalars())
        if changes.upserts:
            rows = [
                {"scope": scope, "owner": owner, "name": name, "data": data, "updated_at": now}
                for (scope, owner, name), data in changes.upserts.items()
            ]
            await session.execute(_state_upsert(session), rows)
        if changes.deletes:
            await session.execute(
                delete(STATE).where(
                    or_(
                        *(
                            and_(STATE.c.scope == scope, STATE.c.owner == owner, STATE.c.name == name)
                            for scope, owner, name in changes.deletes
                        )
                    )
                )
            )
        if handled:
            await session.execute(update(INBOX).where(INBOX.c.update_id.in_(handled)).values(handled_at=now))
        return new

    def commit_soon(self) -> None:
        """Commit what is pending within :data:`LAZY_SECONDS` (retrying while the database is down)."""
        if self._lazy is None or self._lazy.done():
            self._lazy = asyncio.get_running_loop().create_task(self._commit_later(), name="inbox-journal")

    async def _commit_later(self) -> None:
        delay = LAZY_SECONDS
        while self.pending:
            await asyncio.sleep(delay)
            try:
                await self.commit()
            except Exception as error:  # the database is away: keep it all in memory and retry
                log.warning(
                    "could not record handled updates and conversation state (%s); retrying in %.0f s",
                    type(error).__name__,
                    delay,
                )
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def close(self) -> None:
        """Stop waiting and commit what is pending (at shutdown)."""
        if self._lazy is not None:
            self._lazy.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lazy
            self._lazy = None
        await self.commit()


def _inbox_upsert(session: AsyncSession) -> Any:
    return _upserts(session.get_bind().dialect.name)[0]


def _state_upsert(session: AsyncSession) -> Any:
    return _upserts(session.get_bind().dialect.name)[1]


@functools.cache
def _upserts(dialect: str) -> tuple[Any, Any]:
    """Built once per dialect: (record fetched updates RETURNING the new ids, write state rows).

    The same id with the same content is a resend; with other content, a new update
    (Telegram may restart its ids after a quiet week), which replaces the old row.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(INBOX)
    excluded = statement.excluded
    inbox = statement.on_conflict_do_update(
        index_elements=["update_id"],
        where=INBOX.c.payload != excluded.payload,
        set_={"payload": excluded.payload, "received_at": excluded.received_at, "handled_at": null()},
    ).returning(INBOX.c.update_id)
    statement = insert(STATE)
    state = statement.on_conflict_do_update(
        index_elements=["scope", "owner", "name"],
        set_={"data": statement.excluded.data, "updated_at": statement.excluded.updated_at},
    )
    return inbox, state


class Inbox:
    """Which updates are recorded, queued and handled; the journal makes it durable."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.journal = Journal(db)
        self._recorded: set[int] = set()  # written by a getUpdates batch, about to be queued
        self._duplicates: set[int] = set()  # fetched again: queued or handled before
        self._queued: dict[int, int] = {}  # update id → times queued and not yet handled
        self._objects: dict[int, Update] = {}  # update id → the object being handled

    async def received(self, raw_updates: Sequence[dict[str, Any]]) -> None:
        """A getUpdates batch, before the Updater sees it (and can confirm it)."""
        try:
            new = await self.journal.commit(raw_updates)
        except Exception as error:
            # A TelegramError makes the Updater retry this getUpdates with backoff, offset unchanged.
            raise NetworkError(
                f"could not record fetched updates in the inbox: {type(error).__name__}"
            ) from error
        ids = {raw["update_id"] for raw in raw_updates}
        self._recorded |= new
        self._duplicates |= ids - new

    async def admit(self, update: Update) -> bool:
        """Whether ``update`` goes on the queue: not if it is one already queued or handled."""
        update_id = update.update_id
        if self._objects.get(update_id) is update:  # put back by a handler (handlers/flows.py)
            return True
        if update_id in self._recorded:
            self._recorded.discard(update_id)
            return True
        if update_id in self._duplicates:
            self._duplicates.discard(update_id)
            log.info("update %d was fetched again: already queued or handled, dropped", update_id)
            return False
        # A webhook update: durable before the webhook answers Telegram.
        new = await self.journal.commit([update.to_dict()])
        if update_id not in new:
            log.info("update %d was delivered again: already queued or handled, dropped", update_id)
        return update_id in new

    def queued(self, update: Update) -> None:
        self._queued[update.update_id] = self._queued.get(update.update_id, 0) + 1
        self._objects[update.update_id] = update

    def _done(self, update: Update) -> bool:
        """Count one handling of ``update`` done; True when no copy of it is left on the queue."""
        left = self._queued.get(update.update_id, 1) - 1
        if left > 0:
            self._queued[update.update_id] = left
            return False
        self._queued.pop(update.update_id, None)
        self._objects.pop(update.update_id, None)
        return True

    async def settle(self, update: Update, changes: StateChanges) -> None:
        """``update`` was handled and changed ``changes``: durable before the chat's next update."""
        self.journal.add(changes, update.update_id if self._done(update) else None)
        if changes:
            await self.journal.commit()
        else:
            self.journal.commit_soon()

    def drop(self, update: Update) -> None:
        """``update`` was deliberately not handled (a flood): never replay it."""
        self.journal.add(handled=update.update_id if self._done(update) else None)
        self.journal.commit_soon()

    async def replay(self, queue: asyncio.Queue[object], bot: Bot) -> int:
        """Queue the updates recorded but not handled before the last stop (call before polling)."""
        async with self.db.reading() as session:
            rows = (
                await session.execute(
                    select(INBOX.c.update_id, INBOX.c.payload)
                    .where(INBOX.c.handled_at.is_(None))
                    .order_by(INBOX.c.update_id)
                )
            ).all()
        for update_id, payload in rows:
            self._recorded.add(update_id)
            await queue.put(Update.de_json(json.loads(payload), bot))
        if rows:
            log.info("handling %d updates received before the last stop but not handled then", len(rows))
        return len(rows)


class InboxQueue(asyncio.Queue[object]):
    """The Application's update queue: admits each update through the :class:`Inbox`."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            metrics.fetched_updates()  # by polling or, in webhook mode, Telegram's call
            if not await self.inbox.admit(item):
                return
        await super().put(item)

    def _put(self, item: object) -> None:  # asyncio.Queue's hook, for put and put_nowait alike
        if isinstance(item, Update):
            self.inbox.queued(item)
        super()._put(item)


class InboxRequest(AiohttpRequest):
    """The getUpdates connection: records each batch in the inbox before handing it on."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__(connection_pool_size=1)
        self.inbox = inbox
        #: Called once when Telegram rejects the token while polling (revoked at @BotFather): PTB's
        #: polling loop gives up then, and a process left running without polling helps nobody.
        self.on_token_rejected: Callable[[InvalidToken], None] | None = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """The transport's answer, recorded first when it is a batch of updates.

        ``BaseRequest.post`` is ``@final``; ``do_request`` is PTB's extension point. The batch is
        read from the body here (PTB parses it again; one small body per poll), so the updates are
        in the inbox before PTB hands them on.
        """
        status, body = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if not url.endswith("/getUpdates"):
            return status, body
        if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND) and self.on_token_rejected:
            # What PTB raises for these statuses; it raises its own right after this returns.
            self.on_token_rejected(InvalidToken(f"getUpdates answered {status}"))
        elif status == HTTPStatus.OK:
            metrics.fetched_updates()
            try:
                answer = json.loads(body)
            except ValueError:
                return status, body  # PTB reports the bad answer
            batch = answer.get("result") if isinstance(answer, dict) and answer.get("ok") else None
            if isinstance(batch, list) and batch:
                await self.inbox.received(batch)
        return status, body
