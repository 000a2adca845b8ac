"""/mute pauses a person's pushes; /settings changes the company's schedule and policy."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

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
    assert "morning_plan 08:30" in shown and "Quiet hours: 21:00–08:00" in shown
    assert "Saved." in await admin.says("/settings holiday add 2026-11-24")
    assert "Holidays: 2026-11-24" in admin.last.plain_text()
    tuesday = local(MONDAY + timedelta(days=1), 8, 30)
    assert not (await run_job(harness.db, "morning_plan", tuesday, ZONE)).ran
    assert "Saved." in await admin.says("/settings visits A 10")
    assert "A 10" in admin.last.plain_text()
    assert "Saved." in await admin.says("/settings time morning_plan 07:45")
    assert "morning_plan 07:45" in admin.last.plain_text()
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


def test_change_rules() -> None:
    settings = CompanySettings()
    changed, keys = change(settings, ["followup", "1", "10", "20", "45"])
    assert [level.days_overdue for level in changed.followup_levels] == [1, 10, 20, 45]
    assert keys == ["followup_levels"]
    changed, _ = change(settings, ["daysoff", "6", "7"])
    assert changed.days_off == {6, 7}
    for bad in (["followup", "5", "3", "20", "45"], ["daysoff", "1", "2", "3", "4", "5", "6", "7"],
                ["daysoff", "8"], ["holiday", "add", "tomorrow"], ["time", "nojob", "08:00"]):
        try:
            change(settings, bad)
        except Exception as error:
            assert "Invalid" in type(error).__name__
        else:
            raise AssertionError(bad)
