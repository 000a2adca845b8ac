"""The sender: drains the outbox to Telegram, within its limits, once per row.

Each row is marked in its own short transaction right after Telegram accepts
it, so a restart re-sends at most the message that was in flight. Pushes are
sent as ``rate_limit_args=PUSH``: the bot's :class:`bot.ratelimit.TelegramRateLimiter`
paces them under Telegram's broadcast limit (and each chat's), and waits out a
429 for everyone; what it gives up on is rescheduled here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, true, update
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.clock import Clock
from bot.db import Database
from bot.ratelimit import PUSH, TelegramRateLimiter
from models import Outbox, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 200
CONCURRENCY = 20


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
    attempts: int
    reachable: bool


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
    return timedelta(seconds=min(5 * 2 ** attempts, 600))


async def drain(bot: Any, db: Database, clock: Clock, *, batch: int = BATCH,
                recipient_id: int | None = None) -> DrainResult:
    """Send every push that is due now (only one person's, given ``recipient_id``)."""
    result = DrainResult()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def in_order(pushes: list[_Push]) -> None:
        """One person's pushes one after another, oldest first: they arrive in the order queued
        (sent concurrently, a long digest could land after the short push queued behind it)."""
        async with gate:
            for push in pushes:
                await _deliver(bot, db, clock, push, result)

    while True:
        now = clock.now()
        async with db.reading() as session:
            rows = (await session.execute(
                select(Outbox.id, User.telegram_id, Outbox.recipient_id, Outbox.text, Outbox.buttons,
                       Outbox.attempts, User.active & User.blocked_at.is_(None))
                .join(User, User.id == Outbox.recipient_id)
                .where(Outbox.sent_at.is_(None), Outbox.dropped_at.is_(None), Outbox.not_before <= now,
                       or_(User.muted_until.is_(None), User.muted_until <= now))
                .where(Outbox.recipient_id == recipient_id if recipient_id is not None else true())
                .order_by(Outbox.not_before, Outbox.id).limit(batch)
            )).all()
        if not rows:
            return result
        by_recipient: dict[int, list[_Push]] = {}
        for row in rows:
            push = _Push(*row)
            by_recipient.setdefault(push.recipient_id, []).append(push)
        await asyncio.gather(*(in_order(pushes) for pushes in by_recipient.values()))
        if len(rows) < batch:
            return result


async def _deliver(bot: Any, db: Database, clock: Clock, push: _Push, result: DrainResult) -> None:
    if not push.reachable:
        await _finish(db, push.id, dropped_at=clock.now(), error="recipient deactivated or blocked the bot")
        result.dropped += 1
        return
    # A bot without the fieldbot limiter (e.g. PTB's own) paces every message alike.
    paced = {"rate_limit_args": PUSH} if isinstance(getattr(bot, "rate_limiter", None),
                                                     TelegramRateLimiter) else {}
    try:
        chunks = split_text(push.text)
        for number, chunk in enumerate(chunks, start=1):
            markup = _markup(push.buttons) if number == len(chunks) else None
            await bot.send_message(push.chat_id, chunk, reply_markup=markup, parse_mode=ParseMode.HTML,
                                   **paced)
    except Forbidden as error:
        await _blocked(db, clock.now(), push, str(error))
        result.dropped += 1
    except BadRequest as error:
        await _finish(db, push.id, dropped_at=clock.now(), error=str(error))
        log.warning("push %s refused by Telegram: %s", push.id, error)
        result.dropped += 1
    except (RetryAfter, NetworkError, TelegramError) as error:
        attempts = push.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            await _finish(db, push.id, dropped_at=clock.now(), error=str(error), attempts=attempts)
            result.dropped += 1
            return
        wait = backoff(attempts)
        if isinstance(error, RetryAfter):
            retry_after = error.retry_after
            wait = retry_after if isinstance(retry_after, timedelta) else timedelta(seconds=retry_after)
        await _finish(db, push.id, error=str(error), attempts=attempts, not_before=clock.now() + wait)
        result.retried += 1
    else:
        await _finish(db, push.id, sent_at=clock.now())
        result.sent += 1


async def _finish(db: Database, push_id: int, *, error: str | None = None, **values: object) -> None:
    if error is not None:
        values["last_error"] = error[:300]
    async with db.transaction(inline=True) as session:
        await session.execute(update(Outbox).where(Outbox.id == push_id).values(**values))


async def _blocked(db: Database, now: datetime, push: _Push, error: str) -> None:
    """The user blocked the bot: remember it and drop everything queued for them."""
    async with db.transaction(inline=True) as session:
        await session.execute(update(User).where(User.id == push.recipient_id).values(blocked_at=now))
        await session.execute(
            update(Outbox)
            .where(Outbox.recipient_id == push.recipient_id, Outbox.sent_at.is_(None),
                   Outbox.dropped_at.is_(None))
            .values(dropped_at=now, last_error=error[:300]))
    log.info("user %s blocked the bot; their pushes are dropped", push.recipient_id)


class OutboxSender:
    """One per process: serialises drains so the repeating job and an on-demand drain never overlap."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self._lock = asyncio.Lock()

    async def drain(self, bot: Any) -> DrainResult:
        async with self._lock:
            return await drain(bot, self.db, self.clock)
