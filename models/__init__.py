"""Typed ORM tables. Importing this package registers every table on ``Base.metadata``."""

from models.audit import AuditLog
from models.base import Base, Money, UTCDateTime
from models.complaints import Complaint, ComplaintKind, ComplaintTag
from models.customers import GRADES, Customer, CustomerStatus
from models.expenses import Expense, ExpenseCategory, ExpenseStatus
from models.jobs import CompanySetting, JobRun
from models.money import (
    Allocation,
    Collection,
    CreditNote,
    OverdueRollup,
    OverdueTotal,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    SalesReturn,
)
from models.outbox import Outbox
from models.people import Invite, Role, Team, User
from models.plans import PlanKind, WorkPlan, WorkPlanComment, WorkPlanCustomer
from models.policy import DEFAULT_GRADE_POLICY, GradePolicy
from models.reports import Approval, ApprovalKind, ApprovalStatus, DailyReport, ReportComment, ReportRead
from models.routes import RouteStop
from models.telegram_state import InboxUpdate, TelegramState
from models.trips import Trip, TripCustomer
from models.visit_months import LocalMonth, RepCustomerMonth, RepMonth, VisitRollup
from models.visits import Feedback, FeedbackTopic, StockLine, StockMinimum, Visit, VisitKind, VisitPhoto

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
    "Complaint",
    "ComplaintKind",
    "ComplaintTag",
    "CreditNote",
    "Customer",
    "CustomerStatus",
    "DailyReport",
    "Expense",
    "ExpenseCategory",
    "ExpenseStatus",
    "Feedback",
    "FeedbackTopic",
    "GradePolicy",
    "InboxUpdate",
    "Invite",
    "JobRun",
    "LocalMonth",
    "Money",
    "Outbox",
    "OverdueRollup",
    "OverdueTotal",
    "PaymentMethod",
    "PlanKind",
    "Receivable",
    "ReceivableSource",
    "RepCustomerMonth",
    "RepMonth",
    "ReportComment",
    "ReportRead",
    "Role",
    "RouteStop",
    "SalesReturn",
    "StockLine",
    "StockMinimum",
    "Team",
    "TelegramState",
    "Trip",
    "TripCustomer",
    "UTCDateTime",
    "User",
    "Visit",
    "VisitKind",
    "VisitPhoto",
    "VisitRollup",
    "WorkPlan",
    "WorkPlanComment",
    "WorkPlanCustomer",
]
