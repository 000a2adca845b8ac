"""Invites can be revoked; customers' teams follow their reps.

``invites.revoked_at`` / ``revoked_by``: a revoked link no longer works
(``/invites``, and deactivating or moving its creator revokes it). Invites
whose creator could not hand them out today (deactivated, or no longer an admin
or that team's manager) are revoked here, so ``/invites`` lists only links that
work.

A customer's team is its rep's (the bot now moves customers with their rep); any
customer left behind in a rep's former team by earlier versions is moved to the
rep's team here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_invites_revoked_by_users"), "users", ["revoked_by"], ["id"]
        )
    invites = sa.table(
        "invites",
        sa.column("role", sa.String()),
        sa.column("team_id", sa.Integer()),
        sa.column("created_by", sa.Integer()),
        sa.column("used_at", UTCDateTime()),
        sa.column("revoked_at", UTCDateTime()),
    )
    users = sa.table(
        "users",
        sa.column("id", sa.Integer()),
        sa.column("active", sa.Boolean()),
        sa.column("role", sa.String()),
        sa.column("team_id", sa.Integer()),
    )
    creator_may_issue = sa.exists().where(
        users.c.id == invites.c.created_by,
        users.c.active,
        sa.or_(
            users.c.role == "admin",
            sa.and_(users.c.role == "manager", invites.c.role == "rep", invites.c.team_id == users.c.team_id),
        ),
    )
    op.execute(
        sa.update(invites)
        .where(invites.c.used_at.is_(None), invites.c.revoked_at.is_(None), ~creator_may_issue)
        .values(revoked_at=datetime.now(UTC))
    )
    customers = sa.table("customers", sa.column("rep_id", sa.Integer()), sa.column("team_id", sa.Integer()))
    rep_team = sa.select(users.c.team_id).where(users.c.id == customers.c.rep_id).scalar_subquery()
    op.execute(
        sa.update(customers)
        .where(customers.c.rep_id.is_not(None), customers.c.team_id.is_distinct_from(rep_team))
        .values(team_id=rep_team)
    )


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_invites_revoked_by_users"), type_="foreignkey")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
