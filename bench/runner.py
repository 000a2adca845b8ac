"""``python -m bench``: generate companies, run the measurements, print a table, write results.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import export, push, summaries, sweeps, throughput, wave
from bench.generate import Generated, described, generate, vacuum
from bench.measure import sqlite_url
from bench.targets import judge
from bot.db import upgrade_async

PARTS = ("sweeps", "summaries", "export", "push", "throughput", "wave")
#: CI's quick runs write their own file, so they never overwrite the full figures kept in the repository.
RESULTS = {
    "full": Path(__file__).with_name("results.json"),
    "quick": Path(__file__).with_name("results-quick.json"),
}
POSTGRES_URL_VARIABLE = "FIELDBOT_BENCH_POSTGRES_URL"


@dataclass(frozen=True)
class Mode:
    name: str
    scales: tuple[float, ...]  # the first is the "full" size the targets are judged at
    pushes: int
    throughput_scale: float
    throughput_reps: int
    throughput_seconds: float
    paced_rate: float
    summary_repeats: int
    #: Reps of the morning wave, sent free and paid (10,000: ``python -m bench.wave``, ~7 min a database).
    wave_reps: int = 0


FULL = Mode("full", (1.0, 0.1), 2_000, 0.05, 50, 20.0, 100.0, 3, wave_reps=2_000)
QUICK = Mode("quick", (0.01, 0.002), 150, 0.005, 5, 4.0, 20.0, 1, wave_reps=60)


class Databases:
    """Fresh databases for each measurement: SQLite files in a temporary folder, or PostgreSQL
    databases ``fieldbot_bench_*`` created on the given server and dropped afterwards."""

    def __init__(self, kind: str, folder: Path, postgres_url: str | None) -> None:
        self.kind, self.folder, self.postgres_url = kind, folder, postgres_url

    @asynccontextmanager
    async def fresh(self, name: str, *, template: str | None = None) -> AsyncIterator[str]:
        """A new empty database, or (PostgreSQL) a copy of ``template``."""
        if self.kind == "sqlite":
            yield sqlite_url(self.folder, name)
            return
        database = f"fieldbot_bench_{name}"
        copy = f' TEMPLATE "{template}"' if template else ""
        try:
            await self._admin(
                f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}"{copy}'
            )
            yield self._url(database)
        finally:
            await self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def _url(self, database: str) -> str:
        assert self.postgres_url is not None
        return make_url(self.postgres_url).set(database=database).render_as_string(hide_password=False)

    async def _admin(self, *statements: str) -> list[list[Any]]:
        """Run statements on the server (autocommit), returning the first column of each one's rows."""
        assert self.postgres_url is not None
        admin = create_async_engine(make_url(self.postgres_url), isolation_level="AUTOCOMMIT")
        found: list[list[Any]] = []
        try:
            async with admin.connect() as connection:
                for sql in statements:
                    result = await connection.execute(text(sql))
                    found.append(list(result.scalars()) if result.returns_rows else [])
            return found
        finally:
            await admin.dispose()

    async def kept(self, name: str) -> str | None:
        """PostgreSQL: the kept copy of company ``name`` (``--keep``), if an earlier run left one."""
        if self.kind == "sqlite":
            return None
        database = f"fieldbot_bench_{name}_kept"
        [found] = await self._admin(f"SELECT datname FROM pg_database WHERE datname = '{database}'")
        return database if found else None

    async def keep(self, name: str) -> None:
        """PostgreSQL: copy the just-generated company ``name`` aside for later runs (``--keep``)."""
        if self.kind == "postgresql":
            kept = f"fieldbot_bench_{name}_kept"
            await self._admin(
                f'DROP DATABASE IF EXISTS "{kept}"',
                f'CREATE DATABASE "{kept}" TEMPLATE "fieldbot_bench_{name}"',
            )


def _tag(scale: float) -> str:
    return f"s{scale:g}".replace(".", "_")


def _generated(company: Generated) -> dict[str, Any]:
    return {
        "figure": "generate company",
        "reps": company.size.reps,
        "customers": company.size.customers,
        "rows": sum(company.rows.values()),
        "seconds": round(company.total_seconds, 1),
    }


async def run_database(
    kind: str, mode: Mode, parts: set[str], folder: Path, postgres_url: str | None, *, keep: bool = False
) -> list[dict[str, Any]]:
    databases = Databases(kind, folder, postgres_url)
    figures: list[dict[str, Any]] = []

    def add(found: list[dict[str, Any]], scale: float | None = None) -> None:
        for figure in found:
            figure = {"db": kind, **({"scale": scale} if scale is not None else {}), **figure}
            figures.append(figure)
            print(f"  {figure}", flush=True)

    if parts & {"sweeps", "summaries", "export"}:
        for scale in mode.scales:
            kept = await databases.kept(_tag(scale)) if keep else None
            async with databases.fresh(_tag(scale), template=kept) as url:
                if kept:
                    print(f"[{kind}] the company at scale {scale:g}, copied from {kept}", flush=True)
                    await upgrade_async(url)  # a migration added since it was kept
                    await vacuum(url)  # as after generating: what a migration built has its statistics
                    company = described(scale)
                else:
                    print(f"[{kind}] generating the company at scale {scale:g}", flush=True)
                    company = await generate(url, scale)
                    add([_generated(company)], scale)
                    if keep:
                        await databases.keep(_tag(scale))
                add(await summaries.prepare(url, company), scale)
                if "sweeps" in parts:
                    add(await sweeps.in_child(url, company), scale)
                if "summaries" in parts:
                    add(await summaries.in_child(url, company, repeats=mode.summary_repeats), scale)
                if "export" in parts:
                    add(await export.in_child(url, company), scale)
    if "push" in parts:
        async with databases.fresh("push") as url:
            print(f"[{kind}] push delivery of {mode.pushes} pushes", flush=True)
            add([await push.push(url, mode.pushes)])
    if "wave" in parts:
        for paid in (False, True):
            async with databases.fresh("wave_paid" if paid else "wave_free") as url:
                print(
                    f"[{kind}] the morning wave of {mode.wave_reps} reps, {'paid' if paid else 'free'}",
                    flush=True,
                )
                add([await wave.wave(url, mode.wave_reps, paid=paid)])
    if "throughput" in parts:
        async with databases.fresh("throughput") as url:
            print(f"[{kind}] update throughput", flush=True)
            add(
                await throughput.in_child(
                    url,
                    folder,
                    scale=mode.throughput_scale,
                    reps=mode.throughput_reps,
                    seconds=mode.throughput_seconds,
                    paced_rate=mode.paced_rate,
                )
            )
    return figures


def table(figures: list[dict[str, Any]], *, full_run: bool = True) -> str:
    """One line per figure: database, what, size, the measured value, the target and whether it is met."""
    lines = [f"{'db':10} {'figure':34} {'size':>16} {'measured':>30} {'target':>18} ok"]
    for figure in figures:
        value, target, met = judge(figure, full_run=full_run)
        size = f"{figure['reps']} reps" if "reps" in figure else ""
        ok = "—" if met is None else ("yes" if met else "NO")
        lines.append(f"{figure['db']:10} {figure['figure']:34} {size:>16} {value:>30} {target:>18} {ok}")
    return "\n".join(lines)


def _postgres_url(given: str | None) -> str:
    url = given or os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        raise SystemExit(
            f"PostgreSQL needs --postgres-url or {POSTGRES_URL_VARIABLE} "
            "(postgresql+asyncpg://user@host:port/any_database)"
        )
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under two minutes (what CI runs)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument(
        "--postgres-url",
        help=f"a PostgreSQL server to create databases on (default: ${POSTGRES_URL_VARIABLE})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the JSON results (default: bench/"
        "results.json, with --quick bench/results-quick.json)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="measure a company this many times full size, then at 1 and 0.1 for comparison "
        "(default parts: sweeps,summaries; docs/PERFORMANCE.md, 'Ten times the company')",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="PostgreSQL: keep each generated company as fieldbot_bench_<scale>_kept and copy it "
        "instead of generating it again in later runs with --keep",
    )
    args = parser.parse_args(argv)
    if args.scale is not None and args.quick:
        parser.error("--scale and --quick exclude each other")
    only = args.only if args.scale is None or "--only" in (argv or sys.argv) else "sweeps,summaries"
    parts = {part.strip() for part in only.split(",") if part.strip()}
    if unknown := parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    mode = QUICK if args.quick else FULL
    if args.scale is not None:
        scales = tuple(dict.fromkeys((args.scale, 1.0, 0.1)))
        mode = replace(FULL, name=f"scale {args.scale:g}", scales=scales)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    postgres_url = _postgres_url(args.postgres_url) if "postgresql" in kinds else None

    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="fieldbot-bench-"))
    figures: list[dict[str, Any]] = []
    try:
        for kind in kinds:
            figures += asyncio.run(run_database(kind, mode, parts, folder, postgres_url, keep=args.keep))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    seconds = time.perf_counter() - started
    print()
    print(table(figures, full_run=mode is not QUICK))
    print(f"\n{mode.name} run: {seconds:.0f} s")
    for figure in figures:
        figure["target"], figure["met"] = judge(figure, full_run=mode is not QUICK)[1:]
    output = (
        args.output
        or RESULTS.get(mode.name)
        or RESULTS["full"].with_name(f"results-scale-{args.scale:g}.json")
    )
    output.write_text(
        json.dumps(
            {
                "mode": mode.name,
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "system": platform.platform(),
                },
                "seconds": round(seconds, 1),
                "figures": figures,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )
    print(f"written to {output}")
