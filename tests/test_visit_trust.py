"""Trust signals for managers (issue 21): flags worked out when a visit is saved, and shown to the
manager in /rep, the summary (counts per person) and its drill-down, and the export — through the
fake Bot API, in English and Chinese."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.services.field.trust import LATE_AFTER
from models import User, Visit, VisitPhoto
from tests import factories
from tests.harness import Harness, Person
from tests.test_visits import FAR, NEAR, SHOP_LAT, SHOP_LON, tiny_png

FLAG_COLUMNS = ("far_away", "no_location", "photo_reused", "photo_forwarded", "late_entry")


@pytest.fixture
async def company(harness: Harness) -> factories.Company:
    return await factories.company(harness.db, harness.clock.now())


async def shop(harness: Harness, name: str, rep: User, **fields: Any) -> None:
    fields.setdefault("latitude", SHOP_LAT)
    fields.setdefault("longitude", SHOP_LON)
    await factories.customer(harness.db, harness.clock.now(), name=name, rep=rep, **fields)


async def send(harness: Harness, update: dict[str, Any]) -> None:
    await harness.settle(harness.api.raw(update))


def photo_message(
    harness: Harness, person: Person, *, like: dict[str, Any] | None = None, forward_from: int | None = None
) -> dict[str, Any]:
    """A photo ``person`` sends (not queued yet); ``like``: the same Telegram file as that earlier
    photo message (its sizes, so the same ``file_unique_id``), as when a picture is sent again."""
    update = harness.api.message(person.id, None, photo=tiny_png(), forward_from=forward_from, queue=False)
    if like is not None:
        update["message"]["photo"] = like["message"]["photo"]
    return update


async def guided(
    harness: Harness,
    person: Person,
    customer: str,
    notes: str,
    *,
    kind: str = "On-site visit",
    location: tuple[float, float] | None = None,
    photo: dict[str, Any] | None = None,
    before_save: timedelta | None = None,
    save: str = "Save",
) -> None:
    """Log a visit with /visit's guided flow: kind, notes, then the location and photo shared
    straight from the attachment menu, the clock moved by ``before_save``, and Save."""
    await person.send(f"/visit {customer}")
    await person.press(kind)
    await person.send(notes)
    if location is not None:
        await send(harness, harness.api.message(person.id, None, location=location, queue=False))
    if photo is not None:
        await send(harness, photo)
    if before_save is not None:
        harness.clock.advance(before_save)
    [confirmation] = await person.press(save)
    assert customer in confirmation.plain_text()


async def flags_by_notes(harness: Harness) -> dict[str, set[str]]:
    async with harness.db.reading() as session:
        visits = list(await session.scalars(select(Visit).order_by(Visit.id)))
    return {visit.notes: {name for name in FLAG_COLUMNS if getattr(visit, name)} for visit in visits}


def visits_sheet(content: bytes, sheet: str, flags_header: str, notes_header: str) -> dict[str, Any]:
    """The Visits sheet's flags cell of each visit, by its notes."""
    rows = list(load_workbook(io.BytesIO(content))[sheet].iter_rows(values_only=True))
    header = list(rows[0])
    flags, notes = header.index(flags_header), header.index(notes_header)
    return {row[notes]: row[flags] for row in rows[1:]}


async def test_each_flag_is_set_when_saved_and_shown_to_the_manager(
    harness: Harness, company: factories.Company
) -> None:
    li, bob, mia = harness.person(2001, "Li"), harness.person(2002, "Bob"), harness.person(5001, "Mia")
    await shop(harness, "Acme Trading", company.rep)
    await shop(harness, "Bay Store", company.rep)
    await shop(harness, "South Shop", company.other_rep)

    # Bob, in the other team, photographs his shop's shelf first.
    shelf = photo_message(harness, bob)
    await guided(harness, bob, "South", "south shelf", location=NEAR, photo=shelf)

    await guided(harness, li, "Acme", "all in order", location=NEAR, photo=photo_message(harness, li))
    await guided(
        harness, li, "Bay", "reused shelf", location=NEAR, photo=photo_message(harness, li, like=shelf)
    )
    forwarded = photo_message(harness, li, forward_from=4242)
    assert forwarded["message"]["forward_origin"]["type"] == "user"  # what Bot API 7+ sends
    await guided(harness, li, "Acme", "forwarded shelf", location=NEAR, photo=forwarded)
    await guided(harness, li, "Bay", "far one", location=FAR)
    await guided(harness, li, "Acme", "phoned the owner", kind="Phone call")
    assert "Visit saved" in await li.says("/visit Acme: one-liner")
    # Sent at 09:00, handled three hours later (the bot was down): saved long after it was sent.
    late = harness.api.message(li.id, "/visit Bay: written at nine", queue=False)
    harness.clock.advance(LATE_AFTER + timedelta(hours=1))
    await send(harness, late)
    # The location shared on the spot, the visit saved three hours later.
    await guided(harness, li, "Acme", "saved later", location=NEAR, before_save=timedelta(hours=3))

    assert await flags_by_notes(harness) == {
        "south shelf": set(),
        "all in order": set(),
        "reused shelf": {"photo_reused"},
        "forwarded shelf": {"photo_forwarded"},
        "far one": {"far_away"},
        "phoned the owner": set(),  # a phone call has no place: not flagged for its location
        "one-liner": {"no_location"},
        "written at nine": {"no_location", "late_entry"},
        "saved later": {"late_entry"},
    }

    # /summary: the counts per person, on the person's line.
    summary = await mia.says("/summary")
    [line] = [text for text in summary.splitlines() if text.startswith("• Li Wei")]
    assert line.endswith(
        "⚠️ 6 flagged visits: 1 far from the customer, 2 no location, 1 photo used before, "
        "1 forwarded photo, 2 logged late"
    ), line
    # /rep: the counts again, and each of the latest visits with its flags; a visit without none.
    card = await mia.says("/rep Li Wei")
    assert "⚠️ 6 flagged visits: 1 far from the customer" in card
    visits = [text for text in card.splitlines() if text.startswith("• 11-23")]
    assert visits[0].endswith("Acme Trading · on-site visit · saved later · ⚠️ logged late (3 h)")
    assert visits[1].endswith(
        "Bay Store · on-site visit · written at nine · ⚠️ no location, logged late (3 h)"
    )
    assert visits[2].endswith("Acme Trading · on-site visit · one-liner · ⚠️ no location")
    assert visits[3].endswith("Acme Trading · phone call · phoned the owner")
    assert visits[4].endswith("Bay Store · on-site visit · far one · ⚠️ far from the customer")
    # The summary's drill-down is the same card.
    await mia.send("/summary")
    [drill_down] = await mia.press("Li Wei")
    assert drill_down.plain_text() == card

    # The export: a Flags column on the Visits sheet.
    await mia.send("/export")
    document = harness.api.last(mia.id)
    assert document.file_bytes is not None
    flags = visits_sheet(document.file_bytes, "Visits", "Flags", "Notes")
    assert flags == {
        "all in order": None,
        "reused shelf": "photo used before",
        "forwarded shelf": "forwarded photo",
        "far one": "far from the customer",
        "phoned the owner": None,
        "one-liner": "no location",
        "written at nine": "no location, logged late (3 h)",
        "saved later": "logged late (3 h)",
    }  # Bob's visit is South's: not in North's manager's export


async def test_in_chinese_a_reused_photo_and_a_late_entry_are_flagged(
    harness: Harness, company: factories.Company
) -> None:
    async with harness.db.transaction() as session:
        for user_id in (company.rep.id, company.manager.id):
            (await session.get_one(User, user_id)).language = "zh"
    li = harness.person(2001, "李", language_code="zh-hans")
    mia = harness.person(5001, "米", language_code="zh-hans")
    await shop(harness, "华东五金店", company.rep)
    await shop(harness, "鑫源建材", company.rep)

    first = photo_message(harness, li)
    await guided(harness, li, "华东", "货架照片", kind="上门拜访", location=NEAR, photo=first, save="保存")
    again = photo_message(harness, li, like=first, forward_from=4242)
    await guided(harness, li, "鑫源", "同一张照片", kind="上门拜访", location=NEAR, photo=again, save="保存")
    late = harness.api.message(li.id, "/visit 鑫源：上午写的", queue=False)
    harness.clock.advance(timedelta(hours=5))
    await send(harness, late)

    assert await flags_by_notes(harness) == {
        "货架照片": set(),
        "同一张照片": {"photo_reused", "photo_forwarded"},
        "上午写的": {"no_location", "late_entry"},
    }
    summary = await mia.says("/summary")
    assert "⚠️ 2 次拜访有标记：无位置 1 次，照片曾用于其他拜访 1 次，转发的照片 1 次，延后记录 1 次" in summary
    card = await mia.says("/rep Li Wei")
    assert "上午写的 · ⚠️ 无位置，延后记录（5 小时）" in card
    assert "同一张照片 · ⚠️ 照片曾用于其他拜访，转发的照片" in card
    assert "货架照片 · ⚠️" not in card

    await mia.send("/export")
    document = harness.api.last(mia.id)
    assert document.file_bytes is not None
    assert visits_sheet(document.file_bytes, "拜访", "标记", "备注") == {
        "货架照片": None,
        "同一张照片": "照片曾用于其他拜访，转发的照片",
        "上午写的": "无位置，延后记录（5 小时）",
    }


async def test_an_undone_visits_photo_is_not_counted_as_used_before(
    harness: Harness, company: factories.Company
) -> None:
    li = harness.person(2001, "Li")
    await shop(harness, "Acme Trading", company.rep)
    first = photo_message(harness, li)
    await guided(harness, li, "Acme", "wrong customer", location=NEAR, photo=first)
    await li.press("Undo")
    async with harness.db.reading() as session:
        assert list(await session.scalars(select(VisitPhoto))) == []
    await guided(
        harness, li, "Acme", "right customer", location=NEAR, photo=photo_message(harness, li, like=first)
    )
    assert await flags_by_notes(harness) == {"right customer": set()}
    # The same photo sent twice to one visit is kept once for it.
    await li.send("/visit Acme")
    await li.press("On-site visit")
    await li.send("twice")
    await send(harness, harness.api.message(li.id, None, location=NEAR, queue=False))
    await send(harness, photo_message(harness, li, like=first))
    await send(harness, photo_message(harness, li, like=first))
    await li.press("Save")
    assert (await flags_by_notes(harness))["twice"] == {"photo_reused"}  # used on "right customer"
    async with harness.db.reading() as session:
        kept = list(await session.scalars(select(VisitPhoto.visit_id)))
    assert len(kept) == 2  # one row per visit


async def test_flags_are_for_managers_in_their_scope(harness: Harness, company: factories.Company) -> None:
    bob, mia, dee = harness.person(2002, "Bob"), harness.person(5001, "Mia"), harness.person(7001, "Dee")
    await shop(harness, "South Shop", company.other_rep)
    assert "Visit saved" in await bob.says("/visit South: no location given")
    assert "⚠️" not in await bob.says("/summary")  # a rep's own summary: figures, no flags
    assert "⚠️" not in await mia.says("/summary")  # Bob's visit is South's, not North's manager's
    [line] = [text for text in (await dee.says("/summary")).splitlines() if text.startswith("• Bob South")]
    assert line.endswith("⚠️ 1 flagged visit: 1 no location")
