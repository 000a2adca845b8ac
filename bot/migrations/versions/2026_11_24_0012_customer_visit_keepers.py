"""Customers keep their visit count and the visit before their latest one, kept by the database;
held money and the aging read from indexes alone.

Coverage (``/summary``) asks, for the customers visited since a period began, whether they were
visited in the window just before it: "the latest visit before the period's start is at or after
the window's start". ``last_visit_at`` cannot tell (it is inside the period), so each such customer
was an index probe of the visits: about 32,000 probes for the company's month at full size, and
3,500 more, four times over, for the customers never visited (no ``last_visit_at``).

* ``customers.prev_visit_at``: the second-latest ``visited_at`` of the customer's visits (equal to
  the latest when two share the instant), NULL with fewer than two. When the latest visit is at or
  after a moment and this one before it, this one is the latest visit before that moment.
* ``customers.visit_count``: how many visits the customer has; 0 settles "visited in …?" without
  looking.

Both depend on the visits alone (not on grades or grade policies). Triggers keep them in the same
transaction as every write, whoever writes: a visit inserted, deleted (undo) or moved
(``visited_at`` or ``customer_id`` updated): the count moves by one, the second-latest visit is
read again from the ``(customer_id, visited_at)`` index. On PostgreSQL the trigger first locks the
customer row, so its update, a statement of its own, sees every visit committed by a concurrent
writer of the same customer (which held that lock until it committed); SQLite has one writer at a
time. ``tests/test_visit_keepers.py`` checks both columns against the visits.

SQLite drops a table's triggers when Alembic's batch mode rebuilds the table: a later migration
that rebuilds ``visits`` must create them again (the test above fails if it does not).

Also, for the same summary:

* ``collections (rep_id, method, amount, reverses_id, id) WHERE handed_in_at IS NULL`` replaces
  the partial index on ``rep_id`` alone, so held money per rep is read from the index (PostgreSQL
  planned a parallel heap scan for it: 10 ms, now 3; SQLite 6.6 → 1.6 ms).
* ``receivables (due_on, open_amount, source) WHERE open_amount > 0 AND source IS NOT NULL``: the
  company's aging sums open amounts per due date in index order instead of sorting 90,000 of them
  (SQLite 29 → 11 ms). ``source`` is never NULL: the condition only hides the index from every
  statement that does not repeat it (only ``aging.aging_total`` does). 0011 left an open-by-due-date
  index out because SQLite then planned ``/overdue``'s totals on it (15 → 113 ms).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _second_latest(customer: str) -> str:
    return (
        f"(SELECT visited_at FROM visits WHERE customer_id = {customer} "
        f"ORDER BY visited_at DESC LIMIT 1 OFFSET 1)"
    )


def _keep(customer: str, delta: str) -> str:
    """The customer's visit count moved by ``delta`` ("+ 1", "- 1"), its second-latest visit read again."""
    return (
        f"UPDATE customers SET visit_count = visit_count {delta}, "
        f"prev_visit_at = {_second_latest(customer)} WHERE id = {customer};"
    )


BACKFILL = f"""UPDATE customers
    SET visit_count = (SELECT count(*) FROM visits WHERE customer_id = customers.id),
        prev_visit_at = {_second_latest("customers.id")}"""

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER visits_keep_customer_on_insert AFTER INSERT ON visits
       BEGIN {_keep("NEW.customer_id", "+ 1")} END""",
    f"""CREATE TRIGGER visits_keep_customer_on_delete AFTER DELETE ON visits
       BEGIN {_keep("OLD.customer_id", "- 1")} END""",
    f"""CREATE TRIGGER visits_keep_customer_on_update AFTER UPDATE OF visited_at, customer_id ON visits
       BEGIN {_keep("OLD.customer_id", "- 1")} {_keep("NEW.customer_id", "+ 1")} END""",
)
SQLITE_TRIGGER_NAMES = (
    "visits_keep_customer_on_insert",
    "visits_keep_customer_on_delete",
    "visits_keep_customer_on_update",
)


def _pg_keep(customer: str, delta: str) -> str:
    # Lock first: the UPDATE is then a statement that starts after whoever wrote this customer's
    # visits before us committed, and (READ COMMITTED) sees their visits.
    return f"PERFORM 1 FROM customers WHERE id = {customer} FOR UPDATE; {_keep(customer, delta)}"


POSTGRES_TRIGGERS = (
    f"""CREATE FUNCTION visits_keep_customer() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           {_pg_keep("NEW.customer_id", "+ 1")}
         ELSIF TG_OP = 'DELETE' THEN
           {_pg_keep("OLD.customer_id", "- 1")}
         ELSIF NEW.customer_id = OLD.customer_id THEN
           {_pg_keep("NEW.customer_id", "+ 0")}
         ELSIF OLD.customer_id < NEW.customer_id THEN  -- two customers: locked in id order
           {_pg_keep("OLD.customer_id", "- 1")}
           {_pg_keep("NEW.customer_id", "+ 1")}
         ELSE
           {_pg_keep("NEW.customer_id", "+ 1")}
           {_pg_keep("OLD.customer_id", "- 1")}
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER visits_keep_customer AFTER INSERT OR DELETE OR UPDATE OF visited_at, customer_id
       ON visits FOR EACH ROW EXECUTE FUNCTION visits_keep_customer()""",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS visits_keep_customer ON visits",
    "DROP FUNCTION IF EXISTS visits_keep_customer()",
)


NOT_HANDED_IN = "handed_in_at IS NULL"
OPEN_FOR_AGING = "open_amount > 0 AND source IS NOT NULL"


def _held_index(columns: list[str]) -> None:
    op.create_index(
        "ix_collections_not_handed_in",
        "collections",
        columns,
        sqlite_where=sa.text(NOT_HANDED_IN),
        postgresql_where=sa.text(NOT_HANDED_IN),
    )


def upgrade() -> None:
    op.add_column("customers", sa.Column("visit_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "customers", sa.Column("prev_visit_at", models.base.UTCDateTime(timezone=True), nullable=True)
    )
    op.execute(BACKFILL)
    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)
    op.drop_index("ix_collections_not_handed_in", table_name="collections")
    _held_index(["rep_id", "method", "amount", "reverses_id", "id"])
    op.create_index(
        "ix_receivables_open_by_due",
        "receivables",
        ["due_on", "open_amount", "source"],
        sqlite_where=sa.text(OPEN_FOR_AGING),
        postgresql_where=sa.text(OPEN_FOR_AGING),
    )


def downgrade() -> None:
    op.drop_index("ix_receivables_open_by_due", table_name="receivables")
    op.drop_index("ix_collections_not_handed_in", table_name="collections")
    _held_index(["rep_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("prev_visit_at")
        batch_op.drop_column("visit_count")
