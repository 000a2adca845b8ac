"""``fieldbot console --as NAME``: a terminal chat with the real bot, typed through stdin."""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from bot.clock import FixedClock
from bot.console import add_arguments, last_message_id, run
from bot.db import Database
from bot.i18n import Translator
from bot.services import outbox
from handlers.chats import MAX_ID
from models import Customer, Outbox, Receivable, Role, User, Visit, VisitKind
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def console_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray .env or FIELDBOT_* variables: the test names its database itself."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("FIELDBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FIELDBOT_TIMEZONE", "Asia/Shanghai")


def console_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


async def chat(database_url: str, who: str, *lines: str) -> tuple[int, str]:
    stdout = io.StringIO()
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    code = await asyncio.to_thread(
        run, console_args("--as", who, "--database", database_url), stdin=stdin, stdout=stdout
    )
    return code, stdout.getvalue()


def button_number(output: str, label: str) -> str:
    """The number the console printed last for the button whose label contains ``label``."""
    numbers = re.findall(rf"\[(\d+)\] [^\[\n]*{re.escape(label)}", output)
    assert numbers, f"no numbered button {label!r} in:\n{output}"
    return numbers[-1]


async def shop(db: Database, clock: FixedClock, company: factories.Company) -> Customer:
    return await factories.customer(db, clock.now(), name="Shop East", rep=company.rep)


async def visits(db: Database) -> list[Visit]:
    async with db.reading() as session:
        return list(await session.scalars(sql_select(Visit)))


async def test_a_guided_visit_typed_in_the_console(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    company = await factories.company(db, clock.now())
    await shop(db, clock, company)

    # Step by step, as someone at the keyboard would: read the numbers, then type one.
    _code, started = await chat(database_url, "Li Wei", "/visit Shop")
    assert "Chatting as Li Wei (rep" in started and "real database" in started
    assert "Customer: Shop East" in started
    on_site = button_number(started, "On-site visit")

    _code, output = await chat(database_url, "li wei", "/visit Shop", on_site, "Checked the shelf")
    save = button_number(output.split("> Checked the shelf")[1], "Save")
    assert not await visits(db)

    code, output = await chat(database_url, "Li Wei", "/visit Shop", on_site, "Checked the shelf", save)
    assert code == 0
    [visit] = await visits(db)
    assert visit.notes == "Checked the shelf" and visit.kind == VisitKind.VISIT
    assert visit.rep_id == company.rep.id
    after_save = output.split(f"> {save}\n")[1]
    assert "bot (edited): ✅ Visit saved: Shop East" in after_save
    assert re.search(r"\[\d+\] ↩️ Undo", after_save)
    assert "<b>" not in output and "&amp;" not in output


async def test_unknown_user_exits_2_with_close_matches(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    await factories.company(db, clock.now())
    code, output = await chat(database_url, "Li Wie", "/help")
    assert code == 2
    assert "Nobody matches 'Li Wie'" in output and "Did you mean: Li Wei (2001)" in output
    code, output = await chat(database_url, "an", "/help")  # Mia Manager, Fay Finance
    assert code == 2 and "matches several people" in output


async def test_by_telegram_id_with_a_deactivated_user(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    company = await factories.company(db, clock.now())
    async with db.transaction() as session:
        (await session.get_one(User, company.other_rep.id)).active = False
    code, output = await chat(database_url, "2002", "/help")
    assert code == 0
    assert "Bob South is deactivated" in output
    assert "bot: Hello! This bot is for our company's sales team" in output.split("> /help")[1]


async def test_each_session_writes_even_when_typing_the_same(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    """Rows are keyed by message id: a new session must not look like a redelivered message."""
    company = await factories.company(db, clock.now())
    await shop(db, clock, company)
    for _session in range(2):
        code, output = await chat(database_url, "Li Wei", "/visit Shop East: shelf full")
        assert code == 0 and "Visit saved: Shop East" in output
    assert [v.notes for v in await visits(db)] == ["shelf full", "shelf full"]


async def test_pushes_for_this_user_only_and_telegram_facts_restored(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    company = await factories.company(db, clock.now())
    async with db.transaction() as session:
        for person in (company.rep, company.manager):
            await outbox.enqueue(
                session,
                recipient_id=person.id,
                job="test",
                dedup_key=f"test:{person.id}",
                text=f"Plan for <b>{person.name}</b>",
                now=clock.now() - timedelta(days=1),
                buttons=[[{"text": "Open", "callback_data": "visit:start"}]],
            )
        rep = await session.get_one(User, company.rep.id)
        rep.first_seen_at, rep.menu_hash = None, "stale"
    code, output = await chat(database_url, "@nobody", "/help")
    assert code == 2
    code, output = await chat(database_url, "Li Wei", "/help")
    assert code == 0
    assert "push: Plan for Li Wei" in output and "[1] Open" in output
    assert "Mia Manager" not in output
    async with db.reading() as session:
        sent = dict((await session.execute(sql_select(Outbox.recipient_id, Outbox.sent_at))).all())
        rep = await session.get_one(User, company.rep.id)
    assert sent[company.rep.id] is not None and sent[company.manager.id] is None  # not swallowed
    assert rep.first_seen_at is None and rep.menu_hash == "stale"


async def test_console_as_a_process_on_a_terminal(database_url: str, db: Database, clock: FixedClock) -> None:
    """``python -m bot.console`` on a pseudo-terminal: prompts, numbered buttons, /quit."""
    company = await factories.company(db, clock.now())
    await shop(db, clock, company)
    await asyncio.to_thread(type_on_a_terminal, database_url)
    [visit] = await visits(db)
    assert visit.notes == "Counted the stock" and visit.kind == VisitKind.VISIT


def type_on_a_terminal(database_url: str) -> None:
    """Start the console on a pseudo-terminal and answer each prompt once it shows."""
    main, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
    env |= {"FIELDBOT_DATABASE_URL": database_url, "FIELDBOT_TIMEZONE": "Asia/Shanghai"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.console", "--as", "Li Wei"],
        cwd=ROOT,
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.STDOUT,
        env=env,
    )
    os.close(terminal)
    seen = ""

    def until(pattern: str) -> str:
        """Everything shown since the last line typed, once it matches ``pattern``."""
        nonlocal seen
        deadline = time.monotonic() + 60
        while not re.search(pattern, seen):
            assert time.monotonic() < deadline and process.poll() is None, seen
            if select.select([main], [], [], 0.5)[0]:
                seen += os.read(main, 65536).decode("utf-8", "replace")
        return seen

    def type_line(text: str) -> None:
        nonlocal seen
        seen = ""
        os.write(main, (text + "\n").encode())

    prompt = r"\n> $"
    try:
        assert "Chatting as Li Wei" in until(prompt)
        type_line("/visit Shop")
        on_site = button_number(until(r"On-site visit[\s\S]*" + prompt), "On-site visit")
        type_line(on_site)
        until(r"notes[\s\S]*" + prompt)
        type_line("Counted the stock")
        save = button_number(until(r"Save[\s\S]*" + prompt), "Save")
        type_line(save)
        assert "Visit saved: Shop East" in until(r"Undo[\s\S]*" + prompt)
        type_line("/quit")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)


# -- issue 22: every live button numbered, message ids the bot takes, --as as customers are matched ----


class Terminal:
    """``python -m bot.console`` on a pseudo-terminal: type a line once the prompt shows, read what came."""

    PROMPT = r"\n> $"

    def __init__(self, database_url: str, who: str) -> None:
        self.main, terminal = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDBOT_")}
        env |= {"FIELDBOT_DATABASE_URL": database_url, "FIELDBOT_TIMEZONE": "Asia/Shanghai"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.console", "--as", who],
            cwd=ROOT,
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.STDOUT,
            env=env,
        )
        os.close(terminal)
        self.seen = ""

    def until(self, pattern: str = PROMPT) -> str:
        """Everything shown since the last line typed, once it matches ``pattern``."""
        deadline = time.monotonic() + 60
        while not re.search(pattern, self.seen):
            assert time.monotonic() < deadline and self.process.poll() is None, self.seen
            if select.select([self.main], [], [], 0.5)[0]:
                self.seen += os.read(self.main, 65536).decode("utf-8", "replace")
        return self.seen

    def type(self, text: str) -> str:
        """Type a line and return what the console showed until its next prompt."""
        self.seen = ""
        os.write(self.main, (text + "\n").encode())
        return self.until()

    def close(self) -> int:
        try:
            os.write(self.main, b"/quit\n")
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            os.close(self.main)


def earlier_buttons_and_a_confirm(database_url: str, language: str) -> None:
    """The card's Visit, Order's over-limit Confirm, then the card's Visit again: each by its number."""
    t = Translator(language)
    console = Terminal(database_url, "Li Wei")
    try:
        assert "Chatting as Li Wei" in console.until()
        card = console.type("/customer Shop East")
        visit = button_number(card, t.gettext("Visit"))
        warning = console.type("/order Shop East: 5000")
        assert f"[{visit}] " not in warning  # the card's numbers stay the card's
        confirmed = console.type(button_number(warning, t.gettext("Confirm")))
        assert "toast" not in confirmed and "expired" not in confirmed, confirmed
        assert (
            html.unescape(t("Order recorded for <b>{customer}</b>.", customer="Shop East (C0001)"))
            .replace("<b>", "")
            .replace("</b>", "")
            in confirmed
        ), confirmed
        started = console.type(visit)  # a button under an earlier message, not the newest one
        assert t.gettext("On-site visit") in started and "toast" not in started, started
        gone = console.type(button_number(warning, t.gettext("Cancel")))  # Confirm's message was edited
        assert "is no longer there" in gone
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_buttons_under_earlier_messages_and_those_carrying_a_message_id_are_pressed(
    database_url: str, db: Database, clock: FixedClock, language: str
) -> None:
    company = await factories.company(db, clock.now())
    await factories.customer(
        db, clock.now(), name="Shop East", rep=company.rep, code="C0001", credit_limit=Decimal("100.00")
    )
    async with db.transaction() as session:
        (await session.get_one(User, company.rep.id)).language = language
    await asyncio.to_thread(earlier_buttons_and_a_confirm, database_url, language)
    async with db.reading() as session:
        [order] = list(await session.scalars(sql_select(Receivable)))
    assert order.amount == Decimal("5000.00") and order.over_limit and order.voided_at is None


async def test_message_ids_stay_genuine_and_new_across_sessions(
    db: Database, database_url: str, clock: FixedClock
) -> None:
    """Ids the bot takes for real (31 bits), and each session's above the last one's."""
    company = await factories.company(db, clock.now())
    await shop(db, clock, company)
    await chat(database_url, "Li Wei", "/visit Shop East: one")
    first = await last_message_id(db, 2001)
    await chat(database_url, "Li Wei", "/visit Shop East: two")
    second = await last_message_id(db, 2001)
    assert 0 < first < second <= MAX_ID
    assert [v.notes for v in await visits(db)] == ["one", "two"]


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_as_matches_names_as_customers_are_matched(
    db: Database, database_url: str, clock: FixedClock, language: str
) -> None:
    """Exact, then the one containing it, in any width, case or script; several are named back."""
    now = clock.now()
    company = await factories.company(db, now)
    async with db.transaction() as session:
        for telegram_id, name in ((2101, "Jörg Müller"), (2102, "李伟"), (2103, "李伟强")):
            factories.user(session, telegram_id, name, Role.REP, company.north, now, language=language)
    for query, who in (
        ("ＬＩ ＷＥＩ", "Li Wei"),
        ("li   wei", "Li Wei"),
        ("MÜLLER", "Jörg Müller"),
        ("jörg müller", "Jörg Müller"),
        ("李伟", "李伟"),
        ("伟强", "李伟强"),
    ):
        code, output = await chat(database_url, query, "/quit")
        assert code == 0 and f"Chatting as {who} (rep" in output, (query, output)
    code, output = await chat(database_url, "伟", "/quit")
    assert code == 2 and "'伟' matches several people:" in output
    assert "李伟 (2102)" in output and "李伟强 (2103)" in output and "Li Wei" not in output
