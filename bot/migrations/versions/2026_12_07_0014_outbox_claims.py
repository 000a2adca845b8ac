"""Outbox rows are claimed by one sender before sending (lease).

``claimed_by`` names the sender that is sending a row (host, process and drain), and
``claimed_until`` is when its claim lapses unless renewed. A sender takes a row with one
conditional ``UPDATE`` (only if nobody holds a live claim on it), so two senders in any
processes never send the same push; a sender that died leaves its rows to the next one
once the lease has run out.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
