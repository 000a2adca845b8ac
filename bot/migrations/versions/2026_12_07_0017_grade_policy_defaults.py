"""Grade policy defaults from the regulations (art. 16: at least once a week in principle).

Visit frequencies shipped until now (A 7, B 14, C 30, D 60 days) left C and D customers
unvisited for a month or two. The new defaults (``models.policy.DEFAULT_GRADE_POLICY``) are
A every 3 days (twice a week), B and C every 7, D every 14. A grade moves to its new default
only while it still holds the old one and no admin ever set it with ``/settings`` (an audit
entry for that grade's visit frequency): a company's own choice is kept, even one that happens
to equal the old default. Credit terms and limits are unchanged.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: Visit every N days per grade: as shipped by 0001, and from this revision on (written out here,
#: not imported, so that this step keeps meaning what it meant whatever the models ship later).
OLD_VISIT_DAYS = {"A": 7, "B": 14, "C": 30, "D": 60}
NEW_VISIT_DAYS = {"A": 3, "B": 7, "C": 7, "D": 14}

_POLICIES = sa.table(
    "grade_policies", sa.column("grade", sa.String()), sa.column("visit_every_days", sa.Integer())
)
_AUDIT = sa.table("audit_log", sa.column("entity", sa.String()), sa.column("after", sa.JSON()))


def grades_set_by_admins(connection: sa.Connection) -> set[str]:
    """Grades whose visit frequency an admin has set: audit entries of ``grade_policy`` name them
    as ``{"A": 10}`` (``/settings visits``, before 0017) or ``{"A.visit_every_days": 10}``."""
    grades: set[str] = set()
    for after in connection.scalars(sa.select(_AUDIT.c.after).where(_AUDIT.c.entity == "grade_policy")):
        for key in after or {}:
            grade, _, field = str(key).partition(".")
            if field in ("", "visit_every_days"):
                grades.add(grade)
    return grades


def move_defaults(connection: sa.Connection, before: dict[str, int], after: dict[str, int]) -> None:
    """Each grade still at ``before``'s frequency, and never set by an admin, gets ``after``'s."""
    kept = grades_set_by_admins(connection)
    for grade, days in before.items():
        if grade in kept:
            continue
        connection.execute(
            sa.update(_POLICIES)
            .where(_POLICIES.c.grade == grade, _POLICIES.c.visit_every_days == days)
            .values(visit_every_days=after[grade])
        )


def upgrade() -> None:
    move_defaults(op.get_bind(), OLD_VISIT_DAYS, NEW_VISIT_DAYS)


def downgrade() -> None:
    move_defaults(op.get_bind(), NEW_VISIT_DAYS, OLD_VISIT_DAYS)
