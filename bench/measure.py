"""Small measuring tools shared by the benchmarks: timing, percentiles, peak RSS, database URLs,
measuring in a child process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timed:
    """Seconds of the first (cold) run and the median of the repeats that followed."""

    first: float
    median: float
    runs: int


@contextlib.contextmanager
def steady_instrument() -> Iterator[None]:
    """The measuring process's own cycle collector paused for the block, and the heap collected first.

    The throughput child holds the fake Bot API, which keeps every call and message: by the paced
    load its full collections took 130-270 ms, during which no update was served to the bot and no
    reply was timed — a stall the benchmark charged to the bot (p99 at 100/s 185 ms on PostgreSQL,
    the bot itself idle). Reference counting still frees everything acyclic meanwhile.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def timed(action: Callable[[], Awaitable[T]], repeats: int = 3) -> tuple[Timed, T]:
    """Run ``action`` once cold, then ``repeats`` times more; the last result is returned."""
    seconds: list[float] = []
    result: T
    for _ in range(1 + repeats):
        started = time.perf_counter()
        result = await action()
        seconds.append(time.perf_counter() - started)
    later = seconds[1:] or seconds
    return Timed(seconds[0], statistics.median(later), len(seconds)), result


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def peak_rss_mb(pid: int | None = None) -> float | None:
    """Peak resident set size (``VmHWM``) of a process in MB, from /proc (Linux only)."""
    status = Path(f"/proc/{pid or os.getpid()}/status")
    try:
        found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far, from /proc (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sqlite_url(directory: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{directory / name}.db"


async def run_child(module: str, *args: str) -> Any:
    """``python -m module args…`` in a fresh process; what it printed, as JSON.

    Measured there rather than in the runner, whose heap has grown with everything measured
    before (companies generated, loads replayed): the figure is the work's own, in time and RSS.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parent.parent)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"{module} failed:\n{err.decode()[-3000:]}")
    if err:  # what the child reported on the way (e.g. replies that never came)
        print(err.decode(errors="replace").rstrip(), file=sys.stderr, flush=True)
    return json.loads(out)
