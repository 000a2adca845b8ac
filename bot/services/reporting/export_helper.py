"""A second process for the biggest sheet of a big export, so the workbook is written on two cores.

Shaping rows and writing their XML is Python work under one GIL (docs/PERFORMANCE.md, "Export,
streamed"): a thread cannot share it out, a process can. When the period holds at least
:data:`MIN_ROWS` visits, :func:`start` runs ``python -m bot.services.reporting.export_helper`` on a
private temporary folder: it reads the visits of the export's scope and period from the database
itself, writes the Visits sheet's XML into a file there (:class:`~bot.services.reporting.xlsx.
SheetStream`, as the exporting process writes its own sheets), and leaves the sheet's row count,
filter range and its share of the Summary's totals beside it. The exporting process writes the other
sheets meanwhile, then copies the file into the workbook (the zip compresses it; zlib works
outside the GIL).

The helper reads in its own transaction, so its rows are a snapshot taken a moment apart from the
other sheets' (as two exports a second apart would be); the Summary is the sum of the rows written,
so it always agrees with the sheets. A helper that cannot start or fails leaves its sheets to the
exporting process (logged); a cancelled export kills it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.i18n import Translator
from bot.services.people.access import Caller
from bot.services.reporting import exports
from bot.services.reporting.periods import Period
from bot.services.reporting.xlsx import SheetStream
from models import Visit

log = logging.getLogger(__name__)

#: The sheets the helper writes: Visits, the largest by far (117,000 of a full company's 267,000
#: rows in a month) and the costliest to shape (its trust flags).
HELPED = ("Visits",)
#: A helper starts in about half a second (a fresh interpreter importing SQLAlchemy and the models):
#: below this many visits the exporting process writes them sooner itself.
MIN_ROWS = 20_000
_JOB, _RESULT = "job.pickle", "result.pickle"


@dataclass(frozen=True)
class Job:
    """What the helper is asked (pickled into its folder: the URL may hold a password)."""

    url: str
    caller: Caller | None
    period: Period
    zone: str
    today: date
    language: str
    titles: tuple[str, ...]


@dataclass(frozen=True)
class HelpedSheet:
    title: str
    path: Path  # the sheet's XML, uncompressed
    rows: int
    filter_range: str | None


@dataclass(frozen=True)
class Helped:
    """The helper's sheets and what their rows add to the Summary."""

    sheets: tuple[HelpedSheet, ...]
    totals: exports.Totals


class HelperFailed(Exception):
    pass


class Helper:
    """A running helper process and its folder."""

    def __init__(self, process: asyncio.subprocess.Process, folder: Path, titles: tuple[str, ...]) -> None:
        self._process, self.folder, self.titles = process, folder, titles

    async def result(self) -> Helped:
        """Wait for the helper; its sheets, or :class:`HelperFailed` with what it said."""
        _, errors = await self._process.communicate()
        if self._process.returncode != 0:
            raise HelperFailed(errors.decode(errors="replace").strip()[-2_000:])
        with (self.folder / _RESULT).open("rb") as handle:
            helped: Helped = pickle.load(handle)  # our own child wrote it
        return helped

    def stop(self) -> None:
        """Kill the process if it still runs (a cancelled or failed export)."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    def remove(self) -> None:
        """Delete the folder and its files (once the workbook holds them, or nobody wants them)."""
        shutil.rmtree(self.folder, ignore_errors=True)


async def start(
    session: AsyncSession, context: exports.ExportContext, caller: Caller | None
) -> Helper | None:
    """A helper for the :data:`HELPED` sheets if the period has enough visits to gain from one and
    the database can be opened by another process; else None (the caller writes every sheet)."""
    url = (await session.connection()).engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    start, end = context.period.bounds(context.zone)
    visits = await session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(context.scope.people(Visit.rep_id), Visit.visited_at >= start, Visit.visited_at < end)
    )
    if (visits or 0) < MIN_ROWS:
        return None
    folder = Path(tempfile.mkdtemp(prefix="fieldbot-export-"))
    job = Job(
        url.render_as_string(hide_password=False),
        caller,
        context.period,
        context.zone.key,
        context.today,
        context.t.language,
        HELPED,
    )
    with (folder / _JOB).open("wb") as handle:
        pickle.dump(job, handle)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            str(folder),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as error:
        log.warning("export helper could not start (%s): writing every sheet here", error)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return Helper(process, folder, HELPED)


async def write(job: Job, folder: Path) -> Helped:
    """The helper's work: its sheets' XML into ``folder``, and their totals."""
    t = Translator(job.language)
    scope = exports.scope_of(job.caller)
    context = exports.ExportContext(scope, job.period, ZoneInfo(job.zone), job.today, t, exports.Totals())
    yes, no = t.gettext(exports.YES), t.gettext(exports.NO)
    sheets = [sheet for build in exports.SHEET_BUILDERS if (sheet := build(context)).title in job.titles]
    db = Database(job.url)
    written: list[HelpedSheet] = []
    try:
        async with db.reading() as session:
            for number, sheet in enumerate(sheets, start=1):
                path = folder / f"sheet{number}.xml"
                headers = exports.headers(context, sheet.columns)
                stream = SheetStream(path.open("wb"), sheet.columns, headers, yes, no)
                shape, append = sheet.shape, stream.append
                async for batch in exports.batches(session, sheet):
                    for row in batch:
                        append(shape(row))
                stream.close()
                written.append(HelpedSheet(sheet.title, path, stream.rows, stream.filter_range))
    finally:
        await db.dispose()
    return Helped(tuple(written), context.totals)


def main() -> None:  # pragma: no cover - run as the helper process (tests/test_export_streamed.py)
    folder = Path(sys.argv[1])
    with (folder / _JOB).open("rb") as handle:
        job: Job = pickle.load(handle)  # written by the exporting process
    helped = asyncio.run(write(job, folder))
    with (folder / _RESULT).open("wb") as handle:
        pickle.dump(helped, handle)


if __name__ == "__main__":  # pragma: no cover
    # From the module by its own name, so what is pickled names it, not ``__main__``.
    from bot.services.reporting.export_helper import main as run_helper

    run_helper()
