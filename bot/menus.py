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
#: Everyone who works with customers and money: all but marketing, who read the market feedback only.
SALES_AND_FINANCE = EVERYONE - {Role.MARKETING}

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: N_("admin"),
    Role.DIRECTOR: N_("sales director"),
    Role.MANAGER: N_("manager"),
    Role.FINANCE: N_("finance"),
    Role.REP: N_("sales rep"),
    Role.MARKETING: N_("marketing"),
}
#: One person of each role, as a sentence names them: "Invite for {someone}" reads "an admin",
#: "a finance officer" (not "a finance").
ROLE_PERSON: dict[Role, str] = {
    Role.ADMIN: N_("an admin"),
    Role.DIRECTOR: N_("a sales director"),
    Role.MANAGER: N_("a manager"),
    Role.FINANCE: N_("a finance officer"),
    Role.REP: N_("a sales rep"),
    Role.MARKETING: N_("a marketing officer"),
}


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str  # English source, translated when shown
    roles: frozenset[Role]
    #: What follows the command, English source translated when shown (placeholders in capitals, and
    #: the keywords the command accepts in that language: ``today|yesterday`` is ``今天|昨天`` in zh).
    usage: str = ""


FIELD = frozenset({Role.REP, Role.MANAGER, Role.DIRECTOR, Role.ADMIN})
LEADERS = frozenset({Role.MANAGER, Role.DIRECTOR, Role.ADMIN})

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("visit", N_("Log a customer visit"), FIELD, N_("[CUSTOMER[: NOTES]]")),
    CommandSpec("collect", N_("Record money collected"), FIELD, N_("[CUSTOMER: AMOUNT [METHOD] [RECEIPT]]")),
    CommandSpec("order", N_("Record an order"), FIELD, N_("CUSTOMER: AMOUNT [INVOICE]")),
    CommandSpec(
        "return",
        N_("Goods returned: ask for a return certificate"),
        FIELD,
        N_("[CUSTOMER: AMOUNT [INVOICE] [REASON]]"),
    ),
    CommandSpec("today", N_("Your day so far and what is still due"), FIELD),
    CommandSpec("route", N_("Your route: the order you visit your customers in"), frozenset({Role.REP})),
    CommandSpec(
        "trip",
        N_("Vehicle log: start or end a trip with the odometer reading"),
        FIELD,
        N_("[start|end ODOMETER]"),
    ),
    CommandSpec("trips", N_("Trips by car: kilometres and fuel"), SALES_AND_FINANCE, N_("[PERIOD]")),
    CommandSpec("qr", N_("Printable QR codes that open a customer's visit"), FIELD, N_("[CUSTOMER]")),
    CommandSpec("report", N_("Daily work report"), frozenset({Role.REP}), N_("[yesterday] [TEXT]")),
    CommandSpec(
        "plan",
        N_("Weekly or monthly work plan: customers to visit and targets"),
        frozenset({Role.REP, Role.MANAGER}),
        N_("[month [YYYY-MM]]"),
    ),
    CommandSpec("reports", N_("Read daily reports: your own, or your team's"), FIELD, N_("[DAY] [REP]")),
    CommandSpec("customers", N_("Your customers"), SALES_AND_FINANCE, N_("[TEXT]")),
    CommandSpec("customer", N_("One customer's card"), SALES_AND_FINANCE, N_("NAME|CODE")),
    CommandSpec(
        "newcustomer",
        N_("Register a prospective customer"),
        frozenset({Role.REP, Role.MANAGER, Role.DIRECTOR, Role.ADMIN}),
        N_("NAME"),
    ),
    CommandSpec(
        "reverse",
        N_("Reverse a collection, with the reason"),
        frozenset({Role.MANAGER, Role.DIRECTOR, Role.FINANCE, Role.ADMIN}),
        N_("ID REASON"),
    ),
    CommandSpec(
        "deposits", N_("Cash and cheques waiting for hand-in"), frozenset({Role.FINANCE, Role.ADMIN})
    ),
    CommandSpec(
        "collections",
        N_("The day's collections by rep and method, handed in or held"),
        LEADERS | {Role.FINANCE},
        N_("[today|yesterday|YYYY-MM-DD]"),
    ),
    CommandSpec(
        "summary",
        N_("Figures for a period"),
        SALES_AND_FINANCE,
        N_("[today|yesterday|week|month|YYYY-MM|FROM..TO]"),
    ),
    CommandSpec("team", N_("Today at a glance, one line per rep"), LEADERS | {Role.FINANCE}),
    CommandSpec("missing", N_("Who has not reported today"), LEADERS | {Role.FINANCE}),
    CommandSpec("rep", N_("One rep's figures and latest visits"), LEADERS | {Role.FINANCE}, N_("REP")),
    CommandSpec("overdue", N_("Overdue receivables"), SALES_AND_FINANCE, N_("[REP|CUSTOMER]")),
    CommandSpec(
        "market",
        N_("Market feedback by topic: competitors, prices, quality, demand, new products"),
        FIELD | {Role.MARKETING},
        N_("[PERIOD] [TOPIC]"),
    ),
    CommandSpec(
        "complaint",
        N_("Log a customer's enquiry, letter or complaint"),
        FIELD,
        N_("CUSTOMER[: [KIND] [TAG] TEXT]"),
    ),
    CommandSpec(
        "complaints",
        N_("Customer letters and complaints: open ones, all, or a period"),
        FIELD | {Role.FINANCE},
        N_("[open|all|PERIOD]"),
    ),
    CommandSpec(
        "discount",
        N_("Ask your manager for a discount"),
        frozenset({Role.REP}),
        N_("CUSTOMER: PERCENT|AMOUNT REASON"),
    ),
    CommandSpec(
        "expense",
        N_("Claim an expense, with the receipt's photo"),
        frozenset({Role.REP, Role.MANAGER}),
        N_("[AMOUNT CATEGORY [NOTE]]"),
    ),
    CommandSpec(
        "expenses",
        N_("Expense claims of a month, and the budget left"),
        SALES_AND_FINANCE,
        N_("[PERIOD|pending]"),
    ),
    CommandSpec("approvals", N_("Requests waiting for a decision: yours to decide, or your own"), FIELD),
    CommandSpec("export", N_("Excel workbook of a period"), LEADERS | {Role.FINANCE}, N_("[PERIOD]")),
    CommandSpec("chart", N_("Chart of a period"), LEADERS | {Role.FINANCE}, N_("[PERIOD]")),
    CommandSpec("mute", N_("Pause reminders for a while"), EVERYONE, N_("2h|today|off")),
    CommandSpec(
        "settings",
        N_("Company settings: job times, quiet hours, days off"),
        frozenset({Role.ADMIN}),
        N_("[…]"),
    ),
    CommandSpec("help", N_("What I can do for you"), EVERYONE),
    CommandSpec(
        "invite",
        N_("Invite someone: a link for one person"),
        frozenset({Role.ADMIN, Role.MANAGER}),
        N_("ROLE [TEAM]"),
    ),
    CommandSpec("invites", N_("Pending invites: see and revoke them"), frozenset({Role.ADMIN, Role.MANAGER})),
    CommandSpec("users", N_("People and their roles"), frozenset({Role.ADMIN, Role.DIRECTOR, Role.MANAGER})),
    CommandSpec("role", N_("Change someone's role or team"), frozenset({Role.ADMIN}), N_("WHO ROLE [TEAM]")),
    CommandSpec("deactivate", N_("Switch someone's access off"), frozenset({Role.ADMIN}), N_("WHO")),
    CommandSpec("activate", N_("Switch someone's access back on"), frozenset({Role.ADMIN}), N_("WHO")),
    CommandSpec("lang", N_("Language: English or 中文"), EVERYONE, N_("en|zh")),
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
