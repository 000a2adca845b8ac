"""``fieldbot demo``: a demo company and one working day, played through the real bot without Telegram.

The bot (Application, handlers, services, jobs, outbox) runs unchanged against the in-process fake
Bot API of :mod:`bot.devserver`, on 127.0.0.1, with a clock the script moves through the day.
The demo leaves its own SQLite database, the transcript, the day's workbook and a chart in ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, time as local_time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.arguments import demo as add_arguments  # noqa: F401 (bot.demo.add_arguments, as before)
from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database, upgrade
from bot.demo.company import create_company
from bot.demo.day import DAY, play
from bot.demo.driver import DemoError, Driver
from bot.demo.transcript import Transcript
from bot.devserver import FakeBotApi
from bot.i18n import N_, Translator

ZONE = ZoneInfo("Asia/Shanghai")
TOKEN = "4242:fieldbot-demo-token"
LANGUAGE_CODES = {"en": "en", "zh": "zh-hans"}  # what the people's Telegram apps report
DATABASE = "fieldbot-demo.db"


def _fresh(out: Path, database: Path) -> None:
    """Every run starts the same company afresh."""
    out.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    """Play the demo; print the transcript; 0 on success, 1 if the bot misbehaved."""
    try:
        return asyncio.run(_run(args.lang, Path(args.out)))
    except DemoError as error:
        print(f"fieldbot demo failed: {error}", file=sys.stderr)
        return 1


async def _run(language: str, out: Path) -> int:
    started = time.monotonic()
    path = out / DATABASE
    await asyncio.to_thread(_fresh, out, path)
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    clock = FixedClock(ZONE, datetime.combine(DAY, local_time(8, 0), tzinfo=ZONE))
    t = Translator(language)
    transcript = Transcript(t)
    async with FakeBotApi(TOKEN) as api:
        db = Database(url)
        try:
            cast = await create_company(db, DAY, ZONE, language)
        except BaseException:
            await db.dispose()
            raise
        settings = Settings(token=TOKEN, database_url=url, api_url=api.base_url, timezone=ZONE)
        spotlight = {m.telegram_id for m in (cast.rep, cast.second_rep, cast.manager, cast.cash_holder)}
        transcript.note(
            t.gettext(
                N_(
                    "fieldbot demo: one working day of a sales company (2 teams, 6 reps, 60 customers), "
                    "played through the real bot against a stand-in for Telegram. The clock is the company's "
                    "(Asia/Shanghai). Long messages and the pushes to people outside the story are shortened "
                    "here; transcript.txt has every line."
                )
            )
        )
        async with Driver(
            api, db, clock, settings, transcript, cast.people, LANGUAGE_CODES[language], spotlight
        ) as driver:
            files = await play(driver, cast, language, out)
            refused = driver.refused()
    if refused:
        print(transcript.text(shortened=True))
        raise DemoError("the stand-in for Telegram refused calls the bot made:\n" + "\n".join(refused))
    seconds = time.monotonic() - started
    transcript.note(
        t.gettext(
            N_("Written: {transcript}, {workbook}, {chart}, database {database}. Took {seconds:.1f} s.")
        ).format(
            transcript=out / "transcript.txt",
            workbook=files.workbook,
            chart=files.chart,
            database=path,
            seconds=seconds,
        )
    )
    (out / "transcript.txt").write_text(transcript.text(shortened=False), encoding="utf-8")
    print(transcript.text(shortened=True), end="")
    return 0
