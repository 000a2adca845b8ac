"""Invites: single-use deep-link tokens that carry a role and a team.

The token itself is only ever shown once, in the link; the database keeps
its SHA-256, so a leaked database does not leak working invites.

An invite carries its creator's authority and never outlives it: deactivating
someone, or changing their role or team, revokes the pending invites they could
no longer hand out (``users.withdraw_invites``), and a link is checked against
its creator again when it is opened. Admins and managers list and revoke
pending invites (``/invites``). An invite registers new people only: a
deactivated person stays deactivated until an admin switches them back on.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, language_for
from bot.services import audit
from bot.services.errors import Conflict, Invalid, NotFound
from bot.services.people.access import Caller, Permission, require
from bot.services.people.teams import TeamRef, clean_team_name, find_team, get_or_create_team, teams_like
from bot.services.people.users import (
    Identity,
    Page,
    ensure_may_invite,
    may_issue,
    parse_role,
    pending_invite,
    telegram_name,
)
from models import Invite, Role, Team, User

INVITE_LIFETIME = timedelta(days=7)
TOKEN_BYTES = 24  # 32 URL-safe characters; deep-link payloads allow up to 64
#: Existing teams offered when ``/invite`` names one there is not (the likeliest first).
TEAMS_OFFERED = 10


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewInvite:
    token: str | None  # None when the same update already created it (a redelivery)
    role: Role
    team: str | None
    team_created: bool
    expires_at: datetime


@dataclass(frozen=True)
class TeamChoice:
    """``/invite ROLE TEAM`` named a team there is not (a typo, or really a new one): nothing was made;
    the inviter picks one of ``teams`` or confirms that ``name`` is a new team."""

    role: Role
    name: str
    teams: tuple[TeamRef, ...]


@dataclass(frozen=True)
class Joined:
    user_id: int
    name: str
    role: Role
    team: str | None
    language: str


@dataclass(frozen=True)
class InviteRow:
    """An invite as ``/invites`` shows it (never its token: only its hash is kept)."""

    id: int
    role: Role
    team: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_by: str | None
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Revoked:
    invite: InviteRow
    revoked_now: bool  # False: it was already used, revoked or expired; the row says which


WITHDRAWN = N_("This invite link was withdrawn. Ask your manager for a new one.")
SWITCHED_OFF = N_(
    "Your access to this bot was switched off, and an invite link does not switch it "
    "back on. Ask an admin if this is a mistake."
)
USED = N_("This invite link has already been used. Ask your manager for a new one.")


async def create_invite(
    session: AsyncSession,
    caller: Caller,
    role_text: str,
    team_name: str | None,
    *,
    source_key: str,
    now: datetime,
    team_id: int | None = None,
    create_team: bool = False,
) -> NewInvite | TeamChoice:
    """An invite for ``role`` into a team: ``team_id`` (a button), or the team called ``team_name``.

    A name no team has is never made into a team silently (``/invite rep Eastt`` is a typo as
    often as not): the answer is a :class:`TeamChoice`, and only ``create_team`` (the inviter's
    "Create team" button) creates it. Every call checks the caller's authority afresh: a button
    pressed after the inviter lost it is refused like the command.
    """
    role = parse_role(role_text)
    ensure_may_invite(caller, role)
    previous = await session.scalar(select(Invite).where(Invite.source_key == source_key))
    if previous is not None:
        team: Team | None = await session.get(Team, previous.team_id) if previous.team_id else None
        return NewInvite(None, previous.role, team.name if team else None, False, previous.expires_at)
    team = None
    created = False
    if caller.role == Role.MANAGER:
        team = await session.get(Team, caller.team_id) if caller.team_id else None
        if team is None:
            raise Invalid(N_("You are not assigned to a team yet; ask an admin."))
        other_id = team_id is not None and team_id != team.id
        other_name = bool(team_name) and clean_team_name(team_name or "").lower() != team.name.lower()
        if other_id or other_name:
            raise Invalid(N_("Managers invite into their own team only."))
    elif team_id is not None:
        team = await session.get(Team, team_id)
        if team is None:
            raise NotFound(N_("That team no longer exists. Send /invite again."))
    elif team_name:
        team = await find_team(session, team_name)
        if team is None and not create_team:
            return TeamChoice(
                role, clean_team_name(team_name), await teams_like(session, team_name, TEAMS_OFFERED)
            )
        if team is None:
            team, created = await get_or_create_team(session, team_name, now)
    elif role in (Role.REP, Role.MANAGER):
        raise Invalid(N_("A {role} belongs to a team: /invite {role} TEAM"), role=role.value)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invite = Invite(
        token_hash=hash_token(token),
        role=role,
        team_id=team.id if team else None,
        created_by=caller.id,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
        source_key=source_key,
    )
    session.add(invite)
    await session.flush()
    audit.record(
        session,
        actor_id=caller.id,
        action="invite",
        entity="invite",
        entity_id=invite.id,
        at=now,
        after={"role": role.value, "team_id": invite.team_id},
    )
    return NewInvite(token, role, team.name if team else None, created, invite.expires_at)


async def redeem(session: AsyncSession, who: Identity, token: str, now: datetime) -> Joined:
    """Register ``who`` with the invite behind ``token``; the token is then spent.

    Spending is one conditional UPDATE (unused and not revoked), so two people
    racing for one link cannot both get in, nor can a link revoked meanwhile.
    Someone already known never gets in this way: an active user is registered
    already, and a deactivated one comes back only when an admin says so
    (``/activate``), not through a link (even one they made themselves).
    """
    existing = await session.scalar(select(User).where(User.telegram_id == who.telegram_id))
    if existing is not None:
        if existing.active:
            raise Conflict(N_("You are already registered."))
        raise Conflict(SWITCHED_OFF)
    invite = await session.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
    if invite is None:
        raise Invalid(N_("This invite link is not valid. Ask your manager for a new one."))
    if invite.used_at is not None:
        raise Conflict(USED)
    if invite.revoked_at is not None or not await _creator_may_still_issue(session, invite):
        raise Conflict(WITHDRAWN)
    if invite.expires_at <= now:
        raise Conflict(N_("This invite link has expired. Ask your manager for a new one."))
    language = language_for(who.language_code)
    user = User(
        telegram_id=who.telegram_id,
        name=telegram_name(who),
        username=who.username,
        role=invite.role,
        team_id=invite.team_id,
        language=language,
        active=True,
        created_at=now,
        first_seen_at=now,
    )
    session.add(user)
    await session.flush()
    spent = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(used_by=user.id, used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]  # used or revoked a moment ago
        used_at = await session.scalar(select(Invite.used_at).where(Invite.id == invite.id))
        raise Conflict(USED if used_at is not None else WITHDRAWN)
    team = await session.get(Team, invite.team_id) if invite.team_id else None
    if team is not None and invite.role == Role.MANAGER and team.manager_id is None:
        team.manager_id = user.id
    audit.record(
        session,
        actor_id=user.id,
        action="join",
        entity="user",
        entity_id=user.id,
        at=now,
        after={"role": invite.role.value, "team_id": invite.team_id, "invite_id": invite.id},
    )
    return Joined(user.id, user.name, user.role, team.name if team else None, user.language or language)


async def _creator_may_still_issue(session: AsyncSession, invite: Invite) -> bool:
    """Whether whoever created ``invite`` could create it now (active, same authority).

    Their deactivation or role change revokes it already; this also refuses links
    made before revocation existed, and any a bulk change missed.
    """
    creator = (
        await session.execute(
            select(User.active, User.role, User.team_id).where(User.id == invite.created_by)
        )
    ).one_or_none()
    return (
        creator is not None
        and creator.active
        and may_issue(creator.role, creator.team_id, invite.role, invite.team_id)
    )


# -- listing and revoking -------------------------------------------------------------------------


def _in_scope(caller: Caller) -> ColumnElement[bool]:
    """The invites ``caller`` lists and may revoke: every one for admins; for a manager, those they
    created and the rep invites into their team (what they could have created themselves)."""
    require(caller, Permission.INVITE)
    if caller.role == Role.ADMIN:
        return true()
    own = Invite.created_by == caller.id
    if caller.team_id is None:
        return own
    return own | ((Invite.role == Role.REP) & (Invite.team_id == caller.team_id))


def _rows() -> Select[int, Role, str, str, datetime, datetime, str, datetime | None, datetime | None]:
    """Each invite as :class:`InviteRow` takes it: the team and who joined are outer joins (None
    without one, which SQLAlchemy's column types do not show; InviteRow takes them as optional)."""
    creator, joined = aliased(User), aliased(User)
    return (
        select(
            Invite.id,
            Invite.role,
            Team.name,
            creator.name,
            Invite.created_at,
            Invite.expires_at,
            joined.name,
            Invite.used_at,
            Invite.revoked_at,
        )
        .select_from(Invite)
        .join(creator, creator.id == Invite.created_by)
        .outerjoin(Team, Team.id == Invite.team_id)
        .outerjoin(joined, joined.id == Invite.used_by)
    )


async def pending(
    session: AsyncSession, caller: Caller, now: datetime, *, page: int = 1, per_page: int = 10
) -> Page[InviteRow]:
    """The invites in the caller's scope that still work, the soonest to expire first."""
    condition = _in_scope(caller) & pending_invite(now)
    total = await session.scalar(select(func.count()).select_from(Invite).where(condition)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = await session.execute(
        _rows()
        .where(condition)
        .order_by(Invite.expires_at, Invite.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page([InviteRow(*row) for row in rows], page, pages, total)


async def revoke(session: AsyncSession, caller: Caller, invite_id: int, now: datetime) -> Revoked:
    """Withdraw a pending invite: its link stops working at once.

    One outside the caller's scope is answered as one that does not exist. One
    already used, revoked or expired is reported as it stands (a double tap, or
    someone joined a moment before).
    """
    scope = _in_scope(caller)
    row = (await session.execute(_rows().where(Invite.id == invite_id, scope))).one_or_none()
    if row is None:
        raise NotFound(N_("There is no invite #{id}."), id=invite_id)
    invite = InviteRow(*row)
    if invite.used_at is not None or invite.revoked_at is not None or invite.expires_at <= now:
        return Revoked(invite, revoked_now=False)
    done = await session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=caller.id)
        .execution_options(synchronize_session=False)
    )
    after = InviteRow(*(await session.execute(_rows().where(Invite.id == invite_id))).one())
    if done.rowcount != 1:  # type: ignore[attr-defined]  # used or revoked a moment ago
        return Revoked(after, revoked_now=False)
    audit.record(
        session,
        actor_id=caller.id,
        action="revoke_invite",
        entity="invite",
        entity_id=invite_id,
        at=now,
        before={"revoked": False},
        after={"revoked": True},
    )
    return Revoked(after, revoked_now=True)
