"""The vehicle log (行車記錄表, regulations part 4 art. 31–32): trips, the customers visited on them,
and fuel receipts (expenses) linked to the trip they were claimed in.

``trips``: one row per trip, the odometer at its start and end, keyed by the update that started it
(``source_key``) and by the one that ended it (``end_key``); at most one open trip per rep (a partial
unique index). ``trip_customers``: the customers the rep confirmed at the end.
``expenses.trip_id``: nullable, indexed. On SQLite the column and its foreign key are added with a
plain ``ALTER TABLE … ADD COLUMN … REFERENCES`` (no rebuild of ``expenses``).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

OPEN = "ended_at IS NULL"
EXPENSE_TRIP_FK = "fk_expenses_trip_id_trips"


def upgrade() -> None:
    op.create_table(
        "trips",
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("odometer_start", sa.Integer(), nullable=False),
        sa.Column("start_photo_file_id", sa.String(length=200), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("odometer_end", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("end_key", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "odometer_end IS NULL OR odometer_end >= odometer_start", name=op.f("ck_trips_reading_order")
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["users.id"], name=op.f("fk_trips_rep_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trips")),
        sa.UniqueConstraint("source_key", name=op.f("uq_trips_source_key")),
        sa.UniqueConstraint("end_key", name=op.f("uq_trips_end_key")),
    )
    op.create_index("ix_trips_rep_started", "trips", ["rep_id", "started_at"], unique=False)
    op.create_index(
        "uq_trips_open_rep",
        "trips",
        ["rep_id"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_table(
        "trip_customers",
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trip_id"], ["trips.id"], name=op.f("fk_trip_customers_trip_id_trips"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_trip_customers_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("trip_id", "customer_id", name=op.f("pk_trip_customers")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("expenses", sa.Column("trip_id", sa.Integer(), nullable=True))
        op.create_foreign_key(EXPENSE_TRIP_FK, "expenses", "trips", ["trip_id"], ["id"])
    else:
        op.execute(
            "ALTER TABLE expenses ADD COLUMN trip_id INTEGER "
            f"CONSTRAINT {EXPENSE_TRIP_FK} REFERENCES trips (id)"
        )
    op.create_index(op.f("ix_expenses_trip_id"), "expenses", ["trip_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_expenses_trip_id"), table_name="expenses")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(EXPENSE_TRIP_FK, "expenses", type_="foreignkey")
        op.drop_column("expenses", "trip_id")
    else:  # a column with a foreign key cannot be dropped in place on SQLite: the table is rebuilt
        with op.batch_alter_table("expenses", schema=None) as batch_op:
            batch_op.drop_column("trip_id")
    op.drop_table("trip_customers")
    op.drop_index("uq_trips_open_rep", table_name="trips")
    op.drop_index("ix_trips_rep_started", table_name="trips")
    op.drop_table("trips")
