"""Conversation state in the database: a rep halfway through a guided flow survives a restart.

:class:`DatabasePersistence` is a python-telegram-bot persistence over the
``telegram_state`` table: every persistent ConversationHandler's states, and
``user_data`` and ``chat_data`` one top-level key per row (``bot_data`` holds the
runtime, rebuilt at each start, so it is not stored).

PTB writes a persistence every ``update_interval`` seconds, from all chats at
once, which would lose a step to a ``kill -9`` and could store a half-handled
update's state. Instead, once an update is handled, :meth:`DatabasePersistence.settled`
(called by bot/updates.py inside the chat's turn) diffs that update's user, chat and
conversations against what is stored and commits the changed rows together with
the update's handled mark (bot/inbox.py), before the chat's next update runs. PTB's
own bulk write only runs at shutdown, when nothing is in flight. Conversations
idle for longer than their timeout are not restored (PTB does not persist timeouts).

Values are JSON in a small codec rather than pickle: JSON can be read in the
database, loading runs no code, and a dataclass is rebuilt through its constructor,
so a field added with a default loads while a renamed or removed one fails the load
instead of yielding an object of the wrong shape. The codec knows the JSON types,
tuples, sets, dicts with any keys, ``Decimal``, dates, times, datetimes (with their
zone), timedeltas, bytes, and the project's own enums and dataclasses (classes
from the ``bot``, ``handlers``, ``models`` and ``jobs`` packages only). A row that
no longer loads after a deploy is dropped, with one log line per kind of data.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, BasePersistence, ConversationHandler, PersistenceInput
from telegram.ext._handlers.conversationhandler import PendingState

from bot.inbox import STATE, Inbox, StateChanges, StateKey

log = logging.getLogger(__name__)

PROJECT_PACKAGES = frozenset({"bot", "handlers", "models", "jobs"})
#: Modules that moved into domain packages: a draft stored under the old name still loads.
MOVED_MODULES = {
    "bot.services.customers": "bot.services.field.customers",
    "bot.services.geo": "bot.services.field.geo",
    "bot.services.grading": "bot.services.field.grading",
    "bot.services.market": "bot.services.field.market",
    "bot.services.prospects": "bot.services.field.prospects",
    "bot.services.stock": "bot.services.field.stock",
    "bot.services.today": "bot.services.field.today",
    "bot.services.visit_extras": "bot.services.field.visit_extras",
    "bot.services.visits": "bot.services.field.visits",
    "bot.services.customer_import": "bot.services.intake.customer_import",
    "bot.services.importing": "bot.services.intake.importing",
    "bot.services.imports": "bot.services.intake.imports",
    "bot.services.receivable_import": "bot.services.intake.receivable_import",
    "bot.services.user_import": "bot.services.intake.user_import",
    "bot.services.aging": "bot.services.money.aging",
    "bot.services.amounts": "bot.services.money.amounts",
    "bot.services.collections": "bot.services.money.collections",
    "bot.services.credit_notes": "bot.services.money.credit_notes",
    "bot.services.finance_reports": "bot.services.money.finance_reports",
    "bot.services.ledger": "bot.services.money.ledger",
    "bot.services.orders": "bot.services.money.orders",
    "bot.services.overdue": "bot.services.money.overdue",
    "bot.services.payment_methods": "bot.services.money.payment_methods",
    "bot.services.returns": "bot.services.money.returns",
    "bot.services.access": "bot.services.people.access",
    "bot.services.approvals": "bot.services.people.approvals",
    "bot.services.invites": "bot.services.people.invites",
    "bot.services.teams": "bot.services.people.teams",
    "bot.services.users": "bot.services.people.users",
    "bot.services.charts": "bot.services.reporting.charts",
    "bot.services.exports": "bot.services.reporting.exports",
    "bot.services.periods": "bot.services.reporting.periods",
    "bot.services.report_loop": "bot.services.reporting.report_loop",
    "bot.services.reports": "bot.services.reporting.reports",
    "bot.services.summaries": "bot.services.reporting.summaries",
    "handlers.albums": "handlers.field.albums",
    "handlers.customer_choice": "handlers.field.customer_choice",
    "handlers.customers": "handlers.field.customers",
    "handlers.grades": "handlers.field.grades",
    "handlers.market": "handlers.field.market",
    "handlers.new_customer": "handlers.field.new_customer",
    "handlers.prospects": "handlers.field.prospects",
    "handlers.today": "handlers.field.today",
    "handlers.visit_extras": "handlers.field.visit_extras",
    "handlers.visit_flow": "handlers.field.visit_flow",
    "handlers.visit_views": "handlers.field.visit_views",
    "handlers.visits": "handlers.field.visits",
    "handlers.collections": "handlers.money.collections",
    "handlers.deposits": "handlers.money.deposits",
    "handlers.finance": "handlers.money.finance",
    "handlers.orders": "handlers.money.orders",
    "handlers.overdue": "handlers.money.overdue",
    "handlers.returns": "handlers.money.returns",
    "handlers.approvals": "handlers.people.approvals",
    "handlers.onboarding": "handlers.people.onboarding",
    "handlers.people": "handlers.people.people",
    "handlers.exports": "handlers.reporting.exports",
    "handlers.report_reads": "handlers.reporting.report_reads",
    "handlers.reports": "handlers.reporting.reports",
    "handlers.summaries": "handlers.reporting.summaries",
}
TAG = "$"
#: PTB's periodic write is never due: :meth:`DatabasePersistence.settled` writes as updates finish.
NEVER = 10 * 365 * 24 * 3600.0

Data = dict[Any, Any]


# -- the codec -----------------------------------------------------------------------------------


class Unreadable(Exception):
    """Stored state that cannot be rebuilt by this version of the code."""


def dumps(value: object) -> str:
    """JSON text for ``value``; TypeError for a type the codec does not know."""
    return json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Any:
    """The value :func:`dumps` wrote; :class:`Unreadable` if the code changed under it."""
    try:
        return _decode(json.loads(text))
    except Unreadable:
        raise
    except Exception as error:  # renamed class or field, removed enum member, bad JSON…
        raise Unreadable(f"{type(error).__name__}: {error}") from error


def _class_name(kind: type) -> str:
    if kind.__module__.split(".")[0] not in PROJECT_PACKAGES or "<locals>" in kind.__qualname__:
        raise TypeError(
            f"only the project's own classes can be stored, not {kind.__module__}.{kind.__qualname__}"
        )
    return f"{kind.__module__}:{kind.__qualname__}"


def _encode(value: object) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}  # type: ignore[arg-type]
    if kind is list:
        return [_encode(item) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        items: dict[Any, Any] = value  # type: ignore[assignment]
        if TAG not in items and all(type(key) is str for key in items):
            return {key: _encode(item) for key, item in items.items()}
        return {TAG: "dict", "v": [[_encode(key), _encode(item)] for key, item in items.items()]}
    if kind in (tuple, set, frozenset):
        return {TAG: kind.__name__, "v": [_encode(item) for item in value]}  # type: ignore[attr-defined]
    if kind in (Decimal, date, time):
        return {TAG: kind.__name__, "v": str(value) if kind is Decimal else value.isoformat()}  # type: ignore[attr-defined]
    if kind is datetime:
        assert isinstance(value, datetime)
        encoded = {TAG: "datetime", "v": value.isoformat()}
        if isinstance(value.tzinfo, ZoneInfo):
            encoded["zone"] = value.tzinfo.key
        return encoded
    if kind is timedelta:
        assert isinstance(value, timedelta)
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if kind is bytes:
        return {TAG: "bytes", "v": base64.b64encode(value).decode()}  # type: ignore[arg-type]
    if isinstance(value, Enum):
        return {TAG: "enum", "class": _class_name(kind), "v": _encode(value.value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            TAG: "dataclass",
            "class": _class_name(kind),
            "v": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    raise TypeError(f"conversation state cannot hold a {kind.__module__}.{kind.__qualname__}")


def _project_class(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    if module_name.split(".")[0] not in PROJECT_PACKAGES or not qualname:
        raise Unreadable(f"{name} is not one of the project's classes")
    found: object = importlib.import_module(MOVED_MODULES.get(module_name, module_name))
    for part in qualname.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise Unreadable(f"{name} is not a class")
    return found


def _dataclass(name: str, stored: dict[str, Any]) -> object:
    kind = _project_class(name)
    if not dataclasses.is_dataclass(kind):
        raise Unreadable(f"{name} is no longer a dataclass")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(stored) - set(fields)
    if unknown:
        raise Unreadable(f"{name} has no field {', '.join(sorted(unknown))} any more")
    values = {key: _decode(item) for key, item in stored.items()}
    made = kind(**{key: item for key, item in values.items() if fields[key].init})
    for key, item in values.items():
        if not fields[key].init:
            object.__setattr__(made, key, item)
    return made


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {key: _decode(item) for key, item in value.items()}
    stored = value["v"]
    if tag == "dict":
        return {_decode(key): _decode(item) for key, item in stored}
    if tag in ("tuple", "set", "frozenset"):
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](_decode(item) for item in stored)
    if tag == "float":
        return float(stored)
    if tag == "Decimal":
        return Decimal(stored)
    if tag == "date":
        return date.fromisoformat(stored)
    if tag == "time":
        return time.fromisoformat(stored)
    if tag == "datetime":
        moment = datetime.fromisoformat(stored)
        return moment.astimezone(ZoneInfo(value["zone"])) if "zone" in value else moment
    if tag == "timedelta":
        return timedelta(days=stored[0], seconds=stored[1], microseconds=stored[2])
    if tag == "bytes":
        return base64.b64decode(stored)
    if tag == "enum":
        kind = _project_class(value["class"])
        if not issubclass(kind, Enum):
            raise Unreadable(f"{value['class']} is no longer an enum")
        return kind(_decode(stored))
    if tag == "dataclass":
        return _dataclass(value["class"], stored)
    raise Unreadable(f"unknown tag {tag!r}")


# -- the persistence -----------------------------------------------------------------------------


def conversation_key(flow: ConversationHandler[Any], update: Update) -> tuple[int | str, ...] | None:
    """The key ``flow`` files ``update``'s conversation under (as PTB computes it), if it has one."""
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    key: list[int | str] = []
    if flow.per_chat:
        if chat is None:
            return None
        key.append(chat.id)
    if flow.per_user:
        if user is None:
            return None
        key.append(user.id)
    if flow.per_message:
        if query is None:
            return None
        if query.inline_message_id:
            key.append(query.inline_message_id)
        elif query.message is not None:
            key.append(query.message.message_id)
        else:
            return None
    return tuple(key)


def _key_text(key: tuple[int | str, ...]) -> str:
    return json.dumps(list(key), separators=(",", ":"))


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    def __init__(self, inbox: Inbox) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=True, user_data=True, callback_data=False),
            update_interval=NEVER,
        )
        self.inbox = inbox
        #: (scope, owner) → {name: JSON text}: what the database holds, to write only changes.
        self._stored: dict[tuple[str, str], dict[str, str]] = {}
        self._flows: list[ConversationHandler[Any]] = []
        self._max_idle: dict[str, float] = {}
        self._application: Application[Any, Any, Data, Data, Data, Any] | None = None

    def follow(self, application: Application[Any, Any, Data, Data, Data, Any]) -> None:
        """Know the application's persistent conversations (call after registering handlers)."""
        self._application = application
        self._flows = [
            handler
            for group in application.handlers.values()
            for handler in group
            if isinstance(handler, ConversationHandler) and handler.persistent
        ]
        for flow in self._flows:
            timeout = flow.conversation_timeout
            if timeout is not None:
                seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
                self._max_idle[str(flow.name)] = seconds

    # -- after each update -------------------------------------------------------------------
    async def settled(self, update: object) -> None:
        """``update`` was handled: store what it changed, with its handled mark, before going on."""
        if not isinstance(update, Update):
            return
        changes = self.changes_for(update)
        try:
            await self.inbox.settle(update, changes)
        except Exception as error:  # the database is away: the journal keeps it and retries
            log.warning(
                "could not store the state of update %d yet (%s): kept in memory, retrying",
                update.update_id,
                type(error).__name__,
            )
            self.inbox.journal.commit_soon()

    def dropped(self, update: object) -> None:
        """``update`` was dropped unhandled on purpose (a flooding chat)."""
        if isinstance(update, Update):
            self.inbox.drop(update)

    def changes_for(self, update: Update) -> StateChanges:
        """Rows to write for the user, chat and conversations ``update`` belongs to."""
        application = self._application
        assert application is not None, "call follow(application) first"
        changes = StateChanges()
        user, chat = update.effective_user, update.effective_chat
        if user is not None:
            self._diff(changes, "user", str(user.id), application.user_data.get(user.id, {}))
        if chat is not None:
            self._diff(changes, "chat", str(chat.id), application.chat_data.get(chat.id, {}))
        for flow in self._flows:
            key = conversation_key(flow, update)
            state = flow._conversations.get(key) if key is not None else None
            if key is not None and not isinstance(state, PendingState):  # a non-blocking step: at shutdown
                self._diff_one(changes, ("conversation", str(flow.name), _key_text(key)), state)
        return changes

    def _diff(self, changes: StateChanges, scope: str, owner: str, data: Mapping[Any, Any]) -> None:
        for name, value in data.items():
            if type(name) is not str:
                log.error("%s data of %s: key %r is not a string, not stored", scope, owner, name)
                continue
            self._diff_one(changes, (scope, owner, name), value)
        for name in [name for name in self._stored.get((scope, owner), {}) if name not in data]:
            self._diff_one(changes, (scope, owner, name), None)

    def _diff_one(self, changes: StateChanges, key: StateKey, value: object) -> None:
        """Add ``key`` to ``changes`` if ``value`` (None: gone) differs from what is stored."""
        scope, owner, name = key
        stored = self._stored.get((scope, owner), {})
        if value is None:
            if name in stored:
                del stored[name]
                changes.remove(key)
                if not stored:
                    del self._stored[(scope, owner)]
            return
        try:
            text = dumps(value)
        except TypeError as error:
            log.error("%s %s %s not stored: %s", scope, owner, name, error)
            return
        if stored.get(name) != text:
            self._stored.setdefault((scope, owner), {})[name] = text
            changes.put(key, text)

    async def _write(self, changes: StateChanges) -> None:
        if changes:
            self.inbox.journal.add(changes)
            await self.inbox.journal.commit()

    # -- loading -----------------------------------------------------------------------------
    async def _load(self, scope: str, owner: str | None = None) -> list[tuple[str, str, Any, datetime]]:
        """Rows of ``scope`` that still load, as (owner, name, value, updated_at); drops the rest."""
        query = select(STATE.c.owner, STATE.c.name, STATE.c.data, STATE.c.updated_at).where(
            STATE.c.scope == scope
        )
        if owner is not None:
            query = query.where(STATE.c.owner == owner)
        async with self.inbox.db.reading() as session:
            rows = (await session.execute(query)).all()
        loaded, unreadable, first = [], StateChanges(), ""
        for row_owner, name, text, updated_at in rows:
            try:
                value = loads(text)
                if scope != "conversation":
                    int(row_owner)
            except (Unreadable, ValueError) as error:
                if not unreadable:
                    first = f"{row_owner} {name}: {error}"
                unreadable.remove((scope, row_owner, name))
                continue
            loaded.append((row_owner, name, value, updated_at))
            self._stored.setdefault((scope, row_owner), {})[name] = text
        if unreadable:
            log.warning(
                "dropped %d stored %s state entries this version cannot read (first: %s)",
                len(unreadable.deletes),
                owner or scope,
                first,
            )
            await self._write(unreadable)
        return loaded

    async def _load_data(self, scope: str) -> dict[int, Data]:
        data: dict[int, Data] = {}
        for owner, name, value, _ in await self._load(scope):
            data.setdefault(int(owner), {})[name] = value
        return data

    async def get_user_data(self) -> dict[int, Data]:
        return await self._load_data("user")

    async def get_chat_data(self) -> dict[int, Data]:
        return await self._load_data("chat")

    async def get_bot_data(self) -> Data:
        """Not stored: ``bot_data`` holds the runtime, built afresh at each start."""
        return {}

    async def get_callback_data(self) -> None:
        """Not stored: the bot's buttons carry their own data."""
        return None

    async def get_conversations(self, name: str) -> dict[tuple[int | str, ...], object]:
        """The conversations of ``name``, except those idle past its timeout (they would have ended)."""
        max_idle = self._max_idle.get(name)
        cutoff = datetime.now(UTC) - timedelta(seconds=max_idle) if max_idle is not None else None
        conversations: dict[tuple[int | str, ...], object] = {}
        expired = StateChanges()
        for _, key_text, state, updated_at in await self._load("conversation", name):
            if cutoff is not None and updated_at < cutoff:
                self._diff_one(expired, ("conversation", name, key_text), None)
            else:
                conversations[tuple(json.loads(key_text))] = state
        if expired:
            log.info(
                "%d %s conversations idle past their timeout were not restored", len(expired.deletes), name
            )
            await self._write(expired)
        return conversations

    # -- PTB's bulk writes (at shutdown, when no update is in flight) ------------------------
    async def update_conversation(self, name: str, key: tuple[int | str, ...], new_state: object) -> None:
        changes = StateChanges()
        self._diff_one(changes, ("conversation", name, _key_text(key)), new_state)
        await self._write(changes)

    async def update_user_data(self, user_id: int, data: Data) -> None:
        changes = StateChanges()
        self._diff(changes, "user", str(user_id), data)
        await self._write(changes)

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        changes = StateChanges()
        self._diff(changes, "chat", str(chat_id), data)
        await self._write(changes)

    async def update_bot_data(self, data: Data) -> None:
        """Not stored (see :meth:`get_bot_data`)."""

    async def update_callback_data(self, data: Any) -> None:
        """Not stored (see :meth:`get_callback_data`)."""

    async def drop_user_data(self, user_id: int) -> None:
        changes = StateChanges()
        self._diff(changes, "user", str(user_id), {})
        await self._write(changes)

    async def drop_chat_data(self, chat_id: int) -> None:
        changes = StateChanges()
        self._diff(changes, "chat", str(chat_id), {})
        await self._write(changes)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Nothing to refresh: this process is the only one writing its users' data."""

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Nothing to refresh: this process is the only one writing its chats' data."""

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Nothing to refresh: ``bot_data`` is not stored."""

    async def flush(self) -> None:
        """Commit everything still waiting (PTB calls this at shutdown)."""
        await self.inbox.journal.close()
