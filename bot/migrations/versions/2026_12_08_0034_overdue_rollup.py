"""overdue rollup (issue 24): each customer's overdue amount and invoices, kept as the ledger moves.

/overdue's first page summed every overdue invoice per customer on each press: at ten times the
bench company 496,000 invoices of 377,000 customers, 430 ms against a 100 ms target. Here:

* ``overdue_totals``: a row per customer with overdue receivables: what its open receivables due
  before ``overdue_rollup.as_of`` leave open (``amount``), and how many they are (``invoices``).
  A narrow table of its own: a day's move rewrites thousands of rows, which as columns of
  ``customers`` cost a new version of a wide row and an entry in each of its thirteen indexes.
* ``overdue_rollup``: one row, the day the figures are as of (NULL: nothing counted).
  ``bot/services/money/overdue_rollup.py`` moves it to the company's today, forward or back, a
  range of due dates at a time. Built here as of the database server's date.
* Triggers on ``receivables``: an insert, a delete, and a change of ``open_amount`` (every
  allocation, void and amount change moves it, through the triggers of 0009/0019/0024),
  ``due_on`` or ``customer_id`` (a prospect merged into a customer) take the row's old share off
  its old customer and add its new share to its new one. A share is the open amount, and one
  invoice, of an open receivable due before ``as_of``; a customer's row goes when its last
  invoice does.

On SQLite a later migration that rebuilds ``receivables`` must recreate these triggers, as it must
those of 0009/0019/0024 (README "Development").

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

AS_OF = "(SELECT as_of FROM overdue_rollup WHERE id = 1)"


def _counted(row: str, due_before: str = AS_OF) -> str:
    """SQL: the receivable ``row`` (NEW or OLD) is in its customer's overdue figures."""
    return f"({row}.open_amount > 0 AND {row}.due_on < {due_before})"


def _add(row: str, due_before: str = AS_OF) -> str:
    """SQL: add ``row``'s share to its customer's figures (a row for the customer if it has none)."""
    return (
        f"INSERT INTO overdue_totals (customer_id, amount, invoices) "
        f"SELECT {row}.customer_id, {row}.open_amount, 1 WHERE {_counted(row, due_before)} "
        "ON CONFLICT (customer_id) DO UPDATE SET amount = overdue_totals.amount + excluded.amount, "
        "invoices = overdue_totals.invoices + 1"
    )


def _take(row: str, due_before: str = AS_OF) -> tuple[str, str]:
    """SQL: take ``row``'s share off its customer's figures (and the row, with its last invoice)."""
    return (
        f"UPDATE overdue_totals SET amount = amount - {row}.open_amount, invoices = invoices - 1 "
        f"WHERE customer_id = {row}.customer_id AND {_counted(row, due_before)}",
        f"DELETE FROM overdue_totals WHERE customer_id = {row}.customer_id AND invoices = 0",
    )


SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER receivables_overdue_on_insert AFTER INSERT ON receivables
       WHEN {_counted("NEW")}
       BEGIN {_add("NEW")}; END""",
    f"""CREATE TRIGGER receivables_overdue_on_delete AFTER DELETE ON receivables
       WHEN {_counted("OLD")}
       BEGIN {"; ".join(_take("OLD"))}; END""",
    f"""CREATE TRIGGER receivables_overdue_on_update AFTER UPDATE OF open_amount, due_on, customer_id
       ON receivables
       WHEN {_counted("OLD")} OR {_counted("NEW")}
       BEGIN
         {"; ".join(_take("OLD"))};
         {_add("NEW")};
       END""",
)
SQLITE_TRIGGER_NAMES = (
    "receivables_overdue_on_insert",
    "receivables_overdue_on_delete",
    "receivables_overdue_on_update",
)

POSTGRES_TRIGGERS = (
    f"""CREATE FUNCTION receivables_keep_overdue() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         due_before date := {AS_OF};
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           {"; ".join(_take("OLD", "due_before"))};
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           {_add("NEW", "due_before")};
         END IF;
         RETURN NULL;
       END $$""",
    # Not ``UPDATE OF open_amount``: PostgreSQL fires that only for a statement naming the column,
    # and a void or an amount change moves it in the BEFORE trigger of 0009/0019.
    """CREATE TRIGGER receivables_keep_overdue_on_write AFTER INSERT OR DELETE
       ON receivables FOR EACH ROW EXECUTE FUNCTION receivables_keep_overdue()""",
    """CREATE TRIGGER receivables_keep_overdue_on_update AFTER UPDATE ON receivables FOR EACH ROW
       WHEN (NEW.open_amount IS DISTINCT FROM OLD.open_amount OR NEW.due_on IS DISTINCT FROM OLD.due_on
             OR NEW.customer_id IS DISTINCT FROM OLD.customer_id)
       EXECUTE FUNCTION receivables_keep_overdue()""",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS receivables_keep_overdue_on_update ON receivables",
    "DROP TRIGGER IF EXISTS receivables_keep_overdue_on_write ON receivables",
    "DROP FUNCTION IF EXISTS receivables_keep_overdue()",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "overdue_rollup",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_overdue_rollup_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_rollup")),
    )
    op.create_table(
        "overdue_totals",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("amount", models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_overdue_totals_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_overdue_totals")),
    )
    today = "CURRENT_DATE" if postgres else "date('now')"
    op.execute(f"INSERT INTO overdue_rollup (id, as_of) VALUES (1, {today})")
    op.execute(
        "INSERT INTO overdue_totals (customer_id, amount, invoices) "
        "SELECT customer_id, SUM(open_amount), COUNT(*) FROM receivables "
        f"WHERE open_amount > 0 AND due_on < {AS_OF} GROUP BY customer_id"
    )
    op.create_index("ix_overdue_totals_amount", "overdue_totals", ["amount", "invoices"])
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_overdue_totals_amount", table_name="overdue_totals")
    op.drop_table("overdue_totals")
    op.drop_table("overdue_rollup")
