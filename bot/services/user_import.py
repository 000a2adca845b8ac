"""Onboarding a whole sales force from one file: all rows or none.

Header: ``telegram_id,name,role,team,username``. Teams named in the file are
created. Existing users (same Telegram id) are updated. Any bad row means
nothing is written, and the report names every bad row with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.access import Caller, Permission, require
from bot.services.importing import ImportReport, RowError, cell_problems
from bot.services.teams import MAX_TEAM_NAME, get_or_create_team
from bot.services.users import MAX_NAME
from bot.tabular import Table
from models import Role, Team, User

COLUMNS = ("telegram_id", "name", "role", "team", "username")
REQUIRED = ("telegram_id", "name", "role")
USERNAME = re.compile(r"^[A-Za-z0-9_]{4,32}$")
MAX_TELEGRAM_ID = 2**52  # Telegram promises ids fit in 52 bits


@dataclass(frozen=True)
class PersonRow:
    line: int
    telegram_id: int
    name: str
    role: Role
    team: str | None
    username: str | None


def validate(table: Table) -> tuple[list[PersonRow], list[RowError]]:
    """Check every row; nothing touches the database here."""
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        return [], [RowError(1, N_("missing columns: {columns}"), {"columns": ", ".join(missing)})]
    people: list[PersonRow] = []
    errors: list[RowError] = []
    seen: dict[int, int] = {}
    for line, row in table.rows:
        problems = _row_problems(row)
        if problems:
            errors.extend(RowError(line, reason, params) for reason, params in problems)
            continue
        person = PersonRow(line, int(row["telegram_id"]), " ".join(row["name"].split()),
                           Role(row["role"].strip().lower()),
                           " ".join(row.get("team", "").split()) or None,
                           row.get("username", "").lstrip("@") or None)
        if person.telegram_id in seen:
            errors.append(RowError(line, N_("telegram_id {id} already appears on line {other}"),
                                   {"id": str(person.telegram_id), "other": str(seen[person.telegram_id])}))
            continue
        seen[person.telegram_id] = line
        people.append(person)
    if not table.rows:
        errors.append(RowError(1, N_("the file has a header but no people")))
    return people, errors


def _row_problems(row: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    problems: list[tuple[str, dict[str, str]]] = []
    problems += cell_problems(row)
    raw_id = row.get("telegram_id", "")
    well_formed = raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 16  # "²".isdigit() too
    if not well_formed or not 0 < int(raw_id) < MAX_TELEGRAM_ID:
        problems.append((N_("telegram_id {value} is not a Telegram user id"), {"value": raw_id[:40]}))
    name = " ".join(row.get("name", "").split())
    if not name or len(name) > MAX_NAME:
        problems.append((N_("name must have 1 to {limit} characters"), {"limit": str(MAX_NAME)}))
    role = row.get("role", "").strip().lower()
    if role not in {r.value for r in Role}:
        problems.append((N_("role {value} is not one of admin, director, manager, finance, rep"),
                         {"value": row.get("role", "")[:40]}))
    team = " ".join(row.get("team", "").split())
    if role in (Role.REP, Role.MANAGER) and not team:
        problems.append((N_("a {role} needs a team"), {"role": role}))
    if len(team) > MAX_TEAM_NAME:
        problems.append((N_("team name longer than {limit} characters"), {"limit": str(MAX_TEAM_NAME)}))
    username = row.get("username", "").lstrip("@")
    if username and not USERNAME.match(username):
        problems.append((N_("username {value} is not a Telegram username"), {"value": username[:40]}))
    return problems


async def import_people(
    session: AsyncSession, table: Table, now: datetime, caller: Caller | None = None
) -> ImportReport:
    """Validate, then write everything in the caller's transaction; ``caller`` None means the CLI."""
    if caller is not None:
        require(caller, Permission.IMPORT_USERS)
    people, errors = validate(table)
    report = ImportReport(errors=errors)
    if errors:
        return report
    existing = {
        user.telegram_id: user
        for user in await session.scalars(
            select(User).where(User.telegram_id.in_([p.telegram_id for p in people])))
    }
    teams: dict[str, int] = {}
    for name in sorted({p.team for p in people if p.team}, key=str.lower):
        team, created = await get_or_create_team(session, name, now)
        teams[name.lower()] = team.id
        if created:
            report.teams_created.append(team.name)
    actor = caller.id if caller else None
    for person in people:
        team_id = teams[person.team.lower()] if person.team else None
        user = existing.get(person.telegram_id)
        if user is None:
            session.add(User(telegram_id=person.telegram_id, name=person.name, username=person.username,
                             role=person.role, team_id=team_id, active=True, created_at=now))
            report.created += 1
        else:
            user.name, user.role, user.team_id, user.active = person.name, person.role, team_id, True
            user.username = person.username or user.username
            user.menu_hash = None
            report.updated += 1
    await session.flush()
    await _assign_team_managers(session, people, teams)
    audit.record(session, actor_id=actor, action="import_users", entity="user", entity_id=None, at=now,
                 after={"created": report.created, "updated": report.updated,
                        "teams_created": report.teams_created})
    return report


async def _assign_team_managers(
    session: AsyncSession, people: list[PersonRow], teams: dict[str, int]
) -> None:
    """A team without a manager gets the first manager the file puts in it."""
    for person in people:
        if person.role != Role.MANAGER or not person.team:
            continue
        team = await session.get_one(Team, teams[person.team.lower()])
        if team.manager_id is None:
            team.manager_id = await session.scalar(
                select(User.id).where(User.telegram_id == person.telegram_id))
