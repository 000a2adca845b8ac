"""Issue 22, "wrong answers" a new user met: each through the fake Bot API, in English and Chinese."""

from __future__ import annotations

import asyncio
import html
import io
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bot.cli import main as cli_main
from bot.clock import FixedClock
from bot.db import Database
from bot.i18n import Translator
from bot.services import company
from bot.services.reporting import charts
from jobs.catalogue import JOBS, JobSpec
from jobs.overdue_followup import overdue_followup
from jobs.runner import run_job
from models import Collection, Customer, Invite, JobRun, Role, Team, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_jobs import MONDAY, local


def overdue_by(days: int) -> dict[str, date]:
    return {"issued_on": MONDAY - timedelta(days=days + 30), "due_on": MONDAY - timedelta(days=days)}


async def speak(harness: Harness, language: str, *users: User) -> None:
    async with harness.db.transaction() as session:
        await session.execute(
            update(User).where(User.id.in_([u.id for u in users])).values(language=language)
        )


async def owing_shop(harness: Harness, people: factories.Company) -> Customer:
    """Li's customer Shop East, owing 2,000.00: a collection settles it (more would be credit)."""
    shop = await factories.customer(harness.db, harness.clock.now(), name="Shop East", rep=people.rep)
    await factories.receivable(
        harness.db, harness.clock.now(), customer=shop, amount="2000.00", **overdue_by(3)
    )
    return shop


# -- follow-up pushes ------------------------------------------------------------------------------

FOLLOWUP_WORDS = {
    "en": {
        "rep": [
            "Level 4 — 45 days or more overdue: the sales director is informed.",
            "Level 3 — 20 days or more overdue: your manager is informed.",
            "Level 2 — 10 days or more overdue: ask firmly for a payment date.",
            "• L3 · Shop East · 100.00 · 20 days overdue",
        ],
        "manager": [
            "Level 4 — 45 days or more overdue: the sales director is informed too; agree a payment "
            "plan with the rep.",
            "Level 3 — 20 days or more overdue: the rep is chasing it; see that a payment date is agreed.",
        ],
        "director": [
            "Receivables 45 days or more overdue",
            "Level 4 — 45 days or more overdue: the rep and their manager are chasing it.",
        ],
        "nobody": ["over 15", "over 30", "over 60", "newly overdue"],
        "not for managers": "your manager is informed",
        "not for the director": "the sales director is informed",
    },
    "zh": {
        "rep": [
            "第 4 级——逾期 45 天及以上：已通知销售总监。",
            "第 3 级——逾期 20 天及以上：已通知你的主管。",
            "第 2 级——逾期 10 天及以上：请坚决要求客户给出付款日期。",
            "• L3 · Shop East · 100.00 · 逾期 20 天",
        ],
        "manager": [
            "第 4 级——逾期 45 天及以上：销售总监也已知悉；请与销售员商定还款计划。",
            "第 3 级——逾期 20 天及以上：销售员正在催收；请督促其与客户商定付款日期。",
        ],
        "director": ["逾期 45 天及以上的应收账款", "第 4 级——逾期 45 天及以上：销售员及其主管正在催收。"],
        "nobody": ["超过 15", "超过 30", "超过 60", "刚逾期"],
        "not for managers": "已通知你的主管",
        "not for the director": "已通知销售总监",
    },
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_followup_levels_are_worded_for_each_reader_and_follow_the_days_set(
    harness: Harness, language: str
) -> None:
    """Level 3 reached at exactly its threshold (20 days, set by /settings followup) reads "20 days or
    more", not "over 30 days"; the manager and the director each read what the level means for them."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    admin = await harness.admin()
    assert "10 / 20 / 45" in await admin.says("/settings followup 1 10 20 45")
    await speak(harness, language, people.rep, people.manager, people.director)
    shop = await factories.customer(harness.db, now, name="Shop East", rep=people.rep)
    for name, days in (("L2", 10), ("L3", 20), ("L4", 45)):
        await factories.receivable(
            harness.db, now, customer=shop, amount="100.00", invoice_no=name, **overdue_by(days)
        )
    for user_id in (2001, 5001, 7001):
        harness.api.add_user(user_id, "x")
    await run_job(harness.db, "overdue_followup", local(MONDAY, 9, 0), ZONE)
    await harness.deliver_pushes()
    words = FOLLOWUP_WORDS[language]
    rep, manager, director = (harness.api.last(who).plain_text() for who in (2001, 5001, 7001))
    for expected in words["rep"]:
        assert expected in rep, rep
    for expected in words["manager"]:
        assert expected in manager, manager
    for expected in words["director"]:
        assert expected in director, director
    assert words["not for managers"] not in manager
    assert words["not for the director"] not in director
    for text in (rep, manager, director):
        assert not any(stale in text for stale in words["nobody"]), text


# -- /team's last activity -------------------------------------------------------------------------


async def collection_id(harness: Harness) -> int:
    async with harness.db.reading() as session:
        found = await session.scalar(select(Collection.id).where(Collection.reverses_id.is_(None)))
    assert found is not None
    return found


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_team_shows_a_reps_own_last_action_not_a_managers_reversal_of_it(
    harness: Harness, language: str
) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await owing_shop(harness, people)
    await speak(harness, language, people.manager)
    li, mia = harness.person(2001, "Li"), harness.person(5001, "Mia")
    assert "Shop East" in await li.says("/collect Shop East: 500 transfer")  # 09:00
    harness.clock.advance(timedelta(hours=2, minutes=30))
    await mia.says(f"/reverse {await collection_id(harness)} wrong customer")
    await mia.press("确认" if language == "zh" else "Confirm")
    async with harness.db.reading() as session:
        reversal = await session.scalar(select(Collection).where(Collection.reverses_id.is_not(None)))
    assert reversal is not None and reversal.recorded_by == people.manager.id  # 11:30, by Mia
    line = next(line for line in (await mia.says("/team")).splitlines() if "Li Wei" in line)
    assert line.endswith(" 09:00"), line  # Li's own collection, not Mia's reversal at 11:30


# -- /invite into a team there is not --------------------------------------------------------------

INVITE_WORDS = {
    "en": {
        "asked": "There is no team Eastt. Invite into one of these teams, or create Eastt:",
        "create": "➕ Create team Eastt",
        "into North": "Invite for a sales rep in team North:",
        "created": "New team Eastt created.",
        "refused": "does not allow",
    },
    "zh": {
        "asked": "没有名为 Eastt 的团队。请选择下面的一个团队，或新建团队 Eastt：",
        "create": "➕ 新建团队 Eastt",
        "into North": "North",
        "created": Translator("zh")("New team {team} created.", team="Eastt"),
        "refused": Translator("zh")("Your role does not allow this."),
    },
}


async def invite_rows(harness: Harness) -> list[tuple[str, str | None]]:
    async with harness.db.reading() as session:
        rows = await session.execute(
            select(Invite.role, Team.name).outerjoin(Team, Team.id == Invite.team_id).order_by(Invite.id)
        )
        return [(role.value, team) for role, team in rows]


async def team_names(harness: Harness) -> set[str]:
    async with harness.db.reading() as session:
        return set(await session.scalars(select(Team.name)))


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_an_unknown_team_is_asked_about_with_the_teams_as_buttons(
    harness: Harness, language: str
) -> None:
    await factories.company(harness.db, harness.clock.now())
    ada = await harness.admin()
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 1001).values(language=language))
    words = INVITE_WORDS[language]

    [asked] = await ada.send("/invite rep Eastt")
    assert words["asked"] in asked.plain_text()
    *teams, create_team = asked.button_texts()
    assert sorted(teams) == ["North", "South"] and create_team == words["create"]
    assert await team_names(harness) == {"North", "South"} and await invite_rows(harness) == []
    create = next(b["callback_data"] for row in asked.buttons() for b in row if b["text"] == words["create"])

    [made] = await ada.press("North", message_id=asked.message_id)
    assert made.message_id == asked.message_id and made.button_texts() == []
    assert words["into North"] in made.plain_text() and "start=" in made.plain_text()
    assert await invite_rows(harness) == [("rep", "North")]
    # The same question's other button, pressed late (a second tap, another device): no second invite
    await harness.settle(harness.api.callback(1001, asked.message_id, create))
    assert await invite_rows(harness) == [("rep", "North")] and "Eastt" not in await team_names(harness)

    [asked_again] = await ada.send("/invite rep Eastt")
    [made] = await ada.press(words["create"], message_id=asked_again.message_id)
    assert words["created"] in made.plain_text() and "start=" in made.plain_text()
    assert await invite_rows(harness) == [("rep", "North"), ("rep", "Eastt")]

    # Re-authorised on press: Ada is no admin any more when she answers the question
    [question] = await ada.send("/invite rep Westt")
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 1001).values(role=Role.REP))
    refused = await ada.press("South", message_id=question.message_id)
    assert len(await invite_rows(harness)) == 2
    assert words["refused"] in "\n".join(m.plain_text() for m in refused), refused


# -- the export's caption --------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_exports_caption_counts_what_stands_not_the_rows_undone(
    harness: Harness, language: str
) -> None:
    """Three collections (one undone, one reversed) and two orders (one undone): the sheets list 5 and 2
    rows, the caption counts 1 and 1, as the Summary sheet does."""
    people = await factories.company(harness.db, harness.clock.now())
    await owing_shop(harness, people)
    await speak(harness, language, people.manager)
    li, mia = harness.person(2001, "Li"), harness.person(5001, "Mia")
    said = {
        amount: (await li.send(f"/collect Shop East: {amount} transfer"))[-1] for amount in (100, 200, 300)
    }
    await li.press("Undo", message_id=said[200].message_id)
    async with harness.db.reading() as session:
        third = await session.scalar(select(Collection.id).where(Collection.amount == Decimal("300.00")))
    await mia.says(f"/reverse {third} wrong customer")
    await mia.press("确认" if language == "zh" else "Confirm")
    await li.send("/order Shop East: 100")
    undone_order = (await li.send("/order Shop East: 150"))[-1]
    await li.press("Undo", message_id=undone_order.message_id)

    await mia.send("/export today")
    document = harness.api.last(5001)
    assert document.kind == "document"
    summary = load_workbook(io.BytesIO(document.file_bytes or b"")).worksheets[0]  # Summary, 汇总
    figures = {row[0]: row[1] for row in summary.iter_rows(values_only=True)}
    t = Translator(language)
    assert figures[t.gettext("Orders")] == 1
    expected = "订单：1 · 收款：1" if language == "zh" else "orders: 1 · collections: 1"
    assert expected in document.plain_text(), document.plain_text()


# -- imports report every problem of every line ----------------------------------------------------


def problem(t: Translator, line: int, reason: str, **params: str) -> str:
    """A line of an import's report, as the user reads it (plain text)."""
    return f"{t.gettext('line {line}:').format(line=line)} {t.gettext(reason).format(**params)}"


async def send_file(harness: Harness, telegram_id: int, name: str, text: str) -> str:
    await harness.settle(harness.api.message(telegram_id, None, document=(name, text.encode(), "text/csv")))
    return harness.api.last(telegram_id).plain_text()


NOT_AN_AMOUNT = "{text} is not an amount. Write it like 5000, 5,000.50, ¥5000, 1.5万 or 5k."
LESS_THAN_COLLECTED = "amount {amount} is less than the {collected} already collected on invoice {invoice}"


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_customer_file_is_answered_with_every_problem_of_every_line(
    harness: Harness, language: str
) -> None:
    """A line with a bad cell is still checked against the database: its unknown rep is reported too."""
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 1001).values(language=language))
    said = await send_file(
        harness,
        1001,
        "customers.csv",
        "code,name,grade,rep,latitude,longitude,credit_limit\n"
        "B1,Shop,E,9999,91,10,abc\n"
        "B2,,A,@nobody_here,,,\n"
        "B3,Fine Shop,A,2001,,,\n",
    )
    t = Translator(language)
    expected = [
        problem(t, 2, "grade {value} is not one of A, B, C, D", value="E"),
        problem(
            t,
            2,
            "{column} {value} is not a number between -{bound} and {bound}",
            column="latitude",
            value="91",
            bound="90",
        ),
        problem(t, 2, NOT_AN_AMOUNT, text="abc"),
        problem(t, 2, "rep {value} is not a registered user", value="9999"),
        problem(t, 3, "name must have 1 to {limit} characters", limit="200"),
        problem(t, 3, "rep {value} is not a registered user", value="@nobody_here"),
    ]
    for line in expected:
        assert line in said, said
    assert t.gettext("line {line}:").format(line=4) not in said  # the good line
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_receivables_file_is_answered_with_every_problem_of_every_line(
    harness: Harness, language: str
) -> None:
    """A line with a bad date is still checked against what was collected on its invoice."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    shop = await factories.customer(harness.db, now, name="Shop East", rep=people.rep, code="SE1")
    invoice = await factories.receivable(
        harness.db, now, customer=shop, amount="800.00", invoice_no="INV-1", **overdue_by(5)
    )
    await factories.payment(harness.db, now, receivable=invoice, amount="500.00", rep=people.rep)
    await speak(harness, language, people.finance)
    harness.person(6001, "Fay")
    said = await send_file(
        harness, 6001, "invoices.csv", "invoice_no,customer_code,amount,issued_on\nINV-1,SE1,100,someday\n"
    )
    t = Translator(language)
    expected = [
        problem(t, 2, "issued_on {value} is not a date: write it like 2026-11-01", value="someday"),
        problem(t, 2, LESS_THAN_COLLECTED, amount="100.00", collected="500.00", invoice="INV-1"),
    ]
    for line in expected:
        assert line in said, said


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_people_file_is_answered_with_every_problem_of_every_line(
    harness: Harness, language: str
) -> None:
    """A line with a bad cell still has its repeated Telegram id reported, and the commands' rules
    (an admin cannot deactivate themselves) are checked on the good lines in the same round."""
    await factories.company(harness.db, harness.clock.now())
    await harness.admin()
    async with harness.db.transaction() as session:
        await session.execute(update(User).where(User.telegram_id == 1001).values(language=language))
    said = await send_file(
        harness,
        1001,
        "people.csv",
        "telegram_id,name,role,team,username,active\n"
        "3001,Zoe,rep,North,bad name!,\n"
        "3001,Zoe Again,rep,North,also bad!,\n"
        "1001,Ada Admin,admin,,,no\n",
    )
    t = Translator(language)
    expected = [
        problem(t, 2, "username {value} is not a Telegram username", value="bad name!"),
        problem(t, 3, "username {value} is not a Telegram username", value="also bad!"),
        problem(t, 3, "telegram_id {id} already appears on line {other}", id="3001", other="2"),
        problem(t, 4, "You cannot deactivate yourself."),
    ]
    for line in expected:
        assert line in said, said
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 6  # nothing written
        assert await session.scalar(select(User.active).where(User.telegram_id == 1001))


# -- a rep's own /summary ----------------------------------------------------------------------------

SUMMARY_WORDS = {
    "en": ["Still held by you: 500.00", "Your requests waiting for approval: 1"],
    "zh": ["你手中未上交：500.00", "你等待审批的申请：1"],
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_reps_own_summary_is_worded_for_the_rep(harness: Harness, language: str) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await owing_shop(harness, people)
    await speak(harness, language, people.rep, people.manager)
    li, mia = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await li.says("/collect Shop East: 500 cash")
    await li.says("/discount Shop East: 5% big order")
    t = Translator(language)
    managers_words = [
        t("Still held by reps: {amount}", amount="500.00"),
        t("Pending approvals: {count}", count=1),
    ]
    mine = await li.says("/summary")
    for expected in SUMMARY_WORDS[language]:
        assert expected in mine, mine
    for words in managers_words:
        assert words not in mine, mine
    team = await mia.says("/summary")
    for expected in managers_words:
        assert expected in team, team


# -- /chart ------------------------------------------------------------------------------------------


def inside(inner: Bbox, outer: Bbox, margin: float = 4.0) -> bool:
    """``inner`` lies within ``outer`` with ``margin`` pixels to spare on the top, left and right."""
    return inner.x0 >= outer.x0 + margin and inner.x1 <= outer.x1 - margin and inner.y1 <= outer.y1 - margin


def check_clear_of_the_frame(figure: Figure) -> None:
    """Every bar and point keeps clear of its panel's frame, and no legend covers one."""
    FigureCanvasAgg(figure).draw()
    marks: list[Bbox] = []
    for axes in figure.axes:
        frame = axes.get_window_extent()
        bars = [
            patch.get_window_extent()
            for patch in axes.patches
            if isinstance(patch, Rectangle) and patch.get_height() > 0
        ]
        points = [
            Bbox.from_bounds(x, y, 0, 0)
            for line in axes.lines
            for x, y in axes.transData.transform(line.get_xydata())
        ]
        for mark in bars + points:
            assert inside(mark, frame), (mark, frame)
        marks += bars
    legends = [legend.get_window_extent() for axes in figure.axes if (legend := axes.get_legend())]
    assert legends and not any(legend.overlaps(mark) for legend in legends for mark in marks)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_chart_draws_this_month_with_title_and_axes_in_the_readers_language(
    harness: Harness, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    await owing_shop(harness, people)
    await speak(harness, language, people.manager)
    li, mia = harness.person(2001, "Li"), harness.person(5001, "Mia")
    await li.says("/visit Shop East: shelf full")
    await li.says("/collect Shop East: 500 transfer")
    drawn: list[Figure] = []
    draw = charts.draw

    def spy(data: charts.ChartData, chart_language: str) -> Figure:
        drawn.append(draw(data, chart_language))
        return drawn[-1]

    monkeypatch.setattr(charts, "draw", spy)
    await mia.send("/chart")
    photo = harness.api.last(5001)
    assert photo.kind == "photo"
    t = Translator(language)
    month = html.unescape(t("This month, {start} – {end}", start="2026-11-01", end="2026-11-23"))
    assert month in photo.plain_text()  # not just today: one day is one bar
    [figure] = drawn
    texts = {text.get_text() for text in figure.findobj(Text) if text.get_visible()}
    scope = t.gettext("Team {team}").format(team="North")
    title = f"{t.gettext('Visits and money collected')}\n{month} · {scope}"
    assert title in texts, texts
    top, bottom, money, _money_per_rep = figure.axes  # the panels, then their money axes
    assert (top.get_xlabel(), top.get_ylabel()) == (t.gettext("Day"), t.gettext("Visits"))
    assert (bottom.get_xlabel(), bottom.get_ylabel()) == (t.gettext("Sales rep"), t.gettext("Visits"))
    assert money.get_ylabel() == t.gettext("Collected")
    check_clear_of_the_frame(figure)


# -- fieldbot jobs list ------------------------------------------------------------------------------


async def test_jobs_list_aligns_its_columns_whatever_their_width(
    db: Database,
    database_url: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A job named longer than the old fixed 20 columns, days longer than 13, a run of one push."""
    long = JobSpec(
        "quarterly_receivables_review",
        overdue_followup,
        False,
        "a long-named job",
        time(23, 0),
        month_days=(1, 11, 21, 28),
    )
    monkeypatch.setitem(JOBS, long.name, long)
    monkeypatch.setitem(company.DEFAULT_JOB_TIMES, long.name, time(7, 5))
    async with db.transaction() as session:
        session.add(JobRun(job="morning_plan", ran_for="2026-11-23", started_at=clock.now(), pushes=1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    assert await asyncio.to_thread(cli_main, ["jobs", "list"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    columns = [header.index(title) for title in ("at", "days", "last run")]
    rows = {line.split()[0]: line for line in lines}
    assert set(rows) == set(JOBS)
    for name, line in rows.items():
        spec = JOBS[name]
        assert line[columns[0] :].startswith(f"{company.DEFAULT_JOB_TIMES[name]:%H:%M}  "), line
        assert line[columns[1] :].startswith(spec.days), line
        assert line[columns[1] - 2 : columns[1]] == "  " and line[columns[2] - 2 : columns[2]] == "  ", line
    assert rows["morning_plan"][columns[2] :] == "2026-11-23 (1 push)"
    assert rows[long.name][columns[2] :] == "never"
