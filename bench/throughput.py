"""Update throughput and latency of a real ``fieldbot run`` process, against the echo floor.

Both processes poll the same in-process fake Bot API over real HTTP (no flood limit: replies are not
pushes). Simulated reps send one-liner ``/visit`` and ``/collect`` commands for their own customers,
and every fifth update is instead a press of the button under their latest reply (fieldbot's
"Undo", which takes the visit or collection back; the echo app's reply carries a button too, which
it answers by editing the message). Each command carries a unique token (in the notes, or as the
receipt number) that the bot's reply repeats, so a reply is matched to the update that caused it
whatever else the bot sends; a press is matched by its callback query's answer. Two loads:

* **saturated**: every rep sends its next command as soon as the previous one is answered
  (closed loop) — updates/second is the process's capacity, and its ratio to the echo app's;
* **paced**: updates injected at a fixed total rate regardless of replies (open loop) — latency
  percentiles from injection to the reply's ``sendMessage`` reaching the fake API.

The bot's peak RSS is ``VmHWM`` from /proc after both loads. During each load the measuring process's
own cycle collector is paused (bench/measure.py: ``steady_instrument``), so its pauses are not
charged to the bot.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.generate import generate
from bench.measure import cpu_seconds, peak_rss_mb, percentile, run_child, steady_instrument
from bot.db import Database
from bot.devserver import FakeBotApi
from bot.devserver.models import ApiCall
from models import Customer, CustomerStatus, Role, User

TOKEN = "123456:BENCH-throughput"
FIRST_REP_TELEGRAM_ID = 10_000_000
TOKEN_PATTERN = re.compile(r"bench-(\d+)")
START_TIMEOUT = 120.0
REPLY_TIMEOUT = 60.0
#: Every PRESS_EVERY-th update a rep sends is a press of the button under their latest reply. Rep r
#: presses on the turns where (turn + r) is a multiple of it, so presses are spread over the reps' turns:
#: with the same phase for all, a paced load sends every rep's press in the same fraction of a second.
PRESS_EVERY = 5


class Load:
    """Injects commands into the fake API and times each reply by its token."""

    def __init__(self, api: FakeBotApi, customers: list[list[str]], fieldbot: bool) -> None:
        self.api, self.customers, self.fieldbot = api, customers, fieldbot
        self.reps = len(customers)
        self.sequence = 0  # updates injected, all reps: each command's unique token
        self.sent_by = [0] * self.reps  # updates injected per rep: what each one sends next
        self.waiting: dict[int | str, tuple[float, asyncio.Future[float]]] = {}
        #: Per chat: the newest reply carrying a button (message id, callback data), not pressed yet.
        self.buttons: dict[int, tuple[int, str]] = {}
        record = api._record

        def record_and_match(call: ApiCall) -> None:
            record(call)
            if not call.ok:
                return
            key: int | str | None = None
            if call.method == "sendMessage":
                found = TOKEN_PATTERN.search(str(call.params.get("text", "")))
                key = int(found.group(1)) if found else None
                if key is not None:
                    self._remember_button(call.result)
            elif call.method == "answerCallbackQuery":
                key = str(call.params.get("callback_query_id"))
            entry = self.waiting.pop(key, None) if key is not None else None
            if entry and not entry[1].done():
                entry[1].set_result(time.perf_counter() - entry[0])

        api._record = record_and_match  # type: ignore[method-assign]

    def _remember_button(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        data = next(
            (button["callback_data"] for row in rows for button in row if "callback_data" in button), None
        )
        if data is not None:
            self.buttons[message["chat"]["id"]] = (message["message_id"], data)

    def command(self, rep: int, turn: int, n: int) -> str:
        """The rep's ``turn``-th update, a command carrying token ``n``: visits and collections alternate
        (so the presses, every fifth turn, alternate between undoing one and the other)."""
        own = self.customers[rep]
        customer = own[n % len(own)]
        if turn % 2:
            return f"/collect {customer}: {100 + n % 50} cash bench-{n}"
        return f"/visit {customer}: bench-{n} 店主说下月加单"

    def send(self, rep: int) -> asyncio.Future[float]:
        """Inject the rep's next update (a command, or a press of their latest reply's button)."""
        self.sequence += 1
        self.sent_by[rep] += 1
        n, turn = self.sequence, self.sent_by[rep]
        reply: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        chat = FIRST_REP_TELEGRAM_ID + rep
        button = self.buttons.pop(chat, None) if (turn + rep) % PRESS_EVERY == 0 else None
        if button is not None:
            message_id, data = button
            update = self.api.callback(chat, message_id, data)  # answered later, by this event loop
            self.waiting[update["callback_query"]["id"]] = (time.perf_counter(), reply)
            return reply
        self.waiting[n] = (time.perf_counter(), reply)
        text = self.command(rep, turn, n) if self.fieldbot else f"echo bench-{n}"
        self.api.message(chat, text)
        return reply

    async def saturated(self, seconds: float) -> tuple[int, float, list[float], int]:
        """Updates answered, seconds, latencies, and updates left unanswered after ``REPLY_TIMEOUT``
        (that rep then carries on with its next command)."""
        latencies: list[float] = []
        unanswered = 0
        end = time.perf_counter() + seconds

        async def rep_loop(rep: int) -> None:
            nonlocal unanswered
            while time.perf_counter() < end:
                try:
                    latencies.append(await asyncio.wait_for(self.send(rep), REPLY_TIMEOUT))
                except TimeoutError:
                    unanswered += 1

        started = time.perf_counter()
        await asyncio.gather(*(rep_loop(rep) for rep in range(self.reps)))
        return len(latencies), time.perf_counter() - started, latencies, unanswered

    async def paced(self, rate: float, seconds: float) -> tuple[list[float], float, int]:
        """Latencies, the rate achieved, and how many replies had not come ``REPLY_TIMEOUT`` after the
        last update was injected (a process that cannot keep up): those count with the time they had
        waited by then, a lower bound, so the percentiles are not flattered by leaving them out."""
        replies: list[asyncio.Future[float]] = []
        injected: list[float] = []
        started = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            injected.append(time.perf_counter())
            replies.append(self.send(n % self.reps))
        sent_in = time.perf_counter() - started
        await asyncio.wait(replies, timeout=REPLY_TIMEOUT)
        gave_up = time.perf_counter()
        latencies = [
            reply.result() if reply.done() else gave_up - at
            for reply, at in zip(replies, injected, strict=True)
        ]
        unanswered = sum(1 for reply in replies if not reply.done())
        return latencies, len(replies) / sent_in, unanswered


async def _start(api: FakeBotApi, url: str, cwd: Path, fieldbot: bool) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env |= {
        "FIELDBOT_TOKEN": TOKEN,
        "FIELDBOT_API_URL": api.base_url,
        "FIELDBOT_DATABASE_URL": url,
        "FIELDBOT_TIMEZONE": "Asia/Shanghai",
        "PYTHONPATH": str(Path(__file__).parent.parent),
    }
    command = ["-m", "bot", "run"] if fieldbot else ["-m", "bench.echo"]
    mark = api.mark()
    with _log(cwd, fieldbot).open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log
        )
    await api.wait_for(method="getUpdates", after=mark, timeout=START_TIMEOUT)
    return process


def _log(folder: Path, fieldbot: bool) -> Path:
    return folder / ("fieldbot.log" if fieldbot else "echo.log")


def _complaints(folder: Path, fieldbot: bool, most: int = 10) -> list[str]:
    """The process's first warnings and errors, shown when replies went missing."""
    lines = _log(folder, fieldbot).read_text(errors="replace").splitlines()
    return [line[:300] for line in lines if " WARNING " in line or " ERROR " in line][:most]


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


async def _measure(
    api: FakeBotApi,
    url: str,
    cwd: Path,
    *,
    fieldbot: bool,
    customers: list[list[str]],
    seconds: float,
    paced_rate: float,
) -> list[dict[str, Any]]:
    who = "fieldbot" if fieldbot else "echo floor"
    process = await _start(api, url, cwd, fieldbot)
    try:
        load = Load(api, customers, fieldbot)
        await asyncio.gather(*(asyncio.wait_for(load.send(rep), REPLY_TIMEOUT) for rep in range(load.reps)))
        cpu_before = cpu_seconds(process.pid)
        with steady_instrument():
            count, elapsed, latencies, lost = await load.saturated(seconds)
        with steady_instrument():
            paced, achieved, unanswered = await load.paced(paced_rate, seconds)
        cpu_after, rss = cpu_seconds(process.pid), peak_rss_mb(process.pid)
    finally:
        await _stop(process)
    if lost or unanswered:
        print(
            f"  {who}: {lost + unanswered} updates unanswered; its log says:",
            *_complaints(cwd, fieldbot),
            file=sys.stderr,
            sep="\n    ",
            flush=True,
        )
    figures = [
        {
            "figure": f"throughput {who}",
            "reps": load.reps,
            "updates": count,
            "unanswered": lost,
            "updates_per_second": round(count / elapsed, 1),
            **_percentiles(latencies),
            **(
                {"cpu_ms_per_update": round((cpu_after - cpu_before) * 1000 / (count + len(paced)), 1)}
                if cpu_before is not None and cpu_after is not None
                else {}
            ),
        },
        {
            "figure": f"paced {who}",
            "rate": paced_rate,
            "achieved_rate": round(achieved, 1),
            "updates": len(paced),
            "unanswered": unanswered,
            **_percentiles(paced),
        },
    ]
    if fieldbot and rss is not None:
        figures.append({"figure": "bot peak RSS", "peak_rss_mb": round(rss, 1)})
    return figures


async def _cast(url: str, reps: int) -> tuple[list[list[str]], list[tuple[int, str, str]]]:
    """The first ``reps`` reps' active customer codes (commands must succeed), and everyone's Telegram
    account (the bot sets each person's command menu at start)."""
    db = Database(url)
    try:
        async with db.reading() as session:
            everyone = await session.execute(
                select(User.telegram_id, User.name, User.language).order_by(User.id)
            )
            people = [(telegram_id, name, language or "en") for telegram_id, name, language in everyone]
            rep_ids = list(
                await session.scalars(
                    select(User.id).where(User.role == Role.REP).order_by(User.id).limit(reps)
                )
            )
            codes: dict[int, list[str]] = {rep_id: [] for rep_id in rep_ids}
            for rep_id, code in await session.execute(
                select(Customer.rep_id, Customer.code)
                .where(Customer.rep_id.in_(rep_ids), Customer.status == CustomerStatus.ACTIVE)
                .order_by(Customer.id)
            ):
                codes[rep_id].append(code)
    finally:
        await db.dispose()
    return [codes[rep_id] for rep_id in rep_ids], people


def _percentiles(latencies: list[float]) -> dict[str, float]:
    return {f"p{p}_ms": round(percentile(latencies, p / 100) * 1000, 1) for p in (50, 95, 99)}


async def throughput(
    url: str, folder: Path, *, scale: float, reps: int, seconds: float, paced_rate: float
) -> list[dict[str, Any]]:
    await generate(url, scale)
    customers, people = await _cast(url, reps)
    async with FakeBotApi(TOKEN, messages_per_second=None) as api:
        for telegram_id, name, language in people:
            api.add_user(telegram_id, name, language_code=language)
        figures = await _measure(
            api, url, folder, fieldbot=True, customers=customers, seconds=seconds, paced_rate=paced_rate
        )
        figures += await _measure(
            api, url, folder, fieldbot=False, customers=customers, seconds=seconds, paced_rate=paced_rate
        )
        refused = [c for c in api.refused_calls() if c.method != "getUpdates"]
    bot, floor = figures[0]["updates_per_second"], figures[-2]["updates_per_second"]
    figures.append(
        {"figure": "throughput ratio", "ratio": round(bot / floor, 3), "refused_calls": len(refused)}
    )
    return figures


async def in_child(
    url: str, folder: Path, *, scale: float, reps: int, seconds: float, paced_rate: float
) -> list[dict[str, Any]]:
    """:func:`throughput` in a fresh process (bench/measure.py: run_child): the fake Bot API that
    injects the load and times the replies runs there, not in the runner, whose heap has grown with
    the full-size companies generated before (its garbage collections delayed replies)."""
    return list(
        await run_child(
            "bench.throughput", url, str(folder), str(scale), str(reps), str(seconds), str(paced_rate)
        )
    )


def main() -> None:
    url, folder, scale, reps, seconds, rate = sys.argv[1:7]
    print(
        json.dumps(
            asyncio.run(
                throughput(
                    url,
                    Path(folder),
                    scale=float(scale),
                    reps=int(reps),
                    seconds=float(seconds),
                    paced_rate=float(rate),
                )
            )
        )
    )


if __name__ == "__main__":
    main()
