"""A restart loses nothing: real ``fieldbot run`` processes stopped with SIGTERM or SIGKILL mid-work.

Conversation state is in the database (bot/persistence.py); every fetched update is in the
inbox until handled (bot/inbox.py), so one confirmed to Telegram but not handled when the
process died is handled after the restart, and the handlers' ``source_key`` makes the one
whose record was already written write nothing more.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.devserver import ApiCall, FakeBotApi
from models import InboxUpdate, Visit
from tests.test_persistence import acme_company
from tests.test_process import start_bot, stop_bot

REP = 2001
WAIT = 60.0  # generous: the machine is shared, and PostgreSQL adds a takeover grace at each start


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {WAIT} s: {what}")
        await asyncio.sleep(0.05)


async def bot_says(api: FakeBotApi, words: str, *, after: int, method: str = "sendMessage") -> ApiCall:
    """The bot's first call of ``method`` to the rep, from ``after`` on, whose text has ``words``."""
    return await api.wait_for(
        REP,
        method=method,
        after=after,
        timeout=WAIT,
        predicate=lambda call: words in str(call.params.get("text", "")),
    )


async def visits(db: Database) -> list[Visit]:
    async with db.reading() as session:
        return list(await session.scalars(select(Visit).order_by(Visit.id)))


async def unhandled(db: Database) -> int:
    async with db.reading() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.handled_at.is_(None))
            )
            or 0
        )


async def end(process: asyncio.subprocess.Process, how: signal.Signals) -> None:
    if how == signal.SIGTERM:
        await stop_bot(process)
        return
    process.kill()  # SIGKILL: no handler runs, nothing is flushed
    await process.wait()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_rep_halfway_through_a_visit_continues_after_a_restart(
    api: FakeBotApi, db: Database, database_url: str, tmp_path: Path, how: signal.Signals
) -> None:
    await acme_company(api, db, datetime.now(UTC))
    bot = await start_bot(api, database_url, tmp_path)
    try:
        mark = api.mark()
        api.message(REP, "/visit Acme")
        await bot_says(api, "What kind of contact", after=mark)
        mark = api.mark()
        api.press(REP, "On-site visit")
        await bot_says(api, "Type what came of it", after=mark, method="editMessageText")
        mark = api.mark()
        api.message(REP, "Signed the contract")
        await bot_says(api, "Add more with the buttons", after=mark)  # the summary: customer, notes
    finally:
        await end(bot, how)  # at once, right after the rep's answer was taken

    bot = await start_bot(api, database_url, tmp_path)
    try:
        mark = api.mark()
        api.message(REP, "Delivery next Tuesday")  # the rep's next answer, to the same visit
        await bot_says(api, "Added to the notes", after=mark)
        await bot_says(api, "Delivery next Tuesday", after=mark)  # the summary again, with both lines
        mark = api.mark()
        api.press(REP, "Save")
        await bot_says(api, "Visit saved", after=mark, method="editMessageText")
    finally:
        await stop_bot(bot)
    [visit] = await visits(db)
    assert visit.notes == "Signed the contract\nDelivery next Tuesday"
    assert visit.kind.value == "visit"
    assert await unhandled(db) == 0
    assert not api.refused_calls()


async def test_updates_fetched_but_unhandled_or_sent_while_down_are_each_handled_once(
    api: FakeBotApi, db: Database, database_url: str, tmp_path: Path
) -> None:
    await acme_company(api, db, datetime.now(UTC))
    early = [api.message(REP, f"/visit Acme: call {n}") for n in (1, 2, 3)]  # sent while the bot is down
    api.delay_next("sendMessage", 120)  # the first answer hangs: call 1 is saved, 2 and 3 wait their turn
    bot = await start_bot(api, database_url, tmp_path)
    try:

        async def fetched_and_confirmed() -> bool:  # Telegram will not send them again
            return all(api.is_confirmed(update["update_id"]) for update in early)

        async def call_1_saved() -> bool:
            return len(await visits(db)) == 1

        await until(fetched_and_confirmed, "the bot fetched calls 1-3 and polled past them")
        await until(call_1_saved, "call 1 saved")
    finally:
        await end(bot, signal.SIGKILL)
    assert [v.notes for v in await visits(db)] == ["call 1"]  # 2 and 3 were fetched, not handled

    late = [api.message(REP, f"/visit Acme: call {n}") for n in (4, 5)]  # sent while the bot is down
    mark = api.mark()
    bot = await start_bot(api, database_url, tmp_path)
    try:
        await bot_says(api, "call 5", after=mark)  # the rep's messages are handled in order: 5 is last
        for n in (1, 2, 3, 4):
            await bot_says(api, f"call {n}", after=mark)  # 1 too: handled again, it wrote nothing new
    finally:
        await stop_bot(bot)
    saved = await visits(db)
    assert [v.notes for v in saved] == [f"call {n}" for n in (1, 2, 3, 4, 5)]
    assert len({v.source_key for v in saved}) == 5
    assert all(api.is_confirmed(update["update_id"]) for update in early + late)
    assert await unhandled(db) == 0
