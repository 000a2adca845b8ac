"""New customers reviewed by the manager: activated or merged.

* ``customers.phone_key``: :func:`bot.text.phone_key` of ``phone`` (its digits; ``+86`` written
  numbers keyed as dialled at home), indexed: registering a prospect warns when a customer with the
  same phone number exists. Filled here, in Python, for every customer with a phone.
* ``customers.merged_into_id``: a prospect found to be an existing customer is merged into it
  (its visits, orders and collections move there) and kept, inactive, naming that customer.

Both are nullable columns: on SQLite an ``ALTER TABLE … ADD COLUMN`` (with the foreign key declared
inline, as 0019 does), no table rebuild (which would drop the triggers of 0012 on ``visits``' keeper
columns of ``customers``' rows and is not needed here).

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.text import PHONE_KEY_LENGTH, phone_key

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None

MERGED_FK = "fk_customers_merged_into_id_customers"
PHONE_INDEX = "ix_customers_phone_key"
BATCH = 2_000


def _fill_phone_keys() -> None:
    bind = op.get_bind()
    phones = bind.execute(sa.text("SELECT id, phone FROM customers WHERE phone IS NOT NULL"))
    rows = [{"row_id": id_, "phone_key": phone_key(phone)} for id_, phone in phones]
    rows = [row for row in rows if row["phone_key"] is not None]
    statement = sa.text("UPDATE customers SET phone_key = :phone_key WHERE id = :row_id")
    for start in range(0, len(rows), BATCH):
        bind.execute(statement, rows[start : start + BATCH])


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("customers", sa.Column("phone_key", sa.String(PHONE_KEY_LENGTH), nullable=True))
    _fill_phone_keys()
    op.create_index(PHONE_INDEX, "customers", ["phone_key"])
    if postgresql:
        op.add_column("customers", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(MERGED_FK, "customers", "customers", ["merged_into_id"], ["id"])
    else:
        op.execute(
            f"ALTER TABLE customers ADD COLUMN merged_into_id INTEGER "
            f"CONSTRAINT {MERGED_FK} REFERENCES customers (id)"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.drop_constraint(MERGED_FK, "customers", type_="foreignkey")
        op.drop_column("customers", "merged_into_id")
    else:  # SQLite (3.35+) drops a column itself; Alembic's batch mode would rebuild the table
        op.execute("ALTER TABLE customers DROP COLUMN merged_into_id")
    op.drop_index(PHONE_INDEX, table_name="customers")
    if postgresql:
        op.drop_column("customers", "phone_key")
    else:
        op.execute("ALTER TABLE customers DROP COLUMN phone_key")
