"""Who a job may push to: active people who have talked to the bot and not blocked it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Role, User


@dataclass(frozen=True)
class Recipient:
    id: int
    name: str
    language: str
    team_id: int | None
    role: Role


def reachable() -> Select[tuple[int, str, str | None, int | None, Role]]:
    return (select(User.id, User.name, User.language, User.team_id, User.role)
            .where(User.active, User.blocked_at.is_(None), User.first_seen_at.is_not(None)))


async def recipients(session: AsyncSession, *roles: Role) -> list[Recipient]:
    rows = await session.execute(reachable().where(User.role.in_(roles)).order_by(User.id))
    return [Recipient(id_, name, language or "en", team_id, role)
            for id_, name, language, team_id, role in rows]
