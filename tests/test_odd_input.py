"""Stickers, voice notes, edits of old messages, channel posts and group chatter: never an exception."""

from __future__ import annotations

from tests import factories
from tests.harness import Harness


async def test_odd_messages_get_a_polite_answer_or_are_ignored(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    li = harness.person(2001, "Li")
    for kind in ({"sticker": True}, {"voice": True}):
        [reply] = await li.send(None, **kind)  # type: ignore[arg-type]
        assert "can't read stickers, voice or video" in reply.plain_text()
    [reply] = await li.send("hello there")
    assert "didn't understand" in reply.plain_text()
    first = harness.api.message(2001, "/help")
    await harness.settle(first)
    before = len(li.chat)
    await harness.settle(harness.api.edited_message(2001, first["message"]["message_id"], "/users"))
    assert len(li.chat) == before  # an edit of an old message changes nothing
    await harness.settle(harness.api.channel_post(-100777, "/summary", chat_title="News"))
    assert harness.api.chat(-100777) == []
    stranger = harness.person(4001, "Sam")
    [reply] = await stranger.send(None, sticker=True)  # type: ignore[arg-type]
    assert "invite link" in reply.plain_text()
    [reply] = await li.send("x" * 10_000)  # a 10,000-character paste
    assert "didn't understand" in reply.plain_text()
