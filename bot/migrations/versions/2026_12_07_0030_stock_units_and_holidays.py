"""Stock units (issue 21): ``stock_lines.unit``, the unit a count was typed in.

``胶水：10箱`` is stored as quantity 10 and unit ``box`` (bot/services/field/units.py: a known unit
word in English or Chinese is kept as its canonical key, an unknown one as typed). Lines counted
before this revision have none: they were plain counts.

Holidays and make-up workdays (调休) need no table: like the other company settings they are rows
of ``company_settings`` (keys ``holidays`` and ``workdays``, JSON lists of ISO dates).

``stock_lines`` has no triggers; the nullable column is added with ``ALTER TABLE … ADD COLUMN``.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stock_lines", sa.Column("unit", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_lines") as batch:
        batch.drop_column("unit")
