"""kill -9 while pushes go out, then start again: every push delivered, none twice but the in-flight ones.

One real ``fieldbot run`` process (SQLite by default, PostgreSQL with
``FIELDBOT_TEST_DATABASE_URL``) drains a queued outbox to the fake Bot API, which
answers sendMessage slowly so the kill lands mid-drain. The outbox marks each row
sent right after Telegram accepts it, so the only pushes a restart may send again
are those Telegram had accepted while their row was not yet marked.
"""

from __future__ import annotations

from pathlib import Path

from bot.db import Database
from bot.devserver import FakeBotApi
from tests.test_standby import (
    BotProcess,
    assert_delivered_once_but_the_window,
    delivered,
    kill_mid_drain,
    queue_pushes,
    wait_all_delivered,
)


async def test_restart_after_kill_mid_push_delivers_each_push_once(
    api: FakeBotApi, database_url: str, db: Database, tmp_path: Path
) -> None:
    api.delay_next("sendMessage", 0.3, times=100_000)  # slow pushes: the kill lands mid-drain
    texts = await queue_pushes(db, api, people=8, each=10)
    first = await BotProcess.start(api, database_url, tmp_path)
    second: BotProcess | None = None
    try:
        window = await kill_mid_drain(api, db, first, texts)
        second = await BotProcess.start(api, database_url, tmp_path)
        await wait_all_delivered(api, db, texts, second)
        assert_delivered_once_but_the_window(delivered(api, texts), texts, window)
        assert await second.stop() == 0
    finally:
        await first.ensure_gone()
        if second is not None:
            await second.ensure_gone()
