"""Stickers, voice notes, edits of old messages, channel posts and group chatter: never an exception."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from models import Collection, Customer
from tests import factories
from tests.harness import Harness
from tests.test_parsers_property import hostile_text


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


def _message(harness: Harness, user_id: int, **content: object) -> dict[str, object]:
    """A private message with content the fake API has no helper for (contact, dice, poll...)."""
    user = harness.api.users[user_id]
    return {
        "message": {
            "message_id": harness.api.next_message_id(user_id),
            "from": dict(user),
            "chat": dict(harness.api.chats[user_id]),
            "date": 1795390000,
            **content,
        }
    }


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def test_contacts_dice_polls_and_stray_locations_are_answered_politely(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await factories.company(harness.db, harness.clock.now())
    harness.person(2001, "Li")
    odd = [
        {"contact": {"phone_number": "+8613800000000", "first_name": "<b>Wang</b> & Co"}},
        {"dice": {"emoji": "🎲", "value": 6}},
        {
            "poll": {
                "id": "1",
                "question": "Lunch?",
                "total_voter_count": 0,
                "is_closed": False,
                "options": [{"text": "yes", "voter_count": 0, "persistent_id": "o1"}],
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            }
        },
        {"location": {"latitude": 31.2, "longitude": 121.4}},
        {"venue": {"location": {"latitude": 31.2, "longitude": 121.4}, "title": "Shop", "address": "Road 1"}},
        {"video_note": {"file_id": "v1", "file_unique_id": "u1", "length": 240, "duration": 3}},
    ]
    for content in odd:
        before = len(harness.api.chat(2001))
        await harness.settle(harness.api.raw(_message(harness, 2001, **content)))
        replies = harness.api.chat(2001)[before:]
        assert len(replies) <= 1, content
        # a location is a check-in: with no customer pinned, /visit is the way (tests/test_check_in.py)
        pointer = "/visit" if "location" in content else "/help"
        assert all(pointer in reply.plain_text() for reply in replies), content
    assert not _errors(caplog)


async def test_forwarded_messages_are_not_commands_from_the_original_sender(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Shop", rep=people.rep, code="SHOP")
    li = harness.person(2001, "Li")
    [reply] = await li.send("hello from the boss", forward_from=5001)
    assert "didn't understand" in reply.plain_text()
    said = await li.says("/visit Shop: forwarded notes", forward_from=4001)
    assert "Shop" in said  # a forwarded command acts for the rep who sent it, never the original author
    assert not _errors(caplog)


async def test_in_a_group_the_bot_shows_no_data_and_acts_on_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Secret Shop", rep=people.rep, code="SEC")
    harness.person(2001, "Li")
    group = -100555
    added = {
        "my_chat_member": {
            "chat": {"id": group, "type": "supergroup", "title": "Sales"},
            "from": dict(harness.api.users[2001]),
            "date": 1795390000,
            "old_chat_member": {"status": "left", "user": harness.api.bot_user},
            "new_chat_member": {"status": "member", "user": harness.api.bot_user},
        }
    }
    await harness.settle(harness.api.raw(added))
    for text in (
        "/collect SEC: 100 cash",
        "/customers",
        "/summary",
        "/cancel",
        "Secret Shop paid 500",
        "x" * 4096,
    ):
        await harness.settle(
            harness.api.message(2001, text, chat_id=group, chat_type="supergroup", chat_title="Sales")
        )
    await harness.settle(harness.api.message(2001, None, chat_id=group, chat_type="supergroup", sticker=True))
    await harness.settle(
        harness.api.message(
            2001,
            None,
            chat_id=group,
            chat_type="supergroup",
            document=("c.csv", b"code,name\nX1,Injected\n", "text/csv"),
        )
    )
    in_group = harness.api.chat(group)
    assert in_group and all("private chat" in m.plain_text() for m in in_group)
    assert not any("Secret Shop" in m.plain_text() for m in in_group)
    assert harness.api.chat(2001) == []  # nothing went to Li's private chat either
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Collection)) == 0
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1
    assert not _errors(caplog)


async def test_an_edit_of_an_old_command_does_nothing_again(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    shop = await factories.customer(harness.db, harness.clock.now(), name="Shop", rep=people.rep, code="SHOP")
    await factories.receivable(
        harness.db,
        harness.clock.now(),
        customer=shop,
        amount="1000.00",
        issued_on=date(2026, 10, 1),
        due_on=date(2026, 11, 1),
    )
    li = harness.person(2001, "Li")
    first = harness.api.message(2001, "/collect SHOP: 100 cash")
    await harness.settle(first)
    before = len(li.chat)
    await harness.settle(
        harness.api.edited_message(2001, first["message"]["message_id"], "/collect SHOP: 900 cash")
    )
    assert len(li.chat) == before
    async with harness.db.reading() as session:
        amounts = list(await session.scalars(select(Collection.amount)))
    assert amounts == [Decimal("100.00")]
    assert not _errors(caplog)


COMMANDS = [
    "visit",
    "collect",
    "order",
    "report",
    "discount",
    "settings",
    "mute",
    "export",
    "chart",
    "invite",
    "role",
    "customer",
    "customers",
    "summary",
    "rep",
    "overdue",
    "lang",
    "reverse",
    "newcustomer",
    "deactivate",
    "users",
]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(command=st.sampled_from(COMMANDS), text=hostile_text)
async def test_every_command_survives_hostile_arguments(harness: Harness, command: str, text: str) -> None:
    """Each example is a round trip through the real bot: a command with Hypothesis-made arguments.

    The admin and a rep take turns; the property is "a reply, no error, and the conversation can be
    cancelled". (Data may be written: a valid command is allowed to work.)
    """
    if not harness.api.users.get(2001):
        await factories.company(harness.db, harness.clock.now())
        await harness.admin()
        harness.person(2001, "Li")
        # The company's other people have talked to the bot (``first_seen_at``), so Telegram knows
        # their chats: a generated `/deactivate Fay` clears her menu there (a "chat not found" once
        # failed this test: the fake Bot API did not know the chat the data said existed).
        for telegram_id, name in ((5001, "Mia"), (2002, "Bob"), (6001, "Fay"), (7001, "Dee")):
            harness.person(telegram_id, name)
    sender = 1001 if len(text) % 2 else 2001
    mark = harness.api.mark()
    message = f"/{command} {text}".encode("utf-16-le", "surrogatepass")[:8192].decode("utf-16-le", "ignore")
    await harness.settle(harness.api.message(sender, message))
    replies = [c for c in harness.api.calls[mark:] if c.params.get("chat_id") == sender and c.ok]
    assert replies, f"no answer to {message[:80]!r}"
    assert not any("went wrong" in str(c.params.get("text", "")) for c in replies), message[:80]
    await harness.settle(harness.api.message(sender, "/cancel"))


async def test_a_command_with_the_longest_argument_gets_a_reply_telegram_takes(harness: Harness) -> None:
    """Replies quote what was typed back ("Nobody matches …"): never so much that Telegram refuses them.

    The harness fails the test on any call the fake Bot API refused (e.g. "message is too long").
    """
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    harness.person(2001, "Li")
    for command in COMMANDS:
        for sender in (1001, 2001):
            mark = harness.api.mark()
            # 4,090 UTF-16 units, as Telegram counts: the most a message can hold after the command.
            await harness.settle(harness.api.message(sender, f"/{command} {'😀' * 2045}"))
            replies = [c for c in harness.api.calls[mark:] if c.params.get("chat_id") == sender]
            # A 429 (one chat's flood limit, this test is quick) is waited out and the reply sent again.
            assert any(c.ok for c in replies), (command, sender)
            assert all(c.ok or c.status == 429 for c in replies), [(c.status, c.description) for c in replies]
            await harness.settle(harness.api.message(sender, "/cancel"))


async def test_a_nul_character_is_refused_before_any_feature_sees_it(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Shop", rep=people.rep, code="SHOP")
    li = harness.person(2001, "Li")
    said = await li.says("/visit Shop: notes\x00with a NUL")
    assert "contains a NUL control character" in said
    assert "contains a NUL" in await li.says("/collect SHOP\x00: 100 cash")
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Collection)) == 0
