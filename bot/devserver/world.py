"""The fake Telegram's state: people, chats, messages, files, the update queue and commands.

:class:`World` is the user side of the fake: tests add users, inject what they type or press,
and read back what the bot sent.  The Bot API side lives in :mod:`bot.devserver.methods`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.devserver.formatting import utf16_len
from bot.devserver.models import SentMessage

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_PHOTO_SIZES = ((90, 90), (320, 320), (800, 800))
_CONTENT_KEYS = frozenset({"text", "caption", "location", "document", "photo", "sticker", "voice"})
# Update types Telegram sends when allowed_updates is empty or was never set.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class StoredFile:
    """A file known to the fake server (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    content: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str

    def as_dict(self) -> dict[str, Any]:
        """The File / Document fields describing this file."""
        info: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.file_name is not None:
            info["file_name"] = self.file_name
        if self.mime_type is not None:
            info["mime_type"] = self.mime_type
        return info


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for every ``/command`` (or ``/command@bot``) in ``text``."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group(0)),
        }
        for match in _COMMAND_RE.finditer(text)
    ]


def update_type(update: dict[str, Any]) -> str:
    """The payload key of an Update (``message``, ``callback_query``...)."""
    return next((key for key in update if key != "update_id"), "")


class World:
    """Everything the fake Telegram knows, independent of HTTP."""

    def __init__(self, *, bot_id: int, bot_username: str) -> None:
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Fieldbot",
            "username": bot_username,
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # Telegram Message dicts
        self.sent: dict[int, list[SentMessage]] = {}
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.open_queries: dict[str, float] = {}  # callback query id -> monotonic creation time
        self.query_chats: dict[str, int] = {}  # callback query id -> chat of the pressed message
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []  # queued, not yet confirmed
        self.delivered_update_id = 0  # highest update_id handed out by getUpdates
        self._last_message_id: dict[int, int] = {}
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._update_event: asyncio.Event | None = None
        #: Seconds since the epoch that users' messages are dated with (``Message.date``): the bot's
        #: clock when a :class:`~bot.devserver.running.RunningBot` drives it, so that a message
        #: sent "now" is dated at the bot's now.
        self.timestamp: Callable[[], float] = time.time

    # -- people and chats --------------------------------------------------------------------
    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Register a Telegram user (and their private chat); return the User dict."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = chat[key] = value
        if language_code is not None:
            user["language_code"] = language_code
        with self._lock:
            self.users[user_id] = user
            self.chats[user_id] = chat
        return dict(user)

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sending to them now fails with 403."""
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """The user unblocks the bot."""
        self.blocked.discard(user_id)

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id not in self.users:
            self.add_user(user_id, f"User {user_id}")
        return self.users[user_id]

    def _chat(self, chat_id: int, chat_type: str, title: str | None) -> dict[str, Any]:
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_type == "private":
                raise ValueError(f"private chat {chat_id} must belong to a user")
            chat = {"id": chat_id, "type": chat_type, "title": title or f"Chat {chat_id}"}
            self.chats[chat_id] = chat
        elif title is not None and chat["type"] != "private":
            chat["title"] = title
        return chat

    def start_message_ids_after(self, chat_id: int, last_id: int) -> None:
        """Number this chat's next messages after ``last_id`` (a new session on an old database)."""
        self._last_message_id[chat_id] = max(self._last_message_id.get(chat_id, 0), last_id)

    def next_message_id(self, chat_id: int) -> int:
        """Allocate the next message id of a chat (shared by user and bot messages)."""
        with self._lock:
            message_id = self._last_message_id.get(chat_id, 0) + 1
            self._last_message_id[chat_id] = message_id
            return message_id

    def new_id(self, prefix: str) -> str:
        """A fresh opaque identifier (file ids, callback query ids...)."""
        return f"{prefix}{next(self._ids):06d}{secrets.token_hex(6)}"

    # -- files -------------------------------------------------------------------------------
    def add_file(
        self,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        *,
        folder: str = "documents",
    ) -> dict[str, Any]:
        """Store bytes as a Telegram file; return file_id, file_unique_id, file_size..."""
        number = next(self._ids)
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        elif folder == "photos":
            suffix = ".jpg"
        stored = StoredFile(
            file_id=f"BQACAgIAAx{number:06d}{secrets.token_urlsafe(12)}",
            file_unique_id=f"AgAD{number:06d}",
            content=bytes(content),
            file_name=file_name,
            mime_type=mime_type,
            file_path=f"{folder}/file_{number}{suffix}",
        )
        with self._lock:
            self.files[stored.file_id] = stored
        return stored.as_dict()

    def photo_sizes(self, content: bytes) -> list[dict[str, Any]]:
        """PhotoSize dicts (small to large), each a file id for ``content``."""
        sizes = []
        for width, height in _PHOTO_SIZES:
            info = self.add_file(content, folder="photos")
            sizes.append({**info, "width": width, "height": height})
        return sizes

    # -- updates -----------------------------------------------------------------------------
    def _queue(self, kind: str, payload: dict[str, Any], queue: bool) -> dict[str, Any]:
        return self.raw({kind: payload}, queue=queue)

    def raw(self, update: dict[str, Any], *, queue: bool = True) -> dict[str, Any]:
        """Queue any Update dict for getUpdates, assigning its ``update_id``."""
        payload = copy.deepcopy(update)
        payload.pop("update_id", None)
        update = {"update_id": next(self._update_ids), **payload}
        if queue:
            with self._lock:
                self.updates.append(update)
            self._wake_pollers()
        return copy.deepcopy(update)

    def _wake_pollers(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._set_update_event()
        else:
            loop.call_soon_threadsafe(self._set_update_event)

    def _set_update_event(self) -> None:
        if self._update_event is not None:
            self._update_event.set()
            self._update_event = asyncio.Event()

    def update_event(self) -> asyncio.Event:
        """An event set when the next update is queued (call inside the server's loop)."""
        if self._update_event is None:
            self._update_event = asyncio.Event()
        return self._update_event

    def undelivered(self) -> int:
        """How many queued updates getUpdates has not handed out yet."""
        return sum(1 for u in self.updates if u["update_id"] > self.delivered_update_id)

    # -- what users do -----------------------------------------------------------------------
    def message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        location: tuple[float, float] | None = None,
        live_period: int | None = None,
        document: tuple[str, bytes, str] | None = None,
        photo: bytes | None = None,
        media_group_id: str | None = None,
        caption: str | None = None,
        sticker: bool = False,
        voice: bool = False,
        forward_from: int | None = None,
        reply_to_message_id: int | None = None,
        queue: bool = True,
    ) -> dict[str, Any]:
        """The user sends a message; return the Update.

        Writing to the bot in a private chat unblocks it, as in Telegram's apps.
        """
        user = self._user(user_id)
        chat_id = user_id if chat_id is None else chat_id
        if chat_id == user_id:
            chat_type = "private"
        chat = self._chat(chat_id, chat_type, chat_title)
        now = int(self.timestamp())
        msg: dict[str, Any] = {
            "message_id": self.next_message_id(chat_id),
            "from": dict(user),
            "chat": dict(chat),
            "date": now,
        }
        if forward_from is not None:
            origin = self.users.get(forward_from) or {
                "id": forward_from,
                "is_bot": False,
                "first_name": f"User {forward_from}",
            }
            msg["forward_origin"] = {"type": "user", "sender_user": dict(origin), "date": now - 60}
        if reply_to_message_id is not None:
            msg["reply_to_message"] = self._reply_copy(chat_id, reply_to_message_id)
        if text is not None:
            msg["text"] = text
            if entities := command_entities(text):
                msg["entities"] = entities
        if location is not None:
            msg["location"] = {"latitude": float(location[0]), "longitude": float(location[1])}
            if live_period is not None:  # a live location: its later positions are edits
                msg["location"]["live_period"] = live_period
        if document is not None:
            name, content, mime_type = document
            msg["document"] = self.add_file(content, name, mime_type)
        if photo is not None:
            msg["photo"] = self.photo_sizes(photo)
            if media_group_id is not None:  # one photo of an album: each comes as its own message
                msg["media_group_id"] = media_group_id
        if sticker:
            info = self.add_file(b"RIFF\x00\x00\x00\x00WEBPVP8 ", mime_type="image/webp")
            msg["sticker"] = {
                **info,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        if voice:
            info = self.add_file(b"OggS\x00voice", mime_type="audio/ogg", folder="voice")
            msg["voice"] = {**info, "duration": 2}
        if caption is not None:
            msg["caption"] = caption
            if entities := command_entities(caption):
                msg["caption_entities"] = entities
        if not _CONTENT_KEYS & msg.keys():
            raise ValueError("a message needs text, a caption or some content")
        with self._lock:
            self.messages[(chat_id, msg["message_id"])] = msg
        if chat["type"] == "private":
            self.unblock(user_id)
        return self._queue("message", msg, queue)

    def _reply_copy(self, chat_id: int, message_id: int) -> dict[str, Any]:
        original = self.messages.get((chat_id, message_id))
        if original is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        reply = copy.deepcopy(original)
        reply.pop("reply_to_message", None)
        return reply

    def edited_message(
        self,
        user_id: int,
        message_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        queue: bool = True,
    ) -> dict[str, Any]:
        """The user edits one of their text messages; return the Update."""
        chat_id = user_id if chat_id is None else chat_id
        msg = self.messages.get((chat_id, message_id))
        if msg is None or msg.get("from", {}).get("id") != user_id:
            raise KeyError(f"user {user_id} has no message {message_id} in chat {chat_id}")
        msg["text"] = text
        msg.pop("entities", None)
        if entities := command_entities(text):
            msg["entities"] = entities
        msg["edit_date"] = int(self.timestamp())
        return self._queue("edited_message", copy.deepcopy(msg), queue)

    def moved_location(
        self, user_id: int, message_id: int, location: tuple[float, float], *, queue: bool = True
    ) -> dict[str, Any]:
        """A live location the user shares moves: Telegram edits its message; return the Update."""
        msg = self.messages.get((user_id, message_id))
        if msg is None or "live_period" not in msg.get("location", {}):
            raise KeyError(f"user {user_id} shares no live location in message {message_id}")
        msg["location"] = {**msg["location"], "latitude": float(location[0]), "longitude": float(location[1])}
        msg["edit_date"] = int(self.timestamp())
        return self._queue("edited_message", copy.deepcopy(msg), queue)

    def channel_post(
        self, chat_id: int, text: str, *, chat_title: str | None = None, queue: bool = True
    ) -> dict[str, Any]:
        """A post appears in a channel the bot administers; return the Update."""
        chat = self._chat(chat_id, "channel", chat_title)
        msg: dict[str, Any] = {
            "message_id": self.next_message_id(chat_id),
            "sender_chat": dict(chat),
            "chat": dict(chat),
            "date": int(self.timestamp()),
            "text": text,
        }
        self.messages[(chat_id, msg["message_id"])] = msg
        return self._queue("channel_post", copy.deepcopy(msg), queue)

    def callback(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        queue: bool = True,
    ) -> dict[str, Any]:
        """The user presses an inline button carrying ``data`` under a message."""
        user = self._user(user_id)
        chat_id = user_id if chat_id is None else chat_id
        msg = self.messages.get((chat_id, message_id))
        if msg is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        query_id = str(secrets.randbits(62))
        while query_id in self.open_queries or query_id in self.callback_answers:
            query_id = str(secrets.randbits(62))
        self.open_queries[query_id] = time.monotonic()
        self.query_chats[query_id] = chat_id
        query = {
            "id": query_id,
            "from": dict(user),
            "message": copy.deepcopy(msg),
            "chat_instance": str(abs(hash((self.bot_user["id"], chat_id)))),
            "data": data,
        }
        return self._queue("callback_query", query, queue)

    def press(
        self, user_id: int, button_text: str, *, message_id: int | None = None, queue: bool = True
    ) -> dict[str, Any]:
        """Press the inline button labelled ``button_text`` in the user's private chat.

        Searches the bot's messages newest first (or only ``message_id``) for an exact label,
        then for a label containing ``button_text``.  Raises KeyError if nothing matches.
        """
        candidates = [
            m
            for m in reversed(self.sent.get(user_id, []))
            if not m.deleted and (message_id is None or m.message_id == message_id)
        ]
        for matches in (
            lambda label: label == button_text,
            lambda label: button_text in label,
        ):
            for sent in candidates:
                for button in (b for row in sent.buttons() for b in row):
                    if matches(button.get("text", "")) and "callback_data" in button:
                        return self.callback(user_id, sent.message_id, button["callback_data"], queue=queue)
        seen = candidates[0].button_texts() if candidates else []
        raise KeyError(f"no inline button {button_text!r} for user {user_id}; newest has {seen}")

    # -- what the bot did --------------------------------------------------------------------
    def chat(self, chat_id: int) -> list[SentMessage]:
        """Messages the bot sent to a chat, oldest first, as they are now (deleted ones flagged)."""
        return list(self.sent.get(chat_id, []))

    def last(self, chat_id: int) -> SentMessage:
        """The newest message of the bot in a chat that is not deleted."""
        for sent in reversed(self.sent.get(chat_id, [])):
            if not sent.deleted:
                return sent
        raise IndexError(f"the bot has sent nothing (still visible) to chat {chat_id}")

    def commands_for_chat(self, chat_id: int, language_code: str = "") -> list[str]:
        """Command names an ordinary member sees in a chat, resolved like Telegram does.

        Tries the chat scope, then all_private_chats / all_group_chats, then default; within
        each, ``language_code`` first, then no language.
        """
        chat = self.chats.get(chat_id, {"type": "private" if chat_id > 0 else "group"})
        group_scope = "all_private_chats" if chat["type"] == "private" else "all_group_chats"
        for scope in (f"chat:{chat_id}", group_scope, "default"):
            for key in ([f"{scope}/{language_code}"] if language_code else []) + [scope]:
                if key in self.commands:
                    return [c["command"] for c in self.commands[key]]
        return []
