"""Importing the customer list from the company's system: all rows or none.

Header: ``code,name,grade,rep,phone,address,latitude,longitude,credit_limit,credit_days``
(``code`` and ``name`` required). ``rep`` is a Telegram id, or an @username that
names one person and, for a customer who has a rep, that same rep: a username
passes from person to person, so only an id moves a customer to another rep.
Rows update existing customers by code, compared by search key
(:func:`bot.text.search_key`: ``äb-1`` and ``ＡＢ-1`` are ``ÄB-1``). A
column left out of the header leaves that field of an existing customer as it is; an
empty cell in a present column clears it (an empty grade means C). Every row is
checked before anything is written, and the report names every problem of every bad row at
once: a row with a bad cell is still checked against the database (its rep, its customer's team).

Built for big files (100,000 rows take seconds): existing customer codes and
the users are each read in one query, and rows are written with one bulk
INSERT and one executemany UPDATE per set of columns, never a query per row.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import audit
from bot.services.errors import Invalid
from bot.services.intake.importing import ImportReport, RowError, cell_problems
from bot.services.money.amounts import parse_amount
from bot.services.people.access import GRANTS, Caller, Permission, require
from bot.tabular import Table
from bot.text import one_line, search_key
from models import GRADES, Customer, CustomerStatus, Role, User
from models.customers import search_keys

COLUMNS = (
    "code",
    "name",
    "grade",
    "rep",
    "phone",
    "address",
    "latitude",
    "longitude",
    "credit_limit",
    "credit_days",
)
REQUIRED = ("code", "name")
MAX_CODE, MAX_NAME, MAX_PHONE, MAX_ADDRESS = 40, 200, 40, 300
MAX_CREDIT_DAYS = 3650
DEFAULT_GRADE = "C"

_ZERO_AMOUNT = re.compile(r"^(?:¥|rmb|cny)?\s*0+(?:\.0{1,2})?\s*(?:元|rmb|cny|yuan)?$", re.IGNORECASE)
_USERNAME = re.compile(r"^@?[A-Za-z0-9_]{4,32}$")

Problem = tuple[str, dict[str, str]]


@dataclass(frozen=True)
class CustomerRow:
    """One good row: the values of the columns the file has (absent columns are not keys)."""

    line: int
    code: str
    values: dict[str, Any]
    rep: str | None  # as written in the file; resolved to a user later


def parse_credit_limit(text: str) -> Decimal:
    """A credit limit: an amount as :func:`parse_amount` reads it, except that 0 is allowed.

    A limit of 0 is real: the customer buys for cash only.
    """
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if cleaned.startswith("-"):
        raise Invalid(N_("credit_limit {value} is negative"), value=text.strip()[:40])
    if _ZERO_AMOUNT.match(cleaned):
        return Decimal("0.00")
    return parse_amount(text)


@dataclass(frozen=True)
class Checked:
    """A file checked row by row, before the database is asked anything."""

    good: list[CustomerRow]
    errors: list[RowError]
    #: Every row, bad ones too, with what the database must still confirm (a well-formed code, whose
    #: customer may be another team's; a well-formed rep): a bad line's other problems are reported
    #: with its first, so one round of corrections is enough.
    to_confirm: list[CustomerRow]


def validate(table: Table) -> tuple[list[CustomerRow], list[RowError]]:
    """Check every row on its own; nothing touches the database here."""
    checked = check(table)
    return checked.good, checked.errors


def check(table: Table) -> Checked:
    """Every problem of every row that needs no database, and the rows to check against it."""
    missing = [c for c in REQUIRED if c not in table.header]
    unknown = [c for c in table.header if c and c not in COLUMNS]
    errors: list[RowError] = []
    if missing:
        errors.append(RowError(1, N_("missing columns: {columns}"), {"columns": ", ".join(missing)}))
    if unknown:
        errors.append(
            RowError(
                1,
                N_("unknown columns: {columns} (the columns are: {expected})"),
                {"columns": ", ".join(unknown)[:200], "expected": ",".join(COLUMNS)},
            )
        )
    if errors:
        return Checked([], errors, [])
    present = [c for c in COLUMNS if c in table.header]
    good: list[CustomerRow] = []
    to_confirm: list[CustomerRow] = []
    seen: dict[str, int] = {}
    for line, raw in table.rows:
        values, problems = _parse_row(raw, present)
        code = values.get("code")
        if isinstance(code, str):
            other = seen.get(search_key(code))
            if other is not None:
                problems.append(
                    (N_("code {code} already appears on line {other}"), {"code": code, "other": str(other)})
                )
            else:
                seen[search_key(code)] = line
        rep = values.pop("rep", None) if "rep" in present else None
        row = CustomerRow(line, values.pop("code", ""), values, rep)
        to_confirm.append(row)
        if problems:
            errors.extend(RowError(line, reason, params) for reason, params in problems)
            continue
        good.append(row)
    if not table.rows:
        errors.append(RowError(1, N_("the file has a header but no customers")))
    return Checked(good, errors, to_confirm)


def _parse_row(raw: dict[str, str], present: Sequence[str]) -> tuple[dict[str, Any], list[Problem]]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    problems += cell_problems(raw)
    code = raw.get("code", "").strip()
    if not code or len(code) > MAX_CODE:
        problems.append((N_("code must have 1 to {limit} characters"), {"limit": str(MAX_CODE)}))
    else:
        values["code"] = code
    name = one_line(raw.get("name", ""))
    if not name or len(name) > MAX_NAME:
        problems.append((N_("name must have 1 to {limit} characters"), {"limit": str(MAX_NAME)}))
    else:
        values["name"] = name
    if "grade" in present:
        grade = raw["grade"].strip().upper() or DEFAULT_GRADE
        if grade in GRADES:
            values["grade"] = grade
        else:
            problems.append((N_("grade {value} is not one of A, B, C, D"), {"value": raw["grade"][:40]}))
    if "rep" in present:
        rep = raw["rep"].strip()
        well_formed = rep.isdigit() or bool(_USERNAME.match(rep))
        if rep and not well_formed:
            problems.append((N_("rep {value} is not a Telegram id or @username"), {"value": rep[:40]}))
        values["rep"] = rep if rep and well_formed else None  # only a well-formed rep is looked up
    for column, limit in (("phone", MAX_PHONE), ("address", MAX_ADDRESS)):
        if column in present:
            text = " ".join(raw[column].split())
            if len(text) > limit:
                problems.append(
                    (N_("{column} longer than {limit} characters"), {"column": column, "limit": str(limit)})
                )
            values[column] = text or None
    problems += _parse_location(raw, present, values)
    problems += _parse_credit(raw, present, values)
    return values, problems


def _parse_location(raw: dict[str, str], present: Sequence[str], values: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    given: dict[str, float | None] = {}
    for column, bound in (("latitude", 90.0), ("longitude", 180.0)):
        if column not in present:
            continue
        text = raw[column].strip()
        if not text:
            given[column] = None
            continue
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or abs(number) > bound:
            problems.append(
                (
                    N_("{column} {value} is not a number between -{bound} and {bound}"),
                    {"column": column, "value": text[:40], "bound": str(int(bound))},
                )
            )
        else:
            given[column] = number
    if not problems and given:
        if (given.get("latitude") is None) != (given.get("longitude") is None):
            problems.append((N_("latitude and longitude go together: give both or neither"), {}))
        values.update(given)
    return problems


def _parse_credit(raw: dict[str, str], present: Sequence[str], values: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if "credit_limit" in present:
        text = raw["credit_limit"].strip()
        if not text:
            values["credit_limit"] = None
        else:
            try:
                values["credit_limit"] = parse_credit_limit(text)
            except Invalid as error:  # the amount rules' own reason, already translatable
                problems.append((error.message, {k: str(v) for k, v in error.params.items()}))
    if "credit_days" in present:
        text = unicodedata.normalize("NFKC", raw["credit_days"]).strip()
        if not text:
            values["credit_days"] = None
        elif text.isdecimal() and len(text) <= 5 and int(text) <= MAX_CREDIT_DAYS:
            values["credit_days"] = int(text)
        else:
            problems.append(
                (
                    N_("credit_days {value} is not a whole number of days from 0 to {limit}"),
                    {"value": raw["credit_days"].strip()[:40], "limit": str(MAX_CREDIT_DAYS)},
                )
            )
    return problems


async def _existing(session: AsyncSession) -> dict[str, tuple[int, int | None]]:
    """Code key → (id, team_id) of every known customer, in one scan.

    One sequential read of three narrow columns stays fast at any size a sales
    force has, and, unlike thousands of ``IN`` lookups, never depends on the
    planner's statistics being fresh (right after a big import they are not).
    """
    rows = await session.execute(select(Customer.code_key, Customer.id, Customer.team_id))
    return {code: (customer_id, team_id) for code, customer_id, team_id in rows}


@dataclass(frozen=True)
class People:
    """Every user (a sales force is small), read once, for naming reps in a file."""

    by_telegram_id: dict[int, User]
    by_username: dict[str, list[User]]  # lower case, without the @; a username can be stale
    by_id: dict[int, User]
    owners: dict[int, int]  # customer id → its stored rep's user id, for customers that have one

    def describe(self, user_id: int) -> str:
        user = self.by_id[user_id]
        return f"{user.name} ({user.telegram_id})"


async def _people(session: AsyncSession, rows: list[CustomerRow]) -> People:
    by_telegram_id: dict[int, User] = {}
    by_username: dict[str, list[User]] = {}
    by_id: dict[int, User] = {}
    for user in await session.scalars(select(User).order_by(User.id)):
        by_telegram_id[user.telegram_id] = by_id[user.id] = user
        if user.username:
            by_username.setdefault(user.username.lower(), []).append(user)
    owners: dict[int, int] = {}
    if any(row.rep and not _is_telegram_id(row.rep) for row in rows):  # only a username drifts
        owners = {
            customer_id: rep_id
            for customer_id, rep_id in await session.execute(
                select(Customer.id, Customer.rep_id).where(Customer.rep_id.is_not(None))
            )
            if rep_id is not None  # as the query says (for the type checker)
        }
    return People(by_telegram_id, by_username, by_id, owners)


def _is_telegram_id(rep: str) -> bool:
    return rep.isascii() and rep.isdigit()


def _resolve_rep(rep: str, people: People) -> tuple[User | None, list[Problem]]:
    """The one person ``rep`` names: a Telegram id, or a username that nobody else holds.

    A username is whoever last used it: Telegram lets anyone take one that was given up,
    so one held by several people names none of them.
    """
    if _is_telegram_id(rep):
        user = people.by_telegram_id.get(int(rep))
        return user, [] if user else [(N_("rep {value} is not a registered user"), {"value": rep})]
    holders = people.by_username.get(rep.lstrip("@").lower(), [])
    if not holders:
        return None, [(N_("rep {value} is not a registered user"), {"value": rep})]
    if len(holders) > 1:
        names = ", ".join(people.describe(user.id) for user in holders[:5])
        return None, [
            (
                N_("rep {value} matches several people: {names}. Name the rep by Telegram id."),
                {"value": rep, "names": names},
            )
        ]
    return holders[0], []


def _check_rep(
    row: CustomerRow,
    rep: str,
    known: tuple[int, int | None] | None,
    people: People,
    own_team: int | None,
    manager: bool,
) -> tuple[User | None, list[Problem]]:
    """Reps must exist, be active and do field work; a manager assigns only their own team's.

    A username that now names someone other than the customer's stored rep is refused: it may
    have passed to another person. Only a Telegram id moves a customer to another rep.
    """
    user, problems = _resolve_rep(rep, people)
    if user is None:
        return None, problems
    if not user.active:
        return None, [(N_("rep {value} is deactivated"), {"value": rep})]
    if Permission.LOG_VISIT not in GRANTS[user.role]:
        return None, [(N_("rep {value} does not do field work"), {"value": rep})]
    if manager and user.team_id != own_team:
        return None, [(N_("rep {value} is not in your team"), {"value": rep})]
    owner = people.owners.get(known[0]) if known is not None else None
    if not _is_telegram_id(rep) and owner is not None and owner != user.id:
        return None, [
            (
                N_(
                    "customer {code}'s rep is {owner}, but {value} is now {person}; to change "
                    "the rep, name them by Telegram id"
                ),
                {
                    "code": row.code,
                    "owner": people.describe(owner),
                    "value": rep,
                    "person": people.describe(user.id),
                },
            )
        ]
    return user, []


def _check_against_database(
    rows: list[CustomerRow],
    existing: dict[str, tuple[int, int | None]],
    people: People,
    own_team: int | None,
    manager: bool,
) -> tuple[dict[int, User], list[RowError]]:
    """Each row's rep (see :func:`_check_rep`); a manager stays inside their own team."""
    reps: dict[int, User] = {}
    errors: list[RowError] = []
    for row in rows:
        problems: list[Problem] = []
        known = existing.get(search_key(row.code)) if row.code else None
        if manager and known is not None and known[1] != own_team:
            problems.append((N_("customer {code} belongs to another team"), {"code": row.code}))
        if row.rep is not None:
            user, rep_problems = _check_rep(row, row.rep, known, people, own_team, manager)
            problems += rep_problems
            if user is not None:
                reps[row.line] = user
        errors.extend(RowError(row.line, reason, params) for reason, params in problems)
    return reps, errors


def _assignment(rep: User | None, has_rep_column: bool, is_new: bool, own_team: int | None) -> dict[str, Any]:
    """rep_id and team_id to write: the rep's team, else (for a manager) the manager's team."""
    if rep is not None:
        return {"rep_id": rep.id, "team_id": rep.team_id}
    if has_rep_column or is_new:
        return {"rep_id": None, "team_id": own_team}
    return {}


async def import_customers(
    session: AsyncSession, table: Table, now: datetime, caller: Caller | None = None
) -> ImportReport:
    """Validate, then write everything in the caller's transaction; ``caller`` None means the CLI."""
    if caller is not None:
        require(caller, Permission.IMPORT_CUSTOMERS)
    manager = caller is not None and caller.role == Role.MANAGER
    own_team = caller.team_id if caller is not None and manager else None
    checked = check(table)
    rows, errors, to_confirm = checked.good, checked.errors, checked.to_confirm
    existing = await _existing(session) if to_confirm else {}
    people = (
        await _people(session, to_confirm) if any(row.rep for row in to_confirm) else People({}, {}, {}, {})
    )
    reps, db_errors = _check_against_database(to_confirm, existing, people, own_team, manager)
    errors = sorted(errors + db_errors, key=lambda error: error.line)
    report = ImportReport(errors=errors)
    if errors:
        return report
    has_rep_column = "rep" in table.header
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in rows:
        known = existing.get(search_key(row.code))
        fields = {**row.values, **_assignment(reps.get(row.line), has_rep_column, known is None, own_team)}
        if known is None:
            new.append(
                {
                    "grade": DEFAULT_GRADE,
                    "rep_id": None,
                    "team_id": None,
                    "phone": None,
                    "address": None,
                    "latitude": None,
                    "longitude": None,
                    "credit_days": None,
                    "credit_limit": None,
                    **fields,
                    "code": row.code,
                    "status": CustomerStatus.ACTIVE,
                    "created_at": now,
                }
            )
        else:  # the code stays as first written; a new name needs its key (a Core UPDATE: no ORM)
            changed.append({"row_id": known[0], **fields, **search_keys(fields)})
    if new:  # a Core executemany (the keys are the columns' defaults): the ORM's bulk insert would
        # fetch keys row by row on SQLite
        await session.execute(Customer.__table__.insert(), new)
    for columns, batch in _same_keys(changed).items():
        await session.execute(_update_by_id(columns), batch)
    report.created, report.updated = len(new), len(changed)
    audit.record(
        session,
        actor_id=caller.id if caller else None,
        action="import_customers",
        entity="customer",
        entity_id=None,
        at=now,
        after={
            "created": report.created,
            "updated": report.updated,
            "columns": [c for c in COLUMNS if c in table.header],
        },
    )
    return report


def _same_keys(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Group update rows by the columns they set: one statement shape per group."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(name for name in row if name != "row_id")), []).append(row)
    return groups


def _update_by_id(columns: tuple[str, ...]) -> Update:
    """One UPDATE by primary key, run as an executemany over the rows (Core: the ORM's bulk
    update path is many times slower on asyncpg)."""
    table = Customer.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(name) for name in columns})
    )
