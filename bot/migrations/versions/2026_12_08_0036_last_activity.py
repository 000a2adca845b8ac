"""last activity (issue 24): each person's latest visit, own order, own collection or report, kept.

Every line of the company summary showed the person's last activity, read as four index probes per
person on every press: at ten times the bench company 274 ms of the summary for 10,000 people.
``users.last_activity_at`` now keeps it, by triggers in the same transaction as every write:

* a visit (``visits.visited_at``), an order the person recorded themselves (``receivables`` of
  ``source = 'order'`` with ``recorded_by = rep_id``: ``created_at``), a collection they recorded
  themselves (``received_at``) or a daily report (``submitted_at``) inserted moves it forward when
  later than what it holds;
* one deleted (a visit undone) or changed in who or when reads the latest again for the people
  concerned (on PostgreSQL after locking their ``users`` row, so that the read sees a concurrent
  insert that moved it, as migration 0012 does for customers).

"Latest" is the latest of them all, ever (a report filed late for an earlier day counts at the
moment it was filed). Filled here for everyone from what is recorded.

On SQLite a later migration that rebuilds one of these four tables must recreate its triggers
(README "Development").

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def _latest(person: str) -> str:
    """SQL: ``person``'s latest activity, from the four tables (NULL with none)."""
    return (
        "(SELECT MAX(at) FROM ("
        f"SELECT MAX(visited_at) AS at FROM visits WHERE rep_id = {person} "
        f"UNION ALL SELECT MAX(created_at) FROM receivables WHERE rep_id = {person} "
        f"AND source = 'order' AND recorded_by = {person} "
        f"UNION ALL SELECT MAX(received_at) FROM collections WHERE rep_id = {person} "
        f"AND recorded_by = {person} "
        f"UNION ALL SELECT MAX(submitted_at) FROM daily_reports WHERE rep_id = {person}"
        ") AS moments)"
    )


def _bump(person: str, moment: str) -> str:
    return (
        f"UPDATE users SET last_activity_at = {moment} WHERE id = {person} "
        f"AND (last_activity_at IS NULL OR last_activity_at < {moment})"
    )


def _read_again(person: str) -> str:
    return f"UPDATE users SET last_activity_at = {_latest(person)} WHERE id = {person}"


OWN = "{row}.recorded_by = {row}.rep_id"
#: (table, its moment, the columns a change of which reads the latest again, when a row counts)
SOURCES = (
    ("visits", "visited_at", ("visited_at", "rep_id"), None),
    (
        "receivables",
        "created_at",
        ("rep_id", "recorded_by", "source", "created_at"),
        "{row}.source = 'order' AND {row}.recorded_by = {row}.rep_id",
    ),
    (
        "collections",
        "received_at",
        ("rep_id", "recorded_by", "received_at"),
        "{row}.recorded_by = {row}.rep_id",
    ),
    ("daily_reports", "submitted_at", ("rep_id", "submitted_at"), None),
)


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, moment, columns, counts in SOURCES:
        when = f"WHEN {counts.format(row='NEW')}" if counts else ""
        statements += [
            f"""CREATE TRIGGER {table}_activity_on_insert AFTER INSERT ON {table} {when}
               BEGIN {_bump("NEW.rep_id", f"NEW.{moment}")}; END""",
            f"""CREATE TRIGGER {table}_activity_on_delete AFTER DELETE ON {table}
               BEGIN {_read_again("OLD.rep_id")}; END""",
            f"""CREATE TRIGGER {table}_activity_on_update AFTER UPDATE OF {", ".join(columns)} ON {table}
               BEGIN {_read_again("OLD.rep_id")}; {_read_again("NEW.rep_id")}; END""",
        ]
    return statements


SQLITE_TRIGGER_NAMES = tuple(
    f"{table}_activity_on_{event}" for table, *_ in SOURCES for event in ("insert", "delete", "update")
)


def _postgres_triggers() -> list[str]:
    statements = []
    for table, moment, columns, counts in SOURCES:
        counted = counts.format(row="NEW") if counts else "true"
        changed = " OR ".join(f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in columns)
        statements += [
            f"""CREATE FUNCTION {table}_keep_activity() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF TG_OP = 'INSERT' THEN
                   IF {counted} THEN
                     {_bump("NEW.rep_id", f"NEW.{moment}")};
                   END IF;
                   RETURN NULL;
                 END IF;
                 PERFORM 1 FROM users WHERE id = OLD.rep_id FOR UPDATE;
                 {_read_again("OLD.rep_id")};
                 IF TG_OP = 'UPDATE' AND NEW.rep_id IS DISTINCT FROM OLD.rep_id THEN
                   PERFORM 1 FROM users WHERE id = NEW.rep_id FOR UPDATE;
                   {_read_again("NEW.rep_id")};
                 END IF;
                 RETURN NULL;
               END $$""",
            f"""CREATE TRIGGER {table}_keep_activity_on_write AFTER INSERT OR DELETE
               ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_keep_activity()""",
            f"""CREATE TRIGGER {table}_keep_activity_on_update AFTER UPDATE ON {table} FOR EACH ROW
               WHEN ({changed}) EXECUTE FUNCTION {table}_keep_activity()""",
        ]
    return statements


def _postgres_drop() -> list[str]:
    statements = []
    for table, *_ in SOURCES:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_keep_activity_on_update ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_keep_activity_on_write ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_keep_activity()",
        ]
    return statements


def upgrade() -> None:
    op.add_column("users", sa.Column("last_activity_at", models.base.UTCDateTime(), nullable=True))
    op.execute(f"UPDATE users SET last_activity_at = {_latest('users.id')}")
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _postgres_drop():
            op.execute(statement)
        op.drop_column("users", "last_activity_at")
        return
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Not Alembic's batch mode: rebuilding ``users`` trips every foreign key that names it.
    op.execute("ALTER TABLE users DROP COLUMN last_activity_at")
