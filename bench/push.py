"""Push delivery: pushes queued in the outbox, drained by ``OutboxSender`` through a fake Bot API that
allows 30 messages a second and answers 429 beyond that, over real HTTP on 127.0.0.1.

The bot is an ``ExtBot`` with the same rate limiter as the running bot (``bot.ratelimit``). Every push
carries a unique number; afterwards each chat's messages in the fake API are compared with what was
queued for it: nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from telegram.ext import ExtBot

from bench.generate import ZONE
from bot.clock import Clock
from bot.db import Database, upgrade_async
from bot.devserver import FakeBotApi
from bot.ratelimit import TelegramRateLimiter
from jobs.outbox import OutboxSender
from models import Outbox, Role, User

TOKEN = "123456:BENCH-push"
LIMIT = 30.0
RECIPIENTS = 100
FIRST_TELEGRAM_ID = 30_000_000


async def _queue(db: Database, pushes: int, now: datetime) -> dict[int, list[str]]:
    """``pushes`` rows spread over the recipients; returns the texts expected per chat."""
    expected: dict[int, list[str]] = {}
    async with db.transaction() as session:
        await session.execute(
            insert(User),
            [
                {
                    "id": 10 + n,
                    "telegram_id": FIRST_TELEGRAM_ID + n,
                    "name": f"Rep {n}",
                    "role": Role.REP,
                    "language": "en",
                    "active": True,
                    "created_at": now,
                    "first_seen_at": now,
                }
                for n in range(RECIPIENTS)
            ],
        )
        rows = []
        for n in range(pushes):
            recipient = n % RECIPIENTS
            body = f"Push <b>{n}</b> of the benchmark"
            expected.setdefault(FIRST_TELEGRAM_ID + recipient, []).append(f"Push {n} of the benchmark")
            rows.append(
                {
                    "recipient_id": 10 + recipient,
                    "job": "bench",
                    "dedup_key": f"bench:{n}",
                    "text": body,
                    "buttons": None,
                    "not_before": now - timedelta(seconds=1),
                    "created_at": now,
                    "attempts": 0,
                }
            )
        await session.execute(insert(Outbox), rows)
    return expected


async def push(url: str, pushes: int, *, migrate: bool = True) -> dict[str, Any]:
    """Queue ``pushes`` pushes and drain them all; the achieved rate, 429s, lost and duplicated."""
    if migrate:
        await upgrade_async(url)
    db = Database(url)
    sender = OutboxSender(db, Clock(ZONE))
    try:
        expected = await _queue(db, pushes, datetime.now(UTC))
        async with FakeBotApi(TOKEN, messages_per_second=LIMIT) as api:
            for telegram_id in expected:
                api.add_user(telegram_id, f"Rep {telegram_id}")
            bot = ExtBot(
                TOKEN,
                base_url=api.base_url,
                base_file_url=api.base_file_url,
                rate_limiter=TelegramRateLimiter(max_retries=3),
            )
            async with bot:
                started = time.perf_counter()
                deadline = started + pushes / LIMIT * 3 + 30
                while time.perf_counter() < deadline:
                    await sender.drain(bot)
                    async with db.reading() as session:
                        left = await session.scalar(
                            select(func.count()).where(Outbox.sent_at.is_(None), Outbox.dropped_at.is_(None))
                        )
                    if not left:
                        break
                    await asyncio.sleep(0.2)
                elapsed = time.perf_counter() - started
            too_many = sum(1 for call in api.calls if call.status == 429)
            lost = duplicated = 0
            for chat_id, texts in expected.items():
                seen = Counter(message.plain_text() for message in api.chat(chat_id))
                lost += sum(1 for text in texts if not seen[text])
                duplicated += sum(count - 1 for count in seen.values() if count > 1)
            refused = [c for c in api.refused_calls() if c.status != 429]
    finally:
        await db.dispose()
    rate = pushes / elapsed
    return {
        "figure": "push delivery",
        "pushes": pushes,
        "seconds": round(elapsed, 2),
        "per_second": round(rate, 2),
        "fraction_of_30": round(rate / LIMIT, 3),
        "http_429": too_many,
        "lost": lost,
        "duplicated": duplicated,
        "refused_other": len(refused),
        "left_unsent": left,
    }
