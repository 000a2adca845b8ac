"""Who uses the bot: teams (sales regions), users with one role each, and invites."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, IdMixin, str_enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    DIRECTOR = "director"
    MANAGER = "manager"
    FINANCE = "finance"
    REP = "rep"
    #: The market-information network (市场部): reads the market feedback, nothing of the ledger.
    MARKETING = "marketing"


role_enum = str_enum(Role, "role")


class Team(IdMixin, Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(80), unique=True)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, ondelete="SET NULL", name="fk_teams_manager_id_users")
    )
    created_at: Mapped[datetime]

    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id], lazy="raise")


class User(IdMixin, Base):
    __tablename__ = "users"

    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    #: As long as Telegram allows: a first name (64) and a last name (64) and a space (migration 0015).
    name: Mapped[str] = mapped_column(String(129))
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    role: Mapped[Role] = mapped_column(role_enum)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    #: First time the user wrote to the bot: until then Telegram has no chat to write to.
    first_seen_at: Mapped[datetime | None]
    #: Pushes wait until then (``/mute``); replies to the user's own messages are not affected.
    muted_until: Mapped[datetime | None]
    #: Set when Telegram says the user blocked the bot; pushes stop until they write again.
    blocked_at: Mapped[datetime | None]
    #: Hash of the command menu last set for this user's chat, so start-up only sets changed ones.
    menu_hash: Mapped[str | None] = mapped_column(String(16))
    #: The person's latest visit, own order, own collection or report (UTC): kept by database
    #: triggers on those tables (migration 0036), never written by the bot itself.
    last_activity_at: Mapped[datetime | None]

    team: Mapped[Team | None] = relationship(foreign_keys=[team_id], lazy="raise")


class Invite(IdMixin, Base):
    """A single-use deep-link token; only its SHA-256 is stored."""

    __tablename__ = "invites"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(role_enum)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None]
    #: The Telegram update that created it: a redelivered /invite creates nothing new.
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: Set when the invite was withdrawn (``/invites``, or its creator was deactivated or lost the
    #: right to issue it): the link no longer works. ``revoked_by`` is None for the command line.
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
