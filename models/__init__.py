"""Typed ORM tables. Importing this package registers every table on ``Base.metadata``."""

from models.audit import AuditLog
from models.base import Base, Money, UTCDateTime
from models.people import Invite, Role, Team, User
from models.policy import DEFAULT_GRADE_POLICY, GradePolicy

__all__ = [
    "DEFAULT_GRADE_POLICY",
    "AuditLog",
    "Base",
    "GradePolicy",
    "Invite",
    "Money",
    "Role",
    "Team",
    "UTCDateTime",
    "User",
]
