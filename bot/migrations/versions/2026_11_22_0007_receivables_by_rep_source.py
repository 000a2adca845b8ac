"""Index receivables by rep, source and creation time (the summary's latest order per rep).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_receivables_rep_source_created", "receivables", ["rep_id", "source", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_receivables_rep_source_created", table_name="receivables")
