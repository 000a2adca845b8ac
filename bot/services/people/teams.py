"""Teams (sales regions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.errors import Invalid
from bot.text import one_line, search_key
from models import Team

MAX_TEAM_NAME = 80


@dataclass(frozen=True)
class TeamRef:
    id: int
    name: str


def clean_team_name(name: str) -> str:
    cleaned = one_line(name)
    if not cleaned or len(cleaned) > MAX_TEAM_NAME:
        raise Invalid(N_("A team name has 1 to {limit} characters."), limit=MAX_TEAM_NAME)
    return cleaned


async def find_team(session: AsyncSession, name: str) -> Team | None:
    """Case-insensitive lookup by name."""
    cleaned = clean_team_name(name)
    return await session.scalar(select(Team).where(func.lower(Team.name) == cleaned.lower()))


async def get_or_create_team(session: AsyncSession, name: str, now: datetime) -> tuple[Team, bool]:
    """The team called ``name``, created if new; the flag says whether it was created."""
    team = await find_team(session, name)
    if team is not None:
        return team, False
    team = Team(name=clean_team_name(name), created_at=now)
    session.add(team)
    await session.flush()
    return team, True


async def team_names(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Team.name).order_by(Team.name)))


async def teams_like(session: AsyncSession, name: str, limit: int) -> tuple[TeamRef, ...]:
    """The existing teams, the ones spelt most like ``name`` first (a typo's team leads), at most
    ``limit``. A sales force has a handful of teams: they are read and compared in Python."""
    typed = search_key(name)
    teams = [TeamRef(id_, team) for id_, team in await session.execute(select(Team.id, Team.name))]

    def likeness(team: TeamRef) -> tuple[float, str, int]:
        return -SequenceMatcher(None, typed, search_key(team.name)).ratio(), search_key(team.name), team.id

    return tuple(sorted(teams, key=likeness)[:limit])
