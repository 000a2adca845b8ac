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


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.DIRECTOR: frozenset({Permission.LIST_USERS}),
    Role.MANAGER: frozenset({Permission.INVITE, Permission.LIST_USERS}),
    Role.FINANCE: frozenset(),
    Role.REP: frozenset(),
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


def require(caller: Caller, permission: Permission) -> None:
    if not caller.can(permission):
        raise AccessDenied(N_("Your role does not allow this."))
