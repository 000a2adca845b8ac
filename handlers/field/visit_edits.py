"""✏️ Edit a visit already saved: its notes and extras, until the end of the day it was logged.

The ✏️ Edit button sits on the saved-visit reply (handlers/field/visit_views.py: ``undo_markup``)
and on /today's list of the day's visits (handlers/field/today.py): ``vedit:<visit id>``. It opens
a small flow: pick what to change, send the new text, and the change is saved at once (one audit
entry each, bot/services/field/visit_edits.py); the screen comes back for the next change, until
✅ Done. Nothing waits unsaved, so a flow left open simply ends after a while.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import N_, Translator, escape
from bot.services.field import visit_edits, visits
from bot.services.field.units import quantity_text
from bot.services.field.visit_edits import Change, EditableVisit
from bot.services.field.visits import FeedbackEntry
from handlers.base import Request, action
from handlers.field.visit_flow import pressed_data, today_of, trailing_int, typed_text, user_data, zone_of
from handlers.field.visit_views import (
    FOLLOW_UP_CHOICES,
    KIND_LABELS,
    LINES_SHOWN,
    TOPIC_LABELS,
    day_text,
    inline_button,
    shorten,
)
from handlers.flows import another_command_ends_flow
from models import FeedbackTopic

MENU, NOTES, STOCK, TOPIC, FEEDBACK, FOLLOW_UP = range(6)
END = ConversationHandler.END
EDIT_KEY = "visits.editing"
#: Seconds of silence after which the edit flow ends (every change is already saved by then).
EDIT_TIMEOUT = timedelta(minutes=15).total_seconds()


def _editing(request: Request) -> dict[str, Any] | None:
    state = user_data(request).get(EDIT_KEY)
    return state if isinstance(state, dict) and isinstance(state.get("visit"), int) else None


def render(t: Translator, visit: EditableVisit, zone: Any) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        "✏️ "
        + t(
            N_("Editing the visit to <b>{customer}</b> · {kind} · {time}"),
            customer=visit.customer.label,
            kind=t.gettext(KIND_LABELS[visit.kind]),
            time=f"{visit.visited_at.astimezone(zone):%H:%M}",
        ),
        t(N_("Notes: {notes}"), notes=shorten(visit.notes)),
    ]
    lines += [
        f"📦 {escape(line.product)}: {quantity_text(t, line.quantity, line.unit)}"
        for line in visit.stock[:LINES_SHOWN]
    ]
    lines += [
        f"💬 {escape(t.gettext(TOPIC_LABELS[item.topic]))}: {escape(shorten(item.text, 100))}"
        for item in visit.feedback[:LINES_SHOWN]
    ]
    if visit.follow_up:
        lines.append("📅 " + t(N_("Follow-up: {date}"), date=day_text(visit.follow_up)))
    if visit.edited_at:
        lines.append(t(N_("Edited at {time}."), time=f"{visit.edited_at.astimezone(zone):%H:%M}"))
    lines += ["", t(N_("What do you want to change? You can change it until the end of today."))]
    rows = [
        [
            inline_button("📝 " + t.gettext(N_("Notes")), "vedit:f:notes"),
            inline_button("📦 " + t.gettext(N_("Stock levels")), "vedit:f:stock"),
        ],
        [
            inline_button("💬 " + t.gettext(N_("Market feedback")), "vedit:f:feedback"),
            inline_button("📅 " + t.gettext(N_("Follow-up date")), "vedit:f:followup"),
        ],
        [inline_button("✅ " + t.gettext(N_("Done")), "vedit:done")],
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _back(t: Translator) -> list[Any]:
    return [inline_button("‹ " + t.gettext(N_("Back")), "vedit:back")]


@action()
async def open_edit(request: Request) -> object:
    """``vedit:<visit id>``: the visit's edit screen, if it is the presser's own and of today."""
    visit_id = trailing_int(pressed_data(request))
    if visit_id is None:
        return None
    visit = await visit_edits.open_for_edit(
        request.session, request.me, visit_id, now=request.now, zone=zone_of(request)
    )
    user_data(request)[EDIT_KEY] = {"visit": visit.id, "topic": None}
    request.reply(*render(request.t, visit, zone_of(request)))
    return MENU


@action()
async def choose(request: Request) -> object:
    """``vedit:f:<notes|stock|feedback|followup>``: what to change."""
    state = _editing(request)
    if state is None:
        return END
    t, which = request.t, pressed_data(request).rsplit(":", 1)[1]
    if which == "notes":
        request.edit(
            t(N_("Type the new notes: they replace the ones saved.")), InlineKeyboardMarkup([_back(t)])
        )
        return NOTES
    if which == "stock":
        request.edit(
            t(
                N_(
                    "Send the stock levels again, one product per line, e.g.\nProduct A 12\n产品B：5\n"
                    "They replace the ones saved."
                )
            ),
            InlineKeyboardMarkup([_back(t)]),
        )
        return STOCK
    if which == "feedback":
        rows = [
            [inline_button(t.gettext(label), f"vedit:t:{topic.value}")]
            for topic, label in TOPIC_LABELS.items()
        ]
        request.edit(t(N_("Market feedback: what is it about?")), InlineKeyboardMarkup([*rows, _back(t)]))
        return TOPIC
    in_ten_days = today_of(request) + timedelta(days=10)
    rows = [
        [inline_button(t.gettext(label), f"vedit:due:{days}") for days, label in FOLLOW_UP_CHOICES],
        [inline_button(t.gettext(N_("No follow-up")), "vedit:nodue")],
        _back(t),
    ]
    request.edit(
        t(
            N_(
                "When will you follow up? Tap a button or type a date: {example} or {month_day} "
                "(month-day), 明天, 下周."
            ),
            example=day_text(in_ten_days),
            month_day=f"{in_ten_days:%m-%d}",
        ),
        InlineKeyboardMarkup(rows),
    )
    return FOLLOW_UP


async def _apply(request: Request, change: Change, *, edit: bool = False) -> object:
    state = _editing(request)
    if state is None:
        return END
    visit = await visit_edits.edit(
        request.session, request.me, state["visit"], change, now=request.now, zone=zone_of(request)
    )
    text, markup = render(request.t, visit, zone_of(request))
    text = "✅ " + request.t(N_("Changed. The earlier version is kept in the audit log.")) + "\n\n" + text
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)
    return MENU


@action()
async def typed_notes(request: Request) -> object:
    return await _apply(request, Change(notes=typed_text(request)))


@action()
async def typed_stock(request: Request) -> object:
    return await _apply(request, Change(stock=visits.parse_stock_lines(typed_text(request))))


@action()
async def choose_topic(request: Request) -> object:
    state = _editing(request)
    if state is None:
        return END
    topic = FeedbackTopic(pressed_data(request).rsplit(":", 1)[1])
    state["topic"] = topic.value
    request.edit(
        request.t(
            N_("Type the feedback on {topic}: it replaces what was saved on it."),
            topic=request.t.gettext(TOPIC_LABELS[topic]),
        ),
        InlineKeyboardMarkup([_back(request.t)]),
    )
    return FEEDBACK


@action()
async def typed_feedback(request: Request) -> object:
    state = _editing(request)
    if state is None or state.get("topic") not in {topic.value for topic in FeedbackTopic}:
        return END
    return await _apply(
        request, Change(feedback=FeedbackEntry(FeedbackTopic(state["topic"]), typed_text(request)))
    )


@action()
async def follow_up_button(request: Request) -> object:
    days = int(pressed_data(request).rsplit(":", 1)[1])
    return await _apply(request, Change(follow_up=today_of(request) + timedelta(days=days)), edit=True)


@action()
async def no_follow_up(request: Request) -> object:
    return await _apply(request, Change(clear_follow_up=True), edit=True)


@action()
async def typed_follow_up(request: Request) -> object:
    return await _apply(
        request, Change(follow_up=visits.parse_follow_up(typed_text(request), today_of(request)))
    )


@action()
async def back(request: Request) -> object:
    state = _editing(request)
    if state is None:
        return END
    visit = await visit_edits.open_for_edit(
        request.session, request.me, state["visit"], now=request.now, zone=zone_of(request)
    )
    request.edit(*render(request.t, visit, zone_of(request)))
    return MENU


@action()
async def done(request: Request) -> object:
    user_data(request).pop(EDIT_KEY, None)
    request.edit(request.t(N_("Done: the visit is saved as shown above.")))
    return END


@action()
async def cancel(request: Request) -> object:
    user_data(request).pop(EDIT_KEY, None)
    request.reply(request.t(N_("Editing stopped. The changes made so far are saved.")))
    return END


def register(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED
    text = private & filters.TEXT & ~filters.COMMAND
    back_handler = CallbackQueryHandler(back, pattern=r"^vedit:back$")
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(open_edit, pattern=r"^vedit:\d+$")],
            states={
                MENU: [
                    CallbackQueryHandler(choose, pattern=r"^vedit:f:(notes|stock|feedback|followup)$"),
                    CallbackQueryHandler(done, pattern=r"^vedit:done$"),
                ],
                NOTES: [MessageHandler(text, typed_notes), back_handler],
                STOCK: [MessageHandler(text, typed_stock), back_handler],
                TOPIC: [
                    CallbackQueryHandler(
                        choose_topic, pattern=r"^vedit:t:(quality|price|demand|competitor|new_product)$"
                    ),
                    back_handler,
                ],
                FEEDBACK: [MessageHandler(text, typed_feedback), back_handler],
                FOLLOW_UP: [
                    CallbackQueryHandler(follow_up_button, pattern=r"^vedit:due:\d{1,3}$"),
                    CallbackQueryHandler(no_follow_up, pattern=r"^vedit:nodue$"),
                    MessageHandler(text, typed_follow_up),
                    back_handler,
                ],
            },
            # No catch-all for other messages: between questions the flow takes no text, so a visit
            # being logged meanwhile gets its own (handlers/__init__.py registers this flow first).
            fallbacks=[CommandHandler("cancel", cancel, private), another_command_ends_flow()],
            allow_reentry=True,
            conversation_timeout=EDIT_TIMEOUT,
            name="visit_edit",
            persistent=True,
        )
    )
