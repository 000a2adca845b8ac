"""How a visit looks in the chat: the due list, the draft with its buttons, the saved visit."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import N_, Translator, escape
from bot.services.field import visits
from bot.services.field.customers import CustomerRef
from bot.services.field.units import quantity_text
from bot.services.field.visits import DuePlan, SavedVisit
from handlers.base import Request
from handlers.field.customer_choice import BUTTON_TEXT_LIMIT
from handlers.field.visit_flow import EXTRAS
from models import FeedbackTopic, VisitKind

if TYPE_CHECKING:
    from handlers.field.visit_flow import Flow

NOTES_PREVIEW = 300
LINES_SHOWN = 10

KIND_LABELS = {
    VisitKind.VISIT: N_("On-site visit"),
    VisitKind.CALL: N_("Phone call"),
    VisitKind.STOCK_CHECK: N_("Stock check"),
}
TOPIC_LABELS = {
    FeedbackTopic.QUALITY: N_("Quality"),
    FeedbackTopic.PRICE: N_("Price"),
    FeedbackTopic.DEMAND: N_("Demand"),
    FeedbackTopic.COMPETITOR: N_("Competitor"),
    FeedbackTopic.NEW_PRODUCT: N_("New product"),
}
FOLLOW_UP_CHOICES = ((1, N_("Tomorrow")), (7, N_("Next week")), (14, N_("In 2 weeks")))


def shorten(text: str, limit: int = NOTES_PREVIEW) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def day_text(day: date) -> str:
    return f"{day:%Y-%m-%d}"


def distance_text(t: Translator, metres: int) -> str:
    """ "44 m", "1.2 km"; in Chinese "44 米", "1.2 公里"."""
    if metres < 1000:
        return t.gettext(N_("{metres} m")).format(metres=metres)
    return t.gettext(N_("{km} km")).format(km=f"{metres / 1000:.1f}")


def inline_button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text[:BUTTON_TEXT_LIMIT], callback_data=data)


def render_due(t: Translator, plan: DuePlan) -> tuple[str, InlineKeyboardMarkup]:
    rows = []
    for due in plan.customers:
        mark = "🆕 " if due.never_visited else "📅 " if due.follow_up else "⚠️ " if due.overdue_days else ""
        rows.append([inline_button(mark + due.customer.label, f"visit:pick:{due.customer.id}")])
    rows.append(
        [
            inline_button("📍 " + t.gettext(N_("Near me")), "visit:nearme"),  # handlers/field/check_in.py
            inline_button("🔎 " + t.gettext(N_("Search")), "visit:search"),
        ]
    )
    text = (
        t(
            N_("Which customer? {count} due today, most overdue first. Tap one, or type a name to search."),
            count=plan.total,
        )
        if plan.total
        else t(N_("Which customer? Nobody is due today: type the customer's name or code."))
    )
    return text, InlineKeyboardMarkup(rows)


def kind_question(t: Translator, customer: CustomerRef) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [inline_button(t.gettext(label), f"visit:kind:{kind.value}")] for kind, label in KIND_LABELS.items()
    ]
    return (
        t(N_("Customer: <b>{customer}</b>\nWhat kind of contact was it?"), customer=customer.label),
        InlineKeyboardMarkup(rows),
    )


def render_draft(t: Translator, flow: Flow, *, footer: bool = True) -> str:
    assert flow.customer is not None and flow.kind is not None
    lines = [
        f"<b>{escape(flow.customer.label)}</b> · {escape(t.gettext(KIND_LABELS[flow.kind]))}",
        t(N_("Notes: {notes}"), notes=shorten(flow.notes)),
    ]
    if flow.location:
        lines.append("📍 " + t(N_("Location shared")))
    if flow.photos:
        lines.append("📷 " + t(N_("Photos: {count}"), count=len(flow.photos)))
    lines += [
        f"📦 {escape(line.product)}: {quantity_text(t, line.quantity, line.unit)}"
        for line in flow.stock[:LINES_SHOWN]
    ]
    if len(flow.stock) > LINES_SHOWN:
        more = len(flow.stock) - LINES_SHOWN
        lines.append(
            t.ngettext("… and {count} more stock line", "… and {count} more stock lines", more, count=more)
        )
    lines += [
        f"💬 {escape(t.gettext(TOPIC_LABELS[item.topic]))}: {escape(shorten(item.text, 100))}"
        for item in flow.feedback[:LINES_SHOWN]
    ]
    if len(flow.feedback) > LINES_SHOWN:
        more = len(flow.feedback) - LINES_SHOWN
        lines.append(
            t.ngettext(
                "… and {count} more feedback note", "… and {count} more feedback notes", more, count=more
            )
        )
    if flow.follow_up:
        lines.append("📅 " + t(N_("Follow-up: {date}"), date=day_text(flow.follow_up)))
    if footer:
        lines += ["", t(N_("Add more with the buttons, or tap Save."))]
    return "\n".join(lines)


def extras_keyboard(t: Translator, flow: Flow) -> InlineKeyboardMarkup:
    location = inline_button("📍 " + t.gettext(N_("Location")), "visit:add:location")
    photo = inline_button("📷 " + t.gettext(N_("Photo")), "visit:add:photo")
    stock = inline_button("📦 " + t.gettext(N_("Stock levels")), "visit:add:stock")
    feedback = inline_button("💬 " + t.gettext(N_("Market feedback")), "visit:add:feedback")
    follow_up = inline_button("📅 " + t.gettext(N_("Follow-up date")), "visit:add:followup")
    save = inline_button("✅ " + t.gettext(N_("Save")), f"visit:save:{flow.token}")
    if flow.kind == VisitKind.STOCK_CHECK:
        rows = [[stock], [location, photo], [feedback, follow_up], [save]]
    else:
        rows = [[location, photo], [stock, feedback], [follow_up], [save]]
    return InlineKeyboardMarkup(rows)


def back_button(t: Translator) -> list[InlineKeyboardButton]:
    return [inline_button("‹ " + t.gettext(N_("Back")), "visit:back")]


def render_saved(t: Translator, saved: SavedVisit) -> str:
    lines = [
        "✅ " + t(N_("Visit saved: <b>{customer}</b>"), customer=saved.customer.label),
        t(N_("Type: {kind}"), kind=t.gettext(KIND_LABELS[saved.kind])),
        t(N_("Notes: {notes}"), notes=shorten(saved.notes)),
    ]
    if saved.located and saved.distance_m is None:
        lines.append("📍 " + t(N_("Location saved; the customer has no location on file.")))
    elif saved.distance_m is not None and saved.far_away:
        lines.append(
            "⚠️ "
            + t(
                N_("{distance} from the customer's location: flagged as far away."),
                distance=distance_text(t, saved.distance_m),
            )
        )
    elif saved.distance_m is not None:
        lines.append(
            "📍 "
            + t(N_("{distance} from the customer's location."), distance=distance_text(t, saved.distance_m))
        )
    if saved.photos:
        lines.append("📷 " + t(N_("Photos: {count}"), count=saved.photos))
    if saved.stock_lines:
        lines.append("📦 " + t(N_("Stock lines: {count}"), count=saved.stock_lines))
    if saved.feedback:
        lines.append("💬 " + t(N_("Market feedback: {count}"), count=saved.feedback))
    if saved.next_follow_up:
        lines.append("📅 " + t(N_("Follow-up: {date}"), date=day_text(saved.next_follow_up)))
    lines.append(t(N_("Next visit due: {date}"), date=day_text(saved.next_due)))
    lines.append(
        t(
            N_("You can undo this for {minutes} minutes."),
            minutes=int(visits.UNDO_WINDOW.total_seconds() // 60),
        )
    )
    return "\n".join(lines)


def edit_button(t: Translator, visit_id: int, label: str | None = None) -> InlineKeyboardButton:
    """✏️ Edit: change the saved visit's notes and extras that day (handlers/field/visit_edits.py)."""
    return inline_button("✏️ " + (label or t.gettext(N_("Edit"))), f"vedit:{visit_id}")


def undo_markup(t: Translator, saved: SavedVisit) -> InlineKeyboardMarkup:
    undo = inline_button("↩️ " + t.gettext(N_("Undo")), f"visit:undo:{saved.id}")
    # 📮 Complaint: log what the customer raised on this visit (handlers/field/complaints.py).
    complaint = inline_button("📮 " + t.gettext(N_("Complaint")), f"cmp:start:{saved.customer.id}")
    return InlineKeyboardMarkup([[undo, edit_button(t, saved.id)], [complaint]])


def show_summary(request: Request, flow: Flow, *, edit: bool = False) -> int:
    text, markup = render_draft(request.t, flow), extras_keyboard(request.t, flow)
    if edit:
        request.edit(text, markup)
    else:
        request.reply(text, markup)
    return EXTRAS
