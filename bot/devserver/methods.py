"""Bot API methods of the fake server, with Telegram's semantics and error messages.

Every handler receives parameters already checked against the spec and converted to their
documented types (:func:`bot.devserver.spec.decode_params`), returns the ``result`` of a
successful answer, and raises :class:`ApiError` for everything Telegram would refuse.
"""

from __future__ import annotations

import copy
import math
import mimetypes
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bot.devserver.formatting import (
    SUPPORTED_PARSE_MODES,
    EntityParseError,
    ParsedText,
    parse_text,
    utf16_len,
)
from bot.devserver.markup import check_commands, check_reply_markup
from bot.devserver.models import ApiError, SentMessage, bad_request
from bot.devserver.spec import BotApiSpec, Upload
from bot.devserver.world import StoredFile, World

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
MAX_DOWNLOAD = 20 * 1024 * 1024
CALLBACK_QUERY_TTL = 15.0  # seconds Telegram waits for answerCallbackQuery
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_MEDIA_KEYS = ("text", "document", "photo", "location", "sticker", "voice")
_COPIED_KEYS = (*_MEDIA_KEYS, "entities", "caption", "caption_entities")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_LANG_RE = re.compile(r"[a-z]{2}")
_MESSAGE_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)

Handler = Callable[[dict[str, Any]], Any]


#: Messages a second Telegram allows a bot that sends with ``allow_paid_broadcast``.
PAID_MESSAGES_PER_SECOND = 1000.0


def paid_broadcast(params: dict[str, Any]) -> bool:
    """Whether a send asks for Telegram's paid broadcast limit (``allow_paid_broadcast``)."""
    return params.get("allow_paid_broadcast") in (True, "true", "True")


def _refuse_past(recent: deque[float], limit: float, messages: int, now: float) -> None:
    """429 if ``messages`` more would put more than ``limit`` in the rolling second ``recent`` holds."""
    if len(recent) + messages - 1 >= limit:
        # the oldest sends that must leave the window before these fit
        leaving = math.floor(len(recent) + messages - 1 - limit) + 1
        freed_by = recent[min(leaving, len(recent)) - 1] if recent else now
        retry_after = max(1, math.ceil(freed_by + 1.0 - now))
        raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def is_outgoing_message(method: str) -> bool:
    """Whether a method produces or changes a message (and so counts for flood control)."""
    return (method.startswith("send") and method != "sendChatAction") or method.startswith(
        ("editMessage", "copyMessage", "forwardMessage")
    )


def _is_image(content: bytes) -> bool:
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return True
    return content.startswith(_IMAGE_MAGIC)


def _kind(msg: dict[str, Any]) -> str:
    return next((key for key in _MEDIA_KEYS if key in msg), "other")


class BotApiMethods:
    """Implementations of the Bot API methods over a :class:`World`."""

    def __init__(
        self,
        world: World,
        spec: BotApiSpec,
        *,
        strict: bool,
        messages_per_second: float | None,
        paid_messages_per_second: float = PAID_MESSAGES_PER_SECOND,
    ) -> None:
        self.world = world
        self.spec = spec
        self.strict = strict
        self.messages_per_second = messages_per_second
        self.paid_messages_per_second = paid_messages_per_second
        self.webhook: dict[str, Any] = {"url": ""}
        self.profile: dict[str, str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._recent_sends: deque[float] = deque()  # messages without allow_paid_broadcast
        self._recent_all: deque[float] = deque()  # every message, paid or not
        w = self
        self.handlers: dict[str, Handler] = {
            "getMe": w.get_me,
            "logOut": w.accept,
            "close": w.accept,
            "setWebhook": w.set_webhook,
            "deleteWebhook": w.delete_webhook,
            "getWebhookInfo": w.get_webhook_info,
            "sendMessage": w.send_message,
            "sendDocument": w.send_document,
            "sendPhoto": w.send_photo,
            "sendMediaGroup": w.send_media_group,
            "sendLocation": w.send_location,
            "sendChatAction": w.send_chat_action,
            "forwardMessage": w.forward_message,
            "copyMessage": w.copy_message,
            "editMessageText": w.edit_message_text,
            "editMessageCaption": w.edit_message_caption,
            "editMessageReplyMarkup": w.edit_message_reply_markup,
            "deleteMessage": w.delete_message,
            "answerCallbackQuery": w.answer_callback_query,
            "setMyCommands": w.set_my_commands,
            "getMyCommands": w.get_my_commands,
            "deleteMyCommands": w.delete_my_commands,
            "setMyDescription": w.set_profile("description", 512),
            "setMyShortDescription": w.set_profile("short_description", 120),
            "setMyName": w.set_profile("name", 64),
            "getMyDescription": w.get_profile("description"),
            "getMyShortDescription": w.get_profile("short_description"),
            "getMyName": w.get_profile("name"),
            "setChatMenuButton": w.set_chat_menu_button,
            "getChatMenuButton": w.get_chat_menu_button,
            "getFile": w.get_file,
            "getChat": w.get_chat,
            "getChatMember": w.get_chat_member,
        }

    # -- shared checks -----------------------------------------------------------------------
    def throttle(self, messages: int = 1, *, paid: bool = False) -> None:
        """Flood control: at most ``messages_per_second`` messages without ``allow_paid_broadcast``
        in any rolling second; a message with it (``paid``) passes that limit, up to
        ``paid_messages_per_second`` messages of every kind in any rolling second.

        An album's ``messages`` are admitted together or not at all, as Telegram sends an album
        whole: a 429 never leaves part of one sent.
        """
        if self.messages_per_second is None:
            return
        now = time.monotonic()
        for recent in (self._recent_sends, self._recent_all):
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
        if paid:
            _refuse_past(self._recent_all, self.paid_messages_per_second, messages, now)
        else:
            _refuse_past(self._recent_sends, self.messages_per_second, messages, now)
            self._recent_sends.extend([now] * messages)
        self._recent_all.extend([now] * messages)

    def chat(self, chat_id: Any, *, sending: bool = True) -> dict[str, Any]:
        """The chat a request targets; 400 if unknown, 403 if the user blocked the bot."""
        chat = None
        if isinstance(chat_id, int):
            chat = self.world.chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            chat = next(
                (c for c in self.world.chats.values() if c.get("username", "").lower() == name),
                None,
            )
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat["type"] == "private" and chat["id"] in self.world.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def formatted(self, text: str, parse_mode: str | None) -> ParsedText:
        """Parse ``text`` as Telegram does; 400 on bad markup (taken literally if not strict)."""
        if parse_mode is not None and parse_mode.lower() not in (m.lower() for m in SUPPORTED_PARSE_MODES):
            raise bad_request("unsupported parse_mode")
        try:
            return parse_text(text, parse_mode)
        except EntityParseError as err:
            if self.strict:
                raise bad_request(f"can't parse entities: {err}") from None
            return parse_text(text, None)

    def message_text(self, params: dict[str, Any]) -> ParsedText:
        """Text of sendMessage / editMessageText, length-checked after entity parsing."""
        text = params.get("text")
        if text is None:
            raise bad_request("message text is empty")
        parsed = self.formatted(text, params.get("parse_mode"))
        if not parsed.text:
            raise bad_request("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise bad_request("message is too long")
        if params.get("parse_mode") is None and params.get("entities"):
            parsed.entities = list(params["entities"])
        return parsed

    def caption(self, params: dict[str, Any]) -> ParsedText | None:
        """Caption of a media message, if any (at most 1024 characters after parsing)."""
        if params.get("caption") is None:
            return None
        parsed = self.formatted(params["caption"], params.get("parse_mode"))
        if utf16_len(parsed.text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        if params.get("parse_mode") is None and params.get("caption_entities"):
            parsed.entities = list(params["caption_entities"])
        return parsed

    def reply_markup(self, params: dict[str, Any], *, inline_only: bool = False) -> Any:
        """The request's reply_markup (None if absent) after shape checks."""
        markup = params.get("reply_markup")
        if markup is not None and self.strict:
            check_reply_markup(markup, self.spec, inline_only=inline_only)
        return markup

    def reply_to(self, params: dict[str, Any], chat_id: int) -> int | None:
        """The message a new message replies to, from ``reply_parameters``."""
        reply = params.get("reply_parameters")
        if not reply:
            return None
        target_chat = reply.get("chat_id", chat_id)
        message_id = reply.get("message_id")
        if (target_chat, message_id) in self.world.messages and target_chat == chat_id:
            return int(message_id)
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")

    def commit(
        self,
        chat: dict[str, Any],
        body: dict[str, Any],
        sent: SentMessage,
        markup: Any = None,
    ) -> dict[str, Any]:
        """Store a new bot message in ``chat``; return its Message dict."""
        world = self.world
        sent.chat_id = chat["id"]
        sent.message_id = world.next_message_id(chat["id"])
        sent.date = int(time.time())
        sent.reply_markup = markup
        msg: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": dict(world.bot_user),
            "chat": dict(chat),
            "date": sent.date,
            **{key: value for key, value in body.items() if value not in (None, [])},
        }
        if sent.reply_to_message_id is not None:
            msg["reply_to_message"] = world._reply_copy(chat["id"], sent.reply_to_message_id)
        if markup and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        world.messages[(chat["id"], sent.message_id)] = msg
        world.sent.setdefault(chat["id"], []).append(sent)
        return copy.deepcopy(msg)

    def input_file(self, value: Any, *, image: bool = False) -> tuple[StoredFile, bool]:
        """Resolve an uploaded file or an existing file_id; return it and whether it is new."""
        if isinstance(value, Upload):
            if not value.content:
                raise bad_request("file must be non-empty")
            if image and self.strict and not _is_image(value.content):
                raise bad_request("IMAGE_PROCESS_FAILED")
            name = value.file_name or ("photo.jpg" if image else "document")
            mime = value.mime_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(name)[0] or mime
            info = self.world.add_file(value.content, name, mime, folder="photos" if image else "documents")
            return self.world.files[info["file_id"]], True
        if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = self.world.files.get(value) if isinstance(value, str) else None
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored, False

    # -- bot and updates ---------------------------------------------------------------------
    def get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        """getMe."""
        return {
            **self.world.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def accept(self, params: dict[str, Any]) -> bool:
        """Methods that only need to succeed (logOut, close, unimplemented ones)."""
        return True

    def set_webhook(self, params: dict[str, Any]) -> bool:
        """setWebhook: record the URL (nothing is ever posted to it)."""
        url = params["url"]
        if url and not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("drop_pending_updates"):
            self.world.updates.clear()
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, Upload)}
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        """deleteWebhook."""
        self.webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self.world.updates.clear()
        return True

    def get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """getWebhookInfo."""
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    # -- sending -----------------------------------------------------------------------------
    def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendMessage."""
        chat = self.chat(params["chat_id"])
        parsed = self.message_text(params)
        markup = self.reply_markup(params)
        reply_to = self.reply_to(params, chat["id"])
        self.throttle(paid=paid_broadcast(params))
        sent = SentMessage(
            0,
            chat["id"],
            text=params["text"],
            parse_mode=params.get("parse_mode"),
            kind="text",
            reply_to_message_id=reply_to,
        )
        return self.commit(chat, {"text": parsed.text, "entities": parsed.entities}, sent, markup)

    def _media(
        self, kind: str, stored: StoredFile, item: dict[str, Any], chat_id: int
    ) -> tuple[dict[str, Any], SentMessage]:
        """Message body and SentMessage draft for a file message with ``item``'s caption."""
        caption = self.caption(item)
        if kind == "photo":
            sizes = self.world.photo_sizes(stored.content)
            media: Any = sizes
            file_id = sizes[-1]["file_id"]
        else:
            media = stored.as_dict()
            file_id = stored.file_id
        sent = SentMessage(
            0,
            chat_id,
            caption=item.get("caption"),
            parse_mode=item.get("parse_mode"),
            kind=kind,
            file_name=stored.file_name,
            file_bytes=stored.content,
            file_id=file_id,
            mime_type=stored.mime_type,
        )
        body = {kind: media}
        if caption is not None:
            body.update(caption=caption.text, caption_entities=caption.entities)
        return body, sent

    def _send_file(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat = self.chat(params["chat_id"])
        stored, _ = self.input_file(params[kind], image=kind == "photo")
        self.caption(params)
        markup = self.reply_markup(params)
        reply_to = self.reply_to(params, chat["id"])
        self.throttle(paid=paid_broadcast(params))
        body, sent = self._media(kind, stored, params, chat["id"])
        sent.reply_to_message_id = reply_to
        return self.commit(chat, body, sent, markup)

    def send_media_group(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """sendMediaGroup: an album of 2-10 photos/videos, documents or audios."""
        chat = self.chat(params["chat_id"])
        items = params["media"]
        if not 2 <= len(items) <= 10:
            raise bad_request("media group must include 2-10 items")
        kinds = {item.get("type") for item in items if isinstance(item, dict)}
        if len(kinds) > 1 and not kinds <= {"photo", "video"}:
            raise bad_request(
                f"{sorted(str(kind) for kind in kinds)[0]} can't be mixed with other media types"
            )
        files = []
        for item in items:
            if item.get("type") not in ("photo", "video", "document", "audio"):
                raise bad_request("unsupported media type in the media group")
            stored, _ = self.input_file(item.get("media"), image=item["type"] == "photo")
            self.caption(item)
            files.append(stored)
        reply_to = self.reply_to(params, chat["id"])
        self.throttle(len(items), paid=paid_broadcast(params))
        group_id = self.world.new_id("album")
        results = []
        for item, stored in zip(items, files, strict=True):
            body, sent = self._media(item["type"], stored, item, chat["id"])
            sent.reply_to_message_id = reply_to
            results.append(self.commit(chat, {**body, "media_group_id": group_id}, sent))
        return results

    def send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendDocument (multipart upload or an existing file_id)."""
        return self._send_file(params, "document")

    def send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendPhoto (multipart upload of an image, or an existing file_id)."""
        return self._send_file(params, "photo")

    def send_location(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendLocation."""
        chat = self.chat(params["chat_id"])
        latitude, longitude = params["latitude"], params["longitude"]
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong latitude or longitude specified")
        markup = self.reply_markup(params)
        reply_to = self.reply_to(params, chat["id"])
        self.throttle(paid=paid_broadcast(params))
        sent = SentMessage(
            0,
            chat["id"],
            kind="location",
            location=(latitude, longitude),
            reply_to_message_id=reply_to,
        )
        body = {"location": {"latitude": latitude, "longitude": longitude}}
        return self.commit(chat, body, sent, markup)

    def send_chat_action(self, params: dict[str, Any]) -> bool:
        """sendChatAction."""
        self.chat(params["chat_id"])
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _clone(
        self, params: dict[str, Any], *, not_found: str
    ) -> tuple[dict[str, Any], dict[str, Any], SentMessage]:
        """Source message, target chat and a SentMessage draft for forward/copy."""
        source_chat = self.chat(params["from_chat_id"], sending=False)
        source = self.world.messages.get((source_chat["id"], params["message_id"]))
        if source is None:
            raise bad_request(not_found)
        chat = self.chat(params["chat_id"])
        original = next(
            (s for s in self.world.sent.get(source_chat["id"], []) if s.message_id == params["message_id"]),
            None,
        )
        if original is not None:
            sent = copy.deepcopy(original)
            sent.edits, sent.history, sent.reply_to_message_id = 0, [], None
        else:
            document = source.get("document") or {}
            stored = self.world.files.get(document.get("file_id", ""))
            sent = SentMessage(
                0,
                chat["id"],
                text=source.get("text"),
                caption=source.get("caption"),
                kind=_kind(source),
                file_name=document.get("file_name"),
                file_id=document.get("file_id"),
                file_bytes=stored.content if stored else None,
            )
        return source, chat, sent

    def forward_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """forwardMessage."""
        source, chat, sent = self._clone(params, not_found="message to forward not found")
        self.throttle()
        body = {key: source[key] for key in _COPIED_KEYS if key in source}
        sender = source.get("from", self.world.bot_user)
        body["forward_origin"] = {"type": "user", "sender_user": sender, "date": source["date"]}
        return self.commit(chat, body, sent)

    def copy_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """copyMessage: returns the new MessageId."""
        source, chat, sent = self._clone(params, not_found="message to copy not found")
        caption = self.caption(params)
        markup = self.reply_markup(params)
        sent.reply_to_message_id = self.reply_to(params, chat["id"])
        self.throttle(paid=paid_broadcast(params))
        body = {key: source[key] for key in _COPIED_KEYS if key in source}
        if caption is not None:
            if "text" in body:
                raise bad_request("message caption can't be set for a text message")
            body.update(caption=caption.text, caption_entities=caption.entities)
            sent.caption, sent.parse_mode = params["caption"], params.get("parse_mode")
        msg = self.commit(chat, body, sent, markup)
        return {"message_id": msg["message_id"]}

    # -- editing -----------------------------------------------------------------------------
    def _editable(self, params: dict[str, Any]) -> tuple[dict[str, Any], SentMessage]:
        if params.get("chat_id") is None or params.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        chat = self.chat(params["chat_id"])
        msg = self.world.messages.get((chat["id"], params["message_id"]))
        if msg is None:
            raise bad_request("message to edit not found")
        sent = next(
            (
                s
                for s in self.world.sent.get(chat["id"], [])
                if s.message_id == params["message_id"] and not s.deleted
            ),
            None,
        )
        if sent is None:
            raise bad_request("message can't be edited")
        return msg, sent

    @staticmethod
    def _apply(msg: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        for key, value in changes.items():
            if value in (None, []):
                msg.pop(key, None)
            else:
                msg[key] = value
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        """editMessageText."""
        parsed = self.message_text(params)
        markup = self.reply_markup(params, inline_only=True)
        if params.get("inline_message_id"):
            self.throttle()
            return True
        msg, sent = self._editable(params)
        if sent.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if (parsed.text, parsed.entities, markup) == (
            msg.get("text"),
            msg.get("entities", []),
            msg.get("reply_markup"),
        ):
            raise bad_request(_MESSAGE_NOT_MODIFIED)
        self.throttle()
        sent.history.append(sent.text)
        sent.text, sent.parse_mode, sent.reply_markup = (
            params["text"],
            params.get("parse_mode"),
            markup,
        )
        sent.edits += 1
        changes = {"text": parsed.text, "entities": parsed.entities, "reply_markup": markup}
        return self._apply(msg, changes)

    def edit_message_caption(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        """editMessageCaption (no caption removes it)."""
        caption = self.caption(params) or ParsedText("")
        markup = self.reply_markup(params, inline_only=True)
        if params.get("inline_message_id"):
            self.throttle()
            return True
        msg, sent = self._editable(params)
        if sent.kind in ("text", "location", "sticker"):
            raise bad_request("there is no caption in the message to edit")
        if (caption.text, caption.entities, markup) == (
            msg.get("caption", ""),
            msg.get("caption_entities", []),
            msg.get("reply_markup"),
        ):
            raise bad_request(_MESSAGE_NOT_MODIFIED)
        self.throttle()
        sent.history.append(sent.caption)
        sent.caption, sent.parse_mode, sent.reply_markup = (
            params.get("caption"),
            params.get("parse_mode"),
            markup,
        )
        sent.edits += 1
        changes = {
            "caption": caption.text or None,
            "caption_entities": caption.entities,
            "reply_markup": markup,
        }
        return self._apply(msg, changes)

    def edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        """editMessageReplyMarkup (no markup removes the keyboard)."""
        markup = self.reply_markup(params, inline_only=True)
        if params.get("inline_message_id"):
            self.throttle()
            return True
        msg, sent = self._editable(params)
        if markup == msg.get("reply_markup"):
            raise bad_request(_MESSAGE_NOT_MODIFIED)
        self.throttle()
        sent.reply_markup = markup
        sent.edits += 1
        return self._apply(msg, {"reply_markup": markup})

    def delete_message(self, params: dict[str, Any]) -> bool:
        """deleteMessage (bot messages and users' messages alike)."""
        chat = self.chat(params["chat_id"], sending=False)
        key = (chat["id"], params["message_id"])
        if self.world.messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        for sent in self.world.sent.get(chat["id"], []):
            if sent.message_id == params["message_id"]:
                sent.deleted = True
        return True

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        """answerCallbackQuery: once per query, within 15 seconds."""
        query_id = params["callback_query_id"]
        created = self.world.open_queries.get(query_id)
        if created is None or time.monotonic() - created > CALLBACK_QUERY_TTL:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        del self.world.open_queries[query_id]
        self.world.callback_answers[query_id] = dict(params)
        return True

    # -- commands, profile, menu -------------------------------------------------------------
    def scope_key(self, params: dict[str, Any]) -> str:
        """Key of ``commands`` for a scope + language_code (``"chat:42"``, ``"default/ru"``)."""
        scope = params.get("scope") or {"type": "default"}
        kind = scope.get("type")
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            key = kind
        elif kind in ("chat", "chat_administrators", "chat_member"):
            chat = self.chat(scope.get("chat_id"), sending=False)
            key = f"{kind}:{chat['id']}"
            if kind == "chat_member":
                if scope.get("user_id") not in self.world.users:
                    raise bad_request("user not found")
                key += f":{scope['user_id']}"
        else:
            raise bad_request("can't parse BotCommandScope JSON object")
        language = params.get("language_code") or ""
        if language and not _LANG_RE.fullmatch(language):
            raise bad_request("language_code must be a two-letter ISO 639-1 code")
        return f"{key}/{language}" if language else key

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        """setMyCommands (an empty list deletes the scope's commands)."""
        commands = check_commands(params["commands"])
        key = self.scope_key(params)
        if commands:
            self.world.commands[key] = commands
        else:
            self.world.commands.pop(key, None)
        return True

    def get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """getMyCommands for exactly that scope and language."""
        return copy.deepcopy(self.world.commands.get(self.scope_key(params), []))

    def delete_my_commands(self, params: dict[str, Any]) -> bool:
        """deleteMyCommands."""
        self.world.commands.pop(self.scope_key(params), None)
        return True

    def set_profile(self, field: str, limit: int) -> Handler:
        """setMyDescription / setMyShortDescription / setMyName."""

        def handler(params: dict[str, Any]) -> bool:
            value = params.get(field) or ""
            if len(value) > limit:
                raise bad_request(f"{field} is too long")
            self.profile[f"{field}/{params.get('language_code') or ''}"] = value
            return True

        return handler

    def get_profile(self, field: str) -> Handler:
        """getMyDescription / getMyShortDescription / getMyName."""

        def handler(params: dict[str, Any]) -> dict[str, str]:
            language = params.get("language_code") or ""
            default = self.world.bot_user["first_name"] if field == "name" else ""
            value = self.profile.get(f"{field}/{language}", self.profile.get(f"{field}/", default))
            return {field: value}

        return handler

    def set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        """setChatMenuButton (per private chat, or the default)."""
        chat_id = params.get("chat_id")
        if chat_id is not None and self.chat(chat_id, sending=False)["type"] != "private":
            raise bad_request("menu button can be set only in private chats")
        self.menu_buttons[chat_id] = params.get("menu_button") or {"type": "default"}
        return True

    def get_chat_menu_button(self, params: dict[str, Any]) -> dict[str, Any]:
        """getChatMenuButton."""
        chat_id = params.get("chat_id")
        button = self.menu_buttons.get(chat_id) or self.menu_buttons.get(None)
        return copy.deepcopy(button or {"type": "default"})

    # -- files and chats ---------------------------------------------------------------------
    def get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        """getFile: the file_path to download from ``base_file_url``."""
        stored = self.world.files.get(params["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        info = stored.as_dict()
        info.pop("file_name", None)
        info.pop("mime_type", None)
        return {**info, "file_path": stored.file_path}

    def get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """getChat: a minimal ChatFullInfo."""
        chat = self.chat(params["chat_id"], sending=False)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        """getChatMember: everyone known is a plain member."""
        self.chat(params["chat_id"], sending=False)
        user_id = params["user_id"]
        if user_id == self.world.bot_user["id"]:
            return {"status": "member", "user": dict(self.world.bot_user)}
        if user_id not in self.world.users:
            raise bad_request("user not found")
        return {"status": "member", "user": dict(self.world.users[user_id])}
