"""People: recognising the sender, listing, finding, and changing users."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, echo, language_for
from bot.services import audit
from bot.services.access import Caller, Permission, require
from bot.services.errors import AccessDenied, Conflict, Invalid, NotFound
from bot.services.teams import get_or_create_team
from models import Role, Team, User

MAX_NAME = 120
T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    """What Telegram tells us about whoever sent an update."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip() or "?"


@dataclass(frozen=True)
class Recognised:
    """The sender as a registered, active user, and whether their menu must be (re)set."""

    caller: Caller
    menu_hash: str | None


@dataclass(frozen=True)
class UserRow:
    id: int
    telegram_id: int
    name: str
    username: str | None
    role: Role
    team: str | None
    active: bool
    joined: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME:
        raise Invalid(N_("A name has 1 to {limit} characters."), limit=MAX_NAME)
    return cleaned


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise Invalid(N_("Unknown role {role}. Roles: {roles}."), role=text[:40],
                      roles=", ".join(r.value for r in Role)) from None


#: What recognising a sender reads: plain columns, no ORM object (this runs for every update).
_USERS = User.__table__
#: Every update runs it: built once, of the table's columns (Core rows, no ORM result machinery);
#: building a statement per call cost more than the query itself.
_SENDER = select(_USERS.c.id, _USERS.c.telegram_id, _USERS.c.name, _USERS.c.role, _USERS.c.team_id,
                 _USERS.c.language, _USERS.c.active, _USERS.c.first_seen_at, _USERS.c.blocked_at,
                 _USERS.c.username, _USERS.c.menu_hash
                 ).where(_USERS.c.telegram_id == bindparam("telegram_id"))


async def recognise(session: AsyncSession, who: Identity, now: datetime) -> Recognised | None:
    """The active user behind ``who``, or None for strangers and deactivated users.

    Also notes the first contact (imported users become reachable then) and
    follows username changes.
    """
    user = (await session.execute(_SENDER, {"telegram_id": who.telegram_id})).first()
    if user is None or not user.active:
        return None
    changes: dict[str, object] = {}
    if user.first_seen_at is None:
        changes["first_seen_at"] = now
    if user.blocked_at is not None:  # writing to us again means they unblocked the bot
        changes["blocked_at"] = None
    if who.username and user.username != who.username:
        changes["username"] = who.username
    language = user.language
    if language is None:  # pushes need a language: take the Telegram app's until /lang
        language = changes["language"] = language_for(who.language_code)
    if changes:
        await session.execute(update(User).where(User.id == user.id).values(**changes))
    caller = Caller(user.id, user.telegram_id, user.name, user.role, user.team_id, language)
    return Recognised(caller, user.menu_hash)


async def is_known(session: AsyncSession, telegram_id: int) -> bool:
    return (await session.scalar(select(User.id).where(User.telegram_id == telegram_id))) is not None


async def set_language(session: AsyncSession, caller: Caller, language: str) -> None:
    user = await session.get_one(User, caller.id)
    user.language = language


async def remember_menu(session: AsyncSession, user_id: int, menu_hash: str | None) -> None:
    user = await session.get(User, user_id)
    if user is not None:
        user.menu_hash = menu_hash


async def bootstrap_admin(
    session: AsyncSession, telegram_id: int, name: str, now: datetime
) -> tuple[User, bool]:
    """Create or promote an admin from the command line; the flag says whether it was created."""
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    created = user is None
    if user is None:
        user = User(telegram_id=telegram_id, name=clean_name(name), role=Role.ADMIN,
                    active=True, created_at=now)
        session.add(user)
    else:
        before = {"role": user.role.value, "active": user.active}
        user.role, user.active, user.name = Role.ADMIN, True, clean_name(name)
        await session.flush()
        audit.record(session, actor_id=None, action="promote_admin", entity="user",
                     entity_id=user.id, at=now, before=before, after={"role": "admin"})
    await session.flush()
    if created:
        audit.record(session, actor_id=None, action="bootstrap_admin", entity="user",
                     entity_id=user.id, at=now, after={"telegram_id": telegram_id})
    return user, created


def _row(user: User, team: str | None) -> UserRow:
    return UserRow(user.id, user.telegram_id, user.name, user.username, user.role, team,
                   user.active, user.first_seen_at is not None)


async def list_users(
    session: AsyncSession, caller: Caller, *, page: int = 1, per_page: int = 20
) -> Page[UserRow]:
    """People in the caller's scope: everyone for admins and directors, a manager's own team."""
    require(caller, Permission.LIST_USERS)
    scope = select(User, Team.name).outerjoin(Team, User.team_id == Team.id)
    if not caller.sees_all_teams:
        scope = scope.where(User.team_id == caller.team_id)
    total = await session.scalar(select(func.count()).select_from(scope.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = await session.execute(
        scope.order_by(User.active.desc(), Team.name.nulls_first(), User.name, User.id)
        .limit(per_page).offset((page - 1) * per_page)
    )
    return Page([_row(user, team) for user, team in rows], page, pages, total)


async def find_user(session: AsyncSession, caller: Caller, query: str) -> User:
    """A user by Telegram id, @username or (part of) their name, within the caller's scope."""
    query = query.strip()
    if not query:
        raise Invalid(N_("Name the person: their Telegram id, @username or name."))
    scope = select(User)
    if not caller.sees_all_teams:
        scope = scope.where(User.team_id == caller.team_id)
    digits = query.lstrip("-")
    if digits.isascii() and digits.isdigit():  # Telegram ids have at most 16 digits (52 bits)
        matches = list(await session.scalars(scope.where(User.telegram_id == int(query)))) \
            if len(digits) <= 16 else []
    elif query.startswith("@"):
        matches = list(await session.scalars(
            scope.where(func.lower(User.username) == query[1:].lower())))
    else:
        exact = list(await session.scalars(scope.where(func.lower(User.name) == query.lower())))
        matches = exact or list(await session.scalars(
            scope.where(func.lower(User.name).contains(query.lower(), autoescape=True)).limit(6)))
    if not matches:
        raise NotFound(N_("Nobody matches {query}."), query=echo(query))
    if len(matches) > 1:
        raise Invalid(N_("{query} matches several people: {names}. Use the Telegram id or @username."),
                      query=query, names=", ".join(u.name for u in matches[:5]))
    return matches[0]


async def _count_active_admins(session: AsyncSession) -> int:
    return await session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    ) or 0


async def set_active(
    session: AsyncSession, caller: Caller, query: str, active: bool, now: datetime
) -> User:
    require(caller, Permission.MANAGE_USERS)
    user = await find_user(session, caller, query)
    if user.id == caller.id and not active:
        raise Conflict(N_("You cannot deactivate yourself."))
    if user.active == active:
        return user
    if not active and user.role == Role.ADMIN and await _count_active_admins(session) <= 1:
        raise Conflict(N_("That is the last active admin."))
    user.active = active
    user.menu_hash = None
    audit.record(session, actor_id=caller.id, action="activate" if active else "deactivate",
                 entity="user", entity_id=user.id, at=now,
                 before={"active": not active}, after={"active": active})
    return user


async def set_role(
    session: AsyncSession, caller: Caller, query: str, role_text: str, team_name: str | None,
    now: datetime,
) -> tuple[User, Team | None]:
    """Change a user's role (and team); reps and managers must belong to a team."""
    require(caller, Permission.MANAGE_USERS)
    user = await find_user(session, caller, query)
    role = parse_role(role_text)
    if user.id == caller.id and role != Role.ADMIN and await _count_active_admins(session) <= 1:
        raise Conflict(N_("That is the last active admin."))
    team: Team | None = None
    if team_name:
        team, _created = await get_or_create_team(session, team_name, now)
    elif user.team_id is not None:
        team = await session.get(Team, user.team_id)
    if role in (Role.REP, Role.MANAGER) and team is None:
        raise Invalid(N_("A {role} belongs to a team: add the team name."), role=role.value)
    before = {"role": user.role.value, "team_id": user.team_id}
    user.role, user.team_id, user.menu_hash = role, team.id if team else None, None
    if role == Role.MANAGER and team is not None and team.manager_id is None:
        team.manager_id = user.id
    audit.record(session, actor_id=caller.id, action="set_role", entity="user", entity_id=user.id,
                 at=now, before=before, after={"role": role.value, "team_id": user.team_id})
    return user, team


def ensure_may_invite(caller: Caller, role: Role) -> None:
    """Admins invite anyone; managers invite reps into their own team."""
    require(caller, Permission.INVITE)
    if caller.role == Role.MANAGER and role != Role.REP:
        raise AccessDenied(N_("Managers can invite reps only."))


MUTE_PATTERN = re.compile(r"^(\d{1,3})\s*(h|m|小时|分钟)$")


async def mute(session: AsyncSession, caller: Caller, text: str, now: datetime, zone: ZoneInfo
               ) -> datetime | None:
    """Pause the caller's pushes: ``2h``, ``30m``, ``today`` (until local midnight) or ``off``.

    Returns until when (None: pushes are on again). Replies to the user's own
    messages are never muted.
    """
    word = text.strip().lower()
    user = await session.get_one(User, caller.id)
    if word in ("off", "关闭"):
        user.muted_until = None
        return None
    if word in ("today", "今天"):
        tomorrow = now.astimezone(zone).date() + timedelta(days=1)
        until = datetime.combine(tomorrow, time.min, tzinfo=zone).astimezone(UTC)
    elif match := MUTE_PATTERN.match(word):
        amount, unit = int(match.group(1)), match.group(2)
        until = now + (timedelta(hours=amount) if unit in ("h", "小时") else timedelta(minutes=amount))
        if until - now > timedelta(days=7):
            raise Invalid(N_("Mute for a week at most."))
    else:
        raise Invalid(N_("Usage: /mute 2h, /mute 30m, /mute today or /mute off"))
    user.muted_until = until
    return until
