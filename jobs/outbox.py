"""The sender: drains the outbox to Telegram, within its limits, once per row.

**Claims.** A sender never sends a row it has not claimed. It reads the rows that are due
and that nobody holds, then claims them with one conditional ``UPDATE`` (``claimed_by`` =
this drain, ``claimed_until`` = now + :data:`LEASE`, only where no live claim exists),
and sends only the rows that ``UPDATE`` gave it. Two senders, in one process or in
several, on SQLite or PostgreSQL, can therefore never both send a row: whichever
``UPDATE`` comes second finds the row taken (PostgreSQL re-checks the condition on the
row the first one committed). While a drain sends it renews its claims every
:data:`RENEW_EVERY_SECONDS`; a sender that died (``kill -9``, a lost machine) stops
renewing, and once its lease has run out the next sender takes its rows, so nothing is
lost. A person's pushes are not taken while another sender holds one of theirs, so they
still arrive in the order queued.

**Marks.** Each row is marked (sent, rescheduled, dropped) in its own short transaction
right after Telegram answers, by its claimant only, which releases the claim. A restart
re-sends at most the messages that were in flight. Pushes are sent as
``rate_limit_args=PUSH``: the bot's :class:`bot.ratelimit.TelegramRateLimiter` paces them
under Telegram's broadcast limit (and each chat's), and waits out a 429 for everyone; what
it gives up on is rescheduled here. With ``FIELDBOT_PAID_BROADCAST=1`` (``paid``) they go with
the Bot API's ``allow_paid_broadcast`` as ``rate_limit_args=PAID_PUSH``, paced at up to 999 a
second (each costs Telegram Stars: README, "Paid broadcast").

**Order.** Due rows go out by ``not_before``, then ``id``: the order queued. A job that queues
a wave queues its most urgent pushes first (``jobs/morning_plan.py``), so they lead the wave.

**One flood budget.** Claims keep rows from being sent twice, but two processes sending at
once would each keep their own 29/s and together exceed Telegram's limit. So only one
process sends: the running bot (which holds the SQLite file's lock, or the PostgreSQL
leader lock), or, when no bot runs, ``fieldbot jobs run`` while it holds that same lock
(:func:`sole_sender`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select, text, true, update
from sqlalchemy.orm import aliased
from sqlalchemy.pool import NullPool
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import metrics
from bot.clock import Clock
from bot.db import Database, is_sqlite, make_engine
from bot.leadership import LEADER_LOCK_KEY
from bot.ratelimit import PAID_PUSH, PUSH, TelegramRateLimiter
from bot.startup import JOBS_RUN, StartupError, lock_sqlite
from models import Outbox, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 200
CONCURRENCY = 20
#: How long a claim holds without renewal: how long the rows of a sender that died wait.
LEASE = timedelta(seconds=20)
#: A drain renews its claims this often (real seconds), so a live one never loses them.
RENEW_EVERY_SECONDS = 5.0


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class _Push:
    id: int
    chat_id: int
    recipient_id: int
    text: str
    buttons: list[Any] | None
    reachable: bool
    attempts: int


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Cut a long push at line breaks into messages Telegram accepts (tags never span lines)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


def _markup(buttons: list[Any] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(**button) for button in row] for row in buttons])


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2**attempts, 600))


def claimant_name() -> str:
    """Who claims: host, process and a random part for this drain (readable in the table)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _unfinished() -> Any:
    return Outbox.sent_at.is_(None) & Outbox.dropped_at.is_(None)


def _claimable(now: datetime, due: datetime, batch: int, recipient_id: int | None) -> Any:
    """Due rows nobody holds, of people none of whose pushes another sender holds, oldest first."""
    other = aliased(Outbox)
    held_for_recipient = (
        select(other.id)
        .where(
            other.recipient_id == Outbox.recipient_id,
            other.sent_at.is_(None),
            other.dropped_at.is_(None),
            other.claimed_until > now,
        )
        .exists()
    )
    return (
        select(
            Outbox.id,
            User.telegram_id,
            Outbox.recipient_id,
            Outbox.text,
            Outbox.buttons,
            User.active & User.blocked_at.is_(None),
        )
        .join(User, User.id == Outbox.recipient_id)
        .where(
            _unfinished(),
            Outbox.not_before <= due,
            ~held_for_recipient,
            or_(User.muted_until.is_(None), User.muted_until <= due),
        )
        .where(Outbox.recipient_id == recipient_id if recipient_id is not None else true())
        .order_by(Outbox.not_before, Outbox.id)
        .limit(batch)
    )


async def drain(
    bot: Any,
    db: Database,
    clock: Clock,
    *,
    batch: int = BATCH,
    recipient_id: int | None = None,
    due_by: datetime | None = None,
    paid: bool = False,
) -> DrainResult:
    """Send every push that is due now (or by ``due_by``, if later; only one person's, given
    ``recipient_id``), each claimed first so that no other sender sends it too; ``paid``: with
    ``allow_paid_broadcast``, at the paid rate."""
    return await _Drain(bot, db, clock, claimant_name(), paid=paid).run(batch, recipient_id, due_by)


@dataclass
class _Drain:
    bot: Any
    db: Database
    clock: Clock
    me: str
    #: Send with ``allow_paid_broadcast`` (``FIELDBOT_PAID_BROADCAST``).
    paid: bool = False
    result: DrainResult = field(default_factory=DrainResult)
    #: Rows claimed and not yet marked: released if the drain ends early (an error, a shutdown).
    held: set[int] = field(default_factory=set)

    async def run(self, batch: int, recipient_id: int | None, due_by: datetime | None) -> DrainResult:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def in_order(pushes: list[_Push]) -> None:
            """One person's pushes one after another, oldest first: they arrive in the order queued
            (sent concurrently, a long digest could land after the short push queued behind it)."""
            async with gate:
                for push in pushes:
                    await self.deliver(push)

        try:
            while True:
                now = self.clock.now()
                due = max(now, due_by) if due_by is not None else now
                async with self.db.reading() as session:
                    candidates = (await session.execute(_claimable(now, due, batch, recipient_id))).all()
                if not candidates:
                    return self.result
                pushes = await self.claim(candidates, now)
                by_recipient: dict[int, list[_Push]] = {}
                for push in pushes:
                    by_recipient.setdefault(push.recipient_id, []).append(push)
                async with self.renewing():
                    outcomes = await asyncio.gather(
                        *(in_order(p) for p in by_recipient.values()), return_exceptions=True
                    )
                failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
                if failure is not None:
                    raise failure
                if len(candidates) < batch:
                    return self.result
        finally:
            if self.held:
                await self.release()

    async def claim(self, candidates: Sequence[Row[*tuple[Any, ...]]], now: datetime) -> list[_Push]:
        """Take the candidates nobody took meanwhile; the pushes this drain may now send."""
        async with self.db.transaction(inline=True) as session:
            taken = dict(
                (
                    await session.execute(
                        update(Outbox)
                        .where(
                            Outbox.id.in_([row[0] for row in candidates]),
                            _unfinished(),
                            or_(Outbox.claimed_until.is_(None), Outbox.claimed_until <= now),
                        )
                        .values(claimed_by=self.me, claimed_until=now + LEASE)
                        .returning(Outbox.id, Outbox.attempts)
                        .execution_options(synchronize_session=False)
                    )
                ).all()
            )
        self.held.update(taken)
        if len(taken) < len(candidates):
            log.debug(
                "%d of %d pushes were taken by another sender", len(candidates) - len(taken), len(candidates)
            )
        return [
            _Push(row[0], row[1], row[2], row[3], row[4], row[5], attempts=taken[row[0]])
            for row in candidates
            if row[0] in taken
        ]

    @contextlib.asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        """Keep this drain's claims alive while it sends (a renewal in progress is let finish)."""
        stop = asyncio.Event()

        async def renew() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RENEW_EVERY_SECONDS)
                    return
                try:
                    async with self.db.transaction(inline=True) as session:
                        await session.execute(
                            update(Outbox)
                            .where(Outbox.claimed_by == self.me, _unfinished())
                            .values(claimed_until=self.clock.now() + LEASE)
                            .execution_options(synchronize_session=False)
                        )
                except Exception as error:  # the database is down: the marks will say so too
                    log.warning("could not renew the outbox claims of %s: %s", self.me, error)

        renewer = asyncio.create_task(renew())
        try:
            yield
        finally:
            stop.set()
            await renewer

    async def release(self) -> None:
        """Give back what this drain claimed but did not finish, for the next drain to send."""
        try:
            async with self.db.transaction(inline=True) as session:
                await session.execute(
                    update(Outbox)
                    .where(Outbox.claimed_by == self.me, _unfinished())
                    .values(claimed_by=None, claimed_until=None)
                    .execution_options(synchronize_session=False)
                )
            self.held.clear()
        except Exception as error:  # they are free again once the lease runs out
            log.warning(
                "could not release %d outbox claims (free again in %s): %s", len(self.held), LEASE, error
            )

    async def deliver(self, push: _Push) -> None:
        result, now = self.result, self.clock.now
        if not push.reachable:
            await self.finish(push.id, dropped_at=now(), error="recipient deactivated or blocked the bot")
            result.dropped += 1
            return
        # A bot without the fieldbot limiter (e.g. PTB's own) paces every message alike.
        paced: dict[str, Any] = (
            {"rate_limit_args": PAID_PUSH if self.paid else PUSH}
            if isinstance(getattr(self.bot, "rate_limiter", None), TelegramRateLimiter)
            else {}
        )
        if self.paid:
            paced["allow_paid_broadcast"] = True
        try:
            chunks = split_text(push.text)
            for number, chunk in enumerate(chunks, start=1):
                markup = _markup(push.buttons) if number == len(chunks) else None
                await self.bot.send_message(
                    push.chat_id, chunk, reply_markup=markup, parse_mode=ParseMode.HTML, **paced
                )
        except Forbidden as error:
            await self.blocked(now(), push, str(error))
            result.dropped += 1
        except BadRequest as error:
            await self.finish(push.id, dropped_at=now(), error=str(error))
            log.warning("push %s refused by Telegram: %s", push.id, error)
            result.dropped += 1
        except (RetryAfter, NetworkError, TelegramError) as error:
            attempts = push.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                await self.finish(push.id, dropped_at=now(), error=str(error), attempts=attempts)
                metrics.PUSHES.labels("failed").inc()
                result.dropped += 1
                return
            wait = backoff(attempts)
            if isinstance(error, RetryAfter):
                retry_after = error.retry_after
                wait = retry_after if isinstance(retry_after, timedelta) else timedelta(seconds=retry_after)
            await self.finish(push.id, error=str(error), attempts=attempts, not_before=now() + wait)
            result.retried += 1
        else:
            await self.finish(push.id, sent_at=now())
            metrics.PUSHES.labels("sent").inc()
            result.sent += 1

    async def finish(self, push_id: int, *, error: str | None = None, **values: object) -> None:
        """Mark a row this drain claimed, and release it; a row it no longer holds is left alone."""
        if error is not None:
            values["last_error"] = error[:300]
        async with self.db.transaction(inline=True) as session:
            marked = await session.execute(
                update(Outbox)
                .where(Outbox.id == push_id, Outbox.claimed_by == self.me)
                .values(claimed_by=None, claimed_until=None, **values)
                .execution_options(synchronize_session=False)
            )
        self.held.discard(push_id)
        if not marked.rowcount:  # type: ignore[attr-defined]
            log.warning(
                "push %s was no longer claimed by this sender when Telegram answered (its "
                "lease ran out, or it was dropped meanwhile); not marked",
                push_id,
            )

    async def blocked(self, now: datetime, push: _Push, error: str) -> None:
        """The user blocked the bot: remember it and drop everything queued for them."""
        async with self.db.transaction(inline=True) as session:
            await session.execute(update(User).where(User.id == push.recipient_id).values(blocked_at=now))
            await session.execute(
                update(Outbox)
                .where(Outbox.recipient_id == push.recipient_id, _unfinished())
                .values(dropped_at=now, last_error=error[:300], claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        self.held.discard(push.id)
        log.info("user %s blocked the bot; their pushes are dropped", push.recipient_id)


class OutboxSender:
    """One per process: serialises drains so the repeating job and an on-demand drain never overlap."""

    def __init__(self, db: Database, clock: Clock, *, paid: bool = False) -> None:
        self.db, self.clock, self.paid = db, clock, paid
        self._lock = asyncio.Lock()

    async def drain(self, bot: Any, *, due_by: datetime | None = None) -> DrainResult:
        """Send what is due now (or by ``due_by``: ``fieldbot jobs run --at`` a later moment)."""
        async with self._lock:
            return await drain(bot, self.db, self.clock, due_by=due_by, paid=self.paid)


@contextlib.asynccontextmanager
async def sole_sender(url: str) -> AsyncIterator[bool]:
    """Make this process the database's only sender while no bot runs (True), or learn that one
    runs (False): then leave the sending to it, so that one flood budget covers every push.

    A running bot holds a lock for as long as it runs: the lock file next to an SQLite database
    (:func:`bot.startup.lock_sqlite`) or, on PostgreSQL, the leader's advisory lock
    (:mod:`bot.leadership`; a standby waits for it). This takes the same lock, non-blocking, and
    holds it until the block ends: a bot started meanwhile stands by on PostgreSQL until then, and
    on SQLite waits for it (up to its ``--db-wait``), rather than sending beside this process.
    """
    if is_sqlite(url):
        try:
            handle = lock_sqlite(url, holder=JOBS_RUN)
        except StartupError:
            yield False
            return
        try:
            yield True
        finally:
            if handle is not None:
                handle.close()
        return
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("SET application_name = 'fieldbot jobs run'"))
            if not await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
            ):
                yield False
                return
            try:
                yield True
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
    finally:
        await engine.dispose()
