"""The optional extras of a guided visit: location, photo, stock levels, market feedback, follow-up.

Each is a button on the draft (handlers/field/visit_views.py: ``extras_keyboard``); each step adds to the
draft in ``user_data`` and shows it again, and nothing is saved until Save (handlers/field/visits.py).
"""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.i18n import N_
from bot.services.field import visits
from bot.services.field.visits import FeedbackEntry
from handlers.base import Request, action
from handlers.field.visit_flow import (
    END,
    FEEDBACK_TEXT,
    FEEDBACK_TOPIC,
    FOLLOW_UP,
    LOCATION,
    PHOTO,
    STOCK,
    drafting,
    pressed_data,
    today_of,
    typed_text,
)
from handlers.field.visit_views import (
    FOLLOW_UP_CHOICES,
    TOPIC_LABELS,
    back_button,
    day_text,
    inline_button,
    render_draft,
    show_summary,
)
from models import FeedbackTopic


@action()
async def extra(request: Request) -> object:
    """One of the summary's buttons: ``visit:add:<location|photo|stock|feedback|followup>``."""
    flow = drafting(request)
    if flow is None:
        return END
    t, which = request.t, pressed_data(request).rsplit(":", 1)[1]
    if which == "location":
        request.edit(render_draft(t, flow, footer=False))
        keyboard = ReplyKeyboardMarkup(
            [
                [KeyboardButton("📍 " + t.gettext(N_("Send my location")), request_location=True)],
                [KeyboardButton(t.gettext(N_("Skip")))],
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        request.reply(t(N_("Tap “Send my location” below.")), keyboard)
        return LOCATION
    if which == "photo":
        request.edit(
            t(N_("Send the photo now (as a photo, not as a file).")), InlineKeyboardMarkup([back_button(t)])
        )
        return PHOTO
    if which == "stock":
        request.edit(
            t(
                N_(
                    "Send the stock levels, one product per line (a unit if you like), e.g.\n"
                    "Product A 12\n胶水：10箱"
                )
            ),
            InlineKeyboardMarkup([back_button(t)]),
        )
        return STOCK
    if which == "feedback":
        rows = [
            [inline_button(t.gettext(label), f"visit:topic:{topic.value}")]
            for topic, label in TOPIC_LABELS.items()
        ]
        request.edit(
            t(N_("Market feedback: what is it about?")), InlineKeyboardMarkup([*rows, back_button(t)])
        )
        return FEEDBACK_TOPIC
    in_ten_days = today_of(request) + timedelta(days=10)
    rows = [
        [inline_button(t.gettext(label), f"visit:due:{days}") for days, label in FOLLOW_UP_CHOICES],
        back_button(t),
    ]
    request.edit(
        t(
            N_(
                "When will you follow up? Tap a button or type a date: {example} or {month_day} "
                "(month-day), friday, 15号, 明天, 下周五."
            ),
            example=day_text(in_ten_days),
            month_day=f"{in_ten_days:%m-%d}",
        ),
        InlineKeyboardMarkup(rows),
    )
    return FOLLOW_UP


@action()
async def back(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    return show_summary(request, flow, edit=True)


@action()
async def got_location(request: Request) -> object:
    flow = drafting(request)
    message = request.update.effective_message
    if flow is None or message is None or message.location is None:
        return END
    flow.location = (message.location.latitude, message.location.longitude)
    flow.saw(message)
    request.reply(request.t(N_("Location received.")), ReplyKeyboardRemove())
    return show_summary(request, flow)


@action()
async def skip_location(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    request.reply(request.t(N_("No location added.")), ReplyKeyboardRemove())
    return show_summary(request, flow)


@action()
async def got_photo(request: Request) -> object:
    flow = drafting(request)
    message = request.update.effective_message
    if flow is None or message is None or not message.photo:
        return END
    if len(flow.photos) >= visits.MAX_PHOTOS:
        request.reply(request.t(N_("At most {count} photos per visit."), count=visits.MAX_PHOTOS))
    else:
        flow.add_photo(message)  # the largest size, with what the trust flags need
    return show_summary(request, flow)


@action()
async def typed_stock(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    flow.stock.extend(visits.parse_stock_lines(typed_text(request)))
    return show_summary(request, flow)


@action()
async def choose_topic(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    flow.topic = FeedbackTopic(pressed_data(request).rsplit(":", 1)[1])
    topic = request.t.gettext(TOPIC_LABELS[flow.topic])
    request.edit(
        request.t(N_("Type the feedback on {topic}."), topic=topic),
        InlineKeyboardMarkup([back_button(request.t)]),
    )
    return FEEDBACK_TEXT


@action()
async def typed_feedback(request: Request) -> object:
    flow = drafting(request)
    text = typed_text(request).strip()
    if flow is None or flow.topic is None:
        return END
    if not text:
        return FEEDBACK_TEXT
    flow.feedback.append(FeedbackEntry(flow.topic, text))
    flow.topic = None
    return show_summary(request, flow)


@action()
async def follow_up_button(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    flow.follow_up = today_of(request) + timedelta(days=int(pressed_data(request).rsplit(":", 1)[1]))
    return show_summary(request, flow, edit=True)


@action()
async def typed_follow_up(request: Request) -> object:
    flow = drafting(request)
    if flow is None:
        return END
    flow.follow_up = visits.parse_follow_up(typed_text(request), today_of(request))
    return show_summary(request, flow)


@action()
async def more_notes(request: Request) -> object:
    """Text typed on the summary step is more of the outcome notes."""
    flow = drafting(request)
    text = typed_text(request).strip()
    if flow is None:
        return END
    if text:
        flow.notes = f"{flow.notes}\n{text}"
        request.reply(request.t(N_("Added to the notes.")))
    return show_summary(request, flow)
