"""``/export month`` for the whole generated company (issue 24): seconds and peak RSS.

``exports.build_workbook(...)`` as the director, for the current month, in a read-only session
as the handler runs it, once (as long cold as warm), in a fresh child process so its peak RSS
(``VmHWM``) is the export's own: the process's imports (SQLAlchemy, the models, openpyxl for
``clean_text``) are in the figure, as they are in the bot's. The file is checked to open with
openpyxl's read-only reader and to hold every row counted.

The process's CPU time is recorded too (its own and its helper process's, if the export started
one: bot/services/reporting/export_helper.py; the helper's peak RSS separately): on a machine
shared with other work the wall time moves with the load, the CPU time much less.

``python -m bench.export URL`` measures a company already generated in ``URL`` (e.g. by
``python -m bench.generate URL --scale 1``): the director is looked up.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import resource
import sys
import time
import zipfile
from dataclasses import asdict
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bench.generate import TODAY, ZONE, Generated, Size
from bench.measure import peak_rss_mb, run_child
from bot.db import Database
from bot.services.people.access import Caller
from bot.services.reporting.exports import build_workbook
from bot.services.reporting.periods import MONTH, relative
from models import Role, User

FIGURE = "/export month (company), streamed"
#: The issue's targets at full size.
SECONDS, RSS_MB = 5.0, 200.0


async def export(url: str, director_id: int | None = None) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.reading() as session:
            query = select(User).where(User.role == Role.DIRECTOR)
            if director_id is not None:
                query = query.where(User.id == director_id)
            director = Caller.of((await session.scalars(query.limit(1))).one(), "zh")
        started, cpu = time.perf_counter(), _cpu()
        async with db.reading() as session:
            book = await build_workbook(session, director, relative(MONTH, TODAY), ZONE, TODAY)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
        rss = peak_rss_mb()
        # the helper process (bot/services/reporting/export_helper.py), if the export started one
        helper_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        await db.dispose()
    rows = sum(book.rows.values())
    opened = load_workbook(io.BytesIO(book.content), read_only=True)
    with zipfile.ZipFile(io.BytesIO(book.content)) as archive:  # each sheet's rows, its header too
        sheets = range(2, len(opened.sheetnames) + 1)  # the Summary (1) left out
        written = sum(archive.read(f"xl/worksheets/sheet{n}.xml").count(b"<row ") - 1 for n in sheets)
    if written != rows:
        raise AssertionError(f"the workbook holds {written} rows, the export counted {rows}")
    return {
        "figure": FIGURE,
        "rows": rows,
        "kb": len(book.content) // 1024,
        "seconds": round(seconds, 2),
        # CPU time of the process (all its threads): what the wall time is on an idle machine,
        # give or take the overlap of the database, the fetch and the writer thread
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": rss,
        "helper_peak_rss_mb": round(helper_rss, 1),
        "what": f"{rows:,} rows, {len(book.content) / 2**20:.1f} MB",
    }


def _cpu() -> float:
    """CPU time of this process (all its threads) and of its children that have ended (the helper)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


async def in_child(url: str, company: Generated) -> list[dict[str, Any]]:
    found = await run_child("bench.export", url, json.dumps(asdict(company)))
    return [{"reps": company.size.reps, "customers": company.size.customers, **found}]


def main() -> None:
    url = sys.argv[1]
    director_id = None
    if len(sys.argv) > 2:
        stored = json.loads(sys.argv[2])
        director_id = Generated(**{**stored, "size": Size(**stored["size"])}).director_id
    print(json.dumps(asyncio.run(export(url, director_id))))


if __name__ == "__main__":
    main()
