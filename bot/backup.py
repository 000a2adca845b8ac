"""``fieldbot db backup FILE``: a consistent copy of the database while the bot keeps running.

SQLite uses its online backup API (pages are copied under the database's own
locking, so writers are never blocked for long and the copy is consistent).
PostgreSQL uses ``pg_dump --format=custom`` when it is on PATH. Restoring is
described in the README ("Backup and restore").
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup could not be made; the message says why, for the operator."""


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup(url: str, target: Path) -> Path:
    """Write a backup of the database at ``url`` to ``target``; returns the file written."""
    backend = make_url(url).get_backend_name()
    target.parent.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        return _sqlite_backup(sqlite_path(url), target)
    if backend == "postgresql":
        return _pg_dump(url, target)
    raise BackupError(f"no backup method for {backend} databases")


def _sqlite_backup(source: Path, target: Path) -> Path:
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    partial = target.with_suffix(target.suffix + ".partial")
    with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
        live.backup(copy, pages=1024)
    live.close()
    copy.close()
    partial.replace(target)  # a crash mid-backup never leaves a half file under the real name
    return target


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq tools expect it (no ``+asyncpg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_dump(url: str, target: Path) -> Path:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not on PATH: install the PostgreSQL client tools")
    result = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--file", str(target),
                             libpq_url(url)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    return target
