"""The importers by kind, and recognising a kind from a file's header.

Each importer validates every row first and writes only if all are good,
inside the caller's one transaction; ``caller`` None means the command line.
Importers are loaded on first use so a command needs only the one it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import import_module

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Caller
from bot.services.importing import ImportReport
from bot.tabular import Table

Importer = Callable[[AsyncSession, Table, datetime, Caller | None], Awaitable[ImportReport]]

_IMPORTERS = {
    "users": ("bot.services.user_import", "import_people"),
    "customers": ("bot.services.customer_import", "import_customers"),
    "receivables": ("bot.services.receivable_import", "import_receivables"),
}
KINDS = tuple(_IMPORTERS)


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
