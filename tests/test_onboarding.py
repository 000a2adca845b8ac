"""Joining through invite links, strangers, deactivated users and group chats — via the fake Bot API."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from models import Invite, Role, Team, User
from tests.harness import Harness, Person

LINK = re.compile(r"https://t\.me/fieldbot_test_bot\?start=([A-Za-z0-9_-]+)")


async def invite_token(admin_says: str) -> str:
    match = LINK.search(admin_says)
    assert match, admin_says
    return match.group(1)


async def in_new_team(inviter: Person, command: str, team: str) -> str:
    """``/invite ROLE TEAM`` naming a team there is not yet: the bot asks first, the inviter creates it."""
    asked = await inviter.says(command)
    assert f"Create team {team}" in asked and "works once" not in asked, asked
    return "\n".join(m.plain_text() for m in await inviter.press(f"➕ Create team {team}"))


async def user_row(harness: Harness, telegram_id: int) -> User | None:
    async with harness.db.reading() as session:
        return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def test_invite_join_reuse_and_stranger(harness: Harness) -> None:
    admin = await harness.admin()
    said = await in_new_team(admin, "/invite rep North", "North")
    assert "New team North created" in said
    assert "works once" in said
    token = await invite_token(said)
    assert len(token) >= 32

    li = harness.person(2001, "Li", last_name="Wei", language_code="zh-hans", username="li_wei")
    welcome = await li.says(f"/start {token}")
    assert "欢迎" in welcome and "North" in welcome
    joined = await user_row(harness, 2001)
    assert joined is not None and joined.role == Role.REP and joined.name == "Li Wei"
    assert joined.language == "zh"

    eve = harness.person(3001, "Eve")
    refused = await eve.says(f"/start {token}")
    assert "already been used" in refused
    assert await user_row(harness, 3001) is None

    stranger = harness.person(4001, "Sam")
    for text in ("/help", "/users", "/invite rep North", "hello", "/start"):
        replies = await stranger.send(text)
        assert len(replies) == 1
        assert "invite link" in replies[0].plain_text()
        assert replies[0].reply_markup is None
    assert harness.api.commands_for_chat(4001) == []

    admin_menu = harness.api.commands_for_chat(1001)
    rep_menu = harness.api.commands_for_chat(2001)
    assert "invite" in admin_menu and "users" in admin_menu
    assert "invite" not in rep_menu and "help" in rep_menu
    assert admin_menu != rep_menu


async def test_invite_stores_only_a_hash(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await admin.says("/invite finance"))
    async with harness.db.reading() as session:
        invite = await session.scalar(select(Invite))
    assert invite is not None and invite.role == Role.FINANCE and invite.team_id is None
    assert token not in invite.token_hash and len(invite.token_hash) == 64
    assert invite.expires_at - invite.created_at == timedelta(days=7)


async def test_unknown_and_expired_tokens(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite rep North", "North"))
    bob = harness.person(2002, "Bob")
    assert "not valid" in await bob.says("/start not-a-real-token-0123456789")
    harness.clock.advance(timedelta(days=7, minutes=1))
    assert "expired" in await bob.says(f"/start {token}")
    assert await user_row(harness, 2002) is None


async def test_already_registered_user_keeps_the_link_unspent(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite rep North", "North"))
    assert "already registered" in await admin.says(f"/start {token}")
    newcomer = harness.person(2003, "Nia")
    assert "Welcome, Nia" in await newcomer.says(f"/start {token}")


async def test_deactivated_user_sees_nothing_and_loses_menu(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite rep North", "North"))
    rep = harness.person(2001, "Li", username="li_wei")
    await rep.send(f"/start {token}")
    assert "help" in harness.api.commands_for_chat(2001)

    assert "can no longer use the bot" in await admin.says("/deactivate @li_wei")
    replies = await rep.send("/help")
    assert len(replies) == 1 and "invite link" in replies[0].plain_text()
    assert harness.api.commands_for_chat(2001) == []

    assert "can use the bot again" in await admin.says("/activate Li")
    assert "sales rep" in await rep.says("/help")


async def test_admin_cannot_deactivate_self(harness: Harness) -> None:
    admin = await harness.admin()
    assert "cannot deactivate yourself" in await admin.says("/deactivate 1001")


async def test_group_chat_gets_no_data(harness: Harness) -> None:
    admin = await harness.admin()
    group = -100123
    update = harness.api.message(
        1001, "/users", chat_id=group, chat_type="supergroup", chat_title="Sales team"
    )
    await harness.settle(update)
    replies = harness.api.chat(group)
    assert len(replies) == 1
    assert "private chat" in replies[0].plain_text()
    assert "Ada" not in replies[0].plain_text()
    await harness.settle(harness.api.message(1001, "hello all", chat_id=group, chat_type="supergroup"))
    assert len(harness.api.chat(group)) == 1
    assert admin.chat == []


async def test_hostile_names_are_escaped(harness: Harness) -> None:
    admin = await harness.admin(name="<Müller & Söhne>")
    said = await admin.says("/help")
    assert "<Müller & Söhne>, you are signed in as admin" in said
    token = await invite_token(await in_new_team(admin, "/invite rep <b>Team & Co", "<b>Team & Co"))
    rep = harness.person(2001, "<script>", last_name="&amp;")
    welcome = await rep.says(f"/start {token}")
    assert "Welcome, <script> &amp;!" in welcome and "team <b>Team & Co." in welcome


async def test_language_follows_telegram_and_can_be_changed(harness: Harness) -> None:
    admin = await harness.admin(language_code="zh-hans")
    assert "你可以" in await admin.says("/help")
    assert "English" in await admin.says("/lang en")
    assert "what you can do" in await admin.says("/help")
    assert "中文" in await admin.says("/lang zh")
    assert "邀请" in " ".join(c["description"] for c in harness.api.commands.get("chat:1001", []))


async def test_managers_invite_reps_into_their_own_team_only(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite manager North", "North"))
    manager = harness.person(5001, "Mia")
    await manager.send(f"/start {token}")
    assert "Managers can invite reps only" in await manager.says("/invite finance")
    assert "own team only" in await manager.says("/invite rep South")
    rep_token = await invite_token(await manager.says("/invite rep"))
    rep = harness.person(2001, "Li")
    assert "team North" in await rep.says(f"/start {rep_token}")
    assert "does not allow" in await rep.says("/invite rep North")
    async with harness.db.reading() as session:
        team = await session.scalar(select(Team).where(Team.name == "North"))
        assert team is not None
        manager_row = await session.scalar(select(User).where(User.telegram_id == 5001))
        assert manager_row is not None and team.manager_id == manager_row.id


async def test_role_change_updates_the_menu(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite rep North", "North"))
    rep = harness.person(2001, "Li", username="li_wei")
    await rep.send(f"/start {token}")
    assert "invite" not in harness.api.commands_for_chat(2001)
    assert "now manager in team North" in await admin.says("/role @li_wei manager")
    assert "invite" in harness.api.commands_for_chat(2001)
    assert "Unknown role" in await admin.says("/role @li_wei boss")
    assert "Nobody matches" in await admin.says("/role @nobody rep North")


async def test_users_list_paginates(harness: Harness) -> None:
    admin = await harness.admin()
    async with harness.db.transaction() as session:
        team = Team(name="North", created_at=harness.clock.now())
        session.add(team)
        await session.flush()
        for n in range(45):
            session.add(
                User(
                    telegram_id=10_000 + n,
                    name=f"Rep {n:02d}",
                    role=Role.REP,
                    team_id=team.id,
                    active=True,
                    created_at=harness.clock.now(),
                )
            )
    first = (await admin.send("/users"))[0]
    assert "People: 46" in first.plain_text()
    assert first.button_texts() == ["1/3", "Next ›"]
    edited = await admin.press("Next ›")
    assert len(edited) == 1 and edited[0].message_id == first.message_id
    assert "Rep 19" in edited[0].plain_text() and "Rep 18" not in edited[0].plain_text()
    assert edited[0].button_texts() == ["‹ Previous", "2/3", "Next ›"]
    await admin.press("2/3")  # pressing the current page changes nothing and must not error
    assert admin.last.edits == 1


async def test_redelivered_invite_update_creates_one_invite(harness: Harness) -> None:
    admin = await harness.admin()
    async with harness.db.transaction() as session:
        session.add(Team(name="North", created_at=harness.clock.now()))
    update = harness.api.message(1001, "/invite rep North", queue=False)
    await harness.process_directly(update)
    await harness.process_directly(update)
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Invite)) == 1
    assert "already created" in admin.last.plain_text()


async def test_imported_user_is_active_from_first_message(harness: Harness) -> None:
    async with harness.db.transaction() as session:
        team = Team(name="华东", created_at=harness.clock.now())
        session.add(team)
        await session.flush()
        session.add(
            User(
                telegram_id=2001,
                name="李伟",
                role=Role.REP,
                team_id=team.id,
                active=True,
                created_at=harness.clock.now(),
            )
        )
    li = harness.person(2001, "Wei", language_code="zh-hans", username="li_wei_new")
    assert "李伟，你当前的身份是销售员" in await li.says("/start")
    assert "help" in harness.api.commands_for_chat(2001)
    row = await user_row(harness, 2001)
    assert row is not None and row.first_seen_at == harness.clock.now()
    assert row.username == "li_wei_new"
