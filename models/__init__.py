"""Typed ORM tables. Importing this package registers every table on ``Base.metadata``."""

from models.audit import AuditLog
from models.base import Base, Money, UTCDateTime
from models.customers import GRADES, Customer, CustomerStatus
from models.jobs import CompanySetting, JobRun
from models.money import (
    Allocation,
    Collection,
    CreditNote,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    SalesReturn,
)
from models.outbox import Outbox
from models.people import Invite, Role, Team, User
from models.policy import DEFAULT_GRADE_POLICY, GradePolicy
from models.reports import Approval, ApprovalKind, ApprovalStatus, DailyReport, ReportComment, ReportRead
from models.telegram_state import InboxUpdate, TelegramState
from models.visits import Feedback, FeedbackTopic, StockLine, StockMinimum, Visit, VisitKind

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
    "CreditNote",
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
    "ReportComment",
    "ReportRead",
    "Role",
    "SalesReturn",
    "StockLine",
    "StockMinimum",
    "Team",
    "TelegramState",
    "UTCDateTime",
    "User",
    "Visit",
    "VisitKind",
]
