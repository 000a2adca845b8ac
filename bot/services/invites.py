"""Invites: single-use deep-link tokens that carry a role and a team.

The token itself is only ever shown once, in the link; the database keeps
its SHA-256, so a leaked database does not leak working invites.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, language_for
from bot.services import audit
from bot.services.access import Caller
from bot.services.errors import Conflict, Invalid
from bot.services.teams import clean_team_name, get_or_create_team
from bot.services.users import Identity, clean_name, ensure_may_invite, parse_role
from models import Invite, Role, Team, User

INVITE_LIFETIME = timedelta(days=7)
TOKEN_BYTES = 24  # 32 URL-safe characters; deep-link payloads allow up to 64


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
class Joined:
    user_id: int
    name: str
    role: Role
    team: str | None
    language: str
    rejoined: bool


async def create_invite(
    session: AsyncSession, caller: Caller, role_text: str, team_name: str | None, *,
    source_key: str, now: datetime,
) -> NewInvite:
    role = parse_role(role_text)
    ensure_may_invite(caller, role)
    previous = await session.scalar(select(Invite).where(Invite.source_key == source_key))
    if previous is not None:
        team = await session.get(Team, previous.team_id) if previous.team_id else None
        return NewInvite(None, previous.role, team.name if team else None, False,
                         previous.expires_at)
    team: Team | None = None
    created = False
    if caller.role == Role.MANAGER:
        team = await session.get(Team, caller.team_id) if caller.team_id else None
        if team is None:
            raise Invalid(N_("You are not assigned to a team yet; ask an admin."))
        if team_name and clean_team_name(team_name).lower() != team.name.lower():
            raise Invalid(N_("Managers invite into their own team only."))
    elif team_name:
        team, created = await get_or_create_team(session, team_name, now)
    elif role in (Role.REP, Role.MANAGER):
        raise Invalid(N_("A {role} belongs to a team: /invite {role} TEAM"), role=role.value)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invite = Invite(token_hash=hash_token(token), role=role, team_id=team.id if team else None,
                    created_by=caller.id, created_at=now, expires_at=now + INVITE_LIFETIME,
                    source_key=source_key)
    session.add(invite)
    await session.flush()
    audit.record(session, actor_id=caller.id, action="invite", entity="invite",
                 entity_id=invite.id, at=now, after={"role": role.value, "team_id": invite.team_id})
    return NewInvite(token, role, team.name if team else None, created, invite.expires_at)


async def redeem(session: AsyncSession, who: Identity, token: str, now: datetime) -> Joined:
    """Register ``who`` with the invite behind ``token``; the token is then spent.

    Spending is one conditional UPDATE, so two people racing for one link
    cannot both get in. A deactivated user with a fresh invite comes back.
    """
    existing = await session.scalar(select(User).where(User.telegram_id == who.telegram_id))
    if existing is not None and existing.active:
        raise Conflict(N_("You are already registered."))
    invite = await session.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
    if invite is None:
        raise Invalid(N_("This invite link is not valid. Ask your manager for a new one."))
    if invite.used_at is not None:
        raise Conflict(N_("This invite link has already been used. Ask your manager for a new one."))
    if invite.expires_at <= now:
        raise Conflict(N_("This invite link has expired. Ask your manager for a new one."))
    language = language_for(who.language_code)
    if existing is None:
        user = User(telegram_id=who.telegram_id, name=clean_name(who.full_name)[:120],
                    username=who.username, role=invite.role, team_id=invite.team_id,
                    language=language, active=True, created_at=now, first_seen_at=now)
        session.add(user)
    else:
        user = existing
        user.role, user.team_id, user.active, user.menu_hash = (
            invite.role, invite.team_id, True, None)
        user.first_seen_at = user.first_seen_at or now
    await session.flush()
    spent = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_by=user.id, used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("This invite link has already been used. Ask your manager for a new one."))
    team = await session.get(Team, invite.team_id) if invite.team_id else None
    if team is not None and invite.role == Role.MANAGER and team.manager_id is None:
        team.manager_id = user.id
    audit.record(session, actor_id=user.id, action="join", entity="user", entity_id=user.id,
                 at=now, after={"role": invite.role.value, "team_id": invite.team_id,
                                "invite_id": invite.id})
    return Joined(user.id, user.name, user.role, team.name if team else None,
                  user.language or language, rejoined=existing is not None)
