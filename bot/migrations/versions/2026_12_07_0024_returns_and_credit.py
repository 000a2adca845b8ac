"""Returns (銷售退貨證明單) and credit notes; unapplied credit kept and used.

* ``returns``: a rep's request to take goods back, decided through its ``approvals`` row.
* ``credit_notes``: an approved return's certificate number (``RT-YYYY-NNNN``) and amount; it
  settles invoices through ``allocations`` as a collection does.
* ``allocations.credit_note_id`` beside ``collection_id`` (now nullable), a CHECK that exactly one
  is set, and ``from_credit``: money applied later out of the customer's unapplied credit.
* ``customers.credit`` (and a partial index of the customers holding some): the customer's
  unapplied credit, SUM(collections) + SUM(credit notes) − SUM(their allocations), kept by triggers
  in the same transaction as every write (whoever writes), as ``receivables.open_amount`` is
  (migration 0009): a collection or credit note inserted, its
  amount or customer changed, or deleted; an allocation inserted, updated or deleted. The
  allocation's customer is its source's (the collection's or the credit note's), so credit moved
  with its collection (a prospect merged into a customer) moves with it. Filled here for the
  collections already recorded.

The triggers of 0009/0019 that keep ``receivables.open_amount`` work unchanged: an allocation from a
credit note settles its receivable as one from a collection does.

On SQLite ``allocations`` is rebuilt by Alembic's batch mode (a column becomes nullable, a CHECK is
added): a rebuild drops the table's triggers, and SQLite refuses to rename the rebuilt table into
place while another table's trigger names it, so every ledger trigger is dropped first and all are
created again afterwards (README "Development"). ``customers.credit`` is an ``ALTER TABLE … ADD
COLUMN``: no rebuild of ``customers`` (whose keeper columns have triggers of 0012).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

ONE_SOURCE = "(collection_id IS NULL) <> (credit_note_id IS NULL)"
CHECK = "ck_allocations_one_source"
CREDIT_NOTE_FK = "fk_allocations_credit_note_id_credit_notes"
CREDIT_INDEX = "ix_customers_credit"
HOLDS_CREDIT = "credit > 0"

# -- the triggers that keep receivables.open_amount (migrations 0009 and 0019), for SQLite's rebuild --

OWED_NEW = "(CASE WHEN NEW.voided_at IS NULL THEN NEW.amount ELSE 0 END)"
OWED_OLD = "(CASE WHEN OLD.voided_at IS NULL THEN OLD.amount ELSE 0 END)"
SQLITE_OPEN_AMOUNT_TRIGGERS = (
    f"""CREATE TRIGGER receivables_open_on_insert AFTER INSERT ON receivables
       WHEN NEW.open_amount IS NOT {OWED_NEW}
       BEGIN UPDATE receivables SET open_amount = {OWED_NEW} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER receivables_open_on_amount AFTER UPDATE OF amount, voided_at ON receivables
       WHEN {OWED_NEW} IS NOT {OWED_OLD}
       BEGIN
         UPDATE receivables SET open_amount = open_amount + {OWED_NEW} - {OWED_OLD} WHERE id = NEW.id;
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
SQLITE_OPEN_AMOUNT_NAMES = (
    "receivables_open_on_insert",
    "receivables_open_on_amount",
    "allocations_settle_on_insert",
    "allocations_settle_on_delete",
    "allocations_settle_on_update",
)

# -- customers.credit ----------------------------------------------------------------------------------


def _unapplied(row: str, source: str, key: str) -> str:
    """SQL: what the collection or credit note ``row`` (NEW or OLD) has not settled."""
    return (
        f"({row}.amount - COALESCE((SELECT SUM(allocations.amount) FROM allocations "
        f"WHERE allocations.{key} = {row}.id), 0))"
    )


def _allocation_customer(row: str) -> str:
    """SQL: the customer whose money an allocation ``row`` (NEW or OLD) is: its source's."""
    return (
        f"COALESCE((SELECT customer_id FROM collections WHERE id = {row}.collection_id), "
        f"(SELECT customer_id FROM credit_notes WHERE id = {row}.credit_note_id))"
    )


SOURCES = (("collections", "collection_id"), ("credit_notes", "credit_note_id"))


def _sqlite_credit_triggers() -> list[str]:
    statements = []
    for table, key in SOURCES:
        statements += [
            f"""CREATE TRIGGER {table}_credit_on_insert AFTER INSERT ON {table}
               BEGIN UPDATE customers SET credit = credit + NEW.amount WHERE id = NEW.customer_id; END""",
            f"""CREATE TRIGGER {table}_credit_on_update AFTER UPDATE OF amount, customer_id ON {table}
               WHEN NEW.amount IS NOT OLD.amount OR NEW.customer_id IS NOT OLD.customer_id
               BEGIN
                 UPDATE customers SET credit = credit - {_unapplied("OLD", table, key)}
                   WHERE id = OLD.customer_id;
                 UPDATE customers SET credit = credit + {_unapplied("NEW", table, key)}
                   WHERE id = NEW.customer_id;
               END""",
            f"""CREATE TRIGGER {table}_credit_on_delete AFTER DELETE ON {table}
               BEGIN
                 UPDATE customers SET credit = credit - {_unapplied("OLD", table, key)}
                   WHERE id = OLD.customer_id;
               END""",
        ]
    statements += [
        f"""CREATE TRIGGER allocations_credit_on_insert AFTER INSERT ON allocations
           BEGIN
             UPDATE customers SET credit = credit - NEW.amount WHERE id = {_allocation_customer("NEW")};
           END""",
        f"""CREATE TRIGGER allocations_credit_on_delete AFTER DELETE ON allocations
           BEGIN
             UPDATE customers SET credit = credit + OLD.amount WHERE id = {_allocation_customer("OLD")};
           END""",
        f"""CREATE TRIGGER allocations_credit_on_update
           AFTER UPDATE OF amount, collection_id, credit_note_id ON allocations
           BEGIN
             UPDATE customers SET credit = credit + OLD.amount WHERE id = {_allocation_customer("OLD")};
             UPDATE customers SET credit = credit - NEW.amount WHERE id = {_allocation_customer("NEW")};
           END""",
    ]
    return statements


SQLITE_CREDIT_NAMES = (
    *(f"{table}_credit_on_{event}" for table, _key in SOURCES for event in ("insert", "update", "delete")),
    "allocations_credit_on_insert",
    "allocations_credit_on_delete",
    "allocations_credit_on_update",
)


def _postgres_credit_triggers() -> list[str]:
    statements = []
    for table, key in SOURCES:
        statements += [
            f"""CREATE FUNCTION {table}_keep_credit() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF TG_OP = 'INSERT' THEN
                   UPDATE customers SET credit = credit + NEW.amount WHERE id = NEW.customer_id;
                   RETURN NULL;
                 END IF;
                 UPDATE customers SET credit = credit - {_unapplied("OLD", table, key)}
                   WHERE id = OLD.customer_id;
                 IF TG_OP = 'UPDATE' THEN
                   UPDATE customers SET credit = credit + {_unapplied("NEW", table, key)}
                     WHERE id = NEW.customer_id;
                 END IF;
                 RETURN NULL;
               END $$""",
            f"""CREATE TRIGGER {table}_keep_credit AFTER INSERT OR DELETE OR UPDATE OF amount, customer_id
               ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_keep_credit()""",
        ]
    statements += [
        f"""CREATE FUNCTION allocations_keep_credit() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF TG_OP IN ('UPDATE', 'DELETE') THEN
               UPDATE customers SET credit = credit + OLD.amount WHERE id = {_allocation_customer("OLD")};
             END IF;
             IF TG_OP IN ('INSERT', 'UPDATE') THEN
               UPDATE customers SET credit = credit - NEW.amount WHERE id = {_allocation_customer("NEW")};
             END IF;
             RETURN NULL;
           END $$""",
        """CREATE TRIGGER allocations_keep_credit
           AFTER INSERT OR DELETE OR UPDATE OF amount, collection_id, credit_note_id
           ON allocations FOR EACH ROW EXECUTE FUNCTION allocations_keep_credit()""",
    ]
    return statements


POSTGRES_CREDIT_DROP = (
    "DROP TRIGGER IF EXISTS allocations_keep_credit ON allocations",
    "DROP FUNCTION IF EXISTS allocations_keep_credit()",
    "DROP TRIGGER IF EXISTS credit_notes_keep_credit ON credit_notes",
    "DROP FUNCTION IF EXISTS credit_notes_keep_credit()",
    "DROP TRIGGER IF EXISTS collections_keep_credit ON collections",
    "DROP FUNCTION IF EXISTS collections_keep_credit()",
)

#: Every customer's unapplied credit from the collections already recorded (no credit notes yet).
BACKFILL_CREDIT = """
UPDATE customers SET credit =
    COALESCE((SELECT SUM(collections.amount) FROM collections
              WHERE collections.customer_id = customers.id), 0)
  - COALESCE((SELECT SUM(allocations.amount) FROM allocations
              JOIN collections ON collections.id = allocations.collection_id
              WHERE collections.customer_id = customers.id), 0)
"""


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    money = models.base.Money(precision=14, scale=2)
    op.create_table(
        "returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("receivable_id", sa.Integer(), nullable=True),
        sa.Column("amount", money, nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"], name="fk_returns_approval_id_approvals"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_returns_customer_id_customers"),
        sa.ForeignKeyConstraint(
            ["receivable_id"], ["receivables.id"], name="fk_returns_receivable_id_receivables"
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name="fk_returns_rep_id_users"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name="fk_returns_requested_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_returns"),
        sa.UniqueConstraint("approval_id", name="uq_returns_approval_id"),
        sa.UniqueConstraint("source_key", name="uq_returns_source_key"),
    )
    op.create_index("ix_returns_customer_id", "returns", ["customer_id"])
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("issued_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_credit_notes_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(["issued_by"], ["users.id"], name="fk_credit_notes_issued_by_users"),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name="fk_credit_notes_rep_id_users"),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], name="fk_credit_notes_return_id_returns"),
        sa.PrimaryKeyConstraint("id", name="pk_credit_notes"),
        sa.UniqueConstraint("number", name="uq_credit_notes_number"),
        sa.UniqueConstraint("return_id", name="uq_credit_notes_return_id"),
        sa.UniqueConstraint("source_key", name="uq_credit_notes_source_key"),
    )
    op.create_index("ix_credit_notes_customer_id", "credit_notes", ["customer_id"])
    op.create_index("ix_credit_notes_issued", "credit_notes", ["issued_at", "rep_id", "amount"])

    op.add_column("customers", sa.Column("credit", money, nullable=False, server_default="0"))
    op.execute(BACKFILL_CREDIT)
    op.create_index(
        CREDIT_INDEX,
        "customers",
        ["credit"],
        sqlite_where=sa.text(HOLDS_CREDIT),
        postgresql_where=sa.text(HOLDS_CREDIT),
    )

    if postgresql:
        op.alter_column("allocations", "collection_id", existing_type=sa.Integer(), nullable=True)
        op.add_column("allocations", sa.Column("credit_note_id", sa.Integer(), nullable=True))
        op.add_column(
            "allocations",
            sa.Column("from_credit", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        )
        op.create_foreign_key(CREDIT_NOTE_FK, "allocations", "credit_notes", ["credit_note_id"], ["id"])
        op.create_check_constraint(op.f(CHECK), "allocations", ONE_SOURCE)
    else:
        for name in SQLITE_OPEN_AMOUNT_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with op.batch_alter_table("allocations", schema=None, recreate="always") as batch_op:
            batch_op.alter_column("collection_id", existing_type=sa.Integer(), nullable=True)
            batch_op.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
            batch_op.add_column(
                sa.Column("from_credit", sa.Boolean(), nullable=False, server_default=sa.text("false"))
            )
            batch_op.create_foreign_key(CREDIT_NOTE_FK, "credit_notes", ["credit_note_id"], ["id"])
            batch_op.create_check_constraint(op.f(CHECK), ONE_SOURCE)
    op.create_index("ix_allocations_credit_note_id", "allocations", ["credit_note_id"])

    if postgresql:
        for statement in _postgres_credit_triggers():
            op.execute(statement)
    else:
        for statement in (*SQLITE_OPEN_AMOUNT_TRIGGERS, *_sqlite_credit_triggers()):
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute("DELETE FROM allocations WHERE credit_note_id IS NOT NULL")
    if postgresql:
        for statement in POSTGRES_CREDIT_DROP:
            op.execute(statement)
    else:
        for name in (*SQLITE_CREDIT_NAMES, *SQLITE_OPEN_AMOUNT_NAMES):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_allocations_credit_note_id", table_name="allocations")
    if postgresql:
        op.drop_constraint(op.f(CHECK), "allocations", type_="check")
        op.drop_constraint(CREDIT_NOTE_FK, "allocations", type_="foreignkey")
        op.drop_column("allocations", "from_credit")
        op.drop_column("allocations", "credit_note_id")
        op.alter_column("allocations", "collection_id", existing_type=sa.Integer(), nullable=False)
    else:
        with op.batch_alter_table("allocations", schema=None, recreate="always") as batch_op:
            batch_op.drop_constraint(op.f(CHECK), type_="check")
            batch_op.drop_constraint(CREDIT_NOTE_FK, type_="foreignkey")
            batch_op.drop_column("from_credit")
            batch_op.drop_column("credit_note_id")
            batch_op.alter_column("collection_id", existing_type=sa.Integer(), nullable=False)
        for statement in SQLITE_OPEN_AMOUNT_TRIGGERS:
            op.execute(statement)
    # Dropped in place (SQLite 3.35+): a rebuilt customers table would lose the triggers of 0012.
    op.drop_index(CREDIT_INDEX, table_name="customers")
    op.execute("ALTER TABLE customers DROP COLUMN credit")
    op.drop_index("ix_credit_notes_issued", table_name="credit_notes")
    op.drop_index("ix_credit_notes_customer_id", table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_index("ix_returns_customer_id", table_name="returns")
    op.drop_table("returns")
