"""``python -m bench.cli``: how long ``fieldbot --help`` and ``fieldbot jobs list`` take to start.

Method: each command runs as a fresh process (``python -m bot …``, what the ``fieldbot`` script
runs), ``--runs`` times (default 5) after one warm-up run that fills the OS file cache and
Python's bytecode cache; the median wall time is reported. ``jobs list`` reads a freshly migrated
SQLite database in a temporary folder. ``--tree DIR`` measures another checkout of the code (e.g.
``git worktree add /tmp/before <commit>``) with this environment's packages, for before/after
figures. Results go to bench/cli-start.json (docs/PERFORMANCE.md, "CLI start").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.5
COMMANDS = {"fieldbot --help": ["--help"], "fieldbot jobs list": ["jobs", "list"]}
RESULTS = Path(__file__).with_name("cli-start.json")


def timed(tree: Path, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def measure(tree: Path, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
        env["FIELDBOT_DATABASE_URL"] = f"sqlite+aiosqlite:///{folder}/fieldbot.db"
        env["PYTHONPATH"] = str(tree)  # this checkout's bot, not the installed one
        subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"], cwd=tree, env=env, check=True, capture_output=True
        )
        medians = {}
        for name, args in COMMANDS.items():
            timed(tree, args, env)  # warm-up
            medians[name] = statistics.median(timed(tree, args, env) for _ in range(runs))
        return medians


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--label", default="after", help="the name the figures are kept under")
    args = parser.parse_args(argv)
    medians = measure(args.tree.resolve(), args.runs)
    for name, seconds in medians.items():
        verdict = "met" if seconds < TARGET_SECONDS else "missed"
        print(f"{name:<22} {seconds:6.3f} s  (median of {args.runs}; target < {TARGET_SECONDS} s: {verdict})")
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    kept[args.label] = {
        "medians_s": {name: round(seconds, 3) for name, seconds in medians.items()},
        "runs": args.runs,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "at": time.strftime("%Y-%m-%d %H:%M"),
    }
    RESULTS.write_text(json.dumps(kept, indent=2) + "\n")


if __name__ == "__main__":
    main()
