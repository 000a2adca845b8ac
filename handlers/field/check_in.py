"""Checking in at a customer by location or by photo: the visit the rep is standing in.

A location sent with no flow open (an ordinary one, or the first message of a live location)
answers with the rep's customers nearest to it. One tap on a customer starts the visit with the
location attached and the distance measured; the next message is the notes, and it saves the
visit. So "share location, tap the customer, type the notes" is the whole of it.

A photo sent with no flow open asks which customer it is for: the nearest ones if a location came
from the rep in the last minutes, otherwise those due today and those visited lately. The tap
starts the visit with the photo (and that location) attached; a caption is taken as the notes.

The location and the photo wait in ``user_data`` under a token that the buttons carry, so a button
from an older list never attaches a newer location or photo. A live location's later positions
arrive as edits of its message: they move the remembered location silently (no reply each time).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import Application, MessageHandler, filters

from bot.i18n import N_, Translator, escape
from bot.runtime import Context
from bot.services.field import check_in, visits
from bot.services.field.check_in import CheckIn, Nearby
from handlers.base import Request, action
from handlers.field.visit_flow import (
    CUSTOMER,
    END,
    NOTES,
    Flow,
    current_flow,
    pressed_data,
    start_flow,
    today_of,
    user_data,
    zone_of,
)
from handlers.field.visit_views import KIND_LABELS, distance_text, inline_button
from models import VisitKind

LOCATION_KEY = "visits.here"
PHOTO_KEY = "visits.held_photo"
#: A location this recent stands for where the rep is when a photo comes in.
LOCATION_FRESH = timedelta(minutes=10)
#: Photos of one album (one media group) arriving this close together join the first one.
ALBUM_WINDOW = timedelta(minutes=2)


@dataclass
class HeldLocation:
    """Where the rep said they are, waiting for them to tap the customer."""

    token: str
    latitude: float
    longitude: float
    at: datetime
    #: The message of a live location, whose edits move it.
    message_id: int | None = None
    #: When Telegram received the location (the trust flags' "logged late").
    sent_at: datetime | None = None

    @property
    def point(self) -> tuple[float, float]:
        return (self.latitude, self.longitude)


@dataclass
class HeldPhoto:
    """A photo (or an album) sent with no flow open, waiting for the rep to say which customer."""

    token: str
    file_ids: list[str]
    at: datetime
    caption: str = ""
    media_group_id: str | None = None
    photo_keys: list[str] = field(default_factory=list)
    forwarded: bool = False
    sent_at: datetime | None = None


# -- a location ----------------------------------------------------------------------------------


def _held_location(request: Request, message: Message) -> HeldLocation:
    assert message.location is not None
    held = HeldLocation(
        secrets.token_hex(4),
        message.location.latitude,
        message.location.longitude,
        request.now,
        message.message_id if message.location.live_period else None,
        message.date,
    )
    user_data(request)[LOCATION_KEY] = held
    return held


def fresh_location(request: Request) -> HeldLocation | None:
    held = user_data(request).get(LOCATION_KEY)
    if isinstance(held, HeldLocation) and request.now - held.at <= LOCATION_FRESH:
        return held
    return None


def _nearby_rows(t: Translator, nearby: list[Nearby], prefix: str) -> list[list[InlineKeyboardButton]]:
    return [
        [
            inline_button(
                f"{item.customer.label} · {distance_text(t, item.distance_m)}", f"{prefix}:{item.customer.id}"
            )
        ]
        for item in nearby
    ]


async def answer_location(request: Request, message: Message) -> None:
    """Remember the location and show the nearest customers as buttons."""
    held = _held_location(request, message)
    point = held.point
    nearby = await check_in.nearest_customers(request.session, request.me, *point)
    t = request.t
    if not nearby:
        request.reply(
            t(
                N_(
                    "None of your customers has a location on file, so I can't tell which one you are at. "
                    "Send /visit to choose the customer."
                )
            )
        )
        return
    text = _nearest_list(t, nearby, t(N_("📍 Your customers nearest to here:")))
    text += "\n\n" + t(N_("Tap the one you are at: the visit starts with this location."))
    request.reply(text, InlineKeyboardMarkup(_nearby_rows(t, nearby, f"visit:here:{held.token}")))


def _nearest_list(t: Translator, nearby: list[Nearby], title: str) -> str:
    lines = [title]
    lines += [
        f"{number}. {escape(item.customer.label)} — {distance_text(t, item.distance_m)}"
        for number, item in enumerate(nearby, start=1)
    ]
    return "\n".join(lines)


@action()
async def shared_location(request: Request) -> None:
    """A location (or a live location's first message) with no flow open."""
    message = request.update.effective_message
    if message is None or message.location is None:
        return
    await answer_location(request, message)


@action()
async def location_in_flow(request: Request) -> object:
    """A location at /visit's first step (after 📍 Near me, or straight from the attachment menu)."""
    message = request.update.effective_message
    if current_flow(request) is None or message is None or message.location is None:
        return END
    request.reply(request.t(N_("Location received.")), ReplyKeyboardRemove())
    await answer_location(request, message)
    return CUSTOMER


@action()
async def near_me(request: Request) -> object:
    """/visit's "📍 Near me": ask for the location with a button that sends it."""
    if current_flow(request) is None:
        return END
    t = request.t
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 " + t.gettext(N_("Send my location")), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    request.reply(t(N_("Tap “Send my location” below.")), keyboard)
    return CUSTOMER


async def live_location_moved(update: Update, context: Context) -> None:
    """A live location's new position (an edit of its message): remembered, never answered.

    No ``@action``: nothing is read or written, and only a location this user already shared
    (so a registered one, recognised then) is moved.
    """
    message = update.edited_message
    data = context.user_data
    if message is None or message.location is None or data is None:
        return
    held = data.get(LOCATION_KEY)
    if isinstance(held, HeldLocation) and held.message_id == message.message_id:
        held.latitude, held.longitude = message.location.latitude, message.location.longitude
        held.at = context.runtime.clock.now()


# -- a photo -------------------------------------------------------------------------------------


@action()
async def shared_photo(request: Request) -> None:
    """A photo with no flow open: ask which customer it is for."""
    message = request.update.effective_message
    if message is None or not message.photo:
        return
    largest = message.photo[-1]
    held = user_data(request).get(PHOTO_KEY)
    if (
        isinstance(held, HeldPhoto)
        and message.media_group_id is not None
        and held.media_group_id == message.media_group_id
        and request.now - held.at <= ALBUM_WINDOW
    ):  # the next photo of the same album: it joins the first, and the question is asked once
        if len(held.file_ids) < visits.MAX_PHOTOS:
            held.file_ids.append(largest.file_id)
            held.photo_keys.append(largest.file_unique_id)
        held.caption = held.caption or (message.caption or "").strip()
        return
    held = HeldPhoto(
        secrets.token_hex(4),
        [largest.file_id],
        request.now,
        (message.caption or "").strip(),
        message.media_group_id,
        [largest.file_unique_id],
        message.forward_origin is not None,
        message.date,
    )
    user_data(request)[PHOTO_KEY] = held
    t, prefix = request.t, f"visit:photo:{held.token}"
    location = fresh_location(request)
    if location is not None:
        nearby = await check_in.nearest_customers(request.session, request.me, *location.point)
        if nearby:
            request.reply(
                _nearest_list(
                    t, nearby, t(N_("📷 Which customer is this photo for? Nearest to where you are:"))
                ),
                InlineKeyboardMarkup(_nearby_rows(t, nearby, prefix)),
            )
            return
    choices = await check_in.recent_customers(
        request.session, request.me, today=today_of(request), zone=zone_of(request)
    )
    if not choices:
        request.reply(
            t(
                N_(
                    "📷 Which customer is this photo for? Send /visit with the customer's name, "
                    "then add the photo."
                )
            )
        )
        return
    rows = [[inline_button(ref.label, f"{prefix}:{ref.id}")] for ref in choices]
    request.reply(
        t(N_("📷 Which customer is this photo for? Due today and visited lately:")),
        InlineKeyboardMarkup(rows),
    )


# -- the tap: the visit starts -------------------------------------------------------------------


def _parts(request: Request) -> tuple[str, int] | None:
    """(token, customer id) of ``visit:here:<token>:<id>`` or ``visit:photo:<token>:<id>``."""
    parts = pressed_data(request).split(":")
    if len(parts) != 4 or not parts[3].isascii() or not parts[3].isdigit():
        return None
    return parts[2], int(parts[3])


def _start_check_in(request: Request, checked: CheckIn, location: HeldLocation | None) -> Flow:
    flow = start_flow(request, checked.customer)
    flow.kind = VisitKind.VISIT
    flow.check_in = True
    if location is not None:
        flow.location = location.point
        if location.sent_at is not None and (flow.sent_at is None or location.sent_at < flow.sent_at):
            flow.sent_at = location.sent_at
    return flow


def notes_question(t: Translator, checked: CheckIn, *, photos: int = 0) -> str:
    lines = [f"<b>{escape(checked.customer.label)}</b> · {escape(t.gettext(KIND_LABELS[VisitKind.VISIT]))}"]
    if checked.distance_m is not None and checked.far_away:
        lines.append(
            "⚠️ "
            + t(
                N_("{distance} from the customer's location: flagged as far away."),
                distance=distance_text(t, checked.distance_m),
            )
        )
    elif checked.distance_m is not None:
        lines.append(
            "📍 "
            + t(N_("{distance} from the customer's location."), distance=distance_text(t, checked.distance_m))
        )
    if photos:
        lines.append("📷 " + t(N_("Photos: {count}"), count=photos))
    lines.append(t(N_("Type what came of the visit: it is saved as soon as you send it.")))
    return "\n".join(lines)


@action()
async def here_pick(request: Request) -> object:
    """``visit:here:<token>:<customer id>``: the visit starts, the location attached."""
    parts = _parts(request)
    held = user_data(request).get(LOCATION_KEY)
    if parts is None or not isinstance(held, HeldLocation) or held.token != parts[0]:
        request.toast = request.t.gettext(N_("This choice has expired. Share your location again."))
        return None
    checked = await check_in.check_in(request.session, request.me, parts[1], held.point)
    _start_check_in(request, checked, held)
    request.edit(notes_question(request.t, checked))
    return NOTES


@action()
async def photo_pick(request: Request) -> object:
    """``visit:photo:<token>:<customer id>``: the visit starts, the photo attached."""
    parts = _parts(request)
    held = user_data(request).get(PHOTO_KEY)
    if parts is None or not isinstance(held, HeldPhoto) or held.token != parts[0]:
        request.toast = request.t.gettext(N_("This choice has expired. Send the photo again."))
        return None
    location = fresh_location(request)
    checked = await check_in.check_in(
        request.session, request.me, parts[1], location.point if location is not None else None
    )
    flow = _start_check_in(request, checked, location)
    flow.photos = list(held.file_ids)
    flow.photo_keys = list(held.photo_keys)
    flow.photos_forwarded = held.forwarded
    if held.sent_at is not None and (flow.sent_at is None or held.sent_at < flow.sent_at):
        flow.sent_at = held.sent_at
    del user_data(request)[PHOTO_KEY]  # attached once: a second tap finds it gone
    if held.caption:  # the caption is the notes: saved at once
        from handlers.field.visits import save_and_show  # here: handlers.field.visits imports this module

        flow.notes = visits.clean_notes(held.caption)
        await save_and_show(request, flow)
        return END
    request.edit(notes_question(request.t, checked, photos=len(flow.photos)))
    return NOTES


# -- wiring --------------------------------------------------------------------------------------


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Registered after every feature: a location or photo reaches it only if no flow took it.

    The buttons' handlers (``visit:here``, ``visit:photo``) and /visit's Near me are wired into
    /visit's flow (handlers/field/visits.py), which the visit they start belongs to.
    """
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    application.add_handler(MessageHandler(private & filters.LOCATION, shared_location))
    application.add_handler(MessageHandler(private & filters.PHOTO, shared_photo))
    # before handlers/chats.py's group -1, which stops every edit from reaching a feature
    edited_location = filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE & filters.LOCATION
    application.add_handler(MessageHandler(edited_location, live_location_moved), group=-2)
