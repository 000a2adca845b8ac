"""The command catalogue: each command, one line of help, and the roles that see it.

Both ``/help`` and the per-chat Telegram command menu are built from this
list. It only decides what is *shown*; services still check every action.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from bot.i18n import N_, Translator
from models import Role

EVERYONE = frozenset(Role)

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: N_("admin"),
    Role.DIRECTOR: N_("sales director"),
    Role.MANAGER: N_("manager"),
    Role.FINANCE: N_("finance"),
    Role.REP: N_("sales rep"),
}


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str  # English source, translated when shown
    roles: frozenset[Role]
    usage: str = ""


FIELD = frozenset({Role.REP, Role.MANAGER, Role.DIRECTOR, Role.ADMIN})
LEADERS = frozenset({Role.MANAGER, Role.DIRECTOR, Role.ADMIN})

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("visit", N_("Log a customer visit"), FIELD, "[CUSTOMER[: NOTES]]"),
    CommandSpec("collect", N_("Record money collected"), FIELD, "[CUSTOMER: AMOUNT [METHOD] [RECEIPT]]"),
    CommandSpec("order", N_("Record an order"), FIELD, "CUSTOMER: AMOUNT [INVOICE]"),
    CommandSpec("report", N_("Daily work report"), frozenset({Role.REP}), "[TEXT]"),
    CommandSpec("customers", N_("Your customers"), EVERYONE, "[TEXT]"),
    CommandSpec("customer", N_("One customer's card"), EVERYONE, "NAME|CODE"),
    CommandSpec("newcustomer", N_("Register a prospective customer"),
                frozenset({Role.REP, Role.MANAGER, Role.DIRECTOR, Role.ADMIN}), "NAME"),
    CommandSpec("reverse", N_("Reverse a collection, with the reason"),
                frozenset({Role.MANAGER, Role.DIRECTOR, Role.FINANCE, Role.ADMIN}), "ID REASON"),
    CommandSpec("deposits", N_("Cash and cheques waiting for hand-in"),
                frozenset({Role.FINANCE, Role.ADMIN})),
    CommandSpec("collections", N_("The day's collections by rep and method, handed in or held"),
                LEADERS | {Role.FINANCE}, "[today|yesterday|YYYY-MM-DD]"),
    CommandSpec("summary", N_("Figures for a period"), EVERYONE,
                "[today|yesterday|week|month|YYYY-MM|FROM..TO]"),
    CommandSpec("team", N_("Today at a glance, one line per rep"), LEADERS | {Role.FINANCE}),
    CommandSpec("missing", N_("Who has not reported today"), LEADERS | {Role.FINANCE}),
    CommandSpec("rep", N_("One rep's figures and latest visits"), LEADERS | {Role.FINANCE}, "NAME"),
    CommandSpec("overdue", N_("Overdue receivables"), EVERYONE, "[REP|CUSTOMER]"),
    CommandSpec("discount", N_("Ask your manager for a discount"), frozenset({Role.REP}),
                "CUSTOMER: PERCENT|AMOUNT REASON"),
    CommandSpec("export", N_("Excel workbook of a period"), LEADERS | {Role.FINANCE}, "[PERIOD]"),
    CommandSpec("chart", N_("Chart of a period"), LEADERS | {Role.FINANCE}, "[PERIOD]"),
    CommandSpec("mute", N_("Pause reminders for a while"), EVERYONE, "2h|today|off"),
    CommandSpec("settings", N_("Company settings: job times, quiet hours, days off"),
                frozenset({Role.ADMIN}), "[…]"),
    CommandSpec("help", N_("What I can do for you"), EVERYONE),
    CommandSpec("invite", N_("Invite someone: a link for one person"),
                frozenset({Role.ADMIN, Role.MANAGER}), "ROLE [TEAM]"),
    CommandSpec("invites", N_("Pending invites: see and revoke them"),
                frozenset({Role.ADMIN, Role.MANAGER})),
    CommandSpec("users", N_("People and their roles"),
                frozenset({Role.ADMIN, Role.DIRECTOR, Role.MANAGER})),
    CommandSpec("role", N_("Change someone's role or team"), frozenset({Role.ADMIN}),
                "WHO ROLE [TEAM]"),
    CommandSpec("deactivate", N_("Switch someone's access off"), frozenset({Role.ADMIN}), "WHO"),
    CommandSpec("activate", N_("Switch someone's access back on"), frozenset({Role.ADMIN}), "WHO"),
    CommandSpec("lang", N_("Language: English or 中文"), EVERYONE, "en|zh"),
    CommandSpec("cancel", N_("Stop what we are doing"), EVERYONE),
)


def commands_for(role: Role) -> list[CommandSpec]:
    return [spec for spec in COMMANDS if role in spec.roles]


def menu_for(role: Role, language: str) -> list[tuple[str, str]]:
    """(command, description) pairs for Telegram's command menu, translated."""
    t = Translator(language)
    return [(spec.name, t.gettext(spec.description)) for spec in commands_for(role)]


@functools.cache  # asked on every update; the catalogues do not change while the bot runs
def menu_hash(role: Role, language: str) -> str:
    """A short fingerprint of a menu, so only changed menus are sent to Telegram again."""
    text = "\n".join(f"{name} {description}" for name, description in menu_for(role, language))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
