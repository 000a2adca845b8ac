"""Trust signals on visits (issue 21): flags computed when a visit is saved, and its photos' ids.

* ``visits.no_location``, ``photo_reused``, ``photo_forwarded``, ``late_entry`` (beside the older
  ``far_away``) and ``sent_at``: see models/visits.py and bot/services/field/trust.py. Visits saved
  before this revision carry none of the new flags: they were not checked when saved, and whether
  their photos were used before can no longer be told.
* ``visit_photos``: each visit photo's Telegram ``file_unique_id``, indexed, so one query finds a
  photo already used on any earlier visit.

``visits`` has triggers (migration 0012), so its columns are added with ``ALTER TABLE … ADD COLUMN``
(a server default fills the existing rows) and never by a batch rebuild (README "Development").

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

FLAGS = ("no_location", "photo_reused", "photo_forwarded", "late_entry")


def upgrade() -> None:
    for name in FLAGS:
        op.add_column(
            "visits", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    op.add_column("visits", sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "visit_photos",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("file_unique_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name="fk_visit_photos_visit_id_visits", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("visit_id", "file_unique_id", name="pk_visit_photos"),
    )
    op.create_index("ix_visit_photos_file_unique_id", "visit_photos", ["file_unique_id"])


def downgrade() -> None:
    op.drop_index("ix_visit_photos_file_unique_id", table_name="visit_photos")
    op.drop_table("visit_photos")
    # Dropping a column is a plain ALTER TABLE on both (SQLite 3.35+): no rebuild, triggers kept.
    op.drop_column("visits", "sent_at")
    for name in reversed(FLAGS):
        op.drop_column("visits", name)
