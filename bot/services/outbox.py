"""Queueing pushes: one row per (recipient, job, subject, day or level), never two."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_for
from models import Outbox

Buttons = list[list[dict[str, str]]]


def row(
    *,
    recipient_id: int,
    job: str,
    dedup_key: str,
    text: str,
    now: datetime,
    not_before: datetime | None = None,
    buttons: Buttons | None = None,
) -> dict[str, Any]:
    """The outbox row of one push (``dedup_key`` makes it unique: see :func:`enqueue`)."""
    return {
        "recipient_id": recipient_id,
        "job": job,
        "dedup_key": dedup_key[:200],
        "text": text,
        "buttons": buttons,
        "not_before": not_before or now,
        "created_at": now,
        "attempts": 0,
    }


async def enqueue(
    session: AsyncSession,
    *,
    recipient_id: int,
    job: str,
    dedup_key: str,
    text: str,
    now: datetime,
    not_before: datetime | None = None,
    buttons: Buttons | None = None,
) -> bool:
    """Queue a push unless one with ``dedup_key`` exists; True if this call queued it.

    ``INSERT … ON CONFLICT DO NOTHING`` makes this safe when two processes or a
    re-run job race for the same key: exactly one row wins.
    """
    values = row(
        recipient_id=recipient_id,
        job=job,
        dedup_key=dedup_key,
        text=text,
        now=now,
        not_before=not_before,
        buttons=buttons,
    )
    statement = (
        insert_for(session, Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Queue many pushes (:func:`row`) in one statement, each unless its key is queued already; how
    many were queued. A job's thousands of pushes go this way (jobs/context.py): one statement per
    push cost a round trip each, most of the time a 10,000-rep morning took."""
    if not rows:
        return 0
    statement = (
        insert_for(session, Outbox)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Outbox.id)
    )
    return len((await session.execute(statement)).all())
