"""Cover "visits of the period" by index: per rep (SQLite's plan) and company-wide (PostgreSQL's).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_visits_rep_visited", table_name="visits")
    op.create_index("ix_visits_rep_visited", "visits", ["rep_id", "visited_at", "customer_id"])
    op.create_index("ix_visits_visited_rep", "visits", ["visited_at", "rep_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_visits_visited_rep", table_name="visits")
    op.drop_index("ix_visits_rep_visited", table_name="visits")
    op.create_index("ix_visits_rep_visited", "visits", ["rep_id", "visited_at"])
