"""Indexes for the company-wide ``/summary``: collections by time, customers by creation time.

* ``collections (received_at, rep_id, method, amount, reverses_id, id)``: the period's collections
  per rep and method read as one range, covering (``id`` for the "not reversed" test; SQLite has it
  in every index anyway). PostgreSQL has no skip scan, so the ``(rep_id, received_at, …)`` index of
  0009 was useless company-wide and it read every collection ever received.
* ``customers (created_at)``: the new customers of a period are a range, not a scan of every
  customer.

Not indexed: open receivables by due date (for the aging buckets, which group by due date). SQLite
then chose that index for ``/overdue``'s totals too, and they took 113 ms instead of 15.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_collections_received",
        "collections",
        ["received_at", "rep_id", "method", "amount", "reverses_id", "id"],
    )
    op.create_index("ix_customers_created_at", "customers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_customers_created_at", table_name="customers")
    op.drop_index("ix_collections_received", table_name="collections")
