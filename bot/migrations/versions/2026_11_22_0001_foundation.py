"""Foundation: teams, users, invites, grade policy, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from models.base import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLES = ("admin", "director", "manager", "finance", "rep")


def _role() -> sa.Enum:
    return sa.Enum(*ROLES, name="role", native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "grade_policies",
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("visit_every_days", sa.Integer(), nullable=False),
        sa.Column("credit_days", sa.Integer(), nullable=False),
        sa.Column("credit_limit", Money(), nullable=False),
        sa.PrimaryKeyConstraint("grade", name=op.f("pk_grade_policies")),
    )
    op.bulk_insert(
        sa.table(
            "grade_policies",
            sa.column("grade", sa.String),
            sa.column("visit_every_days", sa.Integer),
            sa.column("credit_days", sa.Integer),
            sa.column("credit_limit", Money()),
        ),
        [
            {"grade": "A", "visit_every_days": 7, "credit_days": 60, "credit_limit": Decimal("200000.00")},
            {"grade": "B", "visit_every_days": 14, "credit_days": 45, "credit_limit": Decimal("100000.00")},
            {"grade": "C", "visit_every_days": 30, "credit_days": 30, "credit_limit": Decimal("50000.00")},
            {"grade": "D", "visit_every_days": 60, "credit_days": 0, "credit_limit": Decimal("0.00")},
        ],
    )
    op.create_table(
        "teams",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "users",
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", _role(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=True),
        sa.Column("menu_hash", sa.String(length=16), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_users_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )
    op.create_index(op.f("ix_users_team_id"), "users", ["team_id"])
    op.create_index(op.f("ix_users_username"), "users", ["username"])
    # teams.manager_id and users.team_id point at each other: add this one afterwards.
    with op.batch_alter_table("teams") as batch:
        batch.create_foreign_key(
            op.f("fk_teams_manager_id_users"), "users", ["manager_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "audit_log",
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_table(
        "invites",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", _role(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_invites_created_by_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_invites_team_id_teams")),
        sa.ForeignKeyConstraint(["used_by"], ["users.id"], name=op.f("fk_invites_used_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("source_key", name=op.f("uq_invites_source_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invites_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("invites")
    op.drop_table("audit_log")
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint(op.f("fk_teams_manager_id_users"), type_="foreignkey")
    op.drop_table("users")
    op.drop_table("teams")
    op.drop_table("grade_policies")
