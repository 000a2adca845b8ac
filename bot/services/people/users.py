"""People: recognising the sender, listing, finding, and changing users."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, false, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, echo, language_for
from bot.services import audit
from bot.services.errors import AccessDenied, Conflict, Invalid, NotFound
from bot.services.people import approvals
from bot.services.people.access import Caller, Permission, require
from bot.services.people.teams import get_or_create_team
from bot.text import one_line
from models import Approval, ApprovalStatus, Customer, Invite, Role, Team, User

#: Telegram's own limits: a first name of up to 64 characters, a last name of up to 64, a space.
MAX_NAME = 64 + 1 + 64
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
    """A person's name as stored: one line, no bidi controls (:func:`bot.text.one_line`)."""
    cleaned = one_line(name)
    if not cleaned or len(cleaned) > MAX_NAME:
        raise Invalid(N_("A name has 1 to {limit} characters."), limit=MAX_NAME)
    return cleaned


def telegram_name(who: Identity) -> str:
    """The name Telegram gives for ``who``, cleaned as :func:`clean_name` does; never refused, as
    whoever Telegram lets in may join. One made only of invisible characters falls back to the
    @username, else the Telegram id."""
    return one_line(who.full_name)[:MAX_NAME] or (
        f"@{who.username}" if who.username else str(who.telegram_id)
    )


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise Invalid(
            N_("Unknown role {role}. Roles: {roles}."), role=text[:40], roles=", ".join(r.value for r in Role)
        ) from None


#: What recognising a sender reads: plain columns, no ORM object (this runs for every update).
_USERS = User.__table__
#: Every update runs it: built once, of the table's columns (Core rows, no ORM result machinery);
#: building a statement per call cost more than the query itself.
_SENDER = select(
    _USERS.c.id,
    _USERS.c.telegram_id,
    _USERS.c.name,
    _USERS.c.role,
    _USERS.c.team_id,
    _USERS.c.language,
    _USERS.c.active,
    _USERS.c.first_seen_at,
    _USERS.c.blocked_at,
    _USERS.c.username,
    _USERS.c.menu_hash,
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
        user = User(
            telegram_id=telegram_id, name=clean_name(name), role=Role.ADMIN, active=True, created_at=now
        )
        session.add(user)
    else:
        before = {"role": user.role.value, "active": user.active}
        user.role, user.active, user.name = Role.ADMIN, True, clean_name(name)
        await session.flush()
        audit.record(
            session,
            actor_id=None,
            action="promote_admin",
            entity="user",
            entity_id=user.id,
            at=now,
            before=before,
            after={"role": "admin"},
        )
    await session.flush()
    if created:
        audit.record(
            session,
            actor_id=None,
            action="bootstrap_admin",
            entity="user",
            entity_id=user.id,
            at=now,
            after={"telegram_id": telegram_id},
        )
    return user, created


def _row(user: User, team: str | None) -> UserRow:
    return UserRow(
        user.id,
        user.telegram_id,
        user.name,
        user.username,
        user.role,
        team,
        user.active,
        user.first_seen_at is not None,
    )


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
        .limit(per_page)
        .offset((page - 1) * per_page)
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
        matches = (
            list(await session.scalars(scope.where(User.telegram_id == int(query))))
            if len(digits) <= 16
            else []
        )
    elif query.startswith("@"):
        matches = list(await session.scalars(scope.where(func.lower(User.username) == query[1:].lower())))
    else:
        exact = list(await session.scalars(scope.where(func.lower(User.name) == query.lower())))
        matches = exact or list(
            await session.scalars(
                scope.where(func.lower(User.name).contains(query.lower(), autoescape=True)).limit(6)
            )
        )
    if not matches:
        raise NotFound(N_("Nobody matches {query}."), query=echo(query))
    if len(matches) > 1:
        raise Invalid(
            N_("{query} matches several people: {names}. Use the Telegram id or @username."),
            query=query,
            names=", ".join(u.name for u in matches[:5]),
        )
    return matches[0]


async def _count_active_admins(session: AsyncSession) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
        )
        or 0
    )


async def ensure_an_admin_remains(session: AsyncSession, user: User, role: Role, active: bool) -> None:
    """Refuse to turn the last active admin into anything else: nobody could manage people then."""
    stays_admin = role == Role.ADMIN and active
    if (
        user.role == Role.ADMIN
        and user.active
        and not stays_admin
        and await _count_active_admins(session) <= 1
    ):
        raise Conflict(N_("That is the last active admin."))


async def set_active(session: AsyncSession, caller: Caller, query: str, active: bool, now: datetime) -> User:
    require(caller, Permission.MANAGE_USERS)
    user = await find_user(session, caller, query)
    await change_active(session, user, active, now, actor=caller)
    return user


async def change_active(
    session: AsyncSession, user: User, active: bool, now: datetime, *, actor: Caller | None
) -> bool:
    """The one way a person is deactivated or reactivated: /deactivate, /activate and the people
    import all come here, so whatever must follow (or is refused) happens for each of them.

    ``actor`` None is the command line. Returns whether anything changed.
    """
    if actor is not None and user.id == actor.id and not active:
        raise Conflict(N_("You cannot deactivate yourself."))
    if user.active == active:
        return False
    await ensure_an_admin_remains(session, user, user.role, active)
    user.active = active
    user.menu_hash = None
    after: dict[str, object] = {"active": active}
    if not active:  # the links they handed out stop working with them
        after["invites_revoked"] = await withdraw_invites(session, user, now, actor=actor)
    audit.record(
        session,
        actor_id=actor.id if actor else None,
        action="activate" if active else "deactivate",
        entity="user",
        entity_id=user.id,
        at=now,
        before={"active": not active},
        after=after,
    )
    return True


async def set_role(
    session: AsyncSession,
    caller: Caller,
    query: str,
    role_text: str,
    team_name: str | None,
    now: datetime,
    *,
    zone: ZoneInfo | None = None,
) -> tuple[User, Team | None]:
    """Change a user's role (and team); reps and managers must belong to a team."""
    require(caller, Permission.MANAGE_USERS)
    user = await find_user(session, caller, query)
    role = parse_role(role_text)
    team: Team | None = None
    if team_name:
        team, _created = await get_or_create_team(session, team_name, now)
    elif user.team_id is not None:
        team = await session.get(Team, user.team_id)
    await change_role(session, user, role, team, now, actor=caller, zone=zone)
    return user, team


async def change_role(
    session: AsyncSession,
    user: User,
    role: Role,
    team: Team | None,
    now: datetime,
    *,
    actor: Caller | None,
    zone: ZoneInfo | None = None,
) -> None:
    """The one way a person's role and team change: /role and the people import both come here,
    so whatever must follow a change (or refuses it) happens for each of them.

    ``team`` is the team they end up in (None: none). ``actor`` None is the command line.
    Their customers move with them and the invites they may no longer hand out are revoked
    (``zone``: see :func:`customers_follow`).
    """
    await ensure_an_admin_remains(session, user, role, user.active)
    if role in (Role.REP, Role.MANAGER) and team is None:
        raise Invalid(N_("A {role} belongs to a team: add the team name."), role=role.value)
    before = {"role": user.role.value, "team_id": user.team_id}
    user.role, user.team_id, user.menu_hash = role, team.id if team else None, None
    if role == Role.MANAGER and team is not None and team.manager_id is None:
        team.manager_id = user.id
    moved = await customers_follow(session, user, now, zone=zone)
    revoked = await withdraw_invites(session, user, now, actor=actor)
    audit.record(
        session,
        actor_id=actor.id if actor else None,
        action="set_role",
        entity="user",
        entity_id=user.id,
        at=now,
        before=before,
        after={
            "role": role.value,
            "team_id": user.team_id,
            "customers_moved": moved,
            "invites_revoked": revoked,
        },
    )


def ensure_may_invite(caller: Caller, role: Role) -> None:
    """Admins invite anyone; managers invite reps into their own team."""
    require(caller, Permission.INVITE)
    if caller.role == Role.MANAGER and role != Role.REP:
        raise AccessDenied(N_("Managers can invite reps only."))


def may_issue(role: Role, team_id: int | None, invite_role: Role, invite_team_id: int | None) -> bool:
    """Whether an active person in ``role`` (of ``team_id``) may hand out an invite for
    ``invite_role`` into ``invite_team_id``: admins any, managers reps into their own team."""
    if role == Role.ADMIN:
        return True
    return (
        role == Role.MANAGER and invite_role == Role.REP and team_id is not None and invite_team_id == team_id
    )


def pending_invite(now: datetime) -> ColumnElement[bool]:
    """Invites that still work: neither used, revoked nor expired."""
    return Invite.used_at.is_(None) & Invite.revoked_at.is_(None) & (Invite.expires_at > now)


def _issuable_by(user: User) -> ColumnElement[bool]:
    """:func:`may_issue` for ``user`` as they are now, as a condition on invites."""
    if not user.active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        return (Invite.role == Role.REP) & (Invite.team_id == user.team_id)
    return false()


async def withdraw_invites(
    session: AsyncSession, user: User, now: datetime, *, actor: Caller | None
) -> list[int]:
    """Revoke the pending invites ``user`` created that they could no longer hand out as they are
    now: all of them once deactivated, a demoted admin's, a moved manager's. An invite carries
    its creator's authority; it must not outlive it. Returns the ids revoked."""
    if user.active and user.role == Role.ADMIN:
        return []
    ids = list(
        await session.scalars(
            select(Invite.id)
            .where(Invite.created_by == user.id, pending_invite(now), ~_issuable_by(user))
            .order_by(Invite.id)
        )
    )
    if ids:
        await session.execute(
            update(Invite)
            .where(Invite.id.in_(ids), Invite.used_at.is_(None), Invite.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=actor.id if actor else None)
            .execution_options(synchronize_session=False)
        )
    return ids


async def customers_follow(session: AsyncSession, user: User, now: datetime, *, zone: ZoneInfo | None) -> int:
    """Put ``user``'s customers in ``user``'s team, in the caller's transaction.

    A customer's team is its rep's: every manager's view (customers, collections, overdue money,
    approvals) scopes by ``customers.team_id``, so it must change as the rep's team does. The
    pending requests of moved customers go to their new approvers (only they may decide them
    now); with ``zone`` (the company's, for quiet hours) each is pushed to them at once.
    Returns how many customers moved.
    """
    moved = await session.execute(
        update(Customer)
        .where(Customer.rep_id == user.id, Customer.team_id.is_distinct_from(user.team_id))
        .values(team_id=user.team_id)
        .execution_options(synchronize_session="fetch")
    )
    count: int = moved.rowcount  # type: ignore[attr-defined]
    if count and zone is not None:
        waiting = list(
            await session.scalars(
                select(Approval.id)
                .join(Customer, Customer.id == Approval.customer_id)
                .where(Customer.rep_id == user.id, Approval.status == ApprovalStatus.PENDING)
                .order_by(Approval.id)
            )
        )
        for approval_id in waiting:
            await approvals.notify_approvers(session, approval_id, now, zone)
    return count


MUTE_PATTERN = re.compile(r"^(\d{1,3})\s*(h|m|小时|分钟)$")


async def mute(
    session: AsyncSession, caller: Caller, text: str, now: datetime, zone: ZoneInfo
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
