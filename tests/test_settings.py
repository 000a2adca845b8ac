"""/mute pauses a person's pushes; /settings changes the company's schedule and policy."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.services.company import CompanySettings, change
from jobs.runner import run_job
from models import AuditLog, GradePolicy, User
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness
from tests.test_jobs import MONDAY, local


async def test_mute_holds_pushes_until_it_ends(harness: Harness) -> None:
    people = await factories.company(harness.db, harness.clock.now())
    li = harness.person(2001, "Li")
    harness.api.add_user(2002, "Bob")
    assert "paused until 2026-11-23 11:00" in await li.says("/mute 2h")
    await run_job(harness.db, "morning_plan", harness.clock.now(), ZONE)
    await harness.deliver_pushes()
    assert len(li.chat) == 1  # only the /mute reply: the plan waits
    assert len(harness.api.chat(2002)) == 1  # Bob is not muted
    harness.clock.advance(timedelta(hours=2))
    await harness.deliver_pushes()
    assert "Your plan for" in li.last.plain_text()
    assert "until 2026-11-24 00:00" in await li.says("/mute today")
    assert "on again" in await li.says("/mute off")
    assert "Usage" in await li.says("/mute forever")
    async with harness.db.reading() as session:
        assert (await session.get_one(User, people.rep.id)).muted_until is None


async def test_admin_changes_settings_and_jobs_follow(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    shown = await admin.says("/settings")
    assert "• Morning plan (morning_plan): 08:30" in shown and "Quiet hours: 21:00–08:00" in shown
    assert "Saved." in await admin.says("/settings holiday add 2026-11-24")
    assert "Holidays: 2026-11-24" in admin.last.plain_text()
    tuesday = local(MONDAY + timedelta(days=1), 8, 30)
    assert not (await run_job(harness.db, "morning_plan", tuesday, ZONE)).ran
    assert "Saved." in await admin.says("/settings visits A 10")  # the older form still works
    assert "• A: visit every 10 days · credit term 60 days" in admin.last.plain_text()
    said = await admin.says("/settings time morning_plan 07:45")
    assert "Saved." in said and "(morning_plan): 07:45" in said
    assert "⚠️ Morning plan at 07:45 is inside quiet hours (21:00–08:00): its pushes wait until 08:00." in said
    assert "not a time" in await admin.says("/settings time morning_plan 7:99")
    assert "don't know that setting" in await admin.says("/settings colour blue")
    async with harness.db.reading() as session:
        assert (await session.get_one(GradePolicy, "A")).visit_every_days == 10
        audits = list(await session.scalars(select(AuditLog).where(AuditLog.action == "setting")))
    assert len(audits) == 3


async def test_only_admins_change_settings(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    manager = harness.person(5001, "Mia")
    assert "does not allow" in await manager.says("/settings quiet 22:00 07:00")


async def test_a_setting_with_the_wrong_number_of_values_says_what_it_needs(harness: Harness) -> None:
    """Issue 22: ``/settings followup 1 15 30`` answered "I don't know that setting"."""
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    said = await admin.says("/settings followup 1 15 30")
    assert (
        "Follow-up levels need 4 numbers, the days overdue for levels 1 to 4, "
        "e.g. /settings followup 1 15 30 60." in said
    )
    assert "don't know" not in said
    for words, needs in (
        (
            "time morning_plan",
            "Write a job and a time, e.g. /settings time morning_plan 08:30. Jobs: "
            "morning_plan, report_reminder",
        ),
        ("time breakfast 08:00", "There is no job breakfast. Jobs: morning_plan"),
        (
            "quiet 21:00",
            "Quiet hours need two times, when they start and when they end, "
            "e.g. /settings quiet 21:00 08:00.",
        ),
        ("daysoff", "e.g. /settings daysoff 6 7, or /settings daysoff none."),
        ("holiday 2026-12-25", "e.g. /settings holiday add 2026-12-25"),
        ("cash 3", "Cash hand-in needs two numbers of days"),
        (
            "grade B credit 45",
            "A grade's credit needs two values, the credit term in days and the credit "
            "limit, e.g. /settings grade B credit 45 100000.",
        ),
        (
            "grade B visits",
            "A grade's visits need one number, the days between visits, e.g. /settings grade B visits 7.",
        ),
        ("grade B", "e.g. /settings grade B visits 7 or /settings grade B credit 45 100000."),
        ("visits A", "e.g. /settings visits B 7 (or /settings grade B visits 7)."),
    ):
        assert needs in await admin.says(f"/settings {words}"), words
    await admin.send("/lang zh")
    said = await admin.says("/settings followup 1 15 30")
    assert "催收级别需要 4 个数字，即第 1 至 4 级对应的逾期天数，例如 /settings followup 1 15 30 60。" in said
    async with harness.db.reading() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "setting")
            )
            == 0
        )


async def test_a_job_time_inside_quiet_hours_is_saved_with_a_warning(harness: Harness) -> None:
    """Issue 22: a job set to run inside quiet hours was accepted silently (its pushes then wait)."""
    await factories.company(harness.db, harness.clock.now())
    admin = await harness.admin()
    said = await admin.says("/settings time report_reminder 22:00")
    assert "Saved." in said and "(report_reminder): 22:00" in said
    assert (
        "⚠️ Daily report reminder at 22:00 is inside quiet hours (21:00–08:00): its pushes wait "
        "until 08:00." in said
    )
    said = await admin.says("/settings time report_reminder 18:30")
    assert "Saved." in said and "⚠️" not in said
    # Quiet hours moved over the jobs' times: each job caught is named.
    said = await admin.says("/settings quiet 17:00 08:00")
    assert "⚠️ Cash hand-in reminder at 17:00 is inside quiet hours (17:00–08:00)" in said
    assert "⚠️ Daily report reminder at 18:30" in said and "⚠️ Daily reports digest at 19:00" in said
    assert "Morning plan at" not in said
    await admin.send("/lang zh")
    said = await admin.says("/settings time morning_plan 07:00")
    assert "⚠️ “早间计划”的时间 07:00 在免打扰时段（17:00–08:00）内：其推送将等到 08:00 才发出。" in said


def test_change_rules() -> None:
    settings = CompanySettings()
    changed, keys = change(settings, ["followup", "1", "10", "20", "45"])
    assert [level.days_overdue for level in changed.followup_levels] == [1, 10, 20, 45]
    assert keys == ["followup_levels"]
    changed, _ = change(settings, ["daysoff", "6", "7"])
    assert changed.days_off == {6, 7}
    changed, keys = change(settings, ["cash", "2", "60"])
    assert (changed.cash_held_days_to_manager, changed.cash_held_days_to_director) == (2, 60)
    assert keys == ["cash_held_days_to_manager", "cash_held_days_to_director"]
    for bad in (
        ["followup", "5", "3", "20", "45"],
        ["daysoff", "1", "2", "3", "4", "5", "6", "7"],
        ["daysoff", "8"],
        ["holiday", "add", "tomorrow"],
        ["time", "nojob", "08:00"],
        ["followup", "1", "15", "30"],
        ["cash", "3"],
        ["cash", "0", "90"],
        ["cash", "5", "5"],
        ["cash", "3", "91"],
        ["cash", "3", "x"],
    ):
        try:
            change(settings, bad)
        except Exception as error:
            assert "Invalid" in type(error).__name__
        else:
            raise AssertionError(bad)
