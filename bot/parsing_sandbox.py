"""Reading an imported file in a child process, with a memory and a time limit.

A spreadsheet is hostile input. openpyxl holds a workbook's shared strings in
memory whole and parses a sheet at several microseconds a cell: a 0.6 MB upload
can ask for gigabytes, a 140 KB one for minutes. :mod:`bot.tabular`'s limits
refuse the shapes known to do that before reading; this module makes sure that
whatever gets past them cannot hurt the bot either:

* the file is read by a fresh Python process running :func:`child_main`, never
  in the bot's own: the bot's memory does not grow, its event loop never waits;
* the child limits its own address space (``RLIMIT_AS``) and CPU time, runs at a
  lower priority, and is killed if it has not answered within :attr:`Bounds.seconds`;
* it answers in JSON on its standard output (the table, or the reason it refused
  the file), so the bot loads data from it, never code;
* at most :data:`PARALLEL` files are read at once; others wait their turn.

The command line (``fieldbot import``) reads through the same child with
:func:`read_path`, so one set of limits holds everywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import resource
import signal
import subprocess
import sys
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.i18n import N_
from bot.tabular import (
    MAX_FILE_BYTES,
    MAX_MEGABYTES,
    MB,
    Table,
    TableError,
    is_workbook,
    read_table,
    too_large,
)

log = logging.getLogger(__name__)

#: Files read at the same time; each child may take up to :attr:`Bounds.memory_bytes`.
PARALLEL = 2
TOO_SLOW = N_("reading the file took longer than {seconds} seconds: split it into smaller files")
TOO_MUCH_MEMORY = N_("reading the file needed more than {limit} MB of memory: split it into smaller files")
READER_FAILED = N_("the file could not be read: the reader stopped unexpectedly")
#: The child's exit status when it ran out of memory (it still answers, if it can).
_OUT_OF_MEMORY = 3
#: Where the ``bot`` package is, for the child's ``sys.path`` (the bot need not be installed).
_ROOT = str(Path(__file__).resolve().parent.parent)
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from bot.parsing_sandbox import child_main; child_main(sys.argv[2:])"
)


@dataclass(frozen=True)
class Bounds:
    """What reading one file may cost the machine.

    The largest workbook the limits allow (200,000 rows of ten columns) takes a
    child under 300 MB and about a minute on a busy two-core machine; these leave
    room. The bot's chats are not waiting meanwhile, only the sender's.
    """

    #: Address space of the child, the interpreter and openpyxl included (about 180 MB of it).
    memory_bytes: int = 1024 * MB
    seconds: float = 180.0


BOUNDS = Bounds()


# -- the bot's side ---------------------------------------------------------------------------------


async def read_upload(content: bytes, file_name: str, bounds: Bounds = BOUNDS) -> Table:
    """The table in ``content``, read by a child process; :class:`TableError` says why not.

    Waits (without blocking the event loop) for one of :data:`PARALLEL` turns, then
    for the child, which is killed once ``bounds.seconds`` have passed.
    """
    _refuse_oversized(len(content))
    async with _turns():
        process = await asyncio.create_subprocess_exec(
            *_command(content, file_name, bounds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_environment(),
        )
        try:
            async with asyncio.timeout(bounds.seconds):
                out, err = await process.communicate(content)
        except TimeoutError:
            raise TableError(TOO_SLOW, seconds=_seconds(bounds)) from None
        finally:
            if process.returncode is None:  # timed out, or the bot is stopping: no orphan keeps reading
                process.kill()
                await process.wait()
    assert process.returncode is not None
    return _answer(process.returncode, out, err, bounds)


def read_path(path: Path, bounds: Bounds = BOUNDS) -> Table:
    """The table in the file at ``path`` (the command line), read like an upload.

    A file over the size limit is refused before a byte of it is read.
    """
    _refuse_oversized(path.stat().st_size)
    return read_bytes(path.read_bytes(), path.name, bounds)


def read_bytes(content: bytes, file_name: str, bounds: Bounds = BOUNDS) -> Table:
    """:func:`read_upload` for code without an event loop: blocks until the child answers."""
    _refuse_oversized(len(content))
    try:
        done = subprocess.run(
            _command(content, file_name, bounds),
            input=content,
            capture_output=True,
            timeout=bounds.seconds,
            check=False,
            env=_environment(),
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise TableError(TOO_SLOW, seconds=_seconds(bounds)) from None
    return _answer(done.returncode, done.stdout, done.stderr, bounds)


def _refuse_oversized(size: int) -> None:
    if too_large(size):
        raise TableError(N_("the file is larger than {size} MB"), size=MAX_MEGABYTES)


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _turns() -> asyncio.Semaphore:
    """The running loop's semaphore (a semaphore belongs to one loop; tests run many)."""
    loop = asyncio.get_running_loop()
    turns = _TURNS.get(loop)
    if turns is None:
        turns = _TURNS[loop] = asyncio.Semaphore(PARALLEL)
    return turns


def _command(content: bytes, file_name: str, bounds: Bounds) -> list[str]:
    """The child's command line. The user's file name stays out of it: only XLSX or CSV is passed."""
    name = "upload.xlsx" if is_workbook(content, file_name) else "upload.csv"
    return [sys.executable, "-c", _CHILD, _ROOT, str(bounds.memory_bytes), str(bounds.seconds), name]


def _environment() -> dict[str, str]:
    """The bot's environment without its own settings: the child needs no token nor database."""
    return {name: value for name, value in os.environ.items() if not name.startswith("FIELDBOT_")}


def _seconds(bounds: Bounds) -> str:
    return f"{bounds.seconds:g}"


def _answer(returncode: int, out: bytes, err: bytes, bounds: Bounds) -> Table:
    """The table the child sent, or the :class:`TableError` for its refusal, death or silence."""
    if returncode == 0:
        try:
            answer = json.loads(out)
            if "error" in answer:
                raise TableError(str(answer["error"]), **{str(k): v for k, v in answer["params"].items()})
            return Table(
                [str(name) for name in answer["header"]], [(int(line), row) for line, row in answer["rows"]]
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            log.error("the file reader's answer was not understood: %r", out[:200])
            raise TableError(READER_FAILED) from None
    if returncode == -signal.SIGXCPU:
        raise TableError(TOO_SLOW, seconds=_seconds(bounds))
    if returncode in (_OUT_OF_MEMORY, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGKILL):
        # A library failing an allocation deep in C may crash instead of raising MemoryError.
        raise TableError(TOO_MUCH_MEMORY, limit=bounds.memory_bytes // MB)
    log.error(
        "the file reader stopped with status %s: %s", returncode, err.decode(errors="replace")[-2000:].strip()
    )
    raise TableError(READER_FAILED)


# -- the child's side -------------------------------------------------------------------------------


def child_main(argv: list[str]) -> None:
    """Read the file on standard input and write the table (or the refusal) as JSON to standard output.

    ``argv``: the address-space limit in bytes, the time limit in seconds, and a
    file name that says only whether it is a workbook.
    """
    memory, seconds, name = int(argv[0]), float(argv[1]), argv[2]
    answer_to = os.fdopen(os.dup(1), "w", encoding="ascii")
    os.dup2(2, 1)  # whatever a library prints goes to standard error, not into the answer
    warnings.simplefilter("ignore")  # openpyxl warns about every oddity of a workbook
    content = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    _limit_self(memory, seconds)
    try:
        answer: dict[str, Any]
        try:
            table = read_table(content, name)
            answer = {"header": table.header, "rows": table.rows}
        except TableError as error:
            answer = {"error": error.message, "params": error.params}
        del content
        json.dump(answer, answer_to)
        answer_to.flush()
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)  # a half-written answer is not read: the status says why
    os._exit(0)


def _limit_self(memory: int, seconds: float) -> None:
    """No more than ``memory`` bytes of address space and about ``seconds`` of CPU, at low priority."""
    _lower(resource.RLIMIT_AS, memory, memory)
    cpu = math.ceil(seconds) + 1
    _lower(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU, then SIGKILL: should the parent be gone
    _lower(resource.RLIMIT_CORE, 0, 0)
    os.nice(10)  # on a busy machine the bot's own process comes first


def _lower(which: int, soft: int, hard: int) -> None:
    """Set a limit, never above the one the process was started with (raising it is not allowed)."""
    _, ceiling = resource.getrlimit(which)
    if ceiling != resource.RLIM_INFINITY:
        soft, hard = min(soft, ceiling), min(hard, ceiling)
    resource.setrlimit(which, (soft, hard))
