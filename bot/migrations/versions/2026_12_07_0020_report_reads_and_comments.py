"""Daily reports are read and answered by the supervisor.

``daily_reports.notes``: what the rep wrote before any heading (a one-line report), which earlier
versions filed under "problems"; existing reports keep their lines where they are.
``report_reads``: who marked a report read, and when (once per reader, moved on when they mark it
again). ``report_comments``: a supervisor's answers, keyed by the update that wrote them.

``notes`` is a plain ``ALTER TABLE … ADD COLUMN`` with a default on both databases: no rebuild of
``daily_reports`` on SQLite.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("daily_reports", sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "report_reads",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("reader_id", sa.Integer(), nullable=False),
        sa.Column("read_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["daily_reports.id"], name=op.f("fk_report_reads_report_id_daily_reports")
        ),
        sa.ForeignKeyConstraint(["reader_id"], ["users.id"], name=op.f("fk_report_reads_reader_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_reads")),
        sa.UniqueConstraint("report_id", "reader_id", name="uq_report_reads_report_reader"),
    )
    op.create_table(
        "report_comments",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["daily_reports.id"], name=op.f("fk_report_comments_report_id_daily_reports")
        ),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_report_comments_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_comments")),
        sa.UniqueConstraint("source_key", name=op.f("uq_report_comments_source_key")),
    )
    op.create_index(op.f("ix_report_comments_report_id"), "report_comments", ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_report_comments_report_id"), table_name="report_comments")
    op.drop_table("report_comments")
    op.drop_table("report_reads")
    with op.batch_alter_table("daily_reports", schema=None) as batch_op:
        batch_op.drop_column("notes")
