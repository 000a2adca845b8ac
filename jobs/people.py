"""Who a job may push to: active people who have talked to the bot and not blocked it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.people.access import Caller
from models import Role, User


@dataclass(frozen=True)
class Recipient:
    id: int
    name: str
    language: str
    team_id: int | None
    role: Role
    telegram_id: int

    def as_caller(self) -> Caller:
        """The recipient as the services' acting user, for figures in their scope."""
        return Caller(self.id, self.telegram_id, self.name, self.role, self.team_id, self.language)


def reachable() -> Select[int, str, str | None, int | None, Role, int]:
    return select(User.id, User.name, User.language, User.team_id, User.role, User.telegram_id).where(
        User.active, User.blocked_at.is_(None), User.first_seen_at.is_not(None)
    )


async def recipients(session: AsyncSession, *roles: Role) -> list[Recipient]:
    rows = await session.execute(reachable().where(User.role.in_(roles)).order_by(User.id))
    return [
        Recipient(id_, name, language or "en", team_id, role, telegram_id)
        for id_, name, language, team_id, role, telegram_id in rows
    ]
