"""Customers found by a normalised key; names as long as Telegram allows.

* ``customers.code_key`` (unique) and ``customers.name_key``: :func:`bot.text.search_key` of the
  code and the name (NFKC, case folding, whitespace collapsed), computed in Python. Customers are
  looked up by them instead of ``lower(code)`` / ``lower(name)``, whose indexes go: SQLite's
  ``lower()`` folds A-Z only, so ``Élan Bistro``, ``ÉL-1`` and ``ＡＢＣ商店`` were found on
  PostgreSQL and not on SQLite, and a re-imported ``ÄB-1`` missed its own row and hit the unique
  code. Two existing customers whose codes share a key (possible on SQLite, e.g. ``ÄB-1`` and
  ``äb-1``) both stay: the older keeps the key, each other one gets the key followed by U+001F and
  its id (no typed code folds to that: whitespace, which the key collapses), so the upgrade never
  fails and both are still offered when someone types the code.
* ``users.name`` takes 129 characters: a Telegram first name (64) and last name (64) and a space.
* Bidirectional controls (U+202A-202E, U+2066-2069, LRM, RLM, ALM) are removed from stored names
  of people, customers and teams, as they now are where names come in (:func:`bot.text.one_line`).
  A team whose cleaned name another team already has keeps its name (team names are unique); the
  views remove the controls again when they show it.

SQLite cannot alter a column: the two declarations that change (``users.name``'s length, and the
keys' NOT NULL once every row has its key) are rewritten in the schema text, the procedure SQLite
documents for changes that leave the stored rows as they are (lang_altertable.html#otheralter).
A table rebuild instead (Alembic's batch mode) drops the old table, and foreign keys are on for
the whole upgrade: dropping ``users`` would set every ``teams.manager_id`` to NULL, and dropping
either table fails while other rows refer to it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.text import BIDI_CONTROLS, SEARCH_KEY_LENGTH, search_key, strip_bidi_controls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

NAME_BEFORE, NAME_AFTER = 120, 129
DUPLICATE_MARK = "\x1f"
BATCH = 2_000


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_redeclare(table: str, old: str, new: str) -> None:
    """Replace one column declaration in SQLite's stored ``CREATE TABLE`` (see the module doc)."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError(f"{table}: expected one declaration {old!r} in {sql!r}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql.replace(old, new), table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _name_length(before: int, after: int) -> None:
    if _sqlite():
        _sqlite_redeclare("users", f"name VARCHAR({before}) NOT NULL", f"name VARCHAR({after}) NOT NULL")
    else:
        op.alter_column(
            "users", "name", type_=sa.String(after), existing_type=sa.String(before), existing_nullable=False
        )


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _update(table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """``UPDATE table SET column = :column … WHERE id = :row_id``, an executemany in batches."""
    if not rows:
        return
    statement = sa.text(f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE id = :row_id")
    for batch in _batches(rows):
        op.get_bind().execute(statement, list(batch))


def _has_bidi_controls(text: str) -> bool:
    return any(ch in BIDI_CONTROLS for ch in text)


def _clean_people_and_teams() -> None:
    bind = op.get_bind()
    people = [
        {"row_id": id_, "name": " ".join(strip_bidi_controls(name).split()) or "?"}
        for id_, name in bind.execute(sa.text("SELECT id, name FROM users"))
        if _has_bidi_controls(name)
    ]
    _update("users", ["name"], people)
    teams = list(bind.execute(sa.text("SELECT id, name FROM teams ORDER BY id")))
    taken = {name.casefold() for _, name in teams}
    renamed = []
    for id_, name in teams:
        if not _has_bidi_controls(name):
            continue
        cleaned = " ".join(strip_bidi_controls(name).split())
        if not cleaned or cleaned.casefold() in taken:
            log.warning("team %s keeps its name %r: %r is taken", id_, name, cleaned)
            continue
        taken.add(cleaned.casefold())
        renamed.append({"row_id": id_, "name": cleaned})
    _update("teams", ["name"], renamed)


def _fill_customer_keys() -> None:
    """Every customer's keys (and its name without bidi controls), computed here in Python."""
    rows = []
    holders: dict[str, int] = {}
    for id_, code, name in op.get_bind().execute(sa.text("SELECT id, code, name FROM customers ORDER BY id")):
        name = " ".join(strip_bidi_controls(name).split()) or name
        code_key = search_key(code)
        if code_key in holders:
            mark = f"{DUPLICATE_MARK}{id_}"
            log.warning(
                "customers %s and %s: codes %r fold to one key; the later one is found by "
                "part of its code only",
                holders[code_key],
                id_,
                code,
            )
            code_key = code_key[: SEARCH_KEY_LENGTH - len(mark)] + mark
        holders[code_key] = id_
        rows.append({"row_id": id_, "name": name, "code_key": code_key, "name_key": search_key(name)})
    _update("customers", ["name", "code_key", "name_key"], rows)


def upgrade() -> None:
    sqlite = _sqlite()
    _name_length(NAME_BEFORE, NAME_AFTER)
    _clean_people_and_teams()

    op.drop_index("ix_customers_code_lower", table_name="customers")
    op.drop_index("ix_customers_name_lower", table_name="customers")
    for column in ("code_key", "name_key"):
        op.add_column("customers", sa.Column(column, sa.String(SEARCH_KEY_LENGTH), nullable=True))
    _fill_customer_keys()
    for column in ("code_key", "name_key"):
        if sqlite:
            declared = f"{column} VARCHAR({SEARCH_KEY_LENGTH})"
            _sqlite_redeclare("customers", declared, declared + " NOT NULL")
        else:
            op.alter_column("customers", column, existing_type=sa.String(SEARCH_KEY_LENGTH), nullable=False)
    op.create_index("ix_customers_code_key", "customers", ["code_key"], unique=True)
    op.create_index("ix_customers_name_key", "customers", ["name_key"])


def downgrade() -> None:
    op.drop_index("ix_customers_name_key", table_name="customers")
    op.drop_index("ix_customers_code_key", table_name="customers")
    for column in ("name_key", "code_key"):
        if _sqlite():  # SQLite (3.35+) drops a column itself; Alembic's batch mode would rebuild the table
            op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
        else:
            op.drop_column("customers", column)
    op.create_index("ix_customers_code_lower", "customers", [sa.text("lower(code)")], unique=True)
    op.create_index("ix_customers_name_lower", "customers", [sa.text("lower(name)")])
    op.execute(f"UPDATE users SET name = substr(name, 1, {NAME_BEFORE}) WHERE length(name) > {NAME_BEFORE}")
    _name_length(NAME_AFTER, NAME_BEFORE)
