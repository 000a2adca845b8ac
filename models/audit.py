"""An append-only record of who changed what, for the ledger's sake."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin


class AuditLog(IdMixin, Base):
    __tablename__ = "audit_log"
    #: The recent entries of one action (a visit's "was it undone?" on every new visit).
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(index=True)
