"""Stock levels followed up: one key per product, and a minimum per product.

* ``stock_lines.product_key``: :func:`bot.text.search_key` of ``product`` (NFKC, case folding,
  whitespace collapsed), computed in Python, so that ``Cola 330ml`` and ``Ｃｏｌａ ３３０ML`` are
  counts of one product on SQLite as on PostgreSQL (SQLite's ``lower()`` folds A-Z only). The
  stock levels, their changes and the shortfalls (bot/services/field/stock.py) group counts by it.
  Filled here for every line already stored, one ``UPDATE`` per distinct product name.
* ``stock_minimums``: the least stock of a product any dealer should hold, set by an admin with
  ``/settings stock PRODUCT MIN``; a count below it is a shortfall.

``stock_lines`` is rebuilt on SQLite (batch mode) to make the new column NOT NULL: no trigger is
on it and no table refers to it, so the rebuild loses nothing.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.text import SEARCH_KEY_LENGTH, search_key
from models.base import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

PRODUCT_CHARS = 120
BATCH = 2_000


def _fill_product_keys() -> None:
    bind = op.get_bind()
    products = [row[0] for row in bind.execute(sa.text("SELECT DISTINCT product FROM stock_lines"))]
    statement = sa.text("UPDATE stock_lines SET product_key = :key WHERE product = :product")
    for start in range(0, len(products), BATCH):
        bind.execute(
            statement,
            [{"key": search_key(product), "product": product} for product in products[start : start + BATCH]],
        )


def upgrade() -> None:
    with op.batch_alter_table("stock_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_key", sa.String(SEARCH_KEY_LENGTH), nullable=True))
    _fill_product_keys()
    with op.batch_alter_table("stock_lines", schema=None) as batch_op:
        batch_op.alter_column("product_key", existing_type=sa.String(SEARCH_KEY_LENGTH), nullable=False)
    op.create_table(
        "stock_minimums",
        sa.Column("product_key", sa.String(SEARCH_KEY_LENGTH), nullable=False),
        sa.Column("product", sa.String(PRODUCT_CHARS), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_stock_minimums_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("product_key", name=op.f("pk_stock_minimums")),
    )


def downgrade() -> None:
    op.drop_table("stock_minimums")
    with op.batch_alter_table("stock_lines", schema=None) as batch_op:
        batch_op.drop_column("product_key")
