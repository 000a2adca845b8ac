"""visit edits and qr (issue 21): when a visit was last edited, and each customer's QR start code.

``visits.edited_at``: the rep changed the visit's notes or extras after saving it (the manager sees
"edited"; the audit log keeps each change's before and after).
``customers.qr_token``: the opaque ``/start`` parameter printed in the customer's QR code (random,
unique, regenerated to revoke a printed code); None until a sheet is first printed.

Both are nullable columns added with ``ALTER TABLE … ADD COLUMN``: no table is rebuilt, so the
triggers on ``visits`` and ``customers`` (migrations 0012, 0024) stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("visits", sa.Column("edited_at", models.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column("customers", sa.Column("qr_token", sa.String(length=64), nullable=True))
    op.create_index("ix_customers_qr_token", "customers", ["qr_token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_customers_qr_token", table_name="customers")
    # SQLite 3.35+ drops a column in place (no rebuild, the tables' triggers kept), as PostgreSQL does.
    op.execute("ALTER TABLE customers DROP COLUMN qr_token")
    op.execute("ALTER TABLE visits DROP COLUMN edited_at")
