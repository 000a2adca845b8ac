"""Scheduled jobs, with the clock under control: recipients, content, once only, quiet hours."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.services.calendar import next_allowed
from bot.services.company import CompanySettings
from jobs.runner import run_job
from models import DailyReport, JobRun, Outbox, Visit, VisitKind
from tests import factories
from tests.conftest import ZONE
from tests.harness import TOKEN, Harness

MONDAY = date(2026, 11, 23)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


async def pushes(harness: Harness, job: str) -> list[Outbox]:
    async with harness.db.reading() as session:
        return list(await session.scalars(select(Outbox).where(Outbox.job == job).order_by(Outbox.id)))


async def test_morning_plan_content_and_buttons(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    eight_days = now - timedelta(days=8)
    await factories.customer(harness.db, now, name="Never Visited Shop", rep=people.rep, code="N1")
    await factories.customer(
        harness.db,
        now,
        name="A Dealer <Müller & Söhne>",
        rep=people.rep,
        grade="A",
        code="A1",
        last_visit_at=eight_days,
    )
    await factories.customer(
        harness.db, now, name="D Dealer", rep=people.rep, grade="D", code="D1", last_visit_at=eight_days
    )
    followed = await factories.customer(
        harness.db,
        now,
        name="华东五金店",
        rep=people.rep,
        grade="C",
        code="F1",
        last_visit_at=now - timedelta(days=3),
    )
    async with harness.db.transaction() as session:
        session.add(
            Visit(
                rep_id=people.rep.id,
                customer_id=followed.id,
                visited_at=now - timedelta(days=3),
                kind=VisitKind.VISIT,
                notes="",
                next_follow_up=MONDAY,
                source_key="t:1",
                created_at=now,
                photo_file_ids=[],
            )
        )
    await factories.receivable(
        harness.db,
        now,
        customer=followed,
        amount="1200.50",
        issued_on=MONDAY - timedelta(days=40),
        due_on=MONDAY - timedelta(days=10),
    )
    outcome = await run_job(harness.db, "morning_plan", local(MONDAY, 8, 30).astimezone(ZONE), ZONE)
    assert outcome.ran and outcome.pushes == 2  # both joined reps
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    await harness.deliver_pushes()
    [plan] = harness.api.chat(2001)
    text = plan.plain_text()
    assert "Your plan for 2026-11-23" in text
    assert "Due for a visit: 2" in text
    assert "Never Visited Shop (N1) — never visited" in text
    assert "A Dealer <Müller & Söhne> (A1) — last visit 8 days ago" in text
    assert "D Dealer" not in text
    assert "Follow-ups for today: 华东五金店" in text
    assert "Overdue to chase: 1 invoice, 1,200.50" in text
    assert "report for 2026-11-21 is missing" in text  # Saturday: Sunday is a day off
    assert plan.button_texts() == [
        "Log visit: Never Visited Shop",
        "Log visit: A Dealer <Müller & Söhne>",
        "📝 File the report for 2026-11-21",
    ]
    assert next(row[0]["callback_data"] for row in plan.buttons()).startswith("visit:start:")
    other = harness.api.last(2002).plain_text()
    assert "No customer is due" in other and "Never Visited" not in other


async def test_each_job_runs_once_per_day_even_when_racing(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    at = local(MONDAY, 8, 30)
    outcomes = await asyncio.gather(*(run_job(harness.db, "morning_plan", at, ZONE) for _ in range(3)))
    assert sum(o.ran for o in outcomes) == 1
    again = await run_job(harness.db, "morning_plan", at + timedelta(hours=1), ZONE, again=True)
    assert again.ran and again.pushes == 0  # re-running queues nothing twice
    assert len(await pushes(harness, "morning_plan")) == 2
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(JobRun)) == 1


async def test_no_working_day_no_push(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    sunday = MONDAY - timedelta(days=1)
    outcome = await run_job(harness.db, "morning_plan", local(sunday, 8, 30), ZONE)
    assert not outcome.ran and outcome.reason == "not a working day"
    assert await pushes(harness, "morning_plan") == []


async def test_quiet_hours_hold_pushes_until_morning(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    late = local(MONDAY, 22, 0)
    harness.clock.set(late)
    await run_job(harness.db, "report_reminder", late, ZONE)
    rows = await pushes(harness, "report_reminder")
    assert rows and all(row.not_before == local(MONDAY + timedelta(days=1), 8, 0) for row in rows)
    assert (await harness.deliver_pushes()).sent == 0
    harness.clock.set(local(MONDAY + timedelta(days=1), 8, 0))
    assert (await harness.deliver_pushes()).sent == len(rows)


def test_next_allowed_skips_quiet_hours_days_off_and_holidays() -> None:
    settings = CompanySettings(holidays=frozenset({date(2026, 11, 24)}))
    assert next_allowed(local(MONDAY, 12, 0), settings, ZONE) == local(MONDAY, 12, 0)
    assert next_allowed(local(MONDAY, 3, 0), settings, ZONE) == local(MONDAY, 8, 0)
    # Monday 21:30 → Tuesday is a holiday → Wednesday 08:00.
    assert next_allowed(local(MONDAY, 21, 30), settings, ZONE) == local(date(2026, 11, 25), 8, 0)
    # Saturday evening → Sunday off → Monday 08:00.
    assert next_allowed(local(date(2026, 11, 21), 23, 0), settings, ZONE) == local(MONDAY, 8, 0)


async def test_report_reminder_and_the_digest_of_who_is_missing(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        session.add(
            DailyReport(
                rep_id=people.other_rep.id,
                day=MONDAY,
                summary="",
                problems="ok",
                submitted_at=now,
                source_key="t:r",
            )
        )
        factories.user(session, 2003, "Zoe North", people.rep.role, people.north, now)
    for user_id, name in ((2001, "Li"), (2002, "Bob"), (2003, "Zoe"), (5001, "Mia"), (7001, "Dee")):
        harness.api.add_user(user_id, name)
    harness.clock.set(local(MONDAY, 18, 0))
    await run_job(harness.db, "report_reminder", harness.clock.now(), ZONE)
    harness.clock.set(local(MONDAY, 19, 0))
    await run_job(harness.db, "report_digest", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    assert "report is not in yet" in harness.api.last(2001).plain_text()
    assert harness.api.last(2001).button_texts() == ["Write today's report"]
    assert harness.api.chat(2002) == []  # Bob reported
    manager = harness.api.last(5001).plain_text()
    assert "Not reported: Li Wei, Zoe North" in manager and "Bob" not in manager
    overview, south = (message.plain_text() for message in harness.api.chat(7001))
    assert "North: Reported: 0 of 2 · Not reported: Li Wei, Zoe North" in overview
    assert "📋 Daily reports · South" in south and "Bob South" in south  # South has no manager


async def test_jobs_command_line(
    harness: Harness,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    await factories.company(harness.db, harness.clock.now())
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIELDBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("FIELDBOT_TOKEN", TOKEN)
    monkeypatch.setenv("FIELDBOT_API_URL", harness.api.base_url)
    assert await asyncio.to_thread(main, ["jobs", "run", "morning_plan", "--at", "2026-11-23T08:30"]) == 0
    out = capsys.readouterr().out
    assert "2 new pushes queued" in out and "delivered 2" in out
    assert "Your plan for 2026-11-23" in harness.api.last(2001).plain_text()
    assert await asyncio.to_thread(main, ["jobs", "run", "morning_plan", "--at", "2026-11-23T09:00"]) == 0
    assert "0 new pushes queued" in capsys.readouterr().out
    assert len(harness.api.chat(2001)) == 1
    assert await asyncio.to_thread(main, ["jobs", "list"]) == 0
    listing = capsys.readouterr().out
    assert "morning_plan" in listing and "08:30" in listing and "2026-11-23 (2 pushes)" in listing
    assert "report_reminder" in listing and "never" in listing
    assert await asyncio.to_thread(main, ["jobs", "run", "no_such_job"]) == 2


async def test_push_buttons_open_the_flows(harness: Harness) -> None:
    """One tap from the morning plan starts the visit; one from the reminder opens the report."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="Never Visited Shop", rep=people.rep, code="N1")
    li = harness.person(2001, "Li")
    harness.api.add_user(2002, "Bob")
    await run_job(harness.db, "morning_plan", now, ZONE)
    await harness.deliver_pushes()
    opened = await li.press("Log visit: Never Visited Shop")
    assert "Never Visited Shop" in opened[-1].plain_text()
    assert "On-site visit" in opened[-1].button_texts()
    harness.clock.set(local(MONDAY, 18, 0))
    await run_job(harness.db, "report_reminder", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    draft = await li.press("Write today's report")
    assert any("2026-11-23" in message.plain_text() for message in draft)


async def test_pushes_follow_the_telegram_language_of_imported_people(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        factories.user(session, 2009, "王芳", people.rep.role, people.north, now, joined=False, language=None)
    wang = harness.person(2009, "芳", language_code="zh-hans")
    await wang.send("/help")  # first contact: the bot learns the language of their phone
    harness.api.add_user(2001, "Li")
    harness.api.add_user(2002, "Bob")
    await run_job(harness.db, "morning_plan", now, ZONE)
    await harness.deliver_pushes()
    assert "早上好，王芳" in wang.last.plain_text()
