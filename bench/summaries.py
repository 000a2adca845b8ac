"""Manager views on the generated company: /summary month (company, one team), /overdue; and the
overdue rollup's move to a new day, which the morning's ``overdue_followup`` makes before /overdue
reads it (bot/services/money/overdue_rollup.py).

(/export month is measured on its own, with its peak RSS: bench/export.py.)"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bench.generate import TODAY, ZONE, Generated, Size
from bench.measure import run_child, timed
from bot.db import Database
from bot.services.money import overdue_rollup
from bot.services.money.overdue import overdue_by_customer
from bot.services.people.access import Caller
from bot.services.reporting import visit_months
from bot.services.reporting.periods import MONTH, relative
from bot.services.reporting.summaries import summary
from models import Role


async def rollup_as_of(db: Database, day: date) -> float:
    """Move the overdue rollup to ``day`` in a transaction of its own, as a job does; seconds taken."""
    started = time.perf_counter()
    async with db.transaction(report=True) as session:
        if not await overdue_rollup.current(session, day):
            raise RuntimeError("the overdue rollup could not be moved")
    return time.perf_counter() - started


async def prepare(url: str, company: Generated) -> list[dict[str, Any]]:
    """The company as a night leaves it, before the morning's sweeps: the visits' monthly counts
    built (once, on a database migrated since it was generated: timed), the overdue rollup as of
    yesterday (the morning sweep makes the day's move)."""
    db = Database(url)
    figures: list[dict[str, Any]] = []
    try:
        async with db.reading() as session:
            built = await visit_months.built_for(session) == ZONE.key
        if not built:
            started = time.perf_counter()
            async with db.transaction(report=True) as session:
                if not await visit_months.ready(session, ZONE):
                    raise RuntimeError("the visits' monthly counts could not be built")
            figures.append(
                {
                    "figure": "visit months: first build",
                    "reps": company.size.reps,
                    "customers": company.size.customers,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
        await rollup_as_of(db, TODAY - timedelta(days=1))
    finally:
        await db.dispose()
    return figures


async def summaries(url: str, company: Generated, repeats: int = 3) -> list[dict[str, Any]]:
    """Latency of each view, cold and the median of ``repeats`` warm runs, each in its own read session."""
    director = Caller(company.director_id, 90_000_002, "周敏", Role.DIRECTOR, None, "zh")
    manager = Caller(company.manager_id, 80_000_001, "经理1", Role.MANAGER, company.team_id, "zh")
    month = relative(MONTH, TODAY)
    db = Database(url)

    def reading(view: Callable[[AsyncSession], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            async with db.reading() as session:
                return await view(session)

        return run

    views: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]], Callable[[Any], str]]] = [
        (
            "/summary month (company)",
            lambda s: summary(s, director, month, ZONE, TODAY),
            lambda r: f"{r.visits} visits, {len(r.reps)} reps",
        ),
        (
            "/summary month (one team)",
            lambda s: summary(s, manager, month, ZONE, TODAY),
            lambda r: f"{r.visits} visits, {len(r.reps)} reps",
        ),
        (
            "/overdue first page (company)",
            lambda s: overdue_by_customer(s, director, today=TODAY),
            lambda r: f"{r.customers} customers, {r.invoices} invoices",
        ),
    ]
    figures: list[dict[str, Any]] = []
    try:
        await rollup_as_of(db, TODAY - timedelta(days=1))
        moved = await rollup_as_of(db, TODAY)
        figures.append(
            {
                "figure": "overdue rollup: the day's move",
                "reps": company.size.reps,
                "customers": company.size.customers,
                "ms": round(moved * 1000, 1),
                "what": "receivables due yesterday added to their customers' overdue totals",
            }
        )
        for name, view, describe in views:
            took, result = await timed(reading(view), repeats=repeats)
            figures.append(
                {
                    "figure": name,
                    "reps": company.size.reps,
                    "customers": company.size.customers,
                    "cold_ms": round(took.first * 1000, 1),
                    "ms": round(took.median * 1000, 1),
                    "what": describe(result),
                }
            )
    finally:
        await db.dispose()
    return figures


async def in_child(url: str, company: Generated, repeats: int = 3) -> list[dict[str, Any]]:
    """The views in a fresh process, as the bot runs them in its own (bench/measure.py: run_child)."""
    return list(await run_child("bench.summaries", url, json.dumps(asdict(company)), str(repeats)))


def main() -> None:
    url, stored, repeats = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    company = Generated(**{**stored, "size": Size(**stored["size"])})
    print(json.dumps(asyncio.run(summaries(url, company, repeats=repeats))))


if __name__ == "__main__":
    main()
