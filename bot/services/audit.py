"""Writing the audit log: one call per change, inside the action's transaction.

The entries are kept on the session and written as the transaction commits, all of them in one
``INSERT`` (after the unit of work has flushed, so the people and rows they name exist): an
action that changes twenty collections writes one statement, and a visit, whose own rows are
Core statements, needs no unit of work at all. A transaction rolled back writes none of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, SessionTransaction

from models import AuditLog

_PENDING = "fieldbot.audit_pending"
_INSERT = insert(AuditLog.__table__)


def record(
    session: Any,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Note an entry, written when ``session`` (an ``AsyncSession`` or a ``Session``) commits."""
    session.info.setdefault(_PENDING, []).append(
        {
            "actor_id": actor_id,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "before": before,
            "after": after,
            "at": at,
        }
    )


def pending(session: Any) -> int:
    """How many entries wait for the commit: a mark for :func:`forget_since`."""
    return len(session.info.get(_PENDING, ()))


def forget_since(session: Any, mark: int) -> None:
    """Drop the entries noted after ``mark``: the savepoint they were made in was rolled back."""
    del session.info.get(_PENDING, [])[mark:]


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    entries = session.info.pop(_PENDING, None)
    if entries:
        session.flush()
        session.execute(_INSERT, entries)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint within it
        session.info.pop(_PENDING, None)
