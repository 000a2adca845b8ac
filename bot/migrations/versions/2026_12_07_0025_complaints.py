"""Customer letters and complaints (regulations part 3 art. 16–18): ``complaints``.

One row per enquiry, letter or complaint a customer sent: its kind and tag, the text, who logged
it, its two due dates (the answer, and for a quality problem someone on site) and how each was
met: the answer, the on-site visit (or a note recorded by hand) and the resolution.

A new table only: no rebuild of another table, so no trigger is touched on SQLite.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = models.base.UTCDateTime(timezone=True)
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("logged_by", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("tag", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("opened_at", instant, nullable=False),
        sa.Column("answer_due", sa.Date(), nullable=False),
        sa.Column("onsite_due", sa.Date(), nullable=True),
        sa.Column("answered_at", instant, nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("onsite_at", instant, nullable=True),
        sa.Column("onsite_by", sa.Integer(), nullable=True),
        sa.Column("onsite_visit_id", sa.Integer(), nullable=True),
        sa.Column("onsite_note", sa.Text(), nullable=True),
        sa.Column("resolved_at", instant, nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_complaints_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(["logged_by"], ["users.id"], name="fk_complaints_logged_by_users"),
        sa.ForeignKeyConstraint(["answered_by"], ["users.id"], name="fk_complaints_answered_by_users"),
        sa.ForeignKeyConstraint(["onsite_by"], ["users.id"], name="fk_complaints_onsite_by_users"),
        sa.ForeignKeyConstraint(
            ["onsite_visit_id"],
            ["visits.id"],
            name="fk_complaints_onsite_visit_id_visits",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name="fk_complaints_resolved_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
        sa.UniqueConstraint("source_key", name="uq_complaints_source_key"),
    )
    op.create_index("ix_complaints_open", "complaints", ["resolved_at", "answer_due"])
    op.create_index("ix_complaints_customer_opened", "complaints", ["customer_id", "opened_at"])
    op.create_index("ix_complaints_opened", "complaints", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_complaints_opened", table_name="complaints")
    op.drop_index("ix_complaints_customer_opened", table_name="complaints")
    op.drop_index("ix_complaints_open", table_name="complaints")
    op.drop_table("complaints")
