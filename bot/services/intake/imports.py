"""The importers by kind, who may run which, and recognising a kind from a file's header.

Each importer validates every row first and writes only if all are good,
inside the caller's one transaction; ``caller`` None means the command line.
Importers are loaded on first use so a command needs only the one it runs.

A file sent to the bot is downloaded only for someone who may import some
kind (:func:`may_send_files`): a stranger's, a deactivated user's or a rep's
file is refused before it is fetched, so it costs the bot nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import import_module

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.errors import AccessDenied
from bot.services.intake.importing import ImportReport
from bot.services.people.access import GRANTS, Caller, Permission, require
from bot.tabular import Table
from models import Role, User

Importer = Callable[[AsyncSession, Table, datetime, Caller | None], Awaitable[ImportReport]]

_IMPORTERS = {
    "users": ("bot.services.intake.user_import", "import_people"),
    "customers": ("bot.services.intake.customer_import", "import_customers"),
    "receivables": ("bot.services.intake.receivable_import", "import_receivables"),
}
KINDS = tuple(_IMPORTERS)
PERMISSIONS: dict[str, Permission] = {
    "users": Permission.IMPORT_USERS,
    "customers": Permission.IMPORT_CUSTOMERS,
    "receivables": Permission.IMPORT_RECEIVABLES,
}


def importer(kind: str) -> Importer:
    module, name = _IMPORTERS[kind]
    function: Importer = getattr(import_module(module), name)
    return function


def kind_of(header: list[str]) -> str | None:
    """Which import a header belongs to, judged by its key column."""
    columns = set(header)
    if "invoice_no" in columns:
        return "receivables"
    if "telegram_id" in columns:
        return "users"
    if "code" in columns:
        return "customers"
    return None


def kinds_for(role: Role) -> tuple[str, ...]:
    """The kinds of file ``role`` may import (none for a rep)."""
    return tuple(kind for kind in KINDS if PERMISSIONS[kind] in GRANTS[role])


async def may_send_files(session: AsyncSession, telegram_id: int) -> bool:
    """Whether a file from ``telegram_id`` is worth fetching: an active user whose role imports something."""
    role = await session.scalar(select(User.role).where(User.telegram_id == telegram_id, User.active))
    return role is not None and bool(kinds_for(role))


def require_some_import(caller: Caller) -> None:
    """Refuse, as for any command the role lacks, a file from someone who may import nothing."""
    if not kinds_for(caller.role):
        raise AccessDenied(N_("Your role does not allow this."))


def require_import(caller: Caller, kind: str) -> None:
    require(caller, PERMISSIONS[kind])
