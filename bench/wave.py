"""The morning wave: ``morning_plan`` for N reps, sent through a fake Bot API that enforces Telegram's
limits (30 messages a second; 1,000 with ``allow_paid_broadcast``), without and with
``FIELDBOT_PAID_BROADCAST`` (docs/PERFORMANCE.md, "Morning wave").

Method: a fresh database holds N reachable reps; every tenth has an A-grade customer never visited
(due today: an urgent plan, ``bot/services/field/urgency.py``), the rest nothing. The real
``morning_plan`` job runs for Monday 2026-11-23 08:30 (its time is reported apart), then the
bot's own ``OutboxSender`` with the bot's rate limiter drains the outbox over real HTTP on
127.0.0.1 to :class:`bot.devserver.FakeBotApi`, until no row is left unsent. From the fake API's
record of each answered call: messages a second (delivered ÷ first-to-last delivery), the time from
the start of the drain to the last delivery and to the last urgent one, 429s; then every chat is
checked to hold exactly its rep's plan: nothing lost, nothing twice.

``python -m bench.wave --reps 10000 --db sqlite|postgresql [--paid|--free|both]``; results are
printed as JSON lines and kept in bench/wave.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from telegram.ext import ExtBot

from bench.generate import ZONE
from bot.clock import Clock
from bot.db import Database, upgrade_async
from bot.devserver import FakeBotApi
from bot.ratelimit import TelegramRateLimiter
from jobs.outbox import OutboxSender
from jobs.runner import run_job
from models import Customer, Outbox, Role, User

TOKEN = "123456:BENCH-wave"
FIRST_TELEGRAM_ID = 40_000_000
#: Every this-many-th rep has an urgent plan.
URGENT_EVERY = 10
WAVE_AT = datetime(2026, 11, 23, 8, 30, tzinfo=ZONE)
RESULTS = Path(__file__).with_name("wave.json")


async def _company(db: Database, reps: int) -> set[int]:
    """``reps`` reachable reps; returns the Telegram ids of the urgent ones."""
    now = WAVE_AT.astimezone(UTC)
    async with db.transaction() as session:
        ids = await session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "telegram_id": FIRST_TELEGRAM_ID + n,
                    "name": f"Rep {n}",
                    "role": Role.REP,
                    "language": "en",
                    "active": True,
                    "created_at": now,
                    "first_seen_at": now,
                }
                for n in range(reps)
            ],
        )
        user_ids = list(ids)
        urgent = range(URGENT_EVERY - 1, reps, URGENT_EVERY)  # the last of each ten: queued late by id
        await session.execute(
            insert(Customer),
            [
                {"code": f"W{n}", "name": f"Hotel {n}", "grade": "A", "rep_id": user_ids[n]}
                | {"created_at": now}
                for n in urgent
            ],
        )
    return {FIRST_TELEGRAM_ID + n for n in urgent}


async def _unsent(db: Database) -> int:
    async with db.reading() as session:
        return (
            await session.scalar(
                select(func.count()).where(Outbox.sent_at.is_(None), Outbox.dropped_at.is_(None))
            )
            or 0
        )


async def wave(url: str, reps: int, *, paid: bool, migrate: bool = True) -> dict[str, Any]:
    """Queue the morning plans of ``reps`` reps and deliver them all; the figures of the wave."""
    if migrate:
        await upgrade_async(url)
    db = Database(url)
    try:
        urgent = await _company(db, reps)
        started = time.perf_counter()
        outcome = await run_job(db, "morning_plan", WAVE_AT.astimezone(UTC), ZONE)
        job_seconds = time.perf_counter() - started
        sender = OutboxSender(db, Clock(ZONE), paid=paid)
        async with FakeBotApi(TOKEN) as api:
            for n in range(reps):
                api.add_user(FIRST_TELEGRAM_ID + n, f"Rep {n}")
            bot = ExtBot(
                TOKEN,
                base_url=api.base_url,
                base_file_url=api.base_file_url,
                rate_limiter=TelegramRateLimiter(max_retries=3),
            )
            async with bot:
                begun = time.time()
                deadline = time.perf_counter() + reps / 29 * 3 + 60
                left, retried = reps, 0
                while left and time.perf_counter() < deadline:
                    drained = await sender.drain(bot, due_by=datetime.now(UTC) + timedelta(days=1))
                    retried += drained.retried
                    left = await _unsent(db)
                    if left:
                        await asyncio.sleep(0.2)
            delivered = [call for call in api.calls if call.method == "sendMessage" and call.ok]
            too_many = sum(1 for call in api.calls if call.status == 429)
            paid_flags = sum(1 for call in delivered if call.params.get("allow_paid_broadcast") is True)
            per_chat = Counter(int(call.params["chat_id"]) for call in delivered)
            lost = sum(1 for n in range(reps) if not per_chat[FIRST_TELEGRAM_ID + n])
            doubled = sum(count - 1 for count in per_chat.values() if count > 1)
            wrong = sum(
                1
                for n in range(reps)
                if per_chat[FIRST_TELEGRAM_ID + n]
                and not api.chat(FIRST_TELEGRAM_ID + n)[0].plain_text().startswith(f"Good morning, Rep {n}!")
            )
            arrivals = sorted(call.at for call in delivered)
            urgent_arrivals = [call.at for call in delivered if int(call.params["chat_id"]) in urgent]
            in_order = sorted(delivered, key=lambda call: call.at)
            urgent_places = [n for n, call in enumerate(in_order, 1) if int(call.params["chat_id"]) in urgent]
    finally:
        await db.dispose()
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return {
        "figure": "morning wave, paid broadcast" if paid else "morning wave, free 30/s",
        "reps": reps,
        "queued": outcome.pushes,
        "job_seconds": round(job_seconds, 2),
        "per_second": round(len(delivered) / span, 1) if span else None,
        "to_last_delivery_s": round(arrivals[-1] - begun, 1) if arrivals else None,
        "to_last_urgent_s": round(max(urgent_arrivals) - begun, 1) if urgent_arrivals else None,
        "urgent": len(urgent),
        "last_urgent_is_delivery": max(urgent_places) if urgent_places else None,
        "http_429": too_many,
        "retried": retried,
        "with_allow_paid_broadcast": paid_flags,
        "lost": lost,
        "doubled": doubled,
        "wrong_text": wrong,
        "left_unsent": left,
    }


@asynccontextmanager
async def _emptied(url: str) -> AsyncIterator[str]:
    """The PostgreSQL database ``url`` with its public schema dropped and created again (all its
    tables are lost: only for a database kept for this)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    yield url


async def _run(
    kind: str, reps: int, ways: list[bool], postgres_url: str | None, own: str | None
) -> list[dict[str, Any]]:
    from bench.runner import Databases  # bench.runner imports this module

    figures = []
    with tempfile.TemporaryDirectory(prefix="fieldbot-wave-") as folder:
        databases = Databases(kind, Path(folder), postgres_url)
        for paid in ways:
            fresh = _emptied(own) if own else databases.fresh("wave_paid" if paid else "wave_free")
            async with fresh as url:
                figure = {"db": kind, **await wave(url, reps, paid=paid)}
                print(json.dumps(figure), flush=True)
                figures.append(figure)
    return figures


def main(argv: list[str] | None = None) -> None:
    from bench.runner import POSTGRES_URL_VARIABLE

    parser = argparse.ArgumentParser(prog="python -m bench.wave", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--ways", choices=("free", "paid", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_URL_VARIABLE))
    parser.add_argument(
        "--own-database",
        help="a PostgreSQL database to use instead of creating fieldbot_bench_* ones: its public "
        "schema is DROPPED and created again before each way",
    )
    args = parser.parse_args(argv)
    if args.db == "postgresql" and not (args.postgres_url or args.own_database):
        parser.error(f"PostgreSQL needs --postgres-url or {POSTGRES_URL_VARIABLE}")
    ways = {"free": [False], "paid": [True], "both": [False, True]}[args.ways]
    figures = asyncio.run(_run(args.db, args.reps, ways, args.postgres_url, args.own_database))
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}  # another run may have written
    kept[f"{args.db} {args.reps} reps"] = {
        "figures": figures,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "at": time.strftime("%Y-%m-%d %H:%M"),
    }
    RESULTS.write_text(json.dumps(kept, indent=1) + "\n")


if __name__ == "__main__":
    main()
