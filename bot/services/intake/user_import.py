"""Onboarding a whole sales force from one file: all rows or none.

Header: ``telegram_id,name,role,team,username,active``. Teams named in the file are
created. Existing users (same Telegram id) are updated. Any bad row means
nothing is written, and the report names every problem of every bad row at once, the
refusals of the commands' rules among them (see :func:`_rules_judged_without`).

A file is held to the rules of the commands: each role or team change goes
through :func:`bot.services.people.users.change_role` (as ``/role``), each
(de)activation through :func:`bot.services.people.users.change_active` (as
``/deactivate`` and ``/activate``), so it cannot demote or deactivate the last
active admin, and whatever follows a change there (customers moving with their
rep, invites revoked) follows it here. Someone an admin deactivated stays so
unless the file says ``active=yes``. The report lists, person by person, who
was added, moved, reactivated or deactivated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import ServiceError
from bot.services.intake.importing import ImportReport, RowError, cell_problems
from bot.services.people import users
from bot.services.people.access import Caller, Permission, require
from bot.services.people.teams import MAX_TEAM_NAME, get_or_create_team
from bot.services.people.users import MAX_NAME
from bot.tabular import Table
from bot.text import one_line
from models import Role, Team, User

COLUMNS = ("telegram_id", "name", "role", "team", "username", "active")
REQUIRED = ("telegram_id", "name", "role")
USERNAME = re.compile(r"^[A-Za-z0-9_]{4,32}$")
MAX_TELEGRAM_ID = 2**52  # Telegram promises ids fit in 52 bits
#: What the ``active`` column accepts (after NFKC and lower case); an empty cell leaves it as is.
ACTIVE_WORDS = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "是": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
    "否": False,
}


@dataclass(frozen=True)
class PersonRow:
    line: int
    telegram_id: int
    name: str
    role: Role
    team: str | None
    username: str | None
    active: bool | None  # None: not said; someone new is active, anyone else stays as they are


class _Refused(Exception):
    """A rule refused at least one person: roll the whole file back."""


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
        telegram_id = _telegram_id(row)
        if telegram_id is not None and telegram_id in seen:  # reported with the line's other problems
            problems.append(
                (
                    N_("telegram_id {id} already appears on line {other}"),
                    {"id": str(telegram_id), "other": str(seen[telegram_id])},
                )
            )
        elif telegram_id is not None:
            seen[telegram_id] = line
        if problems or telegram_id is None:
            errors.extend(RowError(line, reason, params) for reason, params in problems)
            continue
        people.append(
            PersonRow(
                line,
                telegram_id,
                one_line(row["name"]),
                Role(row["role"].strip().lower()),
                one_line(row.get("team", "")) or None,
                row.get("username", "").lstrip("@") or None,
                ACTIVE_WORDS.get(_active_word(row)),
            )
        )
    if not table.rows:
        errors.append(RowError(1, N_("the file has a header but no people")))
    return people, errors


def _active_word(row: dict[str, str]) -> str:
    return unicodedata.normalize("NFKC", row.get("active", "")).strip().lower()


def _telegram_id(row: dict[str, str]) -> int | None:
    """The row's Telegram id, or None if it is not one."""
    raw_id = row.get("telegram_id", "")
    well_formed = raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 16  # "²".isdigit() too
    return int(raw_id) if well_formed and 0 < int(raw_id) < MAX_TELEGRAM_ID else None


def _row_problems(row: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    problems: list[tuple[str, dict[str, str]]] = []
    problems += cell_problems(row)
    if _telegram_id(row) is None:
        raw_id = row.get("telegram_id", "")
        problems.append((N_("telegram_id {value} is not a Telegram user id"), {"value": raw_id[:40]}))
    name = one_line(row.get("name", ""))
    if not name or len(name) > MAX_NAME:
        problems.append((N_("name must have 1 to {limit} characters"), {"limit": str(MAX_NAME)}))
    role = row.get("role", "").strip().lower()
    if role not in {r.value for r in Role}:
        problems.append(
            (
                N_("role {value} is not one of admin, director, manager, finance, rep"),
                {"value": row.get("role", "")[:40]},
            )
        )
    team = one_line(row.get("team", ""))
    if role in (Role.REP, Role.MANAGER) and not team:
        problems.append((N_("a {role} needs a team"), {"role": role}))
    if len(team) > MAX_TEAM_NAME:
        problems.append((N_("team name longer than {limit} characters"), {"limit": str(MAX_TEAM_NAME)}))
    username = row.get("username", "").lstrip("@")
    if username and not USERNAME.match(username):
        problems.append((N_("username {value} is not a Telegram username"), {"value": username[:40]}))
    active = _active_word(row)
    if active and active not in ACTIVE_WORDS:
        problems.append(
            (
                N_("active {value} is not yes or no (or empty to leave it as it is)"),
                {"value": row.get("active", "")[:40]},
            )
        )
    return problems


async def import_people(
    session: AsyncSession, table: Table, now: datetime, caller: Caller | None = None
) -> ImportReport:
    """Validate, then write everything in the caller's transaction; ``caller`` None means the CLI.

    The changes are made one person at a time, as the commands make them, inside a savepoint:
    if any rule refuses anyone, the savepoint (and the audit entries made in it) is rolled back
    and the report lists every refusal.
    """
    if caller is not None:
        require(caller, Permission.IMPORT_USERS)
    people, errors = validate(table)
    if errors and not _rules_judged_without(table, {error.line for error in errors}):
        return ImportReport(errors=errors)
    report = ImportReport()
    mark = audit.pending(session)
    try:
        async with session.begin_nested():
            await _apply(session, people, now, caller, report)
            if report.errors or errors:
                raise _Refused
    except _Refused:
        audit.forget_since(session, mark)
        return ImportReport(errors=sorted(errors + report.errors, key=lambda error: error.line))
    report.notes.sort(key=lambda note: note.line)
    audit.record(
        session,
        actor_id=caller.id if caller else None,
        action="import_users",
        entity="user",
        entity_id=None,
        at=now,
        after={"created": report.created, "updated": report.updated, "teams_created": report.teams_created},
    )
    return report


def _rules_judged_without(table: Table, bad_lines: set[int]) -> bool:
    """Whether the commands' rules can be checked on the good rows while ``bad_lines`` are fixed.

    They are then checked too (in a savepoint that is rolled back), so one report lists a file's
    every problem, refusals included. Not when the header is wrong, nor when a bad line names the
    admin role (or no role that can be read): "the last active admin" is judged on the whole file,
    and that line, once fixed, may be the admin who makes a refusal wrong.
    """
    if 1 in bad_lines:
        return False
    roles = {role.value for role in Role} - {Role.ADMIN.value}
    return all(row.get("role", "").strip().lower() in roles for line, row in table.rows if line in bad_lines)


async def _apply(
    session: AsyncSession,
    people: list[PersonRow],
    now: datetime,
    caller: Caller | None,
    report: ImportReport,
) -> None:
    existing = {
        user.telegram_id: user
        for user in await session.scalars(
            select(User).where(User.telegram_id.in_([p.telegram_id for p in people]))
        )
    }
    team_names = {team_id: name for team_id, name in await session.execute(select(Team.id, Team.name))}
    teams: dict[str, Team] = {}
    for name in sorted({p.team for p in people if p.team}, key=str.lower):
        team, created = await get_or_create_team(session, name, now)
        teams[name.lower()] = team
        team_names[team.id] = team.name
        if created:
            report.teams_created.append(team.name)

    def ends_an_active_admin(person: PersonRow) -> bool:
        user = existing.get(person.telegram_id)
        active = person.active if person.active is not None else (user is None or user.active)
        return person.role == Role.ADMIN and active

    # Whoever ends up an active admin first: then "the last active admin" is refused only if
    # the whole file leaves none, whatever the order of its lines.
    for person in sorted(people, key=lambda p: not ends_an_active_admin(p)):
        person_team = teams[person.team.lower()] if person.team else None
        user = existing.get(person.telegram_id)
        try:
            if user is None:
                _create(session, person, person_team, now, report)
            else:
                await _update(session, person, user, person_team, team_names, now, caller, report)
        except ServiceError as error:  # a rule of the commands refused this person
            report.errors.append(
                RowError(person.line, error.message, {k: str(v) for k, v in error.params.items()})
            )
    await session.flush()
    await _assign_team_managers(session, people, teams)


def _person(person: PersonRow) -> str:
    return f"{person.name} ({person.telegram_id})"


def _position(role: Role, team: str | None) -> str:
    return f"{role.value} · {team}" if team else role.value


def _create(
    session: AsyncSession, person: PersonRow, team: Team | None, now: datetime, report: ImportReport
) -> None:
    active = person.active is not False
    session.add(
        User(
            telegram_id=person.telegram_id,
            name=person.name,
            username=person.username,
            role=person.role,
            team_id=team.id if team else None,
            active=active,
            created_at=now,
        )
    )
    report.created += 1
    params = {"person": _person(person), "position": _position(person.role, team.name if team else None)}
    report.notes.append(
        RowError(person.line, N_("{person}: new, {position}"), params)
        if active
        else RowError(person.line, N_("{person}: new, {position}, deactivated"), params)
    )


async def _update(
    session: AsyncSession,
    person: PersonRow,
    user: User,
    team: Team | None,
    team_names: dict[int, str],
    now: datetime,
    caller: Caller | None,
    report: ImportReport,
) -> None:
    """One person's changes, each through the path its command takes, in the order that keeps an
    admin for longest: reactivated first, deactivated last."""
    who = {"person": _person(person)}
    notes: list[RowError] = []
    if person.active is True and await users.change_active(session, user, True, now, actor=caller):
        notes.append(RowError(person.line, N_("{person}: reactivated"), who))
    team_id = team.id if team else None
    if (user.role, user.team_id) != (person.role, team_id):
        before = _position(user.role, team_names.get(user.team_id) if user.team_id else None)
        await users.change_role(session, user, person.role, team, now, actor=caller)
        notes.append(
            RowError(
                person.line,
                N_("{person}: {before} → {after}"),
                {**who, "before": before, "after": _position(person.role, team.name if team else None)},
            )
        )
    if person.active is False and await users.change_active(session, user, False, now, actor=caller):
        notes.append(RowError(person.line, N_("{person}: deactivated"), who))
    elif person.active is None and not user.active:
        notes.append(
            RowError(person.line, N_("{person}: deactivated, and stays so (active=yes reactivates)"), who)
        )
    user.name, user.menu_hash = person.name, None
    user.username = person.username or user.username
    report.updated += 1
    report.notes += notes


async def _assign_team_managers(
    session: AsyncSession, people: list[PersonRow], teams: dict[str, Team]
) -> None:
    """A team without a manager gets the first manager the file puts in it."""
    for person in people:
        if person.role != Role.MANAGER or not person.team:
            continue
        team = teams[person.team.lower()]
        if team.manager_id is None:
            team.manager_id = await session.scalar(
                select(User.id).where(User.telegram_id == person.telegram_id)
            )
