"""Fixing what was logged (issue 21): a rep edits their own visit's notes and extras until the day ends.

Every change writes an audit entry with the before and the after and marks the visit edited; the
manager sees "edited" in /rep (the summary's drill-down draws the same view) and in the export.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import AuditLog, Customer, Feedback, FeedbackTopic, StockLine, Visit
from tests import factories
from tests.conftest import ZONE
from tests.harness import Harness, Person


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


@pytest.fixture
async def acme(harness: Harness, company: factories.Company) -> Customer:
    return await factories.customer(
        harness.db, harness.clock.now(), name="Acme Trading", code="ACME-77", rep=company.rep
    )


async def the_visit(harness: Harness) -> Visit:
    async with harness.db.reading() as session:
        visit = await session.scalar(select(Visit))
        assert visit is not None
        return visit


async def edits(harness: Harness) -> list[AuditLog]:
    async with harness.db.reading() as session:
        return list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == "visit.edit").order_by(AuditLog.id)
            )
        )


async def press_data(harness: Harness, person: Person, data: str) -> dict[str, Any]:
    update = harness.api.callback(person.id, person.last.message_id, data)
    await harness.settle(update)
    return update


async def test_a_rep_fixes_the_notes_and_extras_the_same_day_with_an_audit_trail(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    li = harness.person(2001, "Li")
    said = await li.says("/visit Acme: shelf half empty, owner away")
    assert "Visit saved: Acme Trading" in said
    assert li.last.button_texts()[:2] == ["↩️ Undo", "✏️ Edit"]

    harness.clock.advance(timedelta(hours=3))  # 12:00: long past the Undo's 10 minutes
    opened = "\n".join(m.plain_text() for m in await li.press("✏️ Edit"))
    assert "Editing the visit to Acme Trading (ACME-77) · On-site visit · 09:00" in opened
    assert "shelf half empty, owner away" in opened
    await li.press("📝 Notes")
    said = await li.says("Shelf half empty; owner back on Friday, will order 20 boxes")
    assert "Changed. The earlier version is kept in the audit log." in said
    assert "owner back on Friday" in said and "Edited at 12:00." in said

    await li.press("📦 Stock levels")
    await li.says("Glue 10\nTape 0")
    await li.press("💬 Market feedback")
    await li.press("Price")
    await li.says("Competitor cut prices by 5%")
    await li.press("📅 Follow-up date")
    await li.press("Next week")
    done = "\n".join(m.plain_text() for m in await li.press("✅ Done"))
    assert "Done: the visit is saved as shown above." in done

    visit = await the_visit(harness)
    assert visit.notes == "Shelf half empty; owner back on Friday, will order 20 boxes"
    assert visit.edited_at == harness.clock.now()
    assert visit.next_follow_up == harness.clock.today() + timedelta(days=7)
    async with harness.db.reading() as session:
        stock = [
            (s.product, s.quantity) for s in await session.scalars(select(StockLine).order_by(StockLine.id))
        ]
        feedback = [(f.topic, f.text) for f in await session.scalars(select(Feedback))]
    assert stock == [("Glue", 10), ("Tape", 0)]
    assert feedback == [(FeedbackTopic.PRICE, "Competitor cut prices by 5%")]

    entries = await edits(harness)
    assert len(entries) == 4 and all(
        e.actor_id == company.rep.id and e.entity_id == visit.id for e in entries
    )
    notes, stock_edit, feedback_edit, follow_up = entries
    assert notes.before is not None and notes.after is not None
    assert notes.before["notes"] == "shelf half empty, owner away"
    assert notes.after["notes"] == visit.notes
    assert (stock_edit.before["stock"], stock_edit.after["stock"]) == ([], [["Glue", 10], ["Tape", 0]])
    assert feedback_edit.after["feedback"] == [["price", "Competitor cut prices by 5%"]]
    assert (follow_up.before["next_follow_up"], follow_up.after["next_follow_up"]) == (
        None,
        (harness.clock.today() + timedelta(days=7)).isoformat(),
    )


async def test_the_edit_is_refused_once_the_day_is_over(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    li = harness.person(2001, "Li")
    await li.says("/visit Acme: first notes")
    saved = li.last
    # 23:58 the same day: still editable; the screen is open when midnight passes.
    harness.clock.set(datetime(2026, 11, 23, 23, 58, tzinfo=ZONE))
    await li.press("✏️ Edit", message_id=saved.message_id)
    await li.press("📝 Notes")
    harness.clock.set(datetime(2026, 11, 24, 0, 1, tzinfo=ZONE))
    said = await li.says("too late to change this")
    assert "This visit was logged on 2026-11-23" in said and "only until the end of the day" in said
    # The button on the saved visit is refused the next day too.
    await li.says("/cancel")
    said = "\n".join(m.plain_text() for m in await li.press("✏️ Edit", message_id=saved.message_id))
    assert "This visit was logged on 2026-11-23" in said
    visit = await the_visit(harness)
    assert (visit.notes, visit.edited_at) == ("first notes", None)
    assert await edits(harness) == []


async def test_someone_elses_visit_cannot_be_edited(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    li = harness.person(2001, "Li")
    await li.says("/visit Acme: secret terms agreed")
    visit = await the_visit(harness)
    bob = harness.person(2002, "Bob")
    await bob.says("/help")
    await press_data(harness, bob, f"vedit:{visit.id}")
    shown = "\n".join(m.plain_text() for m in bob.chat)
    assert "Only the rep who logged a visit can change it." in shown
    assert "secret terms" not in shown and "Acme" not in shown
    assert await edits(harness) == []


async def test_the_manager_sees_the_visit_was_edited(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    li = harness.person(2001, "Li")
    await li.says("/visit Acme: first notes")
    await li.says("/visit Acme: second visit, untouched")
    first = harness.api.chat(2001)[0]
    await li.press("✏️ Edit", message_id=first.message_id)
    await li.press("📝 Notes")
    await li.says("corrected notes")

    # /today lists the day's visits with their ✏️ Edit buttons.
    await li.says("/today")
    assert any(text.startswith("✏️ Edit: Acme Trading") for text in li.last.button_texts())

    manager = harness.person(5001, "Mia")
    said = await manager.says("/rep Li")
    lines = [line for line in said.splitlines() if "Acme Trading" in line]
    assert len(lines) == 2
    assert [("edited" in line) for line in lines] == [False, True]  # newest first: the second untouched

    await manager.send("/export today")
    document = harness.api.last(5001)
    assert document.file_bytes is not None
    sheet = load_workbook(io.BytesIO(document.file_bytes))["Visits"]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    column = header.index("Edited at (Asia/Shanghai)")
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    notes = header.index("Notes")
    assert {row[notes]: row[column] is not None for row in rows} == {
        "corrected notes": True,
        "second visit, untouched": False,
    }


async def test_editing_in_chinese(harness: Harness, company: factories.Company, acme: Customer) -> None:
    li = harness.person(2001, "Li", language_code="zh")
    await li.says("/lang zh")
    await li.says("/visit Acme：货架半空")
    saved = li.last
    assert "✏️ 修改" in saved.button_texts()
    opened = "\n".join(m.plain_text() for m in await li.press("✏️ 修改"))
    assert "修改对 Acme Trading (ACME-77) 的拜访" in opened and "今天结束前都可以修改" in opened
    await li.press("📝 备注")
    said = await li.says("货架半空，周五补货")
    assert "已修改。之前的版本保存在审计日志中。" in said
    harness.clock.advance(timedelta(days=1))
    refused = "\n".join(m.plain_text() for m in await li.press("✏️ 修改", message_id=saved.message_id))
    assert "这次拜访记录于 2026-11-23" in refused and "拜访只能在记录当天结束前修改" in refused


async def test_the_edit_flow_takes_text_only_when_it_asks_for_some(
    harness: Harness, company: factories.Company, acme: Customer
) -> None:
    li = harness.person(2001, "Li")
    await li.says("/visit Acme: first visit")
    saved = li.last
    await li.says("/visit Acme")  # a second visit being logged: its notes come next
    await li.press("Phone call")
    await li.press("✏️ Edit", message_id=saved.message_id)  # the earlier visit's screen, between questions
    said = await li.says("called about the spring order")
    assert "Notes: called about the spring order" in said  # the new visit's draft took the text
    await li.press("📝 Notes")
    assert "Changed." in await li.says("first visit, owner away")  # asked for: the edit's
    async with harness.db.reading() as session:
        notes = list(await session.scalars(select(Visit.notes).order_by(Visit.id)))
    assert notes == ["first visit, owner away"]
