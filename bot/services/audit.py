"""Writing the audit log: one call per change, inside the action's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditLog


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(AuditLog(actor_id=actor_id, action=action, entity=entity, entity_id=entity_id,
                         before=before, after=after, at=at))
