"""``fieldbot console --as NAME``: chat with the real bot in a terminal, as one of its users.

The real Application (handlers, services, the configured database, the real
clock and company time zone) long-polls an in-process fake Bot API on
127.0.0.1; what you type becomes that user's updates, and the bot's answers
are printed as plain text with numbered buttons. Nothing reaches Telegram,
but everything is written to the database: that is the point (support staff
reproducing a rep's problem on a copy of the data).

Telegram-side facts the session fakes (the user's command menu, first contact,
having blocked the bot) are put back as they were when the console ends.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import difflib
import json
import mimetypes
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from bot.app import FieldbotApp, build_application
from bot.arguments import console as add_arguments
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.db import Database, upgrade
from bot.devserver import FakeBotApi, SentMessage
from bot.runtime import runtime_of
from bot.text import search_key
from handlers.chats import MAX_ID
from jobs.outbox import drain
from models import Base, InboxUpdate, User

#: Nothing reaches Telegram: the fake Bot API accepts this token only.
CONSOLE_TOKEN = "1000000:fieldbot-console"
#: Longer than any handler should take; a bot stuck longer is reported, not waited for forever.
HANDLED_TIMEOUT = 60.0
PROMPT = "> "
EXIT_NOT_FOUND = 2
EXIT_INTERRUPTED = 130


class ConsoleError(Exception):
    """The console cannot start; the message is for the operator."""


@dataclass(frozen=True)
class TelegramFacts:
    """What only real Telegram should change about a user; restored when the console ends."""

    menu_hash: str | None
    first_seen_at: datetime | None
    blocked_at: datetime | None


@dataclass(frozen=True)
class Persona:
    id: int
    telegram_id: int
    name: str
    username: str | None
    role: str
    language: str | None
    active: bool
    facts: TelegramFacts


async def find_persona(db: Database, query: str) -> Persona:
    """The user named by Telegram id, @username or name.

    A name is matched as the bot matches customers (:func:`bot.text.search_key`: any width,
    case or script, spaces collapsed): the one exact match, else the one whose name contains
    it. Several people of that name, or several containing it, are named back, not guessed at.
    """
    query = query.strip()
    async with db.reading() as session:
        if query.lstrip("-").isdigit():
            matches = list(await session.scalars(select(User).where(User.telegram_id == int(query))))
        elif query.startswith("@"):
            matches = list(
                await session.scalars(select(User).where(func.lower(User.username) == query[1:].lower()))
            )
        else:
            matches = named(list(await session.scalars(select(User).order_by(User.name, User.id))), query)
        if len(matches) > 1:
            raise ConsoleError(
                f"{query!r} matches several people: "
                f"{_list_people(matches)}. Use the Telegram id or @username."
            )
        if not matches:
            everyone = list(await session.execute(select(User.name, User.username, User.telegram_id)))
            raise ConsoleError(_not_found(query, everyone))
    user = matches[0]
    return Persona(
        user.id,
        user.telegram_id,
        user.name,
        user.username,
        user.role.value,
        user.language,
        user.active,
        TelegramFacts(user.menu_hash, user.first_seen_at, user.blocked_at),
    )


def named(people: list[User], query: str) -> list[User]:
    """Who ``query`` names: everyone whose name is it (search keys equal), else everyone whose name
    contains it. A company has a few hundred people at most: they are compared in Python, the same
    way on every database (SQLite's ``lower()`` knows ASCII only)."""
    key = search_key(query)
    if not key:
        return []
    exact = [user for user in people if search_key(user.name) == key]
    return exact or [user for user in people if key in search_key(user.name)]


def _list_people(people: Iterable[User]) -> str:
    return ", ".join(f"{u.name} ({u.telegram_id})" for u in people)


def _not_found(query: str, everyone: list[Any]) -> str:
    if not everyone:
        return "Nobody is registered in this database yet (`fieldbot admin add` creates the first admin)."
    labels = {name: f"{name} ({telegram_id})" for name, _username, telegram_id in everyone}
    labels |= {
        f"@{username}": f"@{username} ({telegram_id})"
        for _name, username, telegram_id in everyone
        if username
    }
    lowered = {label.lower(): label for label in labels}
    close = difflib.get_close_matches(query.lower(), list(lowered), n=5, cutoff=0.4)
    hint = (
        f" Did you mean: {', '.join(labels[lowered[c]] for c in close)}?"
        if close
        else f" {len(everyone)} people are registered; try a Telegram id or @username."
    )
    return f"Nobody matches {query!r}.{hint}"


async def restore_facts(db: Database, persona: Persona) -> None:
    facts = persona.facts
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == persona.id)
            .values(menu_hash=facts.menu_hash, first_seen_at=facts.first_seen_at, blocked_at=facts.blocked_at)
        )


async def deliver_own_pushes(app: FieldbotApp, persona: Persona) -> None:
    """Send what the outbox holds for this user now, like the bot's outbox timer would.

    Only this user's: the real bot must still deliver everyone else's pushes.
    """
    runtime = runtime_of(app)
    await drain(app.bot, runtime.db, runtime.clock, recipient_id=persona.id)


# -- showing what the bot did ---------------------------------------------------------------------


def _reply_rows(message: SentMessage) -> list[list[dict[str, Any]]]:
    rows = (message.reply_markup or {}).get("keyboard") or []
    return [[button if isinstance(button, dict) else {"text": button} for button in row] for row in rows]


def button_rows(message: SentMessage) -> list[list[dict[str, Any]]]:
    """The inline keyboard's rows, else the reply keyboard's."""
    return message.buttons() or _reply_rows(message)


def buttons_of(message: SentMessage) -> list[dict[str, Any]]:
    return [button for row in button_rows(message) for button in row]


def _removes_keyboard(message: SentMessage) -> bool:
    return bool((message.reply_markup or {}).get("remove_keyboard"))


def button_key(button: dict[str, Any]) -> str:
    """What tells a button from the others under its message: its payload, else its link or label."""
    if "callback_data" in button:
        return "data:" + str(button["callback_data"])
    if button.get("url"):
        return "url:" + str(button["url"])
    return "text:" + str(button.get("text", ""))


Numbering = Callable[[SentMessage, dict[str, Any]], "int | None"]


def render(message: SentMessage, *, label: str, number: Numbering) -> str:
    """The message as plain text, each button with its number (``number`` None: not pressable)."""
    body = message.plain_text()
    if message.kind not in ("text", "location"):
        size = len(message.file_bytes or b"")
        attachment = f"[{message.kind}{': ' + message.file_name if message.file_name else ''}, {size} bytes]"
        body = f"{attachment}\n{body}" if body else attachment
    elif message.kind == "location" and message.location:
        body = f"[location {message.location[0]}, {message.location[1]}]"
    lines = (body or "(empty)").split("\n")
    indent = " " * (len(label) + 2)
    out = [f"{label}: {lines[0]}", *(indent + line for line in lines[1:])]
    keyboard = "" if message.buttons() else "keyboard: "
    for row in button_rows(message):
        shown = []
        for button in row:
            index = number(message, button)
            shown.append(f"[{index}] {button['text']}" if index is not None else f"[{button['text']}]")
        out.append(indent + keyboard + "  ".join(shown))
        keyboard = " " * len(keyboard)
    return "\n".join(out)


class Console:
    """One user's chat: turns typed lines into updates and prints what the bot showed them.

    Every button that can still be pressed has a number, whichever message it is under: an
    inline button for as long as its message is there with that button, a reply keyboard's
    while that keyboard is the one on screen (Telegram shows one: the newest, until removed). A
    number, once given, stays with its button for the session: an edit that keeps a button keeps
    its number, and a number whose button went away is never given to another.
    """

    def __init__(self, api: FakeBotApi, app: FieldbotApp, persona: Persona, stdout: TextIO) -> None:
        self.api, self.app, self.persona, self.out = api, app, persona, stdout
        self.seen: dict[int, int] = {}  # message id -> edits when last shown
        self.numbers: dict[int, tuple[int, str]] = {}  # button number -> (message id, button key)
        self.numbered: dict[tuple[int, str], int] = {}  # the other way round
        self.keyboard: int | None = None  # the message whose reply keyboard is on screen

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @property
    def chat(self) -> list[SentMessage]:
        return self.api.chat(self.persona.telegram_id)

    def number(self, message: SentMessage, button: dict[str, Any]) -> int | None:
        """The button's number, given now if it has none; None for a reply keyboard not on screen."""
        if not message.buttons() and message.message_id != self.keyboard:
            return None
        place = (message.message_id, button_key(button))
        if place not in self.numbered:
            self.numbered[place] = len(self.numbers) + 1
            self.numbers[self.numbered[place]] = place
        return self.numbered[place]

    async def handled(self, update: dict[str, Any]) -> None:
        """Wait until the bot has fetched ``update`` and finished handling everything queued."""
        try:
            async with asyncio.timeout(HANDLED_TIMEOUT):
                await self.api.wait_confirmed(update["update_id"])
                await self.app.update_queue.join()
        except TimeoutError:
            self.write(
                f"(the bot did not finish within {HANDLED_TIMEOUT:.0f} s; "
                "its answer may show up after your next input)"
            )

    def show_changes(self, *, label: str) -> None:
        changed = [m for m in self.chat if not m.deleted and self.seen.get(m.message_id) != m.edits]
        for message in changed:
            if _removes_keyboard(message):  # a removed reply keyboard cannot be pressed any more
                self.keyboard = None
            elif _reply_rows(message):
                self.keyboard = message.message_id
            name = f"{label} (edited)" if message.message_id in self.seen else label
            self.seen[message.message_id] = message.edits
            self.write(render(message, label=name, number=self.number))

    async def step(self, update: dict[str, Any] | None) -> None:
        """After an input: print the bot's answer, then any push now due for this user."""
        if update is not None:
            await self.handled(update)
            answer = self.api.callback_answers.get(update.get("callback_query", {}).get("id", ""))
            if answer and answer.get("text"):
                self.write(f"bot (toast): {answer['text']}")
            self.show_changes(label="bot")
        await deliver_own_pushes(self.app, self.persona)
        self.show_changes(label="push")

    # -- inputs ----------------------------------------------------------------------------------
    def update_for(self, line: str) -> dict[str, Any] | None:
        """The update a typed line stands for (None: nothing to send; a note was printed)."""
        me = self.persona.telegram_id
        stripped = line.strip()
        if stripped.isascii() and stripped.isdigit() and int(stripped) in self.numbers:
            target = self.button(int(stripped))
            if target is None:
                self.write(f"(button {stripped} is no longer there; \\{stripped} sends {stripped} as text)")
                return None
            return self.press(*target)
        if stripped.startswith("\\") and stripped[1:].isdigit():
            return self.api.message(me, stripped[1:])
        if stripped.startswith(":"):
            return self.special(stripped)
        return self.api.message(me, line.rstrip("\r\n"))

    def button(self, number: int) -> tuple[SentMessage, dict[str, Any]] | None:
        """Button ``number``, if it is still there to press."""
        message_id, key = self.numbers[number]
        message = next((m for m in self.chat if m.message_id == message_id), None)
        if message is None or message.deleted:
            return None
        if not message.buttons() and message_id != self.keyboard:  # a reply keyboard no longer shown
            return None
        found = next((button for button in buttons_of(message) if button_key(button) == key), None)
        return (message, found) if found is not None else None

    def press(self, message: SentMessage, button: dict[str, Any]) -> dict[str, Any] | None:
        me = self.persona.telegram_id
        if "callback_data" in button:
            return self.api.callback(me, message.message_id, button["callback_data"])
        if button.get("url"):
            self.write(f"(this button opens {button['url']})")
            return None
        if button.get("request_location"):
            self.write("(this button shares your location: type :location LAT LON)")
            return None
        if any(key.startswith("request_") or key == "web_app" for key in button):
            self.write("(the console cannot press this kind of button)")
            return None
        if (message.reply_markup or {}).get("one_time_keyboard"):
            self.keyboard = None
        return self.api.message(me, button["text"])

    def special(self, line: str) -> dict[str, Any] | None:
        """``:location LAT LON``, ``:photo PATH``, ``:file PATH``."""
        verb, _, rest = line.partition(" ")
        rest, me = rest.strip(), self.persona.telegram_id
        if verb == ":location":
            try:
                latitude, longitude = (float(part) for part in rest.replace(",", " ").split())
            except ValueError:
                latitude = longitude = float("nan")
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                self.write("(usage: :location 31.23 121.47)")
                return None
            return self.api.message(me, location=(latitude, longitude))
        if verb in (":photo", ":file"):
            path = Path(rest).expanduser()
            try:
                content = path.read_bytes()
            except OSError as error:
                self.write(f"(cannot read {rest or 'the file'}: {error.strerror or error})")
                return None
            if verb == ":photo":
                return self.api.message(me, photo=content)
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return self.api.message(me, document=(path.name, content, mime))
        self.write(f"(unknown {verb}: use :location LAT LON, :photo PATH or :file PATH)")
        return None


# -- running ----------------------------------------------------------------------------------


def _start_reading(stdin: TextIO, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of ``stdin``, read in a daemon thread (never blocks the loop or the exit); None at EOF."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        while True:
            try:
                line: str | None = stdin.readline() or None
            except (OSError, ValueError):
                line = None
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            except RuntimeError:  # the console has ended
                return
            if line is None:
                return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return lines


def hint(persona: Persona, database_url: str) -> str:
    shown_url = make_url(database_url).render_as_string(hide_password=True)
    return (
        f"Chatting as {persona.name} ({persona.role}, Telegram id {persona.telegram_id}). "
        f"Writes to the real database {shown_url}. Type a message; N presses button N (\\N sends N); "
        ":location LAT LON, :photo PATH, :file PATH; /quit or Ctrl-D ends."
    )


#: Console message ids count the seconds since this moment: above any real chat's ids (a chat numbers
#: its messages from 1), and below 2**31 until 2088 — a button carrying a bigger number is taken for a
#: forgery (handlers/chats.py, ``MAX_ID``) and answered "expired".
MESSAGE_ID_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


async def first_message_id(db: Database, chat_id: int, now: datetime) -> int:
    """Where this session's message ids start: after every id this chat used before, and no lower
    than the seconds since :data:`MESSAGE_ID_EPOCH`.

    Rows written for a message are keyed ``msg:<chat>:<message id>`` (``source_key``), so a reused
    id would be taken for a redelivery and not written; an update the inbox still holds with the
    same id and text would be taken for one Telegram sent again. A session uses an id or two a
    message, far fewer than a second each, but sessions can follow each other within a second:
    hence the ids already used, read back from both.
    """
    since_epoch = int((now - MESSAGE_ID_EPOCH).total_seconds())
    return max(since_epoch, await last_message_id(db, chat_id))


async def last_message_id(db: Database, chat_id: int) -> int:
    """The highest message id of this chat (at most ``MAX_ID``) that a row's ``source_key`` or an
    update kept in the inbox carries; 0 if none does."""
    prefix = f"msg:{chat_id}:"
    ids: list[int] = []
    async with db.reading() as session:
        for table in Base.metadata.sorted_tables:
            column = table.c.get("source_key")
            if column is None:
                continue
            keys = await session.scalars(select(column).where(column.startswith(prefix, autoescape=True)))
            ids += [int(key[len(prefix) :]) for key in keys if key[len(prefix) :].isdigit()]
        payloads = await session.scalars(
            select(InboxUpdate.payload).where(InboxUpdate.payload.contains(str(chat_id), autoescape=True))
        )
        for payload in payloads:
            ids += _message_ids(json.loads(payload), chat_id)
    return max((number for number in ids if number <= MAX_ID), default=0)


def _message_ids(update: dict[str, Any], chat_id: int) -> list[int]:
    """The ids of this chat's messages an update carries (the one sent, or the one a button was under)."""
    messages = [
        update.get("message"),
        update.get("edited_message"),
        (update.get("callback_query") or {}).get("message"),
    ]
    return [
        message["message_id"]
        for message in messages
        if isinstance(message, dict)
        and (message.get("chat") or {}).get("id") == chat_id
        and isinstance(message.get("message_id"), int)
    ]


async def chat(settings: Settings, query: str, stdin: TextIO, stdout: TextIO) -> int:
    db = Database(settings.database_url)
    try:
        persona = await find_persona(db, query)
    except ConsoleError as error:
        await db.dispose()
        stdout.write(f"fieldbot console: {error}\n")
        return EXIT_NOT_FOUND
    async with FakeBotApi(CONSOLE_TOKEN) as api:
        first, _, last = persona.name.partition(" ")
        api.add_user(
            persona.telegram_id,
            first or persona.name,
            last_name=last or None,
            username=persona.username,
            language_code=persona.language or "en",
        )
        api.start_message_ids_after(
            persona.telegram_id, await first_message_id(db, persona.telegram_id, datetime.now(UTC))
        )
        settings = dataclasses.replace(settings, token=CONSOLE_TOKEN, api_url=api.base_url)
        app = build_application(
            settings, db, Clock(settings.timezone), sync_menus=False, background_jobs=False
        )
        await app.initialize()
        assert app.updater is not None
        try:
            await app.updater.start_polling(poll_interval=0, timeout=5)
            await app.start()
            console = Console(api, app, persona, stdout)
            console.write(hint(persona, settings.database_url))
            if not persona.active:
                console.write(
                    f"Note: {persona.name} is deactivated; the bot answers them as it answers "
                    "strangers. An admin can /activate them."
                )
            await converse(console, stdin, stdout)
        finally:
            if app.running:
                await app.updater.stop()
                await app.stop()
            await app.shutdown()
            await restore_facts(db, persona)
            await db.dispose()
    return 0


async def converse(console: Console, stdin: TextIO, stdout: TextIO) -> None:
    lines = _start_reading(stdin, asyncio.get_running_loop())
    echo = not stdin.isatty()
    await console.step(None)  # pushes already waiting for this user
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = await lines.get()
        if line is None:
            console.write("" if echo else "\n")
            return
        if echo:
            stdout.write(line if line.endswith("\n") else line + "\n")
        if line.strip() == "/quit":
            return
        if not line.strip():
            continue
        update = console.update_for(line)
        if update is not None:
            await console.step(update)


def run(args: argparse.Namespace, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """``fieldbot console``: 0 when the chat ends, 2 for an unknown user or bad settings."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        stdout.write(f"fieldbot console: {error}\n")
        return EXIT_NOT_FOUND
    if args.database:
        settings = dataclasses.replace(settings, database_url=args.database)
    upgrade(settings.database_url)
    try:
        return asyncio.run(chat(settings, args.as_user, stdin, stdout))
    except KeyboardInterrupt:
        stdout.write("\n")
        return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fieldbot console", description="Chat with the bot in a terminal as one of its users."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
