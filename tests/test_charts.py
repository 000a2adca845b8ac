"""/chart: the figures behind the picture, local days in SQL, the PNG and its CJK font."""

from __future__ import annotations

import io
import logging
import threading
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import metadata
from zoneinfo import ZoneInfo

import matplotlib
import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from sqlalchemy import select

from bot.db import Database
from bot.i18n import Translator
from bot.services.reporting import charts
from bot.services.reporting.charts import ChartData, RepFigures
from bot.services.reporting.periods import parse_period
from models import Customer, Team, User, Visit, VisitKind
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_exports import (
    COLLECTIONS,
    REPS,
    TODAY,
    VISITS,
    World,
    populate,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def world(db: Database) -> World:
    return await populate(db)


def november_days() -> list[date]:
    return [date(2026, 11, 1) + timedelta(days=n) for n in range(TODAY.day)]


def expected_daily(team: str) -> tuple[list[int], list[Decimal]]:
    """Visits and money kept per local day of November up to today, from the specs."""

    def mine(rep: str) -> bool:
        return REPS[rep][2] == team

    reversed_keys = {c.reverses for c in COLLECTIONS if c.reverses}
    visits = [sum(1 for v in VISITS if mine(v[0]) and v[2].date() == day) for day in november_days()]
    money = [
        sum(
            (
                Decimal(c.amount)
                for c in COLLECTIONS
                if mine(c.rep)
                and c.received.date() == day
                and c.reverses is None
                and c.key not in reversed_keys
            ),
            Decimal(0),
        )
        for day in november_days()
    ]
    return visits, money


def glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def chinese_data() -> ChartData:
    return ChartData(
        "本月 · 华东团队",
        [date(2026, 11, 1), date(2026, 11, 2)],
        [3, 1],
        [Decimal("1200.00"), Decimal("0.00")],
        [RepFigures("王芳", 3, Decimal("1200.00")), RepFigures("李伟", 1, Decimal("0.00"))],
        2,
    )


async def test_the_managers_figures_per_day_and_per_rep(world: World) -> None:
    async with world.db.reading() as session:
        data = await charts.chart_data(
            session,
            world.caller(world.company.manager),
            parse_period("2026-11", TODAY),
            ZONE,
            TODAY,
            Translator("en"),
        )
    visits, money = expected_daily("North")
    assert data.days == november_days()  # the month so far, not its future days
    assert data.visits == visits and data.collected == money
    assert data.title == "Month 2026-11 · Team North"
    li = [v for v in VISITS if v[0] == "li" and v[2].month == 11]
    li_kept = [c for c in COLLECTIONS if c.rep == "li" and c.received.month == 11]
    wang = [v for v in VISITS if v[0] == "wang" and v[2].month == 11]
    wang_kept = [c for c in COLLECTIONS if c.rep == "wang" and c.received.month == 11]
    assert data.reps == sorted(
        [
            RepFigures("Li Wei", len(li), sum((Decimal(c.amount) for c in li_kept), Decimal(0))),
            RepFigures("王芳", len(wang), sum((Decimal(c.amount) for c in wang_kept), Decimal(0))),
        ],
        key=lambda rep: (-rep.visits, -rep.collected, rep.name),
    )
    assert data.reps_in_scope == 2


async def test_a_reversed_collection_is_not_charted(world: World) -> None:
    async with world.db.reading() as session:
        data = await charts.chart_data(
            session,
            world.caller(world.company.director),
            parse_period("2026-11-19", TODAY),
            ZONE,
            TODAY,
            Translator("en"),
        )
    assert data.collected == [Decimal("0.00")]  # c5 and its reversal c6, both on the 19th
    assert {c.rep for c in COLLECTIONS if c.received.date() == date(2026, 11, 19)} == {"bob"}
    bob = next(rep for rep in data.reps if rep.name == "Bob South")
    assert bob.collected == Decimal("0.00")


async def test_idle_reps_of_the_scope_are_shown_and_the_top_ones_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world.db.reading() as session:
        data = await charts.chart_data(
            session,
            world.caller(world.company.director),
            parse_period("2026-11-22", TODAY),
            ZONE,
            TODAY,
            Translator("en"),
        )
    assert [rep.name for rep in data.reps] == ["王芳", "Bob South", "Li Wei", "Sam South"]
    assert data.reps[0] == RepFigures("王芳", 2, Decimal("80.00"))
    monkeypatch.setattr(charts, "TOP_REPS", 1)
    async with world.db.reading() as session:
        data = await charts.chart_data(
            session,
            world.caller(world.company.director),
            parse_period("2026-11-22", TODAY),
            ZONE,
            TODAY,
            Translator("en"),
        )
    assert [rep.name for rep in data.reps] == ["王芳"] and data.reps_in_scope == 4


def test_offset_changes_find_the_daylight_saving_switch_to_the_minute() -> None:
    start = datetime(2026, 10, 24, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2026, 10, 27, tzinfo=BERLIN).astimezone(UTC)
    switch = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 03:00 summer time becomes 02:00
    assert charts.offset_changes(BERLIN, start, end) == [(start, 120), (switch, 60)]
    assert charts.offset_changes(ZONE, start, end) == [(start, 480)]


async def test_local_days_in_sql_follow_daylight_saving(world: World) -> None:
    """Around the end of summer time in Berlin a fixed offset would put a visit on the wrong day."""
    instants = [
        datetime(2026, 10, 23, 22, 30),
        datetime(2026, 10, 24, 22, 30),  # 00:30 CEST, 24th / 25th
        datetime(2026, 10, 25, 22, 30),  # 23:30 CET on the 25th (a +2 h shift says the 26th)
        datetime(2026, 10, 25, 23, 30),
    ]  # 00:30 CET on the 26th
    async with world.db.transaction() as session:
        customer = await session.scalar(select(Customer.id).where(Customer.code == "N1"))
        for number, instant in enumerate(instants):
            at = instant.replace(tzinfo=UTC)
            session.add(
                Visit(
                    rep_id=world.reps["li"].id,
                    customer_id=customer,
                    visited_at=at,
                    kind=VisitKind.CALL,
                    source_key=f"dst{number}",
                    created_at=at,
                )
            )
    async with world.db.reading() as session:
        data = await charts.chart_data(
            session,
            world.caller(world.company.director),
            parse_period("2026-10-24..2026-10-26", TODAY),
            BERLIN,
            TODAY,
            Translator("en"),
        )
    assert data.days == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    assert data.visits == [1, 2, 1]


def test_chinese_draws_without_missing_glyphs() -> None:
    """Whatever the machine: a system CJK font when one is installed, else the packaged one."""
    assert charts.cjk_font_name() in (*charts.CJK_FONTS, "Noto Sans SC")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.render(chinese_data(), "zh")
    assert not glyph_warnings(caught)
    assert png.startswith(PNG_SIGNATURE)


def test_without_a_system_cjk_font_the_packaged_one_draws_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with no CJK font (a plain pip install, no apt): the dependency's Noto Sans SC is used."""
    import pylopdf_fonts_zh_cn

    monkeypatch.setattr(charts, "CJK_FONTS", ("No Such Font",))  # as if no system font were installed
    name = charts.cjk_font_name.__wrapped__()  # the uncached search
    assert name == "Noto Sans SC"
    packaged = pylopdf_fonts_zh_cn.sans_path()
    assert font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False) == str(
        packaged
    )
    licence = next(
        file for file in metadata.distribution(charts.PACKAGED_CJK_FONT).files or [] if file.name == "LICENSE"
    )
    assert "SIL Open Font License" in licence.read_text()  # installed with its licence
    monkeypatch.setattr(charts, "cjk_font_name", lambda: name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.render(chinese_data(), "zh")
    assert not glyph_warnings(caught)
    assert png.startswith(PNG_SIGNATURE)


def test_a_system_cjk_font_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed font of CJK_FONTS wins over the packaged one (here: any installed family)."""
    installed = font_manager.fontManager.ttflist[0].name
    monkeypatch.setattr(charts, "CJK_FONTS", ("No Such Font", installed))
    packaged: list[bool] = []
    monkeypatch.setattr(charts, "packaged_cjk_font", lambda: packaged.append(True))
    assert charts.cjk_font_name.__wrapped__() == installed
    assert not packaged


def test_without_the_cjk_font_the_check_would_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """The glyph check above can fail: drawn without the CJK font, Chinese is missing."""
    monkeypatch.setattr(charts, "cjk_font_name", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.render(chinese_data(), "zh")
    assert glyph_warnings(caught)
    assert png.startswith(PNG_SIGNATURE)  # still drawn


def test_no_cjk_font_is_logged(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Neither a system font nor the package (an environment not reinstalled): said once, clearly."""
    monkeypatch.setattr(charts, "CJK_FONTS", ("No Such Font",))
    monkeypatch.setattr(charts, "packaged_cjk_font", lambda: None)
    find = charts.cjk_font_name.__wrapped__  # the uncached search
    with caplog.at_level(logging.WARNING, logger="bot.services.reporting.charts"):
        assert find() is None
    assert [r.message for r in caplog.records if "no CJK font" in r.message]


#: Names matplotlib reads as mathtext (and fails to parse) or as TeX: each is drawn as written.
HOSTILE_REPS = {"li": "Li $x^$", "wang": r"王芳 \frac{1}{ $\alpha$", "bob": "$$", "sam": r"Sam_1^2 \$5 {}"}
HOSTILE_TEAM = "$$"


async def give_hostile_names(world: World) -> None:
    async with world.db.transaction() as session:
        (await session.get_one(Team, world.company.north.id)).name = HOSTILE_TEAM
        for key, name in HOSTILE_REPS.items():
            (await session.get_one(User, world.reps[key].id)).name = name


def literal_texts(figure: Figure) -> set[str]:
    """The lines of the texts of a drawn figure that matplotlib draws as written (neither mathtext
    nor TeX); the title is two lines: what is drawn, then the period and the scope."""
    return {
        line
        for text in figure.findobj(Text)
        if text.get_visible() and not text.get_parse_math() and not text.get_usetex()
        for line in text.get_text().split("\n")
    }


def test_names_are_plain_text_even_with_tex_configured() -> None:
    """Even with ``text.usetex`` set (here without any TeX installed) names are drawn as they are."""
    data = ChartData(
        "Today · Team $$",
        [date(2026, 11, 23)],
        [1],
        [Decimal("5.00")],
        [RepFigures(name, 1, Decimal("5.00")) for name in HOSTILE_REPS.values()],
        4,
    )
    with matplotlib.rc_context({"text.usetex": True}):
        figure = charts.draw(data, "en")
        figure.savefig(io.BytesIO(), format="png")
    names = {"Today · Team $$", *HOSTILE_REPS.values()}
    assert names <= literal_texts(figure)
    drawn = {
        line for text in figure.findobj(Text) if text.get_visible() for line in text.get_text().split("\n")
    }
    assert not {text for text in drawn - names if "$" in text or "\\" in text}  # the numbers too


def test_an_empty_scope_still_draws() -> None:
    empty = ChartData("Today · Team East", [date(2026, 11, 23)], [0], [Decimal("0.00")], [], 0)
    png = charts.render(empty, "en")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (1100, 850)


async def test_drawing_happens_off_the_event_loop(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    draw = charts.render

    def spy(data: ChartData, language: str) -> bytes:
        threads.append(threading.current_thread().name)
        return draw(data, language)

    monkeypatch.setattr(charts, "render", spy)
    async with world.db.reading() as session:
        chart = await charts.build_chart(
            session, world.caller(world.company.director), parse_period("week", TODAY), ZONE, TODAY
        )
    assert chart.png.startswith(PNG_SIGNATURE)
    assert threads and threads[0] != threading.main_thread().name


# -- through Telegram -------------------------------------------------------------------------------


async def test_chart_command_sends_a_png(harness: Harness, world: World) -> None:
    manager = harness.person(5001, "Mia")
    await manager.send("/chart 2026-11")
    photo = harness.api.last(5001)
    assert photo.kind == "photo" and photo.file_bytes is not None
    assert photo.file_bytes.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(photo.file_bytes)) as image:
        image.load()
        assert image.size == (1100, 850)
    visits, money = expected_daily("North")
    caption = photo.plain_text()
    assert "Month 2026-11 · Team North" in caption
    assert f"Visits: {sum(visits)} · collected: {sum(money, Decimal(0)):,.2f}" in caption


async def test_chart_with_dollars_and_backslashes_in_names(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$…$`` in a name was read as mathtext: ``Li $x^$`` failed /chart for the team and the company."""
    await give_hostile_names(world)
    figures: list[Figure] = []
    draw = charts.draw

    def spy(data: ChartData, language: str) -> Figure:
        figures.append(draw(data, language))
        return figures[-1]

    monkeypatch.setattr(charts, "draw", spy)
    for telegram_id, name, scope in ((5001, "Mia", "Team $$"), (7001, "Dee", "All teams")):
        await harness.person(telegram_id, name).send("/chart 2026-11")
        photo = harness.api.last(telegram_id)
        assert photo.kind == "photo" and (photo.file_bytes or b"").startswith(PNG_SIGNATURE)
        assert f"Month 2026-11 · {scope}" in photo.plain_text()
    team, company = (literal_texts(figure) for figure in figures)
    assert {"Month 2026-11 · Team $$", HOSTILE_REPS["li"], HOSTILE_REPS["wang"]} <= team
    assert {"Month 2026-11 · All teams", *HOSTILE_REPS.values()} <= company


async def test_chart_in_chinese(harness: Harness, world: World) -> None:
    director = harness.person(7001, "Dee", language_code="zh-hans")
    async with world.db.transaction() as session:
        user = await session.get_one(User, world.company.director.id)
        user.language = "zh"
    await director.send("/chart week")
    photo = harness.api.last(7001)
    assert photo.kind == "photo" and (photo.file_bytes or b"").startswith(PNG_SIGNATURE)
    assert Translator("zh").gettext("All teams") in photo.plain_text()


async def test_a_rep_may_not_chart_and_a_bad_period_is_explained(harness: Harness, world: World) -> None:
    rep = harness.person(2001, "Li")
    assert await rep.says("/chart") == "Your role does not allow this."
    manager = harness.person(5001, "Mia")
    assert "I don't understand the period next year" in await manager.says("/chart next year")
    assert all(message.kind == "text" for message in harness.api.chat(2001) + harness.api.chat(5001))
