"""Orders can be undone and a rejected over-limit order is voided (a reversal entry, never a delete).

``receivables.voided_at`` / ``voided_by`` / ``void_reason``: a voided receivable keeps its row
and its amount, and counts as 0. The triggers of migration 0009 now keep
``open_amount = (amount, or 0 once voided) − SUM(allocations)``: setting ``voided_at`` takes the
amount out of the open amount in the same statement, whoever writes it, so every reader of
``open_amount > 0`` (balances, credit checks, /overdue, aging, the sweeps) stops seeing it.
``receivables.recorded_by``: who placed an order (only they may undo it), filled in for earlier
orders from the audit log.

``ix_receivables_source_issued`` (the summary's orders of a period) also covers ``voided_at``, so
leaving voided orders out still reads the index alone.

On SQLite the columns are added with ``ALTER TABLE … ADD COLUMN`` (a foreign key inline), not by
Alembic's batch mode: a rebuilt ``receivables`` would lose its triggers and partial indexes.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

#: The amount a receivable owes before allocations: its amount, or nothing once voided.
OWED_NEW = "(CASE WHEN NEW.voided_at IS NULL THEN NEW.amount ELSE 0 END)"
OWED_OLD = "(CASE WHEN OLD.voided_at IS NULL THEN OLD.amount ELSE 0 END)"

SQLITE_TRIGGER_NAMES = ("receivables_open_on_insert", "receivables_open_on_amount")
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER receivables_open_on_insert AFTER INSERT ON receivables
       WHEN NEW.open_amount IS NOT {OWED_NEW}
       BEGIN UPDATE receivables SET open_amount = {OWED_NEW} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER receivables_open_on_amount AFTER UPDATE OF amount, voided_at ON receivables
       WHEN {OWED_NEW} IS NOT {OWED_OLD}
       BEGIN
         UPDATE receivables SET open_amount = open_amount + {OWED_NEW} - {OWED_OLD} WHERE id = NEW.id;
       END""",
)
#: Migration 0009's, put back by the downgrade (the table is rebuilt there, and SQLite refuses to
#: rename a table into place while another table's trigger names it: all five are dropped first).
SQLITE_TRIGGER_NAMES_0009 = (
    *SQLITE_TRIGGER_NAMES,
    "allocations_settle_on_insert",
    "allocations_settle_on_delete",
    "allocations_settle_on_update",
)
SQLITE_TRIGGERS_0009 = (
    """CREATE TRIGGER receivables_open_on_insert AFTER INSERT ON receivables
       WHEN NEW.open_amount IS NOT NEW.amount
       BEGIN UPDATE receivables SET open_amount = NEW.amount WHERE id = NEW.id; END""",
    """CREATE TRIGGER receivables_open_on_amount AFTER UPDATE OF amount ON receivables
       WHEN NEW.amount IS NOT OLD.amount
       BEGIN
         UPDATE receivables SET open_amount = open_amount + NEW.amount - OLD.amount WHERE id = NEW.id;
       END""",
    """CREATE TRIGGER allocations_settle_on_insert AFTER INSERT ON allocations
       BEGIN
         UPDATE receivables SET open_amount = open_amount - NEW.amount WHERE id = NEW.receivable_id;
       END""",
    """CREATE TRIGGER allocations_settle_on_delete AFTER DELETE ON allocations
       BEGIN
         UPDATE receivables SET open_amount = open_amount + OLD.amount WHERE id = OLD.receivable_id;
       END""",
    """CREATE TRIGGER allocations_settle_on_update AFTER UPDATE OF amount, receivable_id ON allocations
       BEGIN
         UPDATE receivables SET open_amount = open_amount + OLD.amount WHERE id = OLD.receivable_id;
         UPDATE receivables SET open_amount = open_amount - NEW.amount WHERE id = NEW.receivable_id;
       END""",
)

POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS receivables_open_on_amount ON receivables",
    "DROP TRIGGER IF EXISTS receivables_open_on_insert ON receivables",
)
POSTGRES_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION receivables_keep_open_amount() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           NEW.open_amount := {OWED_NEW};
         ELSE
           NEW.open_amount := NEW.open_amount + {OWED_NEW} - {OWED_OLD};
         END IF;
         RETURN NEW;
       END $$""",
    f"""CREATE TRIGGER receivables_open_on_insert BEFORE INSERT ON receivables FOR EACH ROW
       WHEN (NEW.open_amount IS DISTINCT FROM {OWED_NEW}) EXECUTE FUNCTION receivables_keep_open_amount()""",
    f"""CREATE TRIGGER receivables_open_on_amount BEFORE UPDATE OF amount, voided_at ON receivables
       FOR EACH ROW WHEN ({OWED_NEW} IS DISTINCT FROM {OWED_OLD})
       EXECUTE FUNCTION receivables_keep_open_amount()""",
)
POSTGRES_TRIGGERS_0009 = (
    """CREATE OR REPLACE FUNCTION receivables_keep_open_amount() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           NEW.open_amount := NEW.amount;
         ELSE
           NEW.open_amount := NEW.open_amount + NEW.amount - OLD.amount;
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER receivables_open_on_insert BEFORE INSERT ON receivables FOR EACH ROW
       WHEN (NEW.open_amount IS DISTINCT FROM NEW.amount) EXECUTE FUNCTION receivables_keep_open_amount()""",
    """CREATE TRIGGER receivables_open_on_amount BEFORE UPDATE OF amount ON receivables FOR EACH ROW
       WHEN (NEW.amount IS DISTINCT FROM OLD.amount) EXECUTE FUNCTION receivables_keep_open_amount()""",
)

#: Earlier orders' placers, from their ``record_order`` audit entries.
BACKFILL_RECORDED_BY = """
UPDATE receivables SET recorded_by = (
    SELECT MIN(audit_log.actor_id) FROM audit_log
    WHERE audit_log.action = 'record_order' AND audit_log.entity = 'receivable'
      AND audit_log.entity_id = receivables.id)
WHERE source = 'order'
"""
FOREIGN_KEYS = (
    ("recorded_by", "fk_receivables_recorded_by_users"),
    ("voided_by", "fk_receivables_voided_by_users"),
)
INDEX = "ix_receivables_source_issued"
INDEX_COLUMNS_0009 = ["source", "issued_on", "rep_id", "amount"]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("receivables", sa.Column("voided_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("receivables", sa.Column("void_reason", sa.String(length=300), nullable=True))
    for column, constraint in FOREIGN_KEYS:
        if postgresql:
            op.add_column("receivables", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(constraint, "receivables", "users", [column], ["id"])
        else:
            op.execute(
                f"ALTER TABLE receivables ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {constraint} REFERENCES users (id)"
            )
    if postgresql:
        for statement in (*POSTGRES_DROP, *POSTGRES_TRIGGERS):
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.drop_index(INDEX, table_name="receivables")
    op.create_index(INDEX, "receivables", [*INDEX_COLUMNS_0009, "voided_at"])
    op.execute(BACKFILL_RECORDED_BY)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_index(INDEX, table_name="receivables")
    op.create_index(INDEX, "receivables", INDEX_COLUMNS_0009)
    if postgresql:
        for statement in (*POSTGRES_DROP, *POSTGRES_TRIGGERS_0009):
            op.execute(statement)
        for column, constraint in FOREIGN_KEYS:
            op.drop_constraint(constraint, "receivables", type_="foreignkey")
            op.drop_column("receivables", column)
        op.drop_column("receivables", "void_reason")
        op.drop_column("receivables", "voided_at")
        return
    # A column with a foreign key cannot be dropped in place on SQLite: the table is rebuilt, without
    # any trigger naming it meanwhile, and the ledger's triggers are then created again. Open amounts
    # are already right: each receivable, voided or not, keeps the one it has.
    for name in SQLITE_TRIGGER_NAMES_0009:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("receivables", schema=None) as batch_op:
        for column, _constraint in FOREIGN_KEYS:
            batch_op.drop_column(column)
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_at")
    for statement in SQLITE_TRIGGERS_0009:
        op.execute(statement)
