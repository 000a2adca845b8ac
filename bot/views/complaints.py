"""Customer letters and complaints as text: /complaint, /complaints and the clock's pushes."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator, escape
from bot.services.field.complaints import KIND_LABELS, TAG_LABELS, ComplaintView, Register

TEXT_SHOWN = 200
TEXT_SHOWN_ONE = 1500
__all__ = ["KIND_LABELS", "TAG_LABELS", "item_html", "register_html", "saved_html"]


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(instant: datetime, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d}"


def kind_and_tag(t: Translator, item: ComplaintView) -> str:
    return f"{t.gettext(KIND_LABELS[item.kind])} · {t.gettext(TAG_LABELS[item.tag])}"


def heading(t: Translator, item: ComplaintView) -> str:
    """ "#3 · 华东五金店 (HD01) · Complaint · Quality", HTML."""
    return t(
        N_("<b>#{number} · {customer}</b> · {what}"),
        number=item.id,
        customer=item.customer.label,
        what=kind_and_tag(t, item),
    )


def answer_line(t: Translator, item: ComplaintView, zone: ZoneInfo, today: date) -> str:
    due = item.answer_due.isoformat()
    if item.answered_at is not None:
        on_time = item.answer_on_time(zone, today)
        template = (
            N_("✅ Answered {day} (due {due})") if on_time else N_("☑️ Answered {day}, late (due {due})")
        )
        return t(template, day=_day(item.answered_at, zone), due=due)
    if today > item.answer_due:
        return t(N_("⚠️ Answer overdue: it was due {due}"), due=due)
    return t(N_("⏳ Answer due {due}"), due=due)


def onsite_line(t: Translator, item: ComplaintView, zone: ZoneInfo, today: date) -> str | None:
    if item.onsite_due is None:
        return None
    due = item.onsite_due.isoformat()
    if item.onsite_met and item.onsite_at is not None:
        on_time = item.onsite_on_time(zone, today)
        if item.onsite_visit_id is not None:
            template = (
                N_("✅ On site {day}: visit logged (due {due})")
                if on_time
                else N_("☑️ On site {day}, late: visit logged (due {due})")
            )
        else:
            template = (
                N_("✅ On site {day} (due {due})") if on_time else N_("☑️ On site {day}, late (due {due})")
            )
        return t(template, day=_day(item.onsite_at, zone), due=due)
    if not item.open:
        return t(N_("On site: nobody went (due {due})"), due=due)
    if today > item.onsite_due:
        return t(N_("⚠️ Nobody on site yet: it was due {due}"), due=due)
    return t(N_("⏳ Someone on site by {due}"), due=due)


def item_html(t: Translator, item: ComplaintView, zone: ZoneInfo, today: date, *, full: bool = False) -> str:
    """One item: heading, who and when, the text, where each clock stands, the answer and resolution."""
    limit = TEXT_SHOWN_ONE if full else TEXT_SHOWN
    lines = [
        heading(t, item),
        t(
            N_("Logged {day} by {who} · owner {owner}"),
            day=_day(item.opened_at, zone),
            who=item.logged_by,
            owner=item.owner,
        ),
        "“" + escape(short(item.text, limit)) + "”",
        answer_line(t, item, zone, today),
    ]
    onsite = onsite_line(t, item, zone, today)
    if onsite:
        lines.append(onsite)
    if item.onsite_note and full:
        lines.append(t(N_("On site: {note}"), note=short(item.onsite_note, limit)))
    if item.answer and full and item.answer != item.resolution:
        lines.append(t(N_("Answer: {text}"), text=short(item.answer, limit)))
    if item.resolved_at is not None:
        lines.append(
            t(
                N_("🏁 Resolved {day}: {text}"),
                day=_day(item.resolved_at, zone),
                text=short(item.resolution or "", limit),
            )
        )
    return "\n".join(lines)


def saved_html(t: Translator, item: ComplaintView, zone: ZoneInfo, today: date) -> str:
    """The reply to a logged item: what was logged and when each answer is due."""
    title = (
        t(N_("📮 Already logged as #{number}."), number=item.id)
        if item.already_saved
        else t(N_("📮 Logged as #{number}. The clock has started."), number=item.id)
    )
    return title + "\n" + item_html(t, item, zone, today)


def register_title(t: Translator, register: Register) -> str:
    if register.which == "open":
        text = t(N_("Open letters and complaints: {count}"), count=register.total)
    elif register.which == "all":
        text = t(N_("All letters and complaints: {count}"), count=register.total)
    else:
        assert register.period is not None
        text = t(
            N_("Letters and complaints logged · {period}: {count}"),
            period=register.period.title(t),
            count=register.total,
        )
    return f"<b>{text}</b>"


def register_html(t: Translator, register: Register, zone: ZoneInfo, today: date) -> str:
    lines = [register_title(t, register)]
    if register.which != "open":
        lines.append(
            t(N_("Still open: {open} · overdue: {overdue}"), open=register.open, overdue=register.overdue)
        )
    elif register.overdue:
        lines.append(t(N_("Overdue: {overdue}"), overdue=register.overdue))
    if not register.items:
        lines.append(t(N_("Nothing here.")))
    for item in register.items:
        lines += ["", item_html(t, item, zone, today)]
    if register.total > len(register.items):
        lines += [
            "",
            t(
                N_("…and {count} more: the export lists them all."),
                count=register.total - len(register.items),
            ),
        ]
    return "\n".join(lines)
