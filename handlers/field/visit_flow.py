"""What a visit being logged keeps between updates, and the helpers every step of /visit uses.

The guided flow's draft (:class:`Flow`) and a one-liner's notes waiting for the rep to pick a
customer (:class:`HeldNotes`) live in ``user_data``, which the bot's persistence stores as JSON
under each class's module and name (bot/persistence.py): ``handlers.field.visits`` re-exports both, so a
draft stored before they moved here still loads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Message
from telegram.ext import ConversationHandler

from bot.services import policy
from bot.services.field.customers import CustomerRef
from bot.services.field.visits import FeedbackEntry, StockEntry
from handlers.base import Request
from models import FeedbackTopic, VisitKind

(CUSTOMER, KIND, NOTES, EXTRAS, LOCATION, PHOTO, STOCK, FEEDBACK_TOPIC, FEEDBACK_TEXT, FOLLOW_UP) = range(10)
END = ConversationHandler.END

FLOW_KEY = "visits.flow"
HELD_KEY = "visits.held_notes"
HELD_MAX = 5


@dataclass
class Flow:
    """One guided visit being put together."""

    token: str  # tells this flow's Save button from an older flow's
    key: str  # source key of the update that started the flow: the saved visit's key
    language: str
    customer: CustomerRef | None = None
    kind: VisitKind | None = None
    notes: str = ""
    location: tuple[float, float] | None = None
    photos: list[str] = field(default_factory=list)
    stock: list[StockEntry] = field(default_factory=list)
    feedback: list[FeedbackEntry] = field(default_factory=list)
    follow_up: date | None = None
    topic: FeedbackTopic | None = None
    searching: bool = False
    saved_visit_id: int | None = None
    #: Started by a location or photo (handlers/field/check_in.py): the notes save the visit.
    check_in: bool = False
    #: Each photo's Telegram ``file_unique_id`` (trust flags: a photo used before).
    photo_keys: list[str] = field(default_factory=list)
    photos_forwarded: bool = False
    #: When Telegram received the earliest message of this visit (trust flags: logged late).
    sent_at: datetime | None = None

    def saw(self, message: Message | None) -> None:
        """Count ``message`` (one the rep sent into this visit) towards :attr:`sent_at`."""
        if message is not None and (self.sent_at is None or message.date < self.sent_at):
            self.sent_at = message.date

    def add_photo(self, message: Message) -> None:
        """Attach ``message``'s photo (its largest size), noting what the trust flags need."""
        largest = message.photo[-1]
        self.photos.append(largest.file_id)
        self.photo_keys.append(largest.file_unique_id)
        self.photos_forwarded = self.photos_forwarded or message.forward_origin is not None
        self.saw(message)


@dataclass(frozen=True)
class HeldNotes:
    """A one-liner's notes waiting for the rep to pick among candidate customers."""

    notes: str
    key: str
    sent_at: datetime | None = None


def user_data(request: Request) -> dict[Any, Any]:
    data = request.context.user_data
    assert data is not None  # private chats always have a user
    return data


def current_flow(request: Request) -> Flow | None:
    flow = user_data(request).get(FLOW_KEY)
    return flow if isinstance(flow, Flow) else None


def drafting(request: Request) -> Flow | None:
    """The flow under way once its kind is chosen: what every step after the kind works on."""
    flow = current_flow(request)
    return flow if flow is not None and flow.kind is not None else None


def start_flow(request: Request, customer: CustomerRef | None = None) -> Flow:
    flow = Flow(
        token=secrets.token_hex(4), key=request.source_key, language=request.me.language, customer=customer
    )
    flow.saw(sent_message(request))
    user_data(request)[FLOW_KEY] = flow
    return flow


def sent_message(request: Request) -> Message | None:
    """The message the rep sent in this update (None for a button press: it carries no date)."""
    return request.update.message


def sent_at_of(request: Request) -> datetime | None:
    """When Telegram received the rep's message of this update (None for a button press)."""
    message = sent_message(request)
    return message.date if message is not None else None


def zone_of(request: Request) -> ZoneInfo:
    return request.context.runtime.clock.zone


def today_of(request: Request) -> date:
    return policy.local_date(request.now, zone_of(request))


def pressed_data(request: Request) -> str:
    query = request.update.callback_query
    return (query.data or "") if query else ""


def trailing_int(data: str) -> int | None:
    """The number after the last ``:`` of callback data (None if there is none)."""
    tail = data.rsplit(":", 1)[-1]
    return int(tail) if tail.isascii() and tail.isdigit() else None


def typed_text(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


def split_one_liner(text: str) -> tuple[str, str | None]:
    """``customer: notes`` (ASCII or full-width colon) → (customer, notes); no colon → notes None."""
    cut = min((i for i in (text.find(":"), text.find("：")) if i >= 0), default=-1)
    if cut < 0:
        return text.strip(), None
    return text[:cut].strip(), text[cut + 1 :].strip()
