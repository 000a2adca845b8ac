"""Access that drifts (issue 17): invites outliving their maker, customers left behind by their rep,
and answers that tell another team's ids and names apart from ones that do not exist."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

from alembic import command
from sqlalchemy import bindparam, select, text

from bot.clock import FixedClock
from bot.db import Database, alembic_config, upgrade_async
from models import Approval, ApprovalStatus, Collection, Customer, Invite, Outbox, Role, User
from models.base import UTCDateTime
from tests import factories
from tests.factories import Company
from tests.harness import Harness, Person

LINK = re.compile(r"https://t\.me/fieldbot_test_bot\?start=([A-Za-z0-9_-]+)")


async def in_new_team(inviter: Person, command: str, team: str) -> str:
    """``/invite ROLE TEAM`` naming a team there is not yet: the bot asks first, the inviter creates it."""
    assert f"Create team {team}" in await inviter.says(command)
    return "\n".join(m.plain_text() for m in await inviter.press(f"➕ Create team {team}"))


def token_in(said: str) -> str:
    match = LINK.search(said)
    assert match, said
    return match.group(1)


async def user_row(harness: Harness, telegram_id: int) -> User | None:
    async with harness.db.reading() as session:
        return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def invites(harness: Harness) -> list[Invite]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Invite).order_by(Invite.id)))


async def with_south_manager(harness: Harness) -> Company:
    """The factories' company, and Sam managing South."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        factories.user(session, 5002, "Sam South", Role.MANAGER, people.south, now)
    return people


# -- invites ---------------------------------------------------------------------------------------


async def test_a_deactivated_admin_cannot_come_back_through_any_invite_link(harness: Harness) -> None:
    ada = await harness.admin()
    bea = await harness.admin(1002, "Bea Admin")
    own_link = token_in(await bea.says("/invite admin"))
    assert "can no longer use the bot" in await ada.says("/deactivate 1002")

    refused = await bea.says(f"/start {own_link}")
    assert "switched off" in refused and "Ask an admin" in refused
    fresh_link = token_in(await in_new_team(ada, "/invite rep North", "North"))
    assert "switched off" in await bea.says(f"/start {fresh_link}")
    bea_row = await user_row(harness, 1002)
    assert bea_row is not None and not bea_row.active and bea_row.role == Role.ADMIN
    assert "invite link" in await bea.says("/help")  # still a stranger to the bot
    assert "switched off" in await bea.says("/start")  # and told why, rather than to find a link

    # her own link was revoked with her; the admin's fresh one was not spent by her attempt
    newcomer = harness.person(3001, "Nia")
    assert "was withdrawn" in await newcomer.says(f"/start {own_link}")
    assert await user_row(harness, 3001) is None
    assert "Welcome, Nia" in await newcomer.says(f"/start {fresh_link}")
    # and an admin brings her back the one way there is
    assert "can use the bot again" in await ada.says("/activate 1002")
    assert "admin" in await bea.says("/help")


async def test_links_of_a_deactivated_or_moved_manager_stop_working(harness: Harness) -> None:
    people = await with_south_manager(harness)
    admin = await harness.admin()
    mia, sam = harness.person(5001, "Mia"), harness.person(5002, "Sam")
    mias_link = token_in(await mia.says("/invite rep"))
    sams_link = token_in(await sam.says("/invite rep"))
    admins_link = token_in(await admin.says("/invite rep North"))

    assert "can no longer use the bot" in await admin.says("/deactivate 5001")
    assert "is now manager in team North" in await admin.says("/role 5002 manager North")

    for telegram_id, link in ((3001, mias_link), (3002, sams_link)):
        joiner = harness.person(telegram_id, "Joiner")
        assert "was withdrawn" in await joiner.says(f"/start {link}")
        assert await user_row(harness, telegram_id) is None
    # an admin's link is the admin's: it still works
    assert "team North" in await harness.person(3003, "Ola").says(f"/start {admins_link}")
    rows = {row.created_by: row for row in await invites(harness)}
    assert rows[people.manager.id].revoked_at == harness.clock.now()
    async with harness.db.reading() as session:
        sam_id = await session.scalar(select(User.id).where(User.telegram_id == 5002))
    assert rows[sam_id].revoked_at is not None and rows[sam_id].used_at is None


async def test_a_link_from_before_revocation_existed_is_checked_against_its_maker(harness: Harness) -> None:
    """Links made by someone deactivated without the bot (a database edit, an older version)."""
    await with_south_manager(harness)
    mia = harness.person(5001, "Mia")
    link = token_in(await mia.says("/invite rep"))
    async with harness.db.transaction() as session:
        manager = await session.scalar(select(User).where(User.telegram_id == 5001))
        assert manager is not None
        manager.active = False
    assert "was withdrawn" in await harness.person(3001, "Joiner").says(f"/start {link}")
    assert await user_row(harness, 3001) is None


async def test_admins_and_managers_list_and_revoke_pending_invites(harness: Harness) -> None:
    await with_south_manager(harness)
    admin = await harness.admin()
    mia, sam = harness.person(5001, "Mia"), harness.person(5002, "Sam")
    await admin.says("/invite rep North")
    await admin.says("/invite finance")
    await admin.says("/invite manager North")
    mias_link = token_in(await mia.says("/invite rep"))
    first, finance, manager_invite, mias = await invites(harness)

    listing = (await admin.send("/invites"))[0]
    text = listing.plain_text()
    assert "Pending invites: 4" in text
    assert f"#{first.id} · sales rep · North · by Ada Admin, expires 2026-11-30 09:00" in text
    assert f"#{finance.id} · finance · by Ada Admin" in text
    assert f"#{mias.id} · sales rep · North · by Mia Manager" in text
    assert listing.button_texts() == [f"Revoke #{i.id}" for i in (first, finance, manager_invite, mias)]

    # a manager sees the rep invites into her team and her own; another team's manager nothing
    mias_view = (await mia.send("/invites"))[0]
    assert mias_view.button_texts() == [f"Revoke #{first.id}", f"Revoke #{mias.id}"]
    assert "finance" not in mias_view.plain_text()
    assert "No pending invites" in await sam.says("/invites")

    revoked = await mia.press(f"Revoke #{mias.id}")
    assert len(revoked) == 1 and revoked[0].message_id == mias_view.message_id
    assert f"Invite #{mias.id} is revoked: its link no longer works." in revoked[0].plain_text()
    assert revoked[0].button_texts() == [f"Revoke #{first.id}"]
    assert "was withdrawn" in await harness.person(3001, "Joiner").says(f"/start {mias_link}")
    assert await user_row(harness, 3001) is None

    # the admin's list is older: its buttons report what happened since
    again = await admin.press(f"Revoke #{mias.id}", message_id=listing.message_id)
    assert f"Invite #{mias.id} was already revoked." in again[0].plain_text()

    # another team's manager cannot revoke, and is answered as for an invite that does not exist
    forged = harness.api.callback(5002, harness.api.last(5002).message_id, f"invites:revoke:{first.id}:1")
    await harness.settle(forged)
    assert harness.api.last(5002).plain_text() == f"There is no invite #{first.id}."
    missing = harness.api.callback(5002, harness.api.last(5002).message_id, "invites:revoke:999999:1")
    await harness.settle(missing)
    assert harness.api.last(5002).plain_text() == "There is no invite #999999."
    assert (await invites(harness))[0].revoked_at is None

    harness.clock.advance(timedelta(days=8))
    assert "No pending invites" in await mia.says("/invites")


async def test_a_revoke_button_pressed_after_the_link_was_used_says_who_joined(harness: Harness) -> None:
    admin = await harness.admin()
    link = token_in(await in_new_team(admin, "/invite rep North", "North"))
    listing = (await admin.send("/invites"))[0]
    await harness.person(3001, "Kai", last_name="Lee").says(f"/start {link}")
    (invite,) = await invites(harness)
    pressed = await admin.press(f"Revoke #{invite.id}", message_id=listing.message_id)
    assert f"Invite #{invite.id} was already used: Kai Lee joined with it." in pressed[0].plain_text()
    assert "No pending invites" in pressed[0].plain_text()
    (invite,) = await invites(harness)
    assert invite.revoked_at is None and invite.used_at is not None
    kai = await user_row(harness, 3001)
    assert kai is not None and kai.active


# -- a customer's team follows its rep --------------------------------------------------------------


async def test_a_reps_customers_follow_them_to_their_new_team(harness: Harness) -> None:
    people = await with_south_manager(harness)
    now = harness.clock.now()
    acme = await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)
    await factories.receivable(
        harness.db,
        now,
        customer=acme,
        amount="900",
        issued_on=date(2026, 9, 1),
        due_on=date(2026, 10, 1),
        invoice_no="ACM-INV-1",
    )
    admin = await harness.admin()
    li, mia, sam = harness.person(2001, "Li"), harness.person(5001, "Mia"), harness.person(5002, "Sam")
    await li.says("/discount Acme: 5% before the move")
    await harness.deliver_pushes()
    old_push = mia.last
    assert "Discount request from Li Wei" in old_push.plain_text()

    assert "Li Wei is now sales rep in team South." in await admin.says("/role 2001 rep South")

    async with harness.db.reading() as session:
        moved = await session.get_one(Customer, acme.id)
    assert moved.team_id == people.south.id
    # the old manager: the customer is no longer in her view, from any side
    assert "No customer matches" in await mia.says("/customer Acme")
    assert "No customer matches" in await mia.says("/collect Acme: 100 cash")
    assert "ACM-INV" not in await mia.says("/overdue") and "Acme" not in await mia.says("/overdue")
    assert "Nobody in your view matches" in await mia.says("/rep Li Wei")
    assert "Acme" not in await mia.says("/customers")
    # the new manager: all of it
    card = await sam.says("/customer Acme")
    assert "Acme Trading" in card and "Rep: Li Wei" in card
    assert "Collection #" in await sam.says("/collect Acme: 100 cash")
    assert "Acme Trading" in await sam.says("/overdue")
    assert "Li Wei" in await sam.says("/rep Li Wei")
    assert "Li Wei" in await sam.says("/team")
    # the request made before the move went to the new manager; the old one's buttons are refused
    await harness.deliver_pushes()
    assert "before the move" in sam.last.plain_text()
    assert sam.last.button_texts() == ["✅ Approve", "❌ Reject"]
    await mia.press("✅ Approve", message_id=old_push.message_id)
    async with harness.db.reading() as session:
        (pending,) = list(await session.scalars(select(Approval)))
    assert pending.status == ApprovalStatus.PENDING
    # the rep's new request goes to the new manager, not the old one
    mia_before = len(mia.chat)
    await li.says("/discount Acme: 3% after the move")
    await harness.deliver_pushes()
    assert "after the move" in sam.last.plain_text()
    assert len(mia.chat) == mia_before
    async with harness.db.reading() as session:
        recipients = set(await session.scalars(select(Outbox.recipient_id).where(Outbox.job == "approvals")))
        collected = list(await session.scalars(select(Collection.rep_id)))
    assert people.manager.id in recipients  # only the request from before the move
    assert len(collected) == 1


async def test_a_rep_made_manager_of_another_team_takes_their_customers(harness: Harness) -> None:
    people = await with_south_manager(harness)
    now = harness.clock.now()
    await factories.customer(harness.db, now, name="Acme Trading", code="ACM", rep=people.rep)
    admin, li = await harness.admin(), harness.person(2001, "Li")
    assert "now manager in team South" in await admin.says("/role 2001 manager South")
    assert "Acme Trading" in await li.says("/customer Acme")
    assert "Acme Trading" in await harness.person(5002, "Sam").says("/customer Acme")
    assert "No customer matches" in await harness.person(5001, "Mia").says("/customer Acme")


# -- enumeration -----------------------------------------------------------------------------------


async def same_answer(person: Person, probe: str, missing: str, *, probe_key: str, missing_key: str) -> str:
    """What ``person`` is told about another team's thing and about one that does not exist, shown equal."""
    told = await person.says(probe)
    assert told.replace(probe_key, "…") == (await person.says(missing)).replace(missing_key, "…"), told
    return told


async def test_reverse_tells_another_teams_collection_from_nothing_apart_never(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    southern = await factories.customer(
        harness.db, harness.clock.now(), name="Southern Store", rep=people.other_rep
    )
    await factories.receivable(
        harness.db,
        harness.clock.now(),
        customer=southern,
        amount="1000.00",
        issued_on=date(2026, 10, 1),
        due_on=date(2026, 11, 1),
    )
    await harness.person(2002, "Bob").says("/collect Southern: 400")
    async with harness.db.reading() as session:
        collection_id = await session.scalar(select(Collection.id))
    told = await same_answer(
        harness.person(5001, "Mia"),
        f"/reverse {collection_id} mistake",
        "/reverse 999999 mistake",
        probe_key=str(collection_id),
        missing_key="999999",
    )
    assert told == f"There is no collection #{collection_id}."
    async with harness.db.reading() as session:
        assert len(list(await session.scalars(select(Collection)))) == 1


async def test_summary_tells_another_team_from_no_team_apart_never(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    mia, li = harness.person(5001, "Mia"), harness.person(2001, "Li")
    told = await same_answer(
        mia, "/summary week South", "/summary week Mars", probe_key="South", missing_key="Mars"
    )
    assert told == "There is no team called South."
    await same_answer(mia, "/summary South", "/summary Mars", probe_key="South", missing_key="Mars")
    await same_answer(li, "/summary week South", "/summary week Mars", probe_key="South", missing_key="Mars")
    # a forged team button too
    await mia.says("/summary week")
    answers = []
    for team_id in (people.south.id, 999999):
        await harness.settle(
            harness.api.callback(5001, harness.api.last(5001).message_id, f"sum:p:w:{team_id}:1")
        )
        answers.append(harness.api.last(5001).plain_text())
    assert answers == ["There is no such team."] * 2


async def test_other_lookups_answer_another_teams_things_as_missing(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    now = harness.clock.now()
    theirs = await factories.customer(
        harness.db, now, name="Theirs Shop", code="THEIRS", rep=people.other_rep
    )
    await factories.receivable(
        harness.db, now, customer=theirs, amount="900", issued_on=date(2026, 9, 1), due_on=date(2026, 10, 1)
    )
    async with harness.db.transaction() as session:
        bob = await session.get_one(User, people.other_rep.id)
        bob.username = "bob_south"
    mia = harness.person(5001, "Mia")
    for probe, missing, key, other in (
        ("/rep Bob South", "/rep Nobody Here", "Bob South", "Nobody Here"),
        ("/rep @bob_south", "/rep @nobody_here", "@bob_south", "@nobody_here"),
        ("/overdue Theirs Shop", "/overdue Nothing Shop", "Theirs Shop", "Nothing Shop"),
        ("/overdue @bob_south", "/overdue @nobody_here", "@bob_south", "@nobody_here"),
        ("/customer THEIRS", "/customer NOSUCH", "THEIRS", "NOSUCH"),
        ("/collect Theirs Shop: 100 cash", "/collect Nothing Shop: 100 cash", "Theirs Shop", "Nothing Shop"),
    ):
        await same_answer(mia, probe, missing, probe_key=key, missing_key=other)
    assert "Bob" not in await mia.says("/users")


# -- the migration ---------------------------------------------------------------------------------


async def test_the_migration_revokes_invites_their_maker_could_not_make_and_realigns_customers(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    """Data from before 0016: links of a deactivated admin, a moved manager and a demoted one stop
    working; customers an earlier version left in their rep's former team join the rep's team."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0013")
    now = clock.now()
    week = now + timedelta(days=7)
    at = {"now": now, "week": week}
    typed = [bindparam(name, type_=UTCDateTime()) for name in at]
    rows = [
        "INSERT INTO teams (id, name, created_at) VALUES (1, 'North', :now), (2, 'South', :now)",
        "INSERT INTO users (id, telegram_id, name, role, team_id, active, created_at) VALUES "
        "(1, 11, 'Ada', 'admin', NULL, TRUE, :now), (2, 12, 'Bea', 'admin', NULL, FALSE, :now), "
        "(3, 13, 'Mia', 'manager', 1, TRUE, :now), (4, 14, 'Sam', 'manager', 2, TRUE, :now), "
        "(5, 15, 'Li', 'rep', 2, TRUE, :now)",
        "INSERT INTO invites (id, token_hash, role, team_id, created_by, created_at, expires_at, used_by, "
        "used_at, source_key) VALUES "
        "(1, 'h1', 'finance', NULL, 1, :now, :week, NULL, NULL, 'k1'), "  # Ada's: stays
        "(2, 'h2', 'admin', NULL, 2, :now, :week, NULL, NULL, 'k2'), "  # Bea is deactivated
        "(3, 'h3', 'rep', 1, 3, :now, :week, NULL, NULL, 'k3'), "  # Mia's own team: stays
        "(4, 'h4', 'rep', 1, 4, :now, :week, NULL, NULL, 'k4'), "  # Sam manages South now
        "(5, 'h5', 'rep', 2, 5, :now, :week, NULL, NULL, 'k5'), "  # Li is a rep now
        "(6, 'h6', 'rep', 1, 2, :now, :week, 5, :now, 'k6')",  # used: history stays as it was
        "INSERT INTO customers (id, code, name, grade, rep_id, team_id, status, created_at) VALUES "
        "(1, 'A', 'Left behind', 'C', 5, 1, 'active', :now), "
        "(2, 'B', 'Team only', 'C', NULL, 1, 'active', :now)",
    ]
    async with db.transaction() as session:
        for statement in rows:
            names = [p for p in typed if f":{p.key}" in statement]
            await session.execute(text(statement).bindparams(*names), {p.key: at[p.key] for p in names})
    await upgrade_async(database_url)
    async with db.reading() as session:
        revoked = dict((await session.execute(select(Invite.id, Invite.revoked_at))).all())
        teams = dict((await session.execute(select(Customer.code, Customer.team_id))).all())
    assert {id_ for id_, when in revoked.items() if when is not None} == {2, 4, 5}
    assert teams == {"A": 2, "B": 1}
