"""Trust signals for managers: facts about how a visit was logged, worked out when it is saved.

A visit carries a flag (stored on the row, so every view reads them with the visit) when

* **far away**: its location is more than 1 km from the customer's (``visits.FAR_AWAY_M``);
* **no location**: it is an on-site visit or a stock check saved without one (a phone call has
  no place, so it is never flagged for it);
* **photo used before**: one of its photos, by Telegram's ``file_unique_id`` (the same file
  whoever sends it, where ``file_id`` differs), is on an earlier visit, anyone's in the company;
* **forwarded photo**: one of its photos came in a forwarded message (``forward_origin``);
* **logged late**: it was saved more than :data:`LATE_AFTER` after the earliest message it is
  made of was sent (``visits.sent_at``).

Why "logged late" is measured that way: a visit claims no time of its own — ``visited_at`` is the
moment the bot saves it — so what can lag is the evidence. Telegram stamps every message with the
moment its server received it (``Message.date``), which the rep cannot set. The earliest such
stamp among the messages a visit is made of (the one-liner or the command that opened the flow,
its location, its photos, its notes) is the time the visit claims; saved more than two hours
later, the location or photo shown with it is that much older than the visit, or the bot handled
the message that much later than it was sent (an outage), and either way the manager should know
that the time shown is not when the rep was there. A button press carries no stamp of its own.

Flags are facts, never refusals and never accusations: GPS drifts, reps phone customers,
a shelf photo can fairly be sent twice; the manager decides what it means.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Integer, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from models import Visit, VisitKind, VisitPhoto

#: Saved this long after its earliest message was sent, a visit is flagged "logged late".
LATE_AFTER = timedelta(hours=2)


class Flag(enum.StrEnum):
    FAR = "far"
    NO_LOCATION = "no_location"
    PHOTO_REUSED = "photo_reused"
    PHOTO_FORWARDED = "photo_forwarded"
    LATE = "late"


#: Short and neutral: what happened, not what it might mean.
FLAG_LABELS = {
    Flag.FAR: N_("far from the customer"),
    Flag.NO_LOCATION: N_("no location"),
    Flag.PHOTO_REUSED: N_("photo used before"),
    Flag.PHOTO_FORWARDED: N_("forwarded photo"),
    Flag.LATE: N_("logged late"),
}

FLAGS = tuple(Flag)  # iterating the enum itself is slow, and a summary does it per rep
#: The stored column of each flag, in :class:`Flag` order.
COLUMNS = (Visit.far_away, Visit.no_location, Visit.photo_reused, Visit.photo_forwarded, Visit.late_entry)


def flags_of(values: Sequence[bool]) -> tuple[Flag, ...]:
    """The flags set among ``values`` (the :data:`COLUMNS` of one row, in order)."""
    return tuple(flag for flag, on in zip(Flag, values, strict=True) if on)


def flagged() -> ColumnElement[bool]:
    """SQL: the visit carries at least one flag."""
    return or_(*COLUMNS)


def count_columns() -> list[ColumnElement[int]]:
    """SQL aggregates for a ``GROUP BY``: flagged visits, then the visits with each flag.

    Added to a query that already groups the visits, they cost no statement of their own.
    """
    return [
        type_coerce(func.coalesce(func.sum(case((condition, 1), else_=0)), 0), Integer())
        for condition in (flagged(), *COLUMNS)
    ]


@dataclass(frozen=True)
class FlagCounts:
    """How many of someone's visits carry flags: in all, and each flag (a visit may carry two)."""

    flagged: int = 0
    by_flag: tuple[tuple[Flag, int], ...] = ()

    @classmethod
    def of(cls, values: Sequence[int]) -> FlagCounts:
        """From :func:`count_columns`' values, in order (called per rep of a summary: kept lean)."""
        flagged, *each = values
        if not flagged:
            return NO_FLAGS
        return cls(
            int(flagged), tuple((flag, int(count)) for flag, count in zip(FLAGS, each, strict=True) if count)
        )


NO_FLAGS = FlagCounts()


def no_location(kind: VisitKind, location: tuple[float, float] | None) -> bool:
    return location is None and kind != VisitKind.CALL


def logged_late(sent_at: datetime | None, now: datetime) -> bool:
    return sent_at is not None and now - sent_at > LATE_AFTER


def lag_hours(sent_at: datetime | None, saved_at: datetime) -> int:
    """Whole hours between the earliest message and the save (for "logged late (3 h)")."""
    if sent_at is None:
        return 0
    return max(0, int((saved_at - sent_at).total_seconds() // 3600))


#: Built once: is any of these photos on a visit already? One probe of the file_unique_id index.
_USED_BEFORE = (
    select(VisitPhoto.visit_id)
    .where(VisitPhoto.file_unique_id.in_(bindparam("ids", expanding=True)))
    .limit(1)
)


async def photo_used_before(session: AsyncSession, unique_ids: Sequence[str]) -> bool:
    """Whether any of ``unique_ids`` is a photo of a visit already saved, anyone's."""
    if not unique_ids:
        return False
    return await session.scalar(_USED_BEFORE, {"ids": list(unique_ids)}) is not None


async def keep_photos(session: AsyncSession, visit_id: int, unique_ids: Sequence[str]) -> None:
    """Record a new visit's photos by ``file_unique_id`` (each once), for later visits to check."""
    distinct = list(dict.fromkeys(unique_ids))
    if distinct:
        await session.execute(
            VisitPhoto.__table__.insert(),
            [{"visit_id": visit_id, "file_unique_id": unique_id} for unique_id in distinct],
        )


# -- as text (plain: escape it for HTML) ---------------------------------------------------------

WARNING = "⚠️"


def flag_label(t: Translator, flag: Flag, late_hours: int = 0) -> str:
    """One flag; "logged late" with its hours when known."""
    if flag == Flag.LATE and late_hours:
        return t.gettext(N_("logged late ({hours} h)")).format(hours=late_hours)
    return t.gettext(FLAG_LABELS[flag])


def describe(t: Translator, flags: Sequence[Flag], late_hours: int = 0, *, sign: bool = True) -> str:
    """A visit's flags on one line ("⚠️ no location, forwarded photo"); "" when it has none."""
    if not flags:
        return ""
    text = t.gettext(N_(", ")).join(flag_label(t, flag, late_hours) for flag in flags)
    return f"{WARNING} {text}" if sign else text


def describe_counts(t: Translator, counts: FlagCounts) -> str:
    """ "⚠️ 3 flagged visits: 1 far from the customer, 2 no location"; "" when none is flagged."""
    if not counts.flagged:
        return ""
    each = t.gettext(N_(", ")).join(
        t.gettext(N_("{count} {flag}")).format(count=count, flag=t.gettext(FLAG_LABELS[flag]))
        for flag, count in counts.by_flag
    )
    text = t.ngettext("{count} flagged visit: {flags}", "{count} flagged visits: {flags}", counts.flagged)
    return f"{WARNING} " + text.format(count=counts.flagged, flags=each)
