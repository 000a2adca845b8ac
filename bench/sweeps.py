"""Reminder sweeps: ``morning_plan`` and ``overdue_followup`` computing and queueing their pushes."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select

from bench.generate import NOW, ZONE, Generated, Size
from bench.measure import peak_rss_mb, run_child, timed
from bot.db import Database
from jobs.runner import run_job
from models import Outbox

JOBS = ("morning_plan", "overdue_followup")


async def sweeps(url: str, company: Generated) -> list[dict[str, Any]]:
    """Each job once on the freshly generated company, timed cold (a real morning runs it once)."""
    db = Database(url)
    figures: list[dict[str, Any]] = []
    try:
        for job in JOBS:
            took, outcome = await timed(lambda job=job: run_job(db, job, NOW, ZONE, again=True), repeats=0)
            async with db.reading() as session:
                queued = await session.scalar(select(func.count()).where(Outbox.job == job))
            if not outcome.ran or queued != outcome.pushes:
                raise AssertionError(
                    f"{job}: ran={outcome.ran}, {outcome.pushes} pushes, {queued} rows queued"
                )
            figures.append(
                {
                    "figure": f"sweep {job}",
                    "reps": company.size.reps,
                    "customers": company.size.customers,
                    "seconds": round(took.first, 3),
                    "pushes": outcome.pushes,
                }
            )
    finally:
        await db.dispose()
    return figures


async def in_child(url: str, company: Generated) -> list[dict[str, Any]]:
    """The sweeps in a fresh process, so its peak RSS is the jobs' own (not the generator's)."""
    return list(await run_child("bench.sweeps", url, json.dumps(asdict(company.size))))


def main() -> None:
    url, size = sys.argv[1], Size(**json.loads(sys.argv[2]))
    figures = asyncio.run(sweeps(url, Generated(size, 0, 0, 0)))
    for figure in figures:
        figure["peak_rss_mb"] = round(peak_rss_mb() or 0, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
