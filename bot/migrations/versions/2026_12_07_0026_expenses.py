"""Expense claims (regulations part 4 art. 3–5): ``expenses``.

One row per claim: who claimed it, the amount and category, an optional note and receipt photo,
the company-local month it counts in, and where its decision stands (pending, approved, rejected,
withdrawn). The role budgets and meal allowances are company settings (``company_settings`` key
``expense_budgets``): no table of their own.

A new table only: no rebuild of another table, so no trigger is touched on SQLite.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = models.base.Money(precision=14, scale=2)
    op.create_table(
        "expenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("receipt_file_id", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("budget", money, nullable=True),
        sa.Column("over_budget", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name="fk_expenses_decided_by_users"),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name="fk_expenses_rep_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_expenses"),
        sa.UniqueConstraint("source_key", name="uq_expenses_source_key"),
    )
    op.create_index("ix_expenses_rep_month", "expenses", ["rep_id", "month"])
    op.create_index("ix_expenses_status", "expenses", ["status"])


def downgrade() -> None:
    op.drop_index("ix_expenses_status", table_name="expenses")
    op.drop_index("ix_expenses_rep_month", table_name="expenses")
    op.drop_table("expenses")
