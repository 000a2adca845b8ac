"""The /chart picture: a period's daily visits and collections, and each rep's share.

Top panel: visits per local day (bars) and money collected per day (line, right axis).
Bottom panel: per rep, visits (left bars, left axis) and money collected (right bars,
right axis); the :data:`TOP_REPS` busiest when there are more. Same scope and money rules
as the export (:mod:`bot.services.reporting.exports`): the work of the people in scope, and
collections that stay collected — neither a reversal nor reversed. Active reps of the
scope who did nothing are shown with empty bars.

The figures are gathered in SQL (grouped by local day and by rep), then drawn with
matplotlib's object API (a ``Figure`` of its own, no pyplot and no global state) in a
worker thread, so drawing never blocks the event loop and two charts can be drawn at
once. Names are drawn in a CJK font (see :func:`cjk_font_name`): a system font when one is
installed, else Noto Sans SC from a dependency, so Chinese names never become empty boxes. Every
text is drawn literally (see :func:`_literal`): a ``$`` or ``\\`` in a name is not mathtext.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator
from sqlalchemy import (
    ColumnElement,
    Date,
    SQLColumnExpression,
    String,
    case,
    func,
    literal,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_, Translator
from bot.services.people.access import Caller
from bot.services.reporting.exports import Scope, scope_label, scope_of
from bot.services.reporting.periods import Period
from models import Collection, Money, Role, User, Visit

log = logging.getLogger(__name__)

#: System CJK fonts, best first: the first one installed is preferred to the packaged one.
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "SimHei",
    "PingFang SC",
    "Microsoft YaHei",
)
#: The dependency that ships Noto Sans SC (SIL Open Font License 1.1, unmodified from notofonts/noto-cjk):
#: charts draw Chinese after a plain ``pip install`` on a machine without any CJK font.
PACKAGED_CJK_FONT = "pylopdf-fonts-zh-cn"
TOP_REPS = 20
ZERO = Decimal("0.00")
VISIT_COLOUR, MONEY_COLOUR = "#4C72B0", "#DD8452"
MAX_DAY_LABELS = 16
#: Room above the tallest bar or point, as a share of it: no bar reaches the frame.
HEADROOM = 0.15
#: Room left of the first bar and right of the last, in bar slots (a bar is 0.8 of its slot wide).
SIDE_ROOM = 0.6


@cache
def cjk_font_name() -> str | None:
    """The font Chinese is drawn in: a system font of :data:`CJK_FONTS`, else the packaged Noto Sans SC.

    None (logged once: Chinese will be empty boxes) only when neither is there, e.g. in an
    environment installed before the dependency was added and not reinstalled.
    """
    name = system_cjk_font() or packaged_cjk_font()
    if name is None:
        log.warning(
            "no CJK font: Chinese names in charts will not render; reinstall fieldbot "
            "(pip install -e .), which installs %s, or install one of %s",
            PACKAGED_CJK_FONT,
            ", ".join(CJK_FONTS),
        )
    return name


def system_cjk_font() -> str | None:
    """The first installed font of :data:`CJK_FONTS`, or None."""
    name = _first_cjk_font()
    if name is None:
        # matplotlib keeps its list of system fonts in a cache file made the first time it ran, and
        # does not notice fonts installed since: look at the system's fonts once more.
        for path in font_manager.findSystemFonts():
            with contextlib.suppress(Exception):  # a font file matplotlib cannot read is skipped
                font_manager.fontManager.addfont(path)
        name = _first_cjk_font()
    return name


def _first_cjk_font() -> str | None:
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def packaged_cjk_font() -> str | None:
    """Noto Sans SC from :data:`PACKAGED_CJK_FONT`, made known to matplotlib; None if it is missing."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        return None
    path = sans_path()
    try:
        font_manager.fontManager.addfont(path)
        return font_manager.get_font(path).family_name
    except (OSError, RuntimeError):  # the file is missing or unreadable: a broken installation
        log.exception("cannot read the packaged CJK font %s", path)
        return None


def font() -> FontProperties:
    """The CJK font first, then matplotlib's default for anything it lacks."""
    name = cjk_font_name()
    return FontProperties(family=[name, "DejaVu Sans"] if name else ["DejaVu Sans"])


# -- local days in SQL -----------------------------------------------------------------------------


def _offset_minutes(zone: ZoneInfo, instant: datetime) -> int:
    offset = instant.astimezone(zone).utcoffset() or timedelta()
    return int(offset.total_seconds() // 60)


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(from this UTC instant, the zone's offset in minutes) over [start, end), to the minute."""
    changes = [(start, _offset_minutes(zone, start))]
    hour = timedelta(hours=1)
    cursor = start
    while cursor < end:
        step = min(cursor + hour, end)
        if _offset_minutes(zone, step) != changes[-1][1]:
            low, high = cursor, step  # the change happens in (low, high]
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if _offset_minutes(zone, middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high, _offset_minutes(zone, high)))
        cursor = step
    return changes


def local_day(
    session: AsyncSession,
    column: SQLColumnExpression[datetime],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> ColumnElement[date]:
    """SQL: the company-zone date of a stored UTC instant in [start, end).

    PostgreSQL converts with the zone itself. SQLite (naive UTC text) shifts by the zone's
    offset, one branch per daylight-saving change within the period (none for most of Asia).
    """
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(func.date(func.timezone(literal(zone.key, String()), column)), Date())
    changes = offset_changes(zone, start, end)

    def shifted(minutes: int) -> ColumnElement[str]:
        return func.date(column, f"{minutes:+d} minutes")

    if len(changes) == 1:
        return type_coerce(shifted(changes[0][1]), Date())
    branches = [(column < until, shifted(minutes)) for (_since, minutes), (until, _next) in pairwise(changes)]
    return type_coerce(case(*branches, else_=shifted(changes[-1][1])), Date())


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# -- the figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepFigures:
    name: str
    visits: int
    collected: Decimal


@dataclass(frozen=True)
class ChartData:
    title: str  # plain text: the period and the scope
    days: list[date]
    visits: list[int]
    collected: list[Decimal]
    reps: list[RepFigures]  # the top ones, busiest first
    reps_in_scope: int

    @property
    def total_visits(self) -> int:
        return sum(self.visits)

    @property
    def total_collected(self) -> Decimal:
        return sum(self.collected, ZERO)


def _kept() -> ColumnElement[bool]:
    """A collection that stays collected: not a reversal, not reversed."""
    reversal = aliased(Collection)
    return (
        Collection.reverses_id.is_(None)
        & ~select(reversal.id).where(reversal.reverses_id == Collection.id).exists()
    )


async def chart_data(
    session: AsyncSession, caller: Caller | None, period: Period, zone: ZoneInfo, today: date, t: Translator
) -> ChartData:
    scope = scope_of(caller)
    start, end = period.bounds(zone)
    days = period.dates(today)
    visits_by_day = await _per_day(session, scope, zone, start, end, Visit.visited_at, None)
    money_by_day = await _per_day(session, scope, zone, start, end, Collection.received_at, Collection.amount)
    reps = await _per_rep(session, scope, start, end)
    title = f"{html.unescape(period.title(t))} · {await scope_label(session, scope, t)}"
    return ChartData(
        title,
        days,
        [int(visits_by_day.get(day, 0)) for day in days],
        [Decimal(money_by_day.get(day, ZERO)) for day in days],
        reps[:TOP_REPS],
        len(reps),
    )


async def _per_day(
    session: AsyncSession,
    scope: Scope,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    at: SQLColumnExpression[datetime],
    amount: SQLColumnExpression[Decimal] | None,
) -> dict[date, int | Decimal]:
    """Visits counted (``amount`` None) or collections summed, per local day, in one query."""
    rep_id = Visit.rep_id if amount is None else Collection.rep_id
    rows = (
        select(
            local_day(session, at, zone, start, end).label("day"),
            (amount if amount is not None else literal(1)).label("value"),
        )
        .where(scope.people(rep_id), at >= start, at < end, _kept() if amount is not None else true())
        .subquery("dated")
    )
    total = func.count() if amount is None else type_coerce(func.sum(rows.c.value), Money())
    result = await session.execute(select(rows.c.day, total).group_by(rows.c.day))
    return {_as_date(day): value for day, value in result}


async def _per_rep(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> list[RepFigures]:
    """Each rep of the scope (and anyone else with activity in it), busiest first."""
    visits: dict[int, int] = {
        rep_id: count
        for rep_id, count in await session.execute(
            select(Visit.rep_id, func.count())
            .where(scope.people(Visit.rep_id), Visit.visited_at >= start, Visit.visited_at < end)
            .group_by(Visit.rep_id)
        )
    }
    collected: dict[int, Decimal] = {
        rep_id: total
        for rep_id, total in await session.execute(
            select(Collection.rep_id, type_coerce(func.sum(Collection.amount), Money()))
            .where(
                scope.people(Collection.rep_id),
                Collection.received_at >= start,
                Collection.received_at < end,
                _kept(),
            )
            .group_by(Collection.rep_id)
        )
    }
    people = await session.execute(
        select(User.id, User.name).where(
            User.id.in_(set(visits) | set(collected))
            | ((User.role == Role.REP) & User.active & scope.people(User.id))
        )
    )
    reps = [RepFigures(name, visits.get(rep_id, 0), collected.get(rep_id) or ZERO) for rep_id, name in people]
    return sorted(reps, key=lambda rep: (-rep.visits, -rep.collected, rep.name))


# -- drawing ---------------------------------------------------------------------------------------


def _number(value: float, _position: object = None) -> str:
    """An axis's number, as plain text (matplotlib's default formatter writes TeX when ``text.usetex``
    is set, which :func:`_literal` would show as it is)."""
    return f"{value:,.0f}"


def render(data: ChartData, language: str) -> bytes:
    """The PNG (CPU-bound: call it in a thread, see :func:`build_chart`)."""
    buffer = io.BytesIO()
    draw(data, language).savefig(buffer, format="png")
    return buffer.getvalue()


def draw(data: ChartData, language: str) -> Figure:
    """The chart's figure, every text in it literal: a title saying what is drawn, over the period
    and the scope, both panels with their axes labelled, in the reader's language."""
    t = Translator(language)
    cjk = font()
    figure = Figure(figsize=(11, 8.5), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(1, 1.15))
    what = t.gettext(N_("Visits and money collected"))
    figure.suptitle(f"{what}\n{data.title}", fontproperties=cjk, fontsize=14)
    _daily_panel(top, data, t, cjk)
    _reps_panel(bottom, data, t, cjk)
    _literal(figure)
    return figure


def _literal(figure: Figure) -> None:
    """Draw every text of ``figure`` as it is written.

    By default matplotlib reads a text with two unescaped ``$`` as mathtext (and all text as TeX
    when ``text.usetex`` is set), so a rep named ``Li $x^$`` or a team named ``$$`` is garbled or,
    as mathtext that does not parse, fails the whole chart. Names, team names and titles are user
    data: none of their characters (``$``, ``\\``, ``^``, ``_``…) has a meaning here. The names'
    tick labels exist by now (set at fixed positions); the only ones matplotlib adds while drawing
    are the axes' numbers.
    """
    for text in figure.findobj(Text):
        text.set_parse_math(False)
        text.set_usetex(False)


def _top(values: list[float]) -> float:
    """Where a value axis ends: above its highest value by :data:`HEADROOM` (1 when all are 0)."""
    highest = max(values, default=0.0)
    return highest * (1 + HEADROOM) if highest > 0 else 1.0


def _frame(axes: Axes, money: Axes, count: int, visits: list[int], collected: list[Decimal]) -> None:
    """Both value axes from 0 to above their highest value, and room beside the outer bars."""
    axes.set_xlim(-SIDE_ROOM, count - 1 + SIDE_ROOM)
    axes.set_ylim(0, _top([float(value) for value in visits]))
    money.set_ylim(0, _top([float(amount) for amount in collected]))


def _legend(axes: Axes, handles: list[Any], cjk: FontProperties) -> None:
    """The legend above the panel, right-aligned on the panel title's line: never over a bar."""
    axes.legend(
        handles=handles,
        prop=cjk,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(handles),
        frameon=False,
        borderaxespad=0.2,
    )


def _daily_panel(axes: Axes, data: ChartData, t: Translator, cjk: FontProperties) -> None:
    positions = list(range(len(data.days)))
    bars = axes.bar(positions, data.visits, color=VISIT_COLOUR, label=t.gettext(N_("Visits")))
    money = axes.twinx()
    (line,) = money.plot(
        positions,
        [float(amount) for amount in data.collected],
        color=MONEY_COLOUR,
        marker="o",
        markersize=3,
        label=t.gettext(N_("Collected")),
    )
    step = max(1, -(-len(data.days) // MAX_DAY_LABELS))
    axes.set_xticks(positions[::step], [f"{day:%m-%d}" for day in data.days[::step]])
    axes.set_title(t.gettext(N_("Per day")), fontproperties=cjk, loc="left")
    axes.set_xlabel(t.gettext(N_("Day")), fontproperties=cjk)
    axes.set_ylabel(t.gettext(N_("Visits")), fontproperties=cjk)
    money.set_ylabel(t.gettext(N_("Collected")), fontproperties=cjk)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(_number))
    money.yaxis.set_major_formatter(FuncFormatter(_number))
    _frame(axes, money, len(positions), data.visits, data.collected)
    _legend(axes, [bars, line], cjk)


def _reps_panel(axes: Axes, data: ChartData, t: Translator, cjk: FontProperties) -> None:
    title = t.gettext(N_("Per rep"))
    if data.reps_in_scope > len(data.reps):
        title = t.gettext(N_("Per rep: the {shown} busiest of {total}")).format(
            shown=len(data.reps), total=data.reps_in_scope
        )
    axes.set_title(title, fontproperties=cjk, loc="left")
    if not data.reps:
        axes.text(
            0.5,
            0.5,
            t.gettext(N_("Nobody to show in this scope.")),
            ha="center",
            va="center",
            transform=axes.transAxes,
            fontproperties=cjk,
        )
        axes.set_axis_off()
        return
    positions = list(range(len(data.reps)))
    width = 0.4
    bars = axes.bar(
        [p - width / 2 for p in positions],
        [rep.visits for rep in data.reps],
        width,
        color=VISIT_COLOUR,
        label=t.gettext(N_("Visits")),
    )
    money = axes.twinx()
    money_bars = money.bar(
        [p + width / 2 for p in positions],
        [float(rep.collected) for rep in data.reps],
        width,
        color=MONEY_COLOUR,
        label=t.gettext(N_("Collected")),
    )
    axes.set_xticks(positions, [rep.name for rep in data.reps], rotation=30, ha="right")
    for label in axes.get_xticklabels():
        label.set_fontproperties(cjk)
    axes.set_xlabel(t.gettext(N_("Sales rep")), fontproperties=cjk)
    axes.set_ylabel(t.gettext(N_("Visits")), fontproperties=cjk)
    money.set_ylabel(t.gettext(N_("Collected")), fontproperties=cjk)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(_number))
    money.yaxis.set_major_formatter(FuncFormatter(_number))
    _frame(
        axes, money, len(positions), [rep.visits for rep in data.reps], [rep.collected for rep in data.reps]
    )
    _legend(axes, [bars, money_bars], cjk)


# -- the service -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    png: bytes
    data: ChartData


async def build_chart(
    session: AsyncSession, caller: Caller | None, period: Period, zone: ZoneInfo, today: date
) -> Chart:
    """Gather the figures in ``session``, then draw them in a worker thread."""
    language = caller.language if caller else "en"
    data = await chart_data(session, caller, period, zone, today, Translator(language))
    return Chart(await asyncio.to_thread(render, data, language), data)
