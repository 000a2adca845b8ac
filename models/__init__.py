"""Typed ORM tables. Importing this package registers every table on ``Base.metadata``."""

from models.audit import AuditLog
from models.base import Base, Money, UTCDateTime
from models.customers import GRADES, Customer, CustomerStatus
from models.jobs import CompanySetting, JobRun
from models.money import Allocation, Collection, PaymentMethod, Receivable, ReceivableSource
from models.outbox import Outbox
from models.people import Invite, Role, Team, User
from models.policy import DEFAULT_GRADE_POLICY, GradePolicy
from models.reports import Approval, ApprovalKind, ApprovalStatus, DailyReport
from models.telegram_state import InboxUpdate, TelegramState
from models.visits import Feedback, FeedbackTopic, StockLine, Visit, VisitKind

__all__ = [
    "DEFAULT_GRADE_POLICY",
    "GRADES",
    "Allocation",
    "Approval",
    "ApprovalKind",
    "ApprovalStatus",
    "AuditLog",
    "Base",
    "Collection",
    "CompanySetting",
    "Customer",
    "CustomerStatus",
    "DailyReport",
    "Feedback",
    "FeedbackTopic",
    "GradePolicy",
    "InboxUpdate",
    "Invite",
    "JobRun",
    "Money",
    "Outbox",
    "PaymentMethod",
    "Receivable",
    "ReceivableSource",
    "Role",
    "StockLine",
    "Team",
    "TelegramState",
    "UTCDateTime",
    "User",
    "Visit",
    "VisitKind",
]
