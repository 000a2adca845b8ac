"""The ``fieldbot`` command: run the bot, migrate, bootstrap an admin, import people."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot import arguments, logs
from bot.config import ConfigError, Settings

if TYPE_CHECKING:
    from bot.health import Role
    from bot.services.intake.importing import ImportReport
    from bot.tabular import Table

# Everything else is imported where a command needs it: `fieldbot --help` and `fieldbot jobs list`
# start in a fraction of the time the whole bot takes to import (bench/cli.py, docs/PERFORMANCE.md).

log = logging.getLogger("fieldbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldbot",
        description=(
            "fieldbot: the Telegram bot for a field sales force. Settings come from FIELDBOT_* "
            "environment variables or a .env file (see the README)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (long polling, or a webhook with --webhook-url)")
    run.add_argument("--webhook-url", help="public HTTPS URL Telegram should post updates to")
    run.add_argument("--listen", default="127.0.0.1", help="address to serve the webhook on")
    run.add_argument("--port", type=int, default=8443, help="port to serve the webhook on")
    run.add_argument(
        "--secret",
        help="secret token Telegram must send with each webhook call (default: FIELDBOT_WEBHOOK_SECRET)",
    )
    run.add_argument(
        "--db-wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to keep retrying an unreachable database at start (default 300)",
    )

    commands.add_parser(
        "status",
        help="is the bot alive and ready: what its /readyz says (FIELDBOT_HEALTH_ADDRESS), or the database",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply pending migrations")
    backup_parser = db_commands.add_parser(
        "backup", help="a consistent copy while the bot runs (SQLite online backup, or pg_dump)"
    )
    backup_parser.add_argument("file", type=Path, help="where to write the backup")
    backup_parser.add_argument(
        "--force",
        action="store_true",
        help="replace FILE if it exists (otherwise an existing file is refused)",
    )
    revision = db_commands.add_parser(
        "revision", help="(developers) write a migration for model changes, against an upgraded database"
    )
    revision.add_argument("-m", "--message", required=True, help="what changed, in a few words")

    admin = commands.add_parser("admin", help="manage admins from the command line")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    add = admin_commands.add_parser("add", help="create or promote an admin (the first way in)")
    add.add_argument("telegram_id", type=int, help="the person's numeric Telegram user id")
    add.add_argument("--name", required=True, help="their name as colleagues know it")

    jobs = commands.add_parser("jobs", help="scheduled pushes: list them, or run one now")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    job_commands.add_parser("list", help="each job, its schedule and its last run")
    run_one = job_commands.add_parser("run", help="run one job now and deliver its pushes")
    run_one.add_argument("name", help="job name, as `fieldbot jobs list` shows it")
    run_one.add_argument(
        "--at",
        type=datetime.fromisoformat,
        default=None,
        help="run as if the clock read this local time, e.g. 2026-11-23T08:30",
    )

    demo = commands.add_parser(
        "demo", help="play a working day with a demo company against a local Telegram stand-in"
    )
    arguments.demo(demo)

    console = commands.add_parser(
        "console", help="chat with the bot in this terminal as one of its users (writes to the database)"
    )
    arguments.console(console)

    imports = commands.add_parser("import", help="import data from CSV or XLSX")
    import_kinds = imports.add_subparsers(dest="import_kind", required=True, metavar="KIND")
    people = import_kinds.add_parser(
        "users", help="onboard people: header telegram_id,name,role,team,username"
    )
    people.add_argument("file", type=Path)
    customers = import_kinds.add_parser(
        "customers",
        help="customers: header code,name,grade,rep,phone,address,latitude,longitude,"
        "credit_limit,credit_days",
    )
    customers.add_argument("file", type=Path)
    receivables = import_kinds.add_parser(
        "receivables", help="open invoices: header invoice_no,customer_code,amount,issued_on,due_on"
    )
    receivables.add_argument("file", type=Path)

    export = commands.add_parser("export", help="write a period's Excel workbook, every team")
    export.add_argument(
        "--period",
        default="month",
        help="today, yesterday, week, month (default), 2026-11 or 2026-11-01..2026-11-15",
    )
    export.add_argument(
        "-o", "--output", type=Path, help="the .xlsx file to write (default: fieldbot-PERIOD.xlsx here)"
    )
    export.add_argument("--language", choices=("en", "zh"), default="en", help="language of the headers")
    export_kinds = export.add_subparsers(dest="export_kind", metavar="KIND")
    qr_sheet = export_kinds.add_parser(
        "qr", help="a printable PDF (or PNG) of QR codes that open each customer's visit"
    )
    qr_sheet.add_argument("--team", help="only this team's customers (default: every customer)")
    qr_sheet.add_argument(
        "--out", type=Path, help="the .pdf or .png to write (default: fieldbot-qr.pdf here)"
    )
    qr_sheet.add_argument("--language", choices=("en", "zh"), default="en", help="language of the title")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.install_redaction(settings.token)  # before anything can log or raise with the token
        if args.command == "run":
            return run(settings, args)
        if args.command == "status":
            return asyncio.run(status(settings))
        if args.command == "console":
            from bot import console

            return console.run(args)
        if args.command == "demo":
            from bot import demo

            return demo.run(args)
        logs.configure(settings.token, logging.WARNING)
        from bot.db import new_revision, upgrade

        if args.command == "db" and args.db_command == "backup":
            return make_backup(settings, args.file, force=args.force)
        if args.command == "db":
            upgrade(settings.database_url)
            if args.db_command == "revision":
                new_revision(settings.database_url, args.message)
                return 0
            print("database is up to date")
            return 0
        if args.command == "jobs" and args.jobs_command == "list":
            return asyncio.run(list_jobs(settings))  # reads only: no migration (and no Alembic import)
        upgrade(settings.database_url)
        if args.command == "jobs":
            return asyncio.run(run_one_job(settings, args.name, args.at))
        if args.command == "admin":
            return asyncio.run(add_admin(settings, args.telegram_id, args.name))
        if args.command == "export" and args.export_kind == "qr":
            return asyncio.run(export_qr(settings, args.team, args.out, args.language))
        if args.command == "export":
            return asyncio.run(export_to_file(settings, args.period, args.output, args.language))
        from bot.parsing_sandbox import read_path
        from bot.tabular import TableError

        try:
            table = read_path(args.file)  # in a child process, within the bot's limits
        except (OSError, TableError) as error:
            print(f"fieldbot: cannot read {args.file}: {error}", file=sys.stderr)
            return 1
        return asyncio.run(import_file(settings, args.import_kind, table))
    except ConfigError as error:
        print(f"fieldbot: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a token Telegram rejects (401/404): a configuration mistake, one line
        line = logs.rejection_line(error)  # (telegram is imported only by commands that talk to it)
        if line is None:
            raise
        print(f"fieldbot: {line}", file=sys.stderr)
        return 2


def make_backup(settings: Settings, target: Path, *, force: bool = False) -> int:
    from bot.backup import BackupError, backup

    try:
        written = backup(settings.database_url, target, force=force)
    except BackupError as error:
        print(f"fieldbot: {error}", file=sys.stderr)
        return 1
    print(f"backup written to {written} ({written.stat().st_size:,} bytes)")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.health import HealthServer, Role

    settings.require_token()
    logs.configure(settings.token, settings.log_level, settings.log_format, settings.sentry_dsn)
    role = Role(mode="webhook" if args.webhook_url else "polling")
    health = None
    if settings.health_address:
        health = HealthServer(settings.database_url, settings.health_address, role)
        try:
            health.start()  # before standing by: a standby answers too
        except OSError as error:  # the bot's work matters more than its health checks: go on
            log.error("health checks and metrics NOT served on %s: %s", settings.health_address, error)
            health = None
    try:
        return _run_bot(settings, args, role)
    finally:
        role.set("stopping")
        if health is not None:
            health.stop()


def _run_bot(settings: Settings, args: argparse.Namespace, role: Role) -> int:
    from bot.app import TOKEN_REJECTED_KEY, build_application
    from bot.db import Database
    from bot.leadership import StandbyStopped, explain_conflicts, lead
    from bot.startup import StartupError, lock_sqlite, wait_and_migrate

    try:
        # A `fieldbot jobs run` sending on this SQLite file is waited for, like a database still starting.
        lock = lock_sqlite(settings.database_url, wait_for_jobs_run=args.db_wait)
        role.set("standby")
        leadership = lead(settings.database_url, args.db_wait)  # PostgreSQL: stand by while another leads
        log.info("applying database migrations")
        wait_and_migrate(settings.database_url, args.db_wait)
    except StartupError as error:
        print(f"fieldbot: {error}", file=sys.stderr)
        return 1
    except StandbyStopped:
        return 0
    application = build_application(settings, Database(settings.database_url))
    application.bot_data["fieldbot.sqlite_lock"] = lock  # the lock lives as long as the bot
    if leadership is not None and not leadership.wait_out_grace():
        return 0  # stopped before it began to lead
    role.set("leader")
    explain_conflicts()
    # Everything built so far (modules, handlers, ORM mappers) lives as long as the process: frozen,
    # a full garbage collection no longer walks it (one took 60-100 ms, stalling every reply).
    gc.freeze()
    if args.webhook_url:
        application.run_webhook(
            listen=args.listen,
            port=args.port,
            webhook_url=args.webhook_url,
            secret_token=args.secret or settings.webhook_secret,
            url_path="telegram",
        )
    else:
        application.run_polling()
    rejected = application.bot_data.get(TOKEN_REJECTED_KEY)
    if rejected is not None:  # revoked while running: stopped, so that the service manager sees it
        print(f"fieldbot: {logs.rejection_line(rejected)}", file=sys.stderr)
        return 2
    if leadership is not None:
        leadership.release()  # stopped cleanly: a standby takes over at once
    return 0


async def status(settings: Settings) -> int:
    """Print the running bot's readiness report; 0 if it is ready, 1 if not, 3 if none answers.

    With no process answering, the database is asked directly, so an operator still sees whether
    it answers and how many pushes wait.
    """
    from bot.health import Role, fetch_report, report

    found = fetch_report(settings.health_address) if settings.health_address else None
    if found is None:
        from bot.db import Database

        where = settings.health_address or "nowhere (FIELDBOT_HEALTH_ADDRESS=off)"
        print(f"no fieldbot process answers at {where}")
        db = Database(settings.database_url)
        try:
            found = dataclasses.asdict(await report(db, Role(name="not running")))
        finally:
            await db.dispose()
        code = 3
    else:
        code = 0 if found.get("ready") else 1
    width = max(len(key) for key in found)
    for key, value in found.items():
        shown = "-" if value is None else f"{value:.1f}" if isinstance(value, float) else value
        print(f"{key.replace('_', ' '):<{width}}  {shown}")
    return code


async def add_admin(settings: Settings, telegram_id: int, name: str) -> int:
    from bot.clock import Clock
    from bot.db import Database
    from bot.services.errors import ServiceError
    from bot.services.people import users

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            user, created = await users.bootstrap_admin(
                session, telegram_id, name, Clock(settings.timezone).now()
            )
            print(f"{'added' if created else 'promoted'} admin {user.name} ({user.telegram_id})")
        return 0
    except ServiceError as error:
        print(f"fieldbot: {error}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()


def print_report(report: ImportReport) -> None:
    if report.ok:
        print(
            f"imported: {report.created} new, {report.updated} updated"
            + (f"; new teams: {', '.join(report.teams_created)}" if report.teams_created else "")
        )
        for note in report.notes:
            print(f"  line {note.line}: {note.render()}")
        return
    count = len(report.errors)
    print(f"nothing imported: {count} problem{'' if count == 1 else 's'}", file=sys.stderr)
    for error in report.errors:
        print(f"  line {error.line}: {error.render()}", file=sys.stderr)


async def import_file(settings: Settings, kind: str, table: Table) -> int:
    """Run one import in one transaction; a report with errors has written nothing."""
    from bot.clock import Clock
    from bot.db import Database
    from bot.services.intake.imports import importer

    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            report = await importer(kind)(session, table, Clock(settings.timezone).now(), None)
        print_report(report)
        return 0 if report.ok else 1
    finally:
        await db.dispose()


async def export_to_file(settings: Settings, period_text: str, output: Path | None, language: str) -> int:
    """Write the period's workbook with every team in it (no caller: the operator's full scope)."""
    from bot.clock import Clock
    from bot.db import Database
    from bot.services.errors import ServiceError
    from bot.services.reporting import exports
    from bot.services.reporting.periods import parse_period

    today = Clock(settings.timezone).today()
    try:
        period = parse_period(period_text, today)
    except ServiceError as error:
        print(f"fieldbot: {error}", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        async with db.reading() as session:
            book = await exports.build_workbook(
                session, None, period, settings.timezone, today, language=language
            )
    finally:
        await db.dispose()
    path = output or Path(exports.file_name(period))
    try:
        path.write_bytes(book.content)
    except OSError as error:
        print(f"fieldbot: cannot write {path}: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}: {period.label}, {book.scope}, times in {settings.timezone.key}")
    for sheet, count in book.rows.items():
        print(f"  {sheet}: {count} rows")
    return 0


async def export_qr(settings: Settings, team: str | None, output: Path | None, language: str) -> int:
    """Write the QR sheet of every customer (or one team's): the bot's username comes from getMe."""
    from telegram import Bot

    from bot.db import Database
    from bot.i18n import N_, Translator
    from bot.services.errors import ServiceError
    from bot.services.field import qr, qr_sheet

    path = output or Path("fieldbot-qr.pdf")
    if path.suffix.lower() not in (".pdf", ".png"):
        print(f"fieldbot: {path}: write a .pdf or a .png", file=sys.stderr)
        return 2
    token = settings.require_token()
    async with Bot(token, base_url=settings.api_url, base_file_url=settings.file_url) as bot:
        username = bot.username  # getMe, as the bot started
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:  # codes made for the sheet are kept: reprints match
            codes = await qr.codes_for_export(session, team)
    except ServiceError as error:
        print(f"fieldbot: {error.message.format(**error.params)}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    title = Translator(language).gettext(N_("Scan in the shop to log a visit"))
    sheet = await asyncio.to_thread(
        qr_sheet.draw_sheet, username, codes, f"{title} · {team}" if team else title
    )
    if path.suffix.lower() == ".pdf":
        files = {path: sheet.pdf()}
    elif len(sheet.pages) == 1:
        files = {path: sheet.png()}
    else:  # one PNG a page: name-1.png, name-2.png, …
        files = {
            path.with_name(f"{path.stem}-{number + 1}{path.suffix}"): sheet.png(number)
            for number in range(len(sheet.pages))
        }
    try:
        for target, content in files.items():
            target.write_bytes(content)
    except OSError as error:
        print(f"fieldbot: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return 1
    pages = len(sheet.pages)
    written = ", ".join(str(target) for target in files)
    print(
        f"wrote {written}: {len(codes)} customers, {pages} page{'' if pages == 1 else 's'}, for @{username}"
    )
    return 0


async def list_jobs(settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError

    from bot.db import Database
    from bot.services import company_settings as company
    from jobs.catalogue import JOBS
    from jobs.wave import estimates, last_runs, reachable_by_role, waves

    db = Database(settings.database_url)
    try:
        async with db.reading() as session:
            company_settings = await company.load(session)
            people = await reachable_by_role(session)
            ran = await last_runs(session)
    except DBAPIError as error:  # not migrated yet (no such table), or unreachable
        print(
            f"fieldbot: cannot read the jobs ({error.orig}): is `fieldbot db upgrade` done?", file=sys.stderr
        )
        return 1
    finally:
        await db.dispose()
    rate = settings.pushes_per_second
    expected = estimates(company_settings, people, {name: run.pushes for name, run in ran.items()})
    rows: list[tuple[str, ...]] = [("job", "at", "days", "expected pushes", f"take at {rate}/s", "last run")]
    for spec in JOBS.values():
        last = ran.get(spec.name)
        pushes = f"{last.pushes} push" + ("" if last.pushes == 1 else "es") if last else ""
        estimate = expected[spec.name]
        rows.append(
            (
                spec.name,
                f"{company_settings.job_times[spec.name]:%H:%M}",
                spec.days,
                f"{estimate.pushes:,} ({estimate.basis})",
                _duration(estimate.seconds(rate)),
                f"{last.ran_for} ({pushes})" if last else "never",
            )
        )
    print(aligned(rows))
    # Jobs at one time add up: say how long each such wave takes, and what to do if it is too long.
    for wave in waves(expected, rate):
        if wave.too_long or len(wave.jobs) > 1:
            print(wave.describe(paid=settings.paid_broadcast))
    return 0


def _duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``5 min 45 s``: how long a job's pushes take to send."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def aligned(rows: list[tuple[str, ...]], gap: int = 2) -> str:
    """Rows as text columns, each as wide as its widest cell (the last one left ragged)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        (" " * gap)
        .join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        .rstrip()
        for row in rows
    )


async def run_one_job(settings: Settings, name: str, at: datetime | None) -> int:
    """Run a job as of ``at`` (local time), then deliver what is due, unless a bot runs.

    A running bot sends the pushes itself: this command sending them too would spend a second
    flood budget beside the bot's (jobs/outbox.py, "One flood budget"). With no bot running it
    sends them, holding the bot's lock meanwhile so that a bot started now does not send too.
    """
    from telegram.ext import ExtBot

    from bot.clock import Clock
    from bot.db import Database
    from bot.ratelimit import TelegramRateLimiter
    from jobs.catalogue import JOBS
    from jobs.outbox import OutboxSender, sole_sender
    from jobs.runner import run_job

    if name not in JOBS:
        print(f"fieldbot: no job named {name!r}; jobs: {', '.join(JOBS)}", file=sys.stderr)
        return 2
    clock = Clock(settings.timezone)
    moment = at.replace(tzinfo=settings.timezone) if at and at.tzinfo is None else (at or clock.now())
    db = Database(settings.database_url)
    try:
        outcome = await run_job(db, name, moment.astimezone(UTC), settings.timezone, again=True)
        if not outcome.ran:
            print(f"{name} for {outcome.ran_for}: not run ({outcome.reason})")
            return 0
        async with sole_sender(settings.database_url) as alone:
            if not alone:
                print(
                    f"{name} for {outcome.ran_for}: queued {outcome.pushes} new pushes; "
                    "the running bot sends them"
                )
                return 0
            print(f"{name} for {outcome.ran_for}: {outcome.pushes} new pushes queued")
            if not settings.token:
                print("no FIELDBOT_TOKEN and no bot running: the bot sends them once it runs")
                return 0
            bot = ExtBot(
                settings.token,
                base_url=settings.api_url,
                base_file_url=settings.file_url,
                rate_limiter=TelegramRateLimiter(max_retries=3),
            )
            async with bot:
                # Due as of --at even if that is still to come: "run it now" includes its pushes.
                sender = OutboxSender(db, clock, paid=settings.paid_broadcast)
                result = await sender.drain(bot, due_by=moment)
        print(f"delivered {result.sent}, retrying later {result.retried}, dropped {result.dropped}")
        return 0
    finally:
        await db.dispose()


if __name__ == "__main__":
    sys.exit(main())
