"""Pushes waiting to be sent: every message the bot starts (not a reply) goes through here.

A job or service writes a row keyed by ``dedup_key`` (recipient, job, subject,
local date or level) under a unique constraint, so re-running a job or running
it in two processes cannot queue a push twice. A sender claims rows before sending
them (``claimed_by``/``claimed_until``, a lease: see jobs/outbox.py), so no two senders, in
any processes, send one row; only the claimant marks it sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin


class Outbox(IdMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "dropped_at", "not_before"),)

    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    job: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: Rendered in the recipient's language when queued; HTML.
    text: Mapped[str] = mapped_column(Text)
    #: Inline keyboard rows: [[{"text": …, "callback_data": …} | {"text": …, "url": …}]].
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    #: Given up on (blocked by the user, refused by Telegram, too many failures).
    dropped_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    #: The sender (host, process, drain) sending this row now; NULL when nobody is.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    #: The claim lapses then unless renewed: a sender that died leaves the row to the next one.
    claimed_until: Mapped[datetime | None]
