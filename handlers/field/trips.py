"""/trip and /trips: the vehicle log (行車記錄表, regulations part 4 art. 31–32).

``/trip start 12345`` starts a trip at that odometer reading; a photo of the dashboard may come with
it (the photo's caption is the command) or after it, when the bot asks (``trip:skip`` to go without).
``/trip end 12410 [PURPOSE]`` ends the open trip: the purpose is asked if not given, then the
customers visited, prefilled from the visits logged since the start, each a button that takes it off
or puts it back (``trip:tog:<customer id>``); a typed name adds one (candidates ``trip:add:<id>``);
``trip:ok`` saves. ``/trip`` alone shows the open trip (with "End the trip", ``trip:end``) or asks
for the reading to start one; ``/trip start`` and ``/trip end`` alone ask for the reading. The trip is
keyed by the update that started it and by the one that began ending it. The flow and its draft are
persistent. ``/trips [PERIOD]`` lists the trips of a period (default this month).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_, Translator, escape
from bot.services.errors import Invalid
from bot.services.field import trips
from bot.services.field.customers import CustomerRef, Resolution
from bot.services.field.trips import TripList, TripView
from bot.services.money.amounts import format_amount
from bot.services.reporting.periods import MONTH, parse_period, relative
from handlers.base import Request, action
from handlers.field.customer_choice import BUTTON_TEXT_LIMIT, candidate_buttons, customer_id_of, which_one
from handlers.flows import another_command_ends_flow
from models import ExpenseStatus

START_READING, START_PHOTO, END_READING, END_PURPOSE, END_CUSTOMERS = range(5)
END = ConversationHandler.END
DRAFT = "trip.draft"
FLOW_TIMEOUT = timedelta(minutes=30)
START_WORDS = frozenset({"start", "begin", "开始", "出发"})
END_WORDS = frozenset({"end", "stop", "finish", "结束", "到达"})
#: Characters of a message the list fills at most (Telegram's limit is 4096).
MESSAGE_BUDGET = 3800
STATUS_LABELS = {
    ExpenseStatus.PENDING: N_("waiting for approval"),
    ExpenseStatus.APPROVED: N_("approved"),
    ExpenseStatus.REJECTED: N_("rejected"),
    ExpenseStatus.WITHDRAWN: N_("withdrawn"),
}


@dataclass
class TripDraft:
    """A trip being started or ended (kept in ``user_data``, like the flow)."""

    key: str
    trip_id: int | None = None
    reading: int | None = None
    purpose: str | None = None
    #: The customers shown as buttons (the visits' first, then those added) and those ticked.
    offered: tuple[CustomerRef, ...] = ()
    chosen: tuple[int, ...] = ()


# -- rendering -----------------------------------------------------------------------------------


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def render_trip(t: Translator, trip: TripView, zone: ZoneInfo, *, with_rep: bool = False) -> str:
    head = t(N_("🚗 <b>Trip #{id}</b>"), id=trip.id)
    if with_rep:
        head += " · " + escape(trip.rep)
    lines = [
        head,
        t(
            N_("Started {when} at {reading} km"),
            when=_when(trip.started_at, zone),
            reading=f"{trip.odometer_start:,}",
        )
        + (" 📷" if trip.has_photo else ""),
    ]
    if trip.ended_at is not None and trip.odometer_end is not None:
        lines.append(
            t(
                N_("Ended {when} at {reading} km: {km} km driven"),
                when=_when(trip.ended_at, zone),
                reading=f"{trip.odometer_end:,}",
                km=f"{trip.km:,}",
            )
        )
    else:
        lines.append(t(N_("Still open: end it with /trip end and the reading.")))
    if trip.purpose:
        lines.append(t(N_("Purpose: {purpose}"), purpose=trip.purpose))
    if trip.customers:
        lines.append(t(N_("Customers: {customers}"), customers=", ".join(c.label for c in trip.customers)))
    elif trip.ended_at is not None:
        lines.append(t(N_("Customers: none")))
    if trip.fuel:
        lines.append(
            t.ngettext(
                "⛽ Fuel: {amount} ({count} receipt)",
                "⛽ Fuel: {amount} ({count} receipts)",
                len(trip.fuel),
                amount=format_amount(trip.fuel_cost),
                count=len(trip.fuel),
            )
        )
        for fuel in trip.fuel:
            parts = [
                f"{fuel.claimed_at.astimezone(zone):%m-%d %H:%M}",
                format_amount(fuel.amount),
                escape(t.gettext(STATUS_LABELS[fuel.status])),
            ]
            if fuel.note:
                parts.append(escape(fuel.note))
            lines.append("  • " + " · ".join(parts))
    return "\n".join(lines)


def render_list(t: Translator, listed: TripList, zone: ZoneInfo) -> str:
    if listed.scope is None:
        title = t(N_("Your vehicle log"))
    elif listed.scope:
        title = t(N_("Vehicle log · {scope}"), scope=listed.scope)
    else:
        title = t(N_("Vehicle log · everyone"))
    lines = [f"🚗 <b>{title}</b>", listed.period.title(t), ""]
    km = f"{listed.km:,}"
    lines.append(
        t.ngettext(
            "{count} trip · {km} km · fuel {amount}",
            "{count} trips · {km} km · fuel {amount}",
            listed.total,
            count=listed.total,
            km=km,
            amount=format_amount(listed.fuel_cost),
        )
    )
    if not listed.trips:
        lines.append(t(N_("No trips in this period.")))
    used = sum(len(line) + 1 for line in lines)
    more = t(N_("…more in /export"))
    for trip in listed.trips:
        line = _list_line(t, trip, zone, with_rep=listed.scope is not None)
        used += len(line) + 1
        if used > MESSAGE_BUDGET - len(more):
            lines.append(more)
            break
        lines.append(line)
    else:
        if listed.total > len(listed.trips):
            lines.append(more)
    return "\n".join(lines)


def _list_line(t: Translator, trip: TripView, zone: ZoneInfo, *, with_rep: bool) -> str:
    day = f"{trip.started_at.astimezone(zone):%m-%d}"
    if trip.km is None or trip.odometer_end is None:
        body = t(N_("{start} km → open"), start=f"{trip.odometer_start:,}")
    else:
        body = t(
            N_("{start} → {end} km: {km} km"),
            start=f"{trip.odometer_start:,}",
            end=f"{trip.odometer_end:,}",
            km=f"{trip.km:,}",
        )
    if with_rep:  # "Li Wei: 12,345 → …", the colon as the language writes it
        body = t.gettext(N_("{name}: {trip}")).format(name=escape(trip.rep), trip=body)
    parts = [f"• {day} {body}"]
    if trip.purpose:
        parts.append(escape(trip.purpose if len(trip.purpose) <= 40 else trip.purpose[:39] + "…"))
    if trip.customers:
        parts.append(
            ", ".join(escape(c.name) for c in trip.customers[:3]) + ("…" if len(trip.customers) > 3 else "")
        )
    if trip.fuel:
        parts.append("⛽ " + format_amount(trip.fuel_cost))
    return " · ".join(parts)


def customer_buttons(t: Translator, draft: TripDraft) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                (("✅ " if ref.id in draft.chosen else "⬜ ") + ref.label)[:BUTTON_TEXT_LIMIT],
                callback_data=f"trip:tog:{ref.id}",
            )
        ]
        for ref in draft.offered
    ]
    rows.append([InlineKeyboardButton(t.gettext(N_("✔️ Confirm and save")), callback_data="trip:ok")])
    return InlineKeyboardMarkup(rows)


def _skip_button(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext(N_("Skip")), callback_data="trip:skip")]])


def _end_button(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext(N_("🏁 End the trip")), callback_data="trip:end")]]
    )


# -- the draft -----------------------------------------------------------------------------------


def _new_draft(request: Request) -> TripDraft:
    draft = TripDraft(key=request.source_key)
    request.user_data[DRAFT] = draft
    return draft


def _draft(request: Request) -> TripDraft:
    draft = request.user_data.get(DRAFT)
    if not isinstance(draft, TripDraft):
        raise Invalid(N_("This trip entry was interrupted. Start again with /trip."))
    return draft


def _typed(request: Request) -> str:
    message = request.update.effective_message
    return (message.text or "") if message else ""


def _photo(request: Request) -> str | None:
    message = request.update.effective_message
    return message.photo[-1].file_id if message is not None and message.photo else None  # the largest


# -- the steps -----------------------------------------------------------------------------------


async def _start(request: Request, draft: TripDraft, reading: int, photo: str | None) -> int:
    started = await trips.start(
        request.session, request.me, reading, now=request.now, source_key=draft.key, photo_file_id=photo
    )
    trip, t = started.trip, request.t
    lines = [
        t(
            N_("🚗 Trip started at {reading} km, {when}."),
            reading=f"{trip.odometer_start:,}",
            when=f"{trip.started_at.astimezone(request.zone):%H:%M}",
        )
    ]
    if started.last_reading is not None and not started.repeated:
        lines.append(
            t(
                N_("{km} km since your last reading ({last} km)."),
                km=f"{trip.odometer_start - started.last_reading:,}",
                last=f"{started.last_reading:,}",
            )
        )
    if trip.has_photo:
        lines.append(t(N_("📷 Dashboard photo saved.")))
        lines.append(t(N_("End it with /trip end and the reading when you are back.")))
        request.reply("\n".join(lines))
        request.user_data.pop(DRAFT, None)
        return END
    draft.trip_id = trip.id
    lines.append(t(N_("Send a photo of the dashboard now if you like, or press Skip.")))
    request.reply("\n".join(lines), _skip_button(t))
    return START_PHOTO


async def _end_reading(request: Request, draft: TripDraft, reading: int, purpose: str | None) -> int:
    trip = await trips.check_end_reading(request.session, request.me, reading)
    draft.trip_id, draft.reading = trip.id, reading
    if purpose:
        draft.purpose = trips.clean_purpose(purpose)
        return await _ask_customers(request, draft, trip)
    request.reply(
        request.t(
            N_("{km} km since the start ({start} km). What was the trip for? A few words."),
            km=f"{reading - trip.odometer_start:,}",
            start=f"{trip.odometer_start:,}",
        )
    )
    return END_PURPOSE


async def _ask_customers(request: Request, draft: TripDraft, trip: TripView | None = None) -> int:
    if trip is None:
        trip = await trips.check_end_reading(request.session, request.me, draft.reading or 0)
    visited = await trips.visited_during(request.session, request.me, trip, request.now)
    draft.offered = tuple(visited)
    draft.chosen = tuple(ref.id for ref in visited)
    request.reply(_customers_text(request.t, draft), customer_buttons(request.t, draft))
    return END_CUSTOMERS


def _customers_text(t: Translator, draft: TripDraft) -> str:
    if not draft.offered:
        return t(
            N_(
                "No visits were logged since the trip started. Type a customer's name to add one, "
                "or press Confirm to save the trip without customers."
            )
        )
    return t(
        N_(
            "Customers visited on this trip, from the visits you logged: press one to take it off "
            "(or put it back), type a name to add one, then press Confirm."
        )
    )


def _add(draft: TripDraft, ref: CustomerRef) -> None:
    if ref.id not in {r.id for r in draft.offered}:
        if len(draft.offered) >= trips.MAX_CUSTOMERS:
            raise Invalid(N_("A trip lists {count} customers at most."), count=trips.MAX_CUSTOMERS)
        draft.offered = (*draft.offered, ref)
    if ref.id not in draft.chosen:
        draft.chosen = (*draft.chosen, ref.id)


def _split(text: str) -> tuple[str, list[str]]:
    words = text.split()
    return (words[0].lower(), words[1:]) if words else ("", [])


# -- handlers ------------------------------------------------------------------------------------


async def _command(request: Request, text: str, photo: str | None) -> object:
    word, rest = _split(text)
    draft = _new_draft(request)
    if word in START_WORDS:
        if not rest:
            trips.require_field(request.me)
            request.reply(request.t(N_("Starting a trip. What does the odometer read, in km?")))
            return START_READING
        return await _start(request, draft, trips.parse_reading(" ".join(rest)), photo)
    if word in END_WORDS:
        if not rest:
            await trips.check_end_reading(request.session, request.me, 0, check=False)
            request.reply(request.t(N_("Ending your trip. What does the odometer read now, in km?")))
            return END_READING
        return await _end_reading(request, draft, trips.parse_reading(rest[0]), " ".join(rest[1:]))
    if word:
        request.user_data.pop(DRAFT, None)
        request.reply(request.t(trips.USAGE))
        return END
    return await _bare(request)


async def _bare(request: Request) -> object:
    """``/trip`` alone: the open trip, or the start of one."""
    trip = await trips.open_trip(request.session, request.me, request.now)
    if trip is None:
        request.reply(request.t(N_("No trip is open. What does the odometer read, in km? (/cancel to stop)")))
        return START_READING
    request.user_data.pop(DRAFT, None)
    request.reply(render_trip(request.t, trip, request.zone), _end_button(request.t))
    return END


@action()
async def trip_command(request: Request) -> object:
    """``/trip``, ``/trip start [READING]``, ``/trip end [READING [PURPOSE]]``."""
    return await _command(request, request.text_after_command, None)


@action()
async def trip_photo_command(request: Request) -> object:
    """A photo whose caption is ``/trip start READING``: the dashboard at the start."""
    message = request.update.effective_message
    caption = (message.caption or "") if message else ""
    parts = caption.strip().split(maxsplit=1)
    return await _command(request, parts[1] if len(parts) == 2 else "", _photo(request))


@action()
async def end_pressed(request: Request) -> object:
    """ "🏁 End the trip" under an open trip."""
    await trips.check_end_reading(request.session, request.me, 0, check=False)
    _new_draft(request)
    request.reply(request.t(N_("Ending your trip. What does the odometer read now, in km?")))
    return END_READING


@action()
async def typed_start_reading(request: Request) -> object:
    draft = _draft(request)
    return await _start(request, draft, trips.parse_reading(_typed(request)), None)


@action()
async def got_photo(request: Request) -> object:
    draft = _draft(request)
    photo = _photo(request)
    if photo is None or draft.trip_id is None:
        return None
    await trips.add_photo(request.session, request.me, draft.trip_id, photo, request.now)
    request.reply(
        request.t(
            N_("📷 Dashboard photo saved. End the trip with /trip end and the reading when you are back.")
        )
    )
    request.user_data.pop(DRAFT, None)
    return END


@action()
async def skipped_photo(request: Request) -> object:
    request.user_data.pop(DRAFT, None)
    request.edit(request.t(N_("No photo. End the trip with /trip end and the reading when you are back.")))
    return END


@action()
async def typed_instead_of_photo(request: Request) -> object:
    _draft(request)
    request.reply(
        request.t(N_("Send the photo (as a photo, not as a file), or press Skip.")), _skip_button(request.t)
    )
    return START_PHOTO


@action()
async def typed_end_reading(request: Request) -> object:
    draft = _draft(request)
    words = _typed(request).split()
    if not words:
        raise Invalid(trips.BAD_READING, text="—")
    return await _end_reading(request, draft, trips.parse_reading(words[0]), " ".join(words[1:]))


@action()
async def typed_purpose(request: Request) -> object:
    draft = _draft(request)
    draft.purpose = trips.clean_purpose(_typed(request))
    return await _ask_customers(request, draft)


@action()
async def toggled(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    customer_id = customer_id_of(query.data if query else None)
    if customer_id is None or customer_id not in {ref.id for ref in draft.offered}:
        return None
    if customer_id in draft.chosen:
        draft.chosen = tuple(c for c in draft.chosen if c != customer_id)
    else:
        draft.chosen = (*draft.chosen, customer_id)
    request.edit(_customers_text(request.t, draft), customer_buttons(request.t, draft))
    return END_CUSTOMERS


@action()
async def typed_customer(request: Request) -> object:
    draft = _draft(request)
    text = _typed(request)
    resolution: Resolution = await trips.find_customer(request.session, request.me, text)
    if resolution.customer is None:
        request.reply(which_one(request.t, text), candidate_buttons(resolution.candidates, "trip:add"))
        return END_CUSTOMERS
    _add(draft, resolution.customer)
    request.reply(_customers_text(request.t, draft), customer_buttons(request.t, draft))
    return END_CUSTOMERS


@action()
async def picked_customer(request: Request) -> object:
    draft = _draft(request)
    query = request.update.callback_query
    customer_id = customer_id_of(query.data if query else None)
    if customer_id is None:
        return None
    _add(draft, await trips.customer(request.session, request.me, customer_id))
    request.edit(_customers_text(request.t, draft), customer_buttons(request.t, draft))
    return END_CUSTOMERS


@action()
async def confirmed(request: Request) -> object:
    draft = _draft(request)
    if draft.trip_id is None or draft.reading is None or draft.purpose is None:
        raise Invalid(N_("This trip entry was interrupted. Start again with /trip."))
    chosen = [ref.id for ref in draft.offered if ref.id in draft.chosen]
    ended = await trips.end(
        request.session,
        request.me,
        draft.trip_id,
        draft.reading,
        purpose=draft.purpose,
        customer_ids=chosen,
        now=request.now,
        end_key=draft.key,
    )
    request.edit(
        "🏁 " + request.t(N_("Trip saved.")) + "\n" + render_trip(request.t, ended.trip, request.zone)
    )
    request.user_data.pop(DRAFT, None)
    return END


@action()
async def cancel(request: Request) -> object:
    request.user_data.pop(DRAFT, None)
    request.reply(request.t(N_("Cancelled. A trip already started stays open: /trip shows it.")))
    return END


@action(report=True)
async def trips_command(request: Request) -> None:
    """``/trips [PERIOD]``: the caller's trips (a rep), the team's (a manager), everyone's."""
    text = request.text_after_command
    today = request.context.runtime.clock.today()
    period = parse_period(text, today) if text else relative(MONTH, today)
    listed = await trips.list_trips(request.session, request.me, period, request.zone, request.now)
    request.reply(render_list(request.t, listed, request.zone))


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    typed = private & filters.TEXT & ~filters.COMMAND
    captioned = private & filters.PHOTO & filters.CaptionRegex(r"^/trip(@\w+)?(\s|$)")
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("trip", trip_command, private),
                MessageHandler(captioned, trip_photo_command),
                CallbackQueryHandler(end_pressed, pattern=r"^trip:end$"),
            ],
            states={
                START_READING: [MessageHandler(typed, typed_start_reading)],
                START_PHOTO: [
                    MessageHandler(private & filters.PHOTO, got_photo),
                    CallbackQueryHandler(skipped_photo, pattern=r"^trip:skip$"),
                    MessageHandler(typed, typed_instead_of_photo),
                ],
                END_READING: [MessageHandler(typed, typed_end_reading)],
                END_PURPOSE: [MessageHandler(typed, typed_purpose)],
                END_CUSTOMERS: [
                    CallbackQueryHandler(toggled, pattern=r"^trip:tog:\d+$"),
                    CallbackQueryHandler(picked_customer, pattern=r"^trip:add:\d+$"),
                    CallbackQueryHandler(confirmed, pattern=r"^trip:ok$"),
                    MessageHandler(typed, typed_customer),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            per_chat=True,
            per_user=True,
            allow_reentry=True,
            conversation_timeout=FLOW_TIMEOUT,
            name="trip",
            persistent=True,
        )
    )
    application.add_handler(CommandHandler("trips", trips_command, private))
