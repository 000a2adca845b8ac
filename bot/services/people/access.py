"""Who may do what. Every service checks here; menus only mirror it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.i18n import N_
from bot.services.errors import AccessDenied
from models import Role, User


class Permission(enum.StrEnum):
    INVITE = "invite"
    LIST_USERS = "list_users"
    MANAGE_USERS = "manage_users"
    IMPORT_USERS = "import_users"
    VIEW_CUSTOMERS = "view_customers"  # within scope: own, team's, or all
    IMPORT_CUSTOMERS = "import_customers"
    REGISTER_PROSPECT = "register_prospect"
    LOG_VISIT = "log_visit"
    RECORD_ORDER = "record_order"
    RECORD_COLLECTION = "record_collection"
    REQUEST_RETURN = "request_return"  # goods returned: a return certificate the manager approves
    REVERSE_COLLECTION = "reverse_collection"  # beyond the rep's own 10-minute undo
    IMPORT_RECEIVABLES = "import_receivables"
    CONFIRM_DEPOSITS = "confirm_deposits"
    FILE_REPORT = "file_report"
    FILE_PLAN = "file_plan"  # weekly and monthly work plans: reps, and managers for themselves
    READ_REPORTS = "read_reports"  # daily reports: a rep their own, a manager the team's, or all
    ANSWER_REPORTS = "answer_reports"  # mark a report read and comment on it: its rep's supervisors
    VIEW_FIGURES = "view_figures"  # summaries, team, rep, overdue, missing: within scope
    NUDGE = "nudge"  # push a reminder to reps who have not reported
    APPROVE = "approve"  # over-limit orders and discount requests of the caller's scope
    #: Make a prospect an active customer or merge it into one; apply a suggested grade: in scope.
    REVIEW_CUSTOMERS = "review_customers"
    REQUEST_DISCOUNT = "request_discount"
    EXPORT = "export"  # Excel workbook and charts of the caller's scope
    MANAGE_SETTINGS = "manage_settings"  # job times, quiet hours, working days, grade policy
    VIEW_MARKET = "view_market"  # market feedback by topic (/market, the weekly digest): within scope
    #: Log a customer's enquiry, letter or complaint and close it (answer, on site, resolution): in scope.
    LOG_COMPLAINT = "log_complaint"
    #: The register of customer letters and complaints (/complaints, export sheet): within scope.
    VIEW_COMPLAINTS = "view_complaints"


_FIELD_WORK = {
    Permission.VIEW_CUSTOMERS,
    Permission.REGISTER_PROSPECT,
    Permission.LOG_VISIT,
    Permission.RECORD_ORDER,
    Permission.RECORD_COLLECTION,
    Permission.REQUEST_RETURN,
    Permission.VIEW_FIGURES,
    Permission.READ_REPORTS,
    Permission.LOG_COMPLAINT,
    Permission.VIEW_COMPLAINTS,
}
_LEADING = {
    Permission.NUDGE,
    Permission.APPROVE,
    Permission.EXPORT,
    Permission.ANSWER_REPORTS,
    Permission.REVIEW_CUSTOMERS,
}
#: Who hears what the field learns of the market (regulations part 4, art. 8 (4)): reps read what they
#: recorded, managers their team's, the director, admins and marketing everyone's.
_MARKET = {Permission.VIEW_MARKET}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission)
    - {Permission.FILE_REPORT, Permission.REQUEST_DISCOUNT, Permission.FILE_PLAN},
    Role.DIRECTOR: frozenset(
        {
            Permission.LIST_USERS,
            Permission.IMPORT_CUSTOMERS,
            Permission.REVERSE_COLLECTION,
            *_FIELD_WORK,
            *_LEADING,
            *_MARKET,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Permission.FILE_PLAN,
            Permission.INVITE,
            Permission.LIST_USERS,
            Permission.IMPORT_CUSTOMERS,
            Permission.REVERSE_COLLECTION,
            *_FIELD_WORK,
            *_LEADING,
            *_MARKET,
        }
    ),
    Role.FINANCE: frozenset(
        {
            Permission.VIEW_CUSTOMERS,
            Permission.IMPORT_RECEIVABLES,
            Permission.CONFIRM_DEPOSITS,
            Permission.REVERSE_COLLECTION,
            Permission.VIEW_FIGURES,
            Permission.EXPORT,
            Permission.VIEW_COMPLAINTS,
        }
    ),
    Role.REP: frozenset(
        {*_FIELD_WORK, Permission.FILE_REPORT, Permission.FILE_PLAN, Permission.REQUEST_DISCOUNT, *_MARKET}
    ),
    # Market information only: no customer cards, figures or money (prices, discounts and sales
    # figures are confidential, part 4 art. 7; the feedback names the customers it is about).
    Role.MARKETING: frozenset(_MARKET),
}


@dataclass(frozen=True)
class Caller:
    """The acting user, as services see them: plain data, no ORM session attached."""

    id: int
    telegram_id: int
    name: str
    role: Role
    team_id: int | None
    language: str

    @classmethod
    def of(cls, user: User, language: str) -> Caller:
        return cls(user.id, user.telegram_id, user.name, user.role, user.team_id, language)

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    @property
    def sees_all_teams(self) -> bool:
        return self.role in (Role.ADMIN, Role.DIRECTOR)

    @property
    def sees_all_customers(self) -> bool:
        """Admins, the director and finance see every customer; managers their team's; reps their own."""
        return self.role in (Role.ADMIN, Role.DIRECTOR, Role.FINANCE)


def require(caller: Caller, permission: Permission) -> None:
    if not caller.can(permission):
        raise AccessDenied(N_("Your role does not allow this."))
