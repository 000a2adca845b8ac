"""``fieldbot db backup FILE``: a consistent copy of the database while the bot keeps running.

SQLite uses its online backup API (pages are copied under the database's own
locking, so writers are never blocked for long and the copy is consistent).
PostgreSQL uses ``pg_dump --format=custom`` when it is on PATH. Either way the
copy is written next to the target and renamed into place, so a failed backup
never leaves a half file under the real name, and an existing file is kept
unless the operator asks for it to be replaced (``--force``). Restoring is
described in the README ("Backup and restore").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """The backup could not be made; the message says why, for the operator."""


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup(url: str, target: Path, *, force: bool = False) -> Path:
    """Write a backup of the database at ``url`` to ``target``; returns the file written.

    An existing ``target`` (yesterday's backup, a typo naming the live database) is refused
    unless ``force`` is set.
    """
    if (target.exists() or target.is_symlink()) and not force:
        raise BackupError(
            f"{target} already exists; nothing was written. Choose another file name, "
            f"or add --force to replace it"
        )
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"no backup method for {backend} databases")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        if backend == "sqlite":
            _sqlite_backup(sqlite_path(url), partial)
        else:
            _pg_dump(url, partial)
        partial.replace(target)  # a crash mid-backup never leaves a half file under the real name
    except OSError as error:
        raise BackupError(f"cannot write {target}: {error.strerror or error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    with (
        contextlib.closing(sqlite3.connect(source)) as live,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy, pages=1024)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq tools expect it (no ``+asyncpg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_dump_command(pg_dump: str, url: str, target: Path) -> list[str]:
    """The ``pg_dump`` argv: the connection string without its password (argv is public in ``ps``)."""
    parts = make_url(url)
    address = URL.create(
        "postgresql",
        username=parts.username,
        host=parts.host,
        port=parts.port,
        database=parts.database,
        query=parts.query,
    )
    return [
        pg_dump,
        "--format=custom",
        "--no-owner",
        "--file",
        str(target),
        address.render_as_string(hide_password=False),
    ]


@contextlib.contextmanager
def password_environment(url: URL) -> Iterator[dict[str, str]]:
    """The environment for a libpq tool, handing it the URL's password through a password file.

    Not on the command line (any local user reads it with ``ps``) and not in ``PGPASSWORD``
    (PostgreSQL's documentation advises against it: some systems show other users' environments
    in ``ps``): a ``PGPASSFILE`` readable only by this user (0600, in a 0700 directory) that
    lives as long as the tool runs. ``PGPASSWORD`` is dropped so it cannot take precedence.
    """
    environment = dict(os.environ)
    if url.password is None:
        yield environment
        return
    with tempfile.TemporaryDirectory(prefix="fieldbot-pgpass-") as directory:
        passfile = Path(directory) / "pgpass"
        descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(f"*:*:*:*:{_passfile_field(str(url.password))}\n")
        environment.pop("PGPASSWORD", None)
        environment["PGPASSFILE"] = str(passfile)
        yield environment


def _passfile_field(value: str) -> str:
    """Escape a ``.pgpass`` field: backslash and colon are written with a backslash."""
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _pg_dump(url: str, target: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not on PATH: install the PostgreSQL client tools")
    with password_environment(make_url(url)) as environment:
        result = subprocess.run(
            pg_dump_command(pg_dump, url, target),
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
