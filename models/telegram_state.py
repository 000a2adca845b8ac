"""What the bot must remember across a restart: guided-flow state and updates not yet handled.

``telegram_state`` holds python-telegram-bot's conversations, ``user_data`` and
``chat_data`` (see bot/persistence.py), one row per conversation or per top-level
key, as JSON text in the codec of bot/persistence.py. ``telegram_inbox`` holds every
update fetched from Telegram, raw, until it is handled (see bot/inbox.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class TelegramState(Base):
    """One piece of bot state: a conversation's state, or one key of a user's or chat's data."""

    __tablename__ = "telegram_state"

    #: "user", "chat" or "conversation".
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: The user or chat id; for a conversation, the ConversationHandler's name.
    owner: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: The key in user_data/chat_data; for a conversation, its key as JSON, e.g. "[2001,2001]".
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class InboxUpdate(Base):
    """An update fetched from Telegram; ``handled_at`` is set once the bot has handled it."""

    __tablename__ = "telegram_inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: The update exactly as Telegram sent it (JSON).
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None] = mapped_column(index=True)
