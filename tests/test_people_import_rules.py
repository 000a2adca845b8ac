"""A people file is held to the rules of /role, /deactivate and /activate, and says what it did.

It cannot demote or deactivate the last active admin, it reactivates nobody unless its ``active``
column says so, and its report names each person added, moved, reactivated or deactivated.
Its changes take the commands' own path, so what follows them (customers moving with a rep,
invites revoked) follows here too. A refused file writes nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.db import Database
from models import AuditLog, Customer, Invite, Role, Team, User
from tests import factories
from tests.harness import Harness, Person

HEADER = "telegram_id,name,role,team\n"
WITH_ACTIVE = "telegram_id,name,role,team,active\n"


async def people(db: Database) -> dict[int, User]:
    async with db.reading() as session:
        return {user.telegram_id: user for user in await session.scalars(select(User))}


async def audit_actions(db: Database) -> list[tuple[str, int | None]]:
    """(action, entity id) of the user changes audited, in order."""
    async with db.reading() as session:
        rows = await session.execute(
            select(AuditLog.action, AuditLog.entity_id)
            .where(AuditLog.action.in_(["set_role", "activate", "deactivate"]))
            .order_by(AuditLog.id)
        )
        return [(action, entity_id) for action, entity_id in rows]


async def send_file(harness: Harness, person: Person, content: str, name: str = "people.csv") -> str:
    update: dict[str, Any] = harness.api.message(
        person.id, None, document=(name, content.encode(), "text/csv")
    )
    await harness.settle(update)
    return person.last.plain_text()


# -- through the bot: an admin sends the file -------------------------------------------------------


async def test_a_file_cannot_demote_the_last_active_admin(harness: Harness) -> None:
    company = await factories.company(harness.db, harness.clock.now())
    ada = await harness.admin()
    assert "That is the last active admin." in await ada.says("/role 1001 rep North")  # the command

    said = await send_file(harness, ada, HEADER + "2001,Li Wei,rep,South\n1001,Ada Admin,rep,North\n")
    assert "Nothing was imported: 1 problem" in said
    assert "line 3: That is the last active admin." in said
    found = await people(harness.db)
    assert found[1001].role == Role.ADMIN and found[1001].team_id is None
    assert found[2001].team_id == company.north.id  # the good line was rolled back with the bad
    said = await send_file(harness, ada, WITH_ACTIVE + "1001,Ada Admin,admin,,no\n")
    assert "line 2: You cannot deactivate yourself." in said
    assert (await people(harness.db))[1001].active
    assert await audit_actions(harness.db) == []  # the refused changes left no audit entries

    # Handing over in one file is fine, whichever line comes first: an active admin remains.
    said = await send_file(harness, ada, HEADER + "1001,Ada Admin,finance,\n7001,Dee Director,admin,\n")
    assert "Imported people: 0 new, 2 updated." in said
    assert "line 2: Ada Admin (1001): admin → finance" in said
    assert "line 3: Dee Director (7001): director → admin" in said
    found = await people(harness.db)
    assert (found[1001].role, found[7001].role) == (Role.FINANCE, Role.ADMIN)


async def test_a_file_reactivates_only_those_it_says_to(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    ada = await harness.admin()
    harness.person(2002, "Bob")
    assert "can no longer use the bot" in await ada.says("/deactivate 2002")

    said = await send_file(harness, ada, HEADER + "2001,Li Wei,rep,North\n2002,Bob South,rep,South\n")
    assert "Imported people: 0 new, 2 updated." in said
    assert "line 3: Bob South (2002): deactivated, and stays so (active=yes reactivates)" in said
    assert "Li Wei" not in said  # nothing happened to Li worth a line
    assert not (await people(harness.db))[2002].active

    said = await send_file(harness, ada, WITH_ACTIVE + "2002,Bob South,rep,South,maybe\n")
    assert "line 2: active maybe is not yes or no" in said

    said = await send_file(
        harness,
        ada,
        WITH_ACTIVE + "2002,Bob South,rep,South,yes\n2001,Li Wei,rep,North,否\n3001,Nia New,rep,East,\n",
    )
    assert "Imported people: 1 new, 2 updated." in said
    assert "New teams: East" in said
    assert "line 2: Bob South (2002): reactivated" in said
    assert "line 3: Li Wei (2001): deactivated" in said
    assert "line 4: Nia New (3001): new, rep · East" in said
    found = await people(harness.db)
    assert found[2002].active and not found[2001].active and found[3001].active
    assert await audit_actions(harness.db) == [
        ("deactivate", found[2002].id),
        ("activate", found[2002].id),
        ("deactivate", found[2001].id),
    ]


async def test_a_files_changes_take_the_commands_path(harness: Harness) -> None:
    company = await factories.company(harness.db, harness.clock.now())
    shop = await factories.customer(harness.db, harness.clock.now(), name="North Shop", rep=company.rep)
    ada = await harness.admin()
    mia = harness.person(5001, "Mia")
    assert "works once" in await mia.says("/invite rep")

    said = await send_file(
        harness, ada, WITH_ACTIVE + "5001,Mia Manager,manager,North,0\n2001,Li Wei,rep,South,\n"
    )
    assert "line 2: Mia Manager (5001): deactivated" in said
    assert "line 3: Li Wei (2001): rep · North → rep · South" in said
    async with harness.db.reading() as session:
        invite = await session.scalar(select(Invite).where(Invite.created_by == company.manager.id))
        moved = await session.get_one(Customer, shop.id)
    assert invite is not None and invite.revoked_at is not None  # as /deactivate revokes them
    assert moved.team_id == company.south.id  # as /role moves a rep's customers


# -- through the command line: ``fieldbot import users`` -------------------------------------------


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    return tmp_path


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def import_users(operator_env: Path, content: str) -> int:
    (operator_env / "people.csv").write_text(content, encoding="utf-8")
    return await cli("import", "users", "people.csv")


async def test_the_command_line_keeps_the_same_rules(
    db: Database, operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("admin", "add", "1001", "--name", "Ada Admin") == 0
    capsys.readouterr()
    assert (
        await import_users(
            operator_env, WITH_ACTIVE + "2001,Li Wei,rep,North,\n2002,Bob South,rep,South,no\n"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "imported: 2 new, 0 updated; new teams: North, South" in out
    assert "line 2: Li Wei (2001): new, rep · North" in out
    assert "line 3: Bob South (2002): new, rep · South, deactivated" in out

    for refused in (
        HEADER + "1001,Ada Admin,director,\n",
        WITH_ACTIVE + "1001,Ada Admin,admin,,no\n",
        HEADER + "2001,Li Wei,manager,North\n1001,Ada Admin,rep,West\n",
    ):
        assert await import_users(operator_env, refused) == 1
        err = capsys.readouterr().err
        assert "nothing imported: 1 problem" in err and "That is the last active admin." in err
    found = await people(db)
    assert (found[1001].role, found[1001].active, found[2001].role) == (Role.ADMIN, True, Role.REP)
    async with db.reading() as session:
        assert await session.scalar(select(Team).where(Team.name == "West")) is None

    assert await import_users(operator_env, HEADER + "2002,Bob South,rep,South\n") == 0
    out = capsys.readouterr().out
    assert "imported: 0 new, 1 updated" in out
    assert "line 2: Bob South (2002): deactivated, and stays so (active=yes reactivates)" in out
    assert not (await people(db))[2002].active

    assert (
        await import_users(
            operator_env,
            WITH_ACTIVE + "2002,Bob South,rep,South,是\n1001,Ada Admin,rep,South,\n2001,Li Wei,admin,,\n",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "line 2: Bob South (2002): reactivated" in out
    assert "line 3: Ada Admin (1001): admin → rep · South" in out
    assert "line 4: Li Wei (2001): rep · North → admin" in out
    found = await people(db)
    assert found[2002].active and (found[1001].role, found[2001].role) == (Role.REP, Role.ADMIN)
    async with db.reading() as session:
        actors = set(
            await session.scalars(
                select(AuditLog.actor_id).where(AuditLog.action.in_(["set_role", "activate", "import_users"]))
            )
        )
    assert actors == {None}
