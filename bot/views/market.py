"""Market feedback as text, shared by ``/market`` and the weekly digest (``jobs/market_digest.py``).

One Telegram message whatever the amount of feedback: the totals, then per topic its counts, the
customers and reps with most notes, and as many of the newest texts as fit, taken in turn from each
topic so that every topic shows some; what is left out is counted, with the command that lists it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.i18n import N_, Translator, echo, escape
from bot.services.field.market import LABELS, WORDS, MarketFeedback, MarketScope, Named, Note, TopicFeedback
from bot.views.finance import MESSAGE_BUDGET, length, short

NAME_SHOWN = 30
TEAM_SHOWN = 20
#: A note's text is cut to this many characters in the overview of every topic, and in one topic's.
TEXT_SHOWN, TEXT_SHOWN_ONE_TOPIC = 160, 400


def title(t: Translator, report: MarketFeedback) -> str:
    period = report.period.title(t)
    scope = report.scope
    if scope.everyone:
        text = t(N_("Market feedback · {period} · everyone"), period=period)
    elif scope.rep_id is not None:
        text = t(N_("Market feedback · {period} · yours"), period=period)
    else:
        text = t(
            N_("Market feedback · {period} · team {team}"),
            period=period,
            team=short(scope.name or "—", NAME_SHOWN),
        )
    return f"<b>{text}</b>"


def _who(t: Translator, person: Named, with_team: bool) -> str:
    name = short(person.name, NAME_SHOWN)
    if with_team and person.team:
        name = t.gettext(N_("{name} ({team})")).format(name=name, team=short(person.team, TEAM_SHOWN))
    return escape(name) + (f" ×{person.notes}" if person.notes > 1 else "")


def _names(t: Translator, people: Sequence[Named], total: int, with_team: bool = False) -> str:
    names = ", ".join(_who(t, person, with_team) for person in people)
    left = total - len(people)
    return names if left <= 0 else t.gettext(N_("{names} and {count} more")).format(names=names, count=left)


def _note(t: Translator, note: Note, with_rep: bool, limit: int) -> str:
    customer = escape(short(note.customer, NAME_SHOWN))
    who = f"{customer} · {escape(short(note.rep, NAME_SHOWN))}" if with_rep else customer
    return f"• {note.day:%m-%d} {who}: {escape(echo(note.text, limit))}"


@dataclass(frozen=True)
class _Block:
    """One topic: lines always shown, its notes (shown as many as fit), and what is left out."""

    head: list[str]
    notes: list[str]
    total: int
    more: Callable[[int], str]  # the line saying how many notes are left out


def _block(t: Translator, report: MarketFeedback, topic: TopicFeedback) -> _Block:
    scope: MarketScope = report.scope
    with_reps = scope.rep_id is None
    label = escape(t.gettext(LABELS[topic.topic]))
    if with_reps:
        counts = t(
            N_("notes: {notes} · customers: {customers} · reps: {reps}"),
            notes=topic.notes,
            customers=topic.customers,
            reps=topic.reps,
        )
    else:
        counts = t(
            N_("notes: {notes} · customers: {customers}"), notes=topic.notes, customers=topic.customers
        )
    head = [
        f"<b>{label}</b> — {counts}",
        t.gettext(N_("Customers: {names}")).format(names=_names(t, topic.top_customers, topic.customers)),
    ]
    if with_reps:
        head.append(
            t.gettext(N_("Reps: {names}")).format(
                names=_names(t, topic.top_reps, topic.reps, with_team=scope.everyone)
            )
        )
    limit = TEXT_SHOWN if report.topic is None else TEXT_SHOWN_ONE_TOPIC
    notes = [_note(t, note, with_reps, limit) for note in topic.latest]
    word = t.gettext(WORDS[topic.topic])

    def more(left: int) -> str:
        if report.topic is None:
            return "  " + t(
                N_("…and {count} more: /market {period} {topic}"),
                count=left,
                period=report.period.label,
                topic=word,
            )
        return "  " + t(N_("…and {count} older: ask for a shorter period to read them."), count=left)

    return _Block(head, notes, topic.notes, more)


def _render(head: list[str], blocks: list[_Block], shown: list[int]) -> str:
    lines = list(head)
    for block, count in zip(blocks, shown, strict=True):
        lines += ["", *block.head, *block.notes[:count]]
        if block.total > count:
            lines.append(block.more(block.total - count))
    return "\n".join(lines)


def market_text(t: Translator, report: MarketFeedback, budget: int = MESSAGE_BUDGET) -> str:
    """The feedback of ``report`` in one message of at most ``budget`` characters."""
    if not report.notes:
        return t(N_("No market feedback for {period}."), period=report.period.title(t))
    if report.scope.rep_id is None:
        totals = t(
            N_("Notes: {notes} · customers: {customers} · reps: {reps}"),
            notes=report.notes,
            customers=report.customers,
            reps=report.reps,
        )
    else:
        totals = t(
            N_("Notes: {notes} · customers: {customers}"), notes=report.notes, customers=report.customers
        )
    head = [title(t, report), totals]
    blocks = [_block(t, report, topic) for topic in report.topics]
    shown = [0] * len(blocks)
    full = [False] * len(blocks)
    while not all(full):  # one more note of each topic in turn, while the message has room
        for index, block in enumerate(blocks):
            if full[index]:
                continue
            if shown[index] == len(block.notes):
                full[index] = True
                continue
            shown[index] += 1
            if length(_render(head, blocks, shown)) > budget:
                shown[index] -= 1
                full[index] = True
    return _render(head, blocks, shown)
