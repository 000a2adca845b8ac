"""Audit entries are written as their transaction commits, in one statement, and only if it commits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from bot.db import Database
from bot.services import audit
from models import AuditLog, Team

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _note(session: object, n: int) -> None:
    audit.record(
        session,
        actor_id=None,
        action="test.note",
        entity="team",
        entity_id=n,
        at=NOW,
        before={"n": n},
        after={"n": n + 1},
    )


async def _entries(db: Database) -> list[tuple[int | None, dict[str, int] | None]]:
    async with db.reading() as session:
        rows = await session.execute(
            select(AuditLog.entity_id, AuditLog.after)
            .where(AuditLog.action == "test.note")
            .order_by(AuditLog.id)
        )
        return [tuple(row) for row in rows]


async def test_entries_are_written_at_commit_in_one_insert_in_the_order_noted(db: Database) -> None:
    inserts: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            inserts.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.transaction(inline=True) as session:
            for n in range(20):
                _note(session, n)
            assert inserts == []  # noted, not written yet
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(inserts) == 1
    assert await _entries(db) == [(n, {"n": n + 1}) for n in range(20)]


async def test_a_transaction_rolled_back_writes_none_and_leaves_nothing_for_the_next(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            _note(session, 1)
            raise RuntimeError("the action failed")
    async with db.transaction() as session:
        _note(session, 2)
    assert await _entries(db) == [(2, {"n": 3})]


async def test_a_savepoint_rolled_back_keeps_what_was_noted_before_it(db: Database) -> None:
    async with db.transaction() as session:
        _note(session, 1)
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                session.add(Team(name="Savepoint", created_at=NOW))
                raise RuntimeError("undone")
        _note(session, 2)
    assert await _entries(db) == [(1, {"n": 2}), (2, {"n": 3})]
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).where(Team.name == "Savepoint")) == 0


async def test_entries_are_written_with_the_units_of_work_changes(db: Database) -> None:
    async with db.transaction() as session:
        team = Team(name="Audited", created_at=NOW)
        session.add(team)
        await session.flush()
        _note(session, team.id)
        team.name = "Audited and renamed"  # still pending as the transaction commits
    async with db.reading() as session:
        assert await session.scalar(select(Team.name).where(Team.id == team.id)) == "Audited and renamed"
    assert await _entries(db) == [(team.id, {"n": team.id + 1})]
