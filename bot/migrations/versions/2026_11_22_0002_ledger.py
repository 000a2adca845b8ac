"""Ledger: customers, visits, receivables, collections, daily reports, approvals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("prospect", "active", "inactive", name="customer_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("credit_days", sa.Integer(), nullable=True),
        sa.Column("credit_limit", models.base.Money(precision=14, scale=2), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_visit_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_customers_rep_id_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_customers_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("code", name=op.f("uq_customers_code")),
        sa.UniqueConstraint("source_key", name=op.f("uq_customers_source_key")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_last_visit_at"), ["last_visit_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_rep_id"), ["rep_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_team_id"), ["team_id"], unique=False)
    # Case-insensitive code lookups (and uniqueness) and name search; autogenerate cannot see these.
    op.create_index("ix_customers_code_lower", "customers", [sa.text("lower(code)")], unique=True)
    op.create_index("ix_customers_name_lower", "customers", [sa.text("lower(name)")])

    op.create_table(
        "daily_reports",
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("market_info", sa.Text(), nullable=False),
        sa.Column("plan_tomorrow", sa.Text(), nullable=False),
        sa.Column("submitted_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_daily_reports_rep_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_reports")),
        sa.UniqueConstraint("rep_id", "day", name="uq_daily_reports_rep_day"),
        sa.UniqueConstraint("source_key", name=op.f("uq_daily_reports_source_key")),
    )
    with op.batch_alter_table("daily_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_daily_reports_day"), ["day"], unique=False)

    op.create_table(
        "collections",
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("amount", models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column(
            "method",
            sa.Enum("cash", "transfer", "cheque", name="payment_method", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("receipt_no", sa.String(length=60), nullable=True),
        sa.Column("received_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handed_in_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by"], ["users.id"], name=op.f("fk_collections_confirmed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_collections_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_collections_recorded_by_users")),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_collections_rep_id_users")),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["collections.id"], name=op.f("fk_collections_reverses_id_collections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_collections_reverses_id")),
        sa.UniqueConstraint("source_key", name=op.f("uq_collections_source_key")),
    )
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collections_customer_received", ["customer_id", "received_at"], unique=False
        )
        batch_op.create_index("ix_collections_rep_received", ["rep_id", "received_at"], unique=False)

    op.create_table(
        "receivables",
        sa.Column("invoice_no", sa.String(length=60), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("amount", models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("order", "import", name="receivable_source", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("promise_date", sa.Date(), nullable=True),
        sa.Column("promise_amount", models.base.Money(precision=14, scale=2), nullable=True),
        sa.Column("over_limit", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_receivables_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_receivables_rep_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivables")),
        sa.UniqueConstraint("invoice_no", name=op.f("uq_receivables_invoice_no")),
        sa.UniqueConstraint("source_key", name=op.f("uq_receivables_source_key")),
    )
    with op.batch_alter_table("receivables", schema=None) as batch_op:
        batch_op.create_index("ix_receivables_customer_due", ["customer_id", "due_on"], unique=False)
        batch_op.create_index("ix_receivables_rep_due", ["rep_id", "due_on"], unique=False)

    op.create_table(
        "visits",
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("visited_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("visit", "call", "stock_check", name="visit_kind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("far_away", sa.Boolean(), nullable=False),
        sa.Column("photo_file_ids", sa.JSON(), nullable=False),
        sa.Column("next_follow_up", sa.Date(), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_visits_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_visits_rep_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("source_key", name=op.f("uq_visits_source_key")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_customer_visited", ["customer_id", "visited_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_visits_next_follow_up"), ["next_follow_up"], unique=False)
        batch_op.create_index("ix_visits_rep_visited", ["rep_id", "visited_at"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("receivable_id", sa.Integer(), nullable=False),
        sa.Column("amount", models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collections.id"], name=op.f("fk_allocations_collection_id_collections")
        ),
        sa.ForeignKeyConstraint(
            ["receivable_id"], ["receivables.id"], name=op.f("fk_allocations_receivable_id_receivables")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_collection_id"), ["collection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_receivable_id"), ["receivable_id"], unique=False)

    op.create_table(
        "approvals",
        sa.Column(
            "kind",
            sa.Enum("over_limit", "discount", name="approval_kind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("receivable_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "rejected", name="approval_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_approvals_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_approvals_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["receivable_id"], ["receivables.id"], name=op.f("fk_approvals_receivable_id_receivables")
        ),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_approvals_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("source_key", name=op.f("uq_approvals_source_key")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_requested_by"), ["requested_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_approvals_status"), ["status"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column(
            "topic",
            sa.Enum(
                "quality",
                "price",
                "demand",
                "competitor",
                "new_product",
                name="feedback_topic",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_feedback_visit_id_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "stock_lines",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=120), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_stock_lines_visit_id_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_lines")),
    )
    with op.batch_alter_table("stock_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_lines_visit_id"), ["visit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customers_name_lower", table_name="customers")
    op.drop_index("ix_customers_code_lower", table_name="customers")
    with op.batch_alter_table("stock_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_lines_visit_id"))

    op.drop_table("stock_lines")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_visit_id"))

    op.drop_table("feedback")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approvals_status"))
        batch_op.drop_index(batch_op.f("ix_approvals_requested_by"))

    op.drop_table("approvals")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_receivable_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_collection_id"))

    op.drop_table("allocations")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_rep_visited")
        batch_op.drop_index(batch_op.f("ix_visits_next_follow_up"))
        batch_op.drop_index("ix_visits_customer_visited")

    op.drop_table("visits")
    with op.batch_alter_table("receivables", schema=None) as batch_op:
        batch_op.drop_index("ix_receivables_rep_due")
        batch_op.drop_index("ix_receivables_customer_due")

    op.drop_table("receivables")
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_index("ix_collections_rep_received")
        batch_op.drop_index("ix_collections_customer_received")

    op.drop_table("collections")
    with op.batch_alter_table("daily_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_daily_reports_day"))

    op.drop_table("daily_reports")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_team_id"))
        batch_op.drop_index(batch_op.f("ix_customers_rep_id"))
        batch_op.drop_index(batch_op.f("ix_customers_last_visit_at"))

    op.drop_table("customers")
