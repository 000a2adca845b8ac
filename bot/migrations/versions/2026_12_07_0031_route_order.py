"""route order (客戶路序, issue 20): a rep's own saved order of their customers.

``route_stops``: one row per (rep, customer) with the customer's place in the rep's route; a rep
with no rows gets the automatic order (nearest next), so nothing is written for anyone until a rep
saves their own. Rows go with the customer or the user (``ON DELETE CASCADE``).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "route_stops",
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("saved_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["users.id"], name=op.f("fk_route_stops_rep_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_route_stops_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rep_id", "customer_id", name=op.f("pk_route_stops")),
    )
    op.create_index(op.f("ix_route_stops_customer_id"), "route_stops", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_route_stops_customer_id"), table_name="route_stops")
    op.drop_table("route_stops")
