"""Guided flows never take each other's text: a new command ends the flow in progress."""

from __future__ import annotations

from sqlalchemy import select

from models import Customer, Visit
from tests import factories
from tests.harness import Harness


async def test_new_command_mid_flow_hands_the_chat_over(harness: Harness) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="Shop", rep=people.rep, code="S1")
    rep = harness.person(2001, "Li")
    await rep.send("/newcustomer Corner Store")  # the form now waits for a phone number
    await rep.send("/visit Shop")  # ...but the rep switches to logging a visit
    await rep.press("On-site visit")
    await rep.send("Talked about the new price list")
    async with harness.db.reading() as session:  # the notes did not become a phone: nothing was saved
        assert await session.scalar(select(Customer).where(Customer.name == "Corner Store")) is None
    saved = await rep.press("Save")
    assert any("Shop" in message.plain_text() for message in saved)
    async with harness.db.reading() as session:
        visit = await session.scalar(select(Visit))
    assert visit is not None and visit.notes == "Talked about the new price list"
