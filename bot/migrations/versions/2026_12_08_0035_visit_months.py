"""visit months (issue 24): each rep's visits of each month, counted as they are written.

The company's ``/summary month`` counted the month's visits per rep on every press (count, distinct
customers, the trust flags): at ten times the bench company 1,163,694 visits, 830 ms of its 2.4 s.
Here, per month *of the company's time zone*:

* ``rep_months``: a row per rep and month with visits: how many, of how many distinct customers,
  and how many carry each trust flag (and any).
* ``rep_customer_months``: a row per rep, customer and month: how many visits — what tells whether
  a visit is the rep's first to that customer that month (the distinct count) or its last.
* ``local_months``: each month's first instant in UTC, for the zone the figures are built for
  (``visit_rollup.zone``). A trigger cannot convert time zones (SQLite has none), so it finds a
  visit's month here: the month whose start is the latest at or before ``visited_at``.
* ``visit_rollup``: one row, the zone (NULL: not built; ``local_months`` is then empty and the
  triggers count nothing). Built here for ``FIELDBOT_TIMEZONE`` (or the default zone), as
  ``fieldbot run`` migrates with the bot's own environment: the count of every visit so far is paid
  once, at the upgrade (at ten times the bench company, 10 million visits, about 40 s).
  ``bot/services/reporting/visit_months.py`` builds them again if the zone changes.
* Triggers on ``visits``: an insert adds the visit to its rep's month; a delete (undo) takes it off;
  a change of ``visited_at``, ``rep_id``, ``customer_id`` or a flag does both. On PostgreSQL the
  customer count follows the visit count that ``rep_customer_months``'s own upsert returns, so two
  visits written at once by two transactions are counted as one customer, not two.

On SQLite a later migration that rebuilds ``visits`` must recreate these triggers, as those of
0012 (README "Development").

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-08
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

import models.base
from bot.config import DEFAULT_TIMEZONE

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

FLAGS = ("far_away", "no_location", "photo_reused", "photo_forwarded", "late_entry")


def _month(row: str) -> str:
    return (
        f"(SELECT month FROM local_months WHERE starts_at <= {row}.visited_at "
        "ORDER BY starts_at DESC LIMIT 1)"
    )


def _flag(row: str, flag: str) -> str:
    return f"(CASE WHEN {row}.{flag} THEN 1 ELSE 0 END)"


def _flagged(row: str) -> str:
    return f"(CASE WHEN {' OR '.join(f'{row}.{flag}' for flag in FLAGS)} THEN 1 ELSE 0 END)"


def _rep_month_update(row: str, sign: str, month: str, customers: str) -> str:
    """SQL: move ``row``'s visit into (``+``) or out of (``-``) its rep's month."""
    flags = ", ".join(f"{flag} = {flag} {sign} {_flag(row, flag)}" for flag in FLAGS)
    return (
        f"UPDATE rep_months SET visits = visits {sign} 1, customers = customers {sign} {customers}, "
        f"flagged = flagged {sign} {_flagged(row)}, {flags} "
        f"WHERE month = {month} AND rep_id = {row}.rep_id"
    )


def _pair(row: str, month: str) -> str:
    return f"month = {month} AND rep_id = {row}.rep_id AND customer_id = {row}.customer_id"


def _pair_has(row: str, month: str, visits: int) -> str:
    """SQL: 1 if ``row``'s rep has exactly ``visits`` visits to its customer that month, else 0."""
    return (
        f"(SELECT CASE WHEN visits = {visits} THEN 1 ELSE 0 END FROM rep_customer_months "
        f"WHERE {_pair(row, month)})"
    )


ZEROS = ", ".join("0" for _ in range(8))
COLUMNS = "month, rep_id, visits, customers, flagged, " + ", ".join(FLAGS)


def _sqlite_add(row: str) -> list[str]:
    month = _month(row)
    return [
        f"INSERT INTO rep_customer_months (month, rep_id, customer_id, visits) "
        f"SELECT {month}, {row}.rep_id, {row}.customer_id, 1 WHERE true "
        "ON CONFLICT (month, rep_id, customer_id) DO UPDATE SET visits = rep_customer_months.visits + 1",
        f"INSERT INTO rep_months ({COLUMNS}) SELECT {month}, {row}.rep_id, {ZEROS} WHERE true "
        "ON CONFLICT (month, rep_id) DO NOTHING",
        _rep_month_update(row, "+", month, _pair_has(row, month, 1)),
    ]


def _sqlite_take(row: str) -> list[str]:
    month = _month(row)
    return [
        f"UPDATE rep_customer_months SET visits = visits - 1 WHERE {_pair(row, month)}",
        _rep_month_update(row, "-", month, _pair_has(row, month, 0)),
        f"DELETE FROM rep_customer_months WHERE {_pair(row, month)} AND visits = 0",
    ]


MOVED = ("visited_at", "rep_id", "customer_id", *FLAGS)

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER visits_months_on_insert AFTER INSERT ON visits
       WHEN {_month("NEW")} IS NOT NULL
       BEGIN {"; ".join(_sqlite_add("NEW"))}; END""",
    f"""CREATE TRIGGER visits_months_on_delete AFTER DELETE ON visits
       WHEN {_month("OLD")} IS NOT NULL
       BEGIN {"; ".join(_sqlite_take("OLD"))}; END""",
    # Two triggers, so each half runs only when its month is known (built, and in range).
    f"""CREATE TRIGGER visits_months_on_update_old AFTER UPDATE OF {", ".join(MOVED)} ON visits
       WHEN {_month("OLD")} IS NOT NULL
       BEGIN {"; ".join(_sqlite_take("OLD"))}; END""",
    f"""CREATE TRIGGER visits_months_on_update_new AFTER UPDATE OF {", ".join(MOVED)} ON visits
       WHEN {_month("NEW")} IS NOT NULL
       BEGIN {"; ".join(_sqlite_add("NEW"))}; END""",
)
SQLITE_TRIGGER_NAMES = (
    "visits_months_on_insert",
    "visits_months_on_delete",
    "visits_months_on_update_old",
    "visits_months_on_update_new",
)

POSTGRES_TRIGGERS = (
    f"""CREATE FUNCTION visits_keep_months() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         in_month date;
         left_visits integer;
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           in_month := {_month("OLD")};
           IF in_month IS NOT NULL THEN
             UPDATE rep_customer_months SET visits = visits - 1 WHERE {_pair("OLD", "in_month")}
               RETURNING visits INTO left_visits;
             {_rep_month_update("OLD", "-", "in_month", "(CASE WHEN left_visits = 0 THEN 1 ELSE 0 END)")};
             DELETE FROM rep_customer_months WHERE {_pair("OLD", "in_month")} AND visits = 0;
           END IF;
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           in_month := {_month("NEW")};
           IF in_month IS NOT NULL THEN
             INSERT INTO rep_customer_months AS pair (month, rep_id, customer_id, visits)
               VALUES (in_month, NEW.rep_id, NEW.customer_id, 1)
               ON CONFLICT (month, rep_id, customer_id) DO UPDATE SET visits = pair.visits + 1
               RETURNING visits INTO left_visits;
             INSERT INTO rep_months ({COLUMNS}) VALUES (in_month, NEW.rep_id, {ZEROS})
               ON CONFLICT (month, rep_id) DO NOTHING;
             {_rep_month_update("NEW", "+", "in_month", "(CASE WHEN left_visits = 1 THEN 1 ELSE 0 END)")};
           END IF;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER visits_keep_months_on_write AFTER INSERT OR DELETE
       ON visits FOR EACH ROW EXECUTE FUNCTION visits_keep_months()""",
    f"""CREATE TRIGGER visits_keep_months_on_update AFTER UPDATE ON visits FOR EACH ROW
       WHEN ({" OR ".join(f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in MOVED)})
       EXECUTE FUNCTION visits_keep_months()""",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS visits_keep_months_on_update ON visits",
    "DROP TRIGGER IF EXISTS visits_keep_months_on_write ON visits",
    "DROP FUNCTION IF EXISTS visits_keep_months()",
)


def upgrade() -> None:
    op.create_table(
        "visit_rollup",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_visit_rollup_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_rollup")),
    )
    op.execute("INSERT INTO visit_rollup (id, zone) VALUES (1, NULL)")
    op.create_table(
        "local_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("starts_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_local_months")),
        sa.UniqueConstraint("starts_at", name=op.f("uq_local_months_starts_at")),
    )
    op.create_table(
        "rep_customer_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "rep_id", "customer_id", name=op.f("pk_rep_customer_months")),
    )
    op.create_table(
        "rep_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        *(sa.Column(flag, sa.Integer(), nullable=False) for flag in FLAGS),
        sa.PrimaryKeyConstraint("month", "rep_id", name=op.f("pk_rep_months")),
    )
    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)
    zone = _company_zone()
    if zone is not None:
        _build(zone)


def _company_zone() -> ZoneInfo | None:
    """The zone the bot runs in, read as ``bot.config`` reads it; None if it names no zone (the
    bot refuses to start then, and builds the months once it is fixed)."""
    try:
        return ZoneInfo(os.environ.get("FIELDBOT_TIMEZONE") or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _first_of_next(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _starts(month: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(month, time.min, tzinfo=zone).astimezone(UTC)


def _build(zone: ZoneInfo) -> None:
    """``local_months`` for 2000–2100 in ``zone``, and every visit counted by its month (as
    ``visit_months.build`` does, in SQL of its own: a migration does not change with the code)."""
    bind = op.get_bind()
    instant = models.base.UTCDateTime()
    months, month = [], date(2000, 1, 1)
    while month <= date(2100, 12, 1):
        months.append(month)
        month = _first_of_next(month)
    local_months = sa.table("local_months", sa.column("month", sa.Date()), sa.column("starts_at", instant))
    op.bulk_insert(local_months, [{"month": m, "starts_at": _starts(m, zone)} for m in months])
    visits = sa.table("visits", sa.column("visited_at", instant))
    first, last = bind.execute(
        sa.select(sa.func.min(visits.c.visited_at), sa.func.max(visits.c.visited_at))
    ).one()
    if first is not None:
        month = max(first.astimezone(zone).date().replace(day=1), months[0])
        while month <= min(last.astimezone(zone).date(), months[-1]):
            bounds = {
                "month": month,
                "start": _starts(month, zone),
                "end": _starts(_first_of_next(month), zone),
            }
            for statement in _COUNT_MONTH:
                bind.execute(statement, bounds)
            month = _first_of_next(month)
    op.execute(f"UPDATE visit_rollup SET zone = '{zone.key}' WHERE id = 1")


_BOUNDS = (
    sa.bindparam("month", type_=sa.Date()),
    sa.bindparam("start", type_=models.base.UTCDateTime()),
    sa.bindparam("end", type_=models.base.UTCDateTime()),
)
_IN_MONTH = "visited_at >= :start AND visited_at < :end"
_COUNT_MONTH = (
    sa.text(
        "INSERT INTO rep_customer_months (month, rep_id, customer_id, visits) "
        f"SELECT :month, rep_id, customer_id, COUNT(*) FROM visits WHERE {_IN_MONTH} "
        "GROUP BY rep_id, customer_id"
    ).bindparams(*_BOUNDS),
    sa.text(
        f"INSERT INTO rep_months ({COLUMNS}) "
        f"SELECT :month, rep_id, COUNT(*), COUNT(DISTINCT customer_id), SUM({_flagged('visits')}), "
        + ", ".join(f"SUM({_flag('visits', flag)})" for flag in FLAGS)
        + f" FROM visits WHERE {_IN_MONTH} GROUP BY rep_id"
    ).bindparams(*_BOUNDS),
)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("rep_months")
    op.drop_table("rep_customer_months")
    op.drop_table("local_months")
    op.drop_table("visit_rollup")
