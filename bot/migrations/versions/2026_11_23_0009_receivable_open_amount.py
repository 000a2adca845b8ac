"""Receivables keep their open amount (amount − allocations), kept by the database; indexes for the summary.

The open/overdue/aging queries used to recompute every receivable's open amount
from the whole allocations table on each call (bench, full size: /overdue 2.4 s,
/summary month 3.5 s on SQLite). Now ``receivables.open_amount`` holds it and a
partial indexes list only the open receivables (by customer and by rep).

Triggers keep the column equal to ``amount − SUM(allocations.amount)`` in the
same transaction as every write, whoever writes: an allocation inserted (a
collection, or a reversal's negative allocations), updated or deleted; an
invoice's amount changed (re-import); a receivable inserted (it starts fully
open whatever the insert said). The ledger stays the source of truth; the test
``tests/test_open_amounts.py`` checks the stored amounts against it.

SQLite drops a table's triggers when Alembic's batch mode rebuilds the table: a
later migration that rebuilds ``receivables`` or ``allocations`` must create
them again (the test above fails if it does not).

Also indexed for ``/summary``: orders by issue date (covering), collections by rep and time
made covering (method, amount, reversal), and collections not handed in (a partial index: the
cash and cheques reps still hold).

Money is integer cents on SQLite and NUMERIC on PostgreSQL; both columns of a
subtraction share the storage, so the SQL below is the same on both.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPEN = "open_amount > 0"
NOT_HANDED_IN = "handed_in_at IS NULL"
INDEXES = (
    ("ix_receivables_open_by_customer", ["customer_id", "due_on", "open_amount"]),
    ("ix_receivables_open_by_rep", ["rep_id", "due_on", "open_amount"]),
)
BACKFILL = """
UPDATE receivables SET open_amount = amount - COALESCE(
    (SELECT SUM(allocations.amount) FROM allocations WHERE allocations.receivable_id = receivables.id), 0)
"""

SQLITE_TRIGGERS = (
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
SQLITE_TRIGGER_NAMES = (
    "receivables_open_on_insert",
    "receivables_open_on_amount",
    "allocations_settle_on_insert",
    "allocations_settle_on_delete",
    "allocations_settle_on_update",
)

POSTGRES_TRIGGERS = (
    """CREATE FUNCTION receivables_keep_open_amount() RETURNS trigger LANGUAGE plpgsql AS $$
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
    """CREATE FUNCTION allocations_settle_receivables() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           UPDATE receivables SET open_amount = open_amount + OLD.amount WHERE id = OLD.receivable_id;
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           UPDATE receivables SET open_amount = open_amount - NEW.amount WHERE id = NEW.receivable_id;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER allocations_settle_receivables AFTER INSERT OR DELETE OR UPDATE OF amount, receivable_id
       ON allocations FOR EACH ROW EXECUTE FUNCTION allocations_settle_receivables()""",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS allocations_settle_receivables ON allocations",
    "DROP FUNCTION IF EXISTS allocations_settle_receivables()",
    "DROP TRIGGER IF EXISTS receivables_open_on_amount ON receivables",
    "DROP TRIGGER IF EXISTS receivables_open_on_insert ON receivables",
    "DROP FUNCTION IF EXISTS receivables_keep_open_amount()",
)


def upgrade() -> None:
    op.add_column(
        "receivables",
        sa.Column(
            "open_amount", models.base.Money(precision=14, scale=2), nullable=False, server_default="0"
        ),
    )
    op.execute(BACKFILL)
    for name, columns in INDEXES:
        op.create_index(
            name, "receivables", columns, sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN)
        )
    op.create_index(
        "ix_receivables_source_issued", "receivables", ["source", "issued_on", "rep_id", "amount"]
    )
    op.create_index(
        "ix_collections_not_handed_in",
        "collections",
        ["rep_id"],
        sqlite_where=sa.text(NOT_HANDED_IN),
        postgresql_where=sa.text(NOT_HANDED_IN),
    )
    op.drop_index("ix_collections_rep_received", table_name="collections")
    op.create_index(
        "ix_collections_rep_received",
        "collections",
        ["rep_id", "received_at", "method", "amount", "reverses_id"],
    )
    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_collections_rep_received", table_name="collections")
    op.create_index("ix_collections_rep_received", "collections", ["rep_id", "received_at"])
    op.drop_index("ix_collections_not_handed_in", table_name="collections")
    op.drop_index("ix_receivables_source_issued", table_name="receivables")
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="receivables")
    with op.batch_alter_table("receivables", schema=None) as batch_op:
        batch_op.drop_column("open_amount")
