"""work plans (issue 20): weekly and monthly plans, their customers and the supervisor's comments.

``work_plans``: one row per rep, kind (week | month) and first day, replaced in place when the rep
files again before the deadline; approval is recorded on the row (and in the audit log).
``work_plan_customers``: the customers the plan means to visit. ``work_plan_comments``: the
supervisor's comments, keyed by the update that wrote them. New tables only: nothing to rebuild on
SQLite.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    money = models.base.Money(precision=14, scale=2)
    instant = models.base.UTCDateTime(timezone=True)
    op.create_table(
        "work_plans",
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("week", "month", name="plan_kind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("orders_target", money, nullable=False),
        sa.Column("collections_target", money, nullable=False),
        sa.Column("planned_visits", sa.Integer(), nullable=False),
        sa.Column("submitted_at", instant, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("approved_at", instant, nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_work_plans_rep_id_users")),
        sa.ForeignKeyConstraint(["approved_by"], ["users.id"], name=op.f("fk_work_plans_approved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plans")),
        sa.UniqueConstraint("rep_id", "kind", "starts_on", name="uq_work_plans_rep_kind_start"),
        sa.UniqueConstraint("source_key", name=op.f("uq_work_plans_source_key")),
    )
    op.create_index(op.f("ix_work_plans_starts_on"), "work_plans", ["starts_on"], unique=False)
    op.create_table(
        "work_plan_customers",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["work_plans.id"], name=op.f("fk_work_plan_customers_plan_id_work_plans")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_work_plan_customers_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plan_customers")),
        sa.UniqueConstraint("plan_id", "customer_id", name="uq_work_plan_customers_plan_customer"),
    )
    op.create_index(
        op.f("ix_work_plan_customers_customer_id"), "work_plan_customers", ["customer_id"], unique=False
    )
    op.create_table(
        "work_plan_comments",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", instant, nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["work_plans.id"], name=op.f("fk_work_plan_comments_plan_id_work_plans")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_work_plan_comments_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plan_comments")),
        sa.UniqueConstraint("source_key", name=op.f("uq_work_plan_comments_source_key")),
    )
    op.create_index(op.f("ix_work_plan_comments_plan_id"), "work_plan_comments", ["plan_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_plan_comments_plan_id"), table_name="work_plan_comments")
    op.drop_table("work_plan_comments")
    op.drop_index(op.f("ix_work_plan_customers_customer_id"), table_name="work_plan_customers")
    op.drop_table("work_plan_customers")
    op.drop_index(op.f("ix_work_plans_starts_on"), table_name="work_plans")
    op.drop_table("work_plans")
