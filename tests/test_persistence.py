"""Conversation state in the database (bot/persistence.py) and the inbox of updates (bot/inbox.py)."""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select, update
from telegram import Update
from telegram.ext import ConversationHandler

from bot.clock import FixedClock
from bot.config import Settings
from bot.db import Database
from bot.devserver import FakeBotApi
from bot.inbox import Inbox, InboxQueue, StateChanges
from bot.persistence import MOVED_MODULES, DatabasePersistence, Unreadable, dumps, loads
from bot.services.field.customers import CustomerRef
from bot.services.field.visits import FeedbackEntry, StockEntry
from bot.services.reporting.reports import ReportLines
from handlers.field.visit_flow import EXTRAS, FLOW_KEY, Flow, HeldNotes
from handlers.money.collections import Draft
from handlers.reporting.reports import Pending
from models import FeedbackTopic, InboxUpdate, PaymentMethod, TelegramState, Visit, VisitKind
from tests import factories
from tests.harness import Harness

ACME = CustomerRef(7, "C0007", "Acme Trading", "B")


def visit_flow() -> Flow:
    return Flow(
        token="ab12cd34",
        key="msg:2001:5",
        language="zh",
        customer=ACME,
        kind=VisitKind.STOCK_CHECK,
        notes="Signed <b>the</b> contract\n第二行",
        location=(31.2304, 121.4737),
        photos=["file-1"],
        stock=[StockEntry("Product A", 12)],
        feedback=[FeedbackEntry(FeedbackTopic.PRICE, "too dear")],
        follow_up=date(2026, 11, 30),
    )


async def acme_company(api: FakeBotApi, db: Database, now: datetime) -> factories.Company:
    """The test company with customer Acme Trading (rep 2001), its people known to the fake Telegram."""
    company = await factories.company(db, now)
    await factories.customer(db, now, name="Acme Trading", rep=company.rep)
    for person in (company.manager, company.rep, company.other_rep, company.finance, company.director):
        api.add_user(person.telegram_id, person.name.split()[0])
    return company


# -- the codec ---------------------------------------------------------------------------------------


def test_the_state_handlers_keep_round_trips() -> None:
    state = {
        FLOW_KEY: visit_flow(),
        "visits.held_notes": {"9f00aa11": HeldNotes("notes", "msg:2001:9")},
        "collect.draft": Draft("msg:2001:3", ACME, Decimal("1500.50"), PaymentMethod.TRANSFER, None),
        "report.pending": Pending(date(2026, 11, 23), ReportLines("late truck", "", "visit Acme"), 41),
        "fieldbot.last_edits": {17: "3f2a", 18: "77c0"},
        "when": datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        "misc": (1, 2.5, None, True, frozenset({"a"}), {3}, time(8, 30), timedelta(minutes=15), b"\x00\xff"),
        "odd keys": {"$": "a dollar key", (1, 2): "a tuple key"},
    }
    restored = loads(dumps(state))
    assert restored == state
    assert restored["when"].tzinfo == ZoneInfo("Asia/Shanghai")
    assert type(restored["collect.draft"].amount) is Decimal
    assert type(restored[FLOW_KEY].location) is tuple


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes(timezones=st.just(UTC))
    | st.sampled_from(list(VisitKind)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_any_value_of_the_known_types_round_trips(value: Any) -> None:
    assert loads(dumps(value)) == value


@dataclass
class NotOurs:
    x: int


def test_classes_outside_the_project_are_refused_both_ways() -> None:
    with pytest.raises(TypeError, match="project's own classes"):
        dumps({"x": NotOurs(1)})
    with pytest.raises(TypeError, match="cannot hold"):
        dumps(object())
    with pytest.raises(Unreadable):  # loading never imports or calls anything outside the project
        loads(json.dumps({"$": "dataclass", "class": "subprocess:Popen", "v": {"args": "true"}}))
    with pytest.raises(Unreadable):  # and only dataclasses are built from a project name
        loads(json.dumps({"$": "dataclass", "class": "bot.persistence:DatabasePersistence", "v": {}}))


def test_a_changed_dataclass_or_enum_does_not_load() -> None:
    stored = json.loads(dumps(visit_flow()))
    stored["v"]["colour"] = "red"  # a field this version does not have
    with pytest.raises(Unreadable, match="no field colour"):
        loads(json.dumps(stored))
    del stored["v"]["colour"], stored["v"]["key"]  # a required field the stored data lacks
    with pytest.raises(Unreadable):
        loads(json.dumps(stored))
    with pytest.raises(Unreadable):  # a member since removed
        loads(json.dumps({"$": "enum", "class": "models.visits:VisitKind", "v": "teleport"}))


def test_a_draft_stored_before_its_class_moved_module_still_loads() -> None:
    """Flow and HeldNotes lived in handlers.visits until the module was split by flow, then in
    handlers.visit_flow until handlers were grouped by domain: a rep's draft stored under either old
    name must survive the upgrade, not be dropped as unreadable."""
    flow = visit_flow()
    stored = json.loads(dumps(flow))
    assert stored["class"] == "handlers.field.visit_flow:Flow"
    for old_name in ("handlers.visits:Flow", "handlers.visit_flow:Flow"):
        assert loads(json.dumps({**stored, "class": old_name})) == flow
    held = HeldNotes("talked about the spring order", "msg:2001:9")
    assert loads(json.dumps({**json.loads(dumps(held)), "class": "handlers.visits:HeldNotes"})) == held
    draft = Draft("msg:2001:3", None, Decimal("5"), PaymentMethod.CASH)
    assert loads(json.dumps({**json.loads(dumps(draft)), "class": "handlers.collections:Draft"})) == draft


def test_every_module_moved_into_a_domain_package_is_found_under_its_old_name() -> None:
    for old, new in MOVED_MODULES.items():
        assert importlib.util.find_spec(new) is not None, new
        spec = importlib.util.find_spec(old)  # gone, or the name of a domain package now (handlers.people)
        assert spec is None or spec.submodule_search_locations is not None, f"{old} is still a module"


# -- the persistence against the database ----------------------------------------------------------


async def stored_rows(db: Database) -> dict[tuple[str, str, str], str]:
    async with db.reading() as session:
        rows = (await session.execute(select(TelegramState))).scalars()
        return {(r.scope, r.owner, r.name): r.data for r in rows}


async def test_data_round_trips_through_the_database_writing_only_changes(db: Database) -> None:
    persistence = DatabasePersistence(Inbox(db))
    await persistence.update_user_data(2001, {FLOW_KEY: visit_flow(), "language": "zh"})
    await persistence.update_chat_data(2001, {"fieldbot.last_edits": {17: "3f2a"}})
    await persistence.update_conversation("visit", (2001, 2001), EXTRAS)
    commits = persistence.inbox.journal.commits
    await persistence.update_user_data(2001, {FLOW_KEY: visit_flow(), "language": "zh"})  # unchanged
    assert persistence.inbox.journal.commits == commits

    fresh = DatabasePersistence(Inbox(db))  # a restart
    assert await fresh.get_user_data() == {2001: {FLOW_KEY: visit_flow(), "language": "zh"}}
    assert await fresh.get_chat_data() == {2001: {"fieldbot.last_edits": {17: "3f2a"}}}
    assert await fresh.get_conversations("visit") == {(2001, 2001): EXTRAS}

    await fresh.update_user_data(2001, {"language": "en"})  # the flow ended: its row goes
    await fresh.update_conversation("visit", (2001, 2001), None)
    await fresh.drop_chat_data(2001)
    assert await stored_rows(db) == {("user", "2001", "language"): '"en"'}


async def test_data_that_no_longer_loads_is_dropped_with_one_log_line(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    persistence = DatabasePersistence(Inbox(db))
    await persistence.update_user_data(2001, {FLOW_KEY: visit_flow(), "language": "zh"})
    await persistence.update_user_data(2002, {FLOW_KEY: visit_flow()})
    changed = json.loads(dumps(visit_flow()))
    changed["v"]["renamed_field"] = changed["v"].pop("notes")  # what a deploy renaming a field looks like
    async with db.transaction() as session:
        await session.execute(
            update(TelegramState).where(TelegramState.name == FLOW_KEY).values(data=json.dumps(changed))
        )

    with caplog.at_level(logging.WARNING, logger="bot.persistence"):
        loaded = await DatabasePersistence(Inbox(db)).get_user_data()
    assert loaded == {2001: {"language": "zh"}}  # the rest of the user's data is kept
    [line] = caplog.records
    assert "dropped 2 stored user state entries" in line.getMessage()
    assert "renamed_field" in line.getMessage()
    assert set(await stored_rows(db)) == {("user", "2001", "language")}  # and not warned about again


async def test_conversations_idle_past_their_timeout_are_not_restored(db: Database) -> None:
    persistence = DatabasePersistence(Inbox(db))
    await persistence.update_conversation("visit", (2001, 2001), EXTRAS)
    await persistence.update_conversation("visit", (2002, 2002), EXTRAS)
    async with db.transaction() as session:
        await session.execute(
            update(TelegramState)
            .where(TelegramState.owner == "visit", TelegramState.name == "[2002,2002]")
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=16))
        )
    fresh = DatabasePersistence(Inbox(db))
    fresh._max_idle["visit"] = timedelta(minutes=15).total_seconds()
    assert await fresh.get_conversations("visit") == {(2001, 2001): EXTRAS}
    assert ("conversation", "visit", "[2002,2002]") not in await stored_rows(db)


async def test_every_guided_flow_is_persistent_and_named(harness: Harness) -> None:
    flows = [
        handler
        for group in harness.app.handlers.values()
        for handler in group
        if isinstance(handler, ConversationHandler)
    ]
    assert len(flows) >= 6
    assert all(flow.persistent and flow.name for flow in flows)
    assert len({flow.name for flow in flows}) == len(flows)


# -- the inbox -----------------------------------------------------------------------------------


async def inbox_rows(db: Database) -> dict[int, datetime | None]:
    async with db.reading() as session:
        return dict((await session.execute(select(InboxUpdate.update_id, InboxUpdate.handled_at))).all())


async def test_each_step_is_durable_as_soon_as_it_is_handled(harness: Harness) -> None:
    company = await factories.company(harness.db, harness.clock.now())
    await factories.customer(harness.db, harness.clock.now(), name="Acme Trading", rep=company.rep)
    rep = harness.person(2001, "Li Wei")
    await rep.send("/visit Acme")
    await rep.press("On-site visit")
    notes = harness.api.message(rep.id, "Signed the contract")
    await harness.settle(notes)
    # No shutdown, no timer: what the answer changed is already in the database, with its mark.
    rows = await stored_rows(harness.db)
    assert rows[("conversation", "visit", "[2001,2001]")] == str(EXTRAS)
    flow = loads(rows[("user", "2001", FLOW_KEY)])
    assert (flow.customer.name, flow.kind) == ("Acme Trading", VisitKind.VISIT)
    assert flow.notes == "Signed the contract"
    assert (await inbox_rows(harness.db))[notes["update_id"]] is not None


async def test_the_flow_continues_after_a_restart_in_process(
    api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings
) -> None:
    await acme_company(api, db, clock.now())
    async with Harness(api, db, clock, settings) as first:
        rep = first.person(2001, "Li Wei")
        await rep.send("/visit Acme")
        await rep.press("On-site visit")
        await rep.send("Signed the contract")
    async with Harness(api, db, clock, settings) as second:
        rep = second.person(2001, "Li Wei")
        assert "Added to the notes" in await rep.says("Delivery next Tuesday")
        [saved] = await rep.press("Save")
        assert "Visit saved: Acme Trading" in saved.plain_text()
        async with db.reading() as session:
            [visit] = (await session.scalars(select(Visit))).all()
        assert visit.notes == "Signed the contract\nDelivery next Tuesday"
    assert not api.refused_calls()


async def test_an_update_telegram_sends_again_is_dropped(
    api: FakeBotApi, db: Database, clock: FixedClock, settings: Settings
) -> None:
    await acme_company(api, db, clock.now())
    async with Harness(api, db, clock, settings) as first:
        rep = first.person(2001, "Li Wei")
        one_liner = api.message(rep.id, "/visit Acme: Signed the contract")
        await first.settle(one_liner)
    replies = len(api.chat(rep.id))
    api.updates.append(one_liner)  # Telegram resends what it believes was never confirmed
    async with Harness(api, db, clock, settings) as second:
        await second.settle(one_liner)
    assert len(api.chat(rep.id)) == replies  # not handled again
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 1


async def test_a_webhook_update_is_recorded_before_it_is_queued_and_a_resend_is_dropped(
    api: FakeBotApi, db: Database
) -> None:
    inbox = Inbox(db)
    queue = InboxQueue(inbox)
    raw = api.message(2001, "hello", queue=False)
    await queue.put(Update.de_json(raw, None))
    assert await inbox_rows(db) == {raw["update_id"]: None}
    stored = json.loads(await _payload(db, raw["update_id"]))
    assert stored["message"]["text"] == "hello"
    await queue.put(Update.de_json(raw, None))  # Telegram retried the webhook call
    assert queue.qsize() == 1

    first = queue.get_nowait()
    assert isinstance(first, Update)
    await inbox.settle(first, StateChanges())
    await inbox.journal.close()
    assert (await inbox_rows(db))[raw["update_id"]] is not None

    reused = {**raw, "message": {**raw["message"], "message_id": 99, "text": "a new message"}}
    await queue.put(Update.de_json(reused, None))  # Telegram restarts its ids after a quiet week
    assert queue.qsize() == 1
    assert await inbox_rows(db) == {raw["update_id"]: None}  # the new one replaced the old row


async def _payload(db: Database, update_id: int) -> str:
    async with db.reading() as session:
        row = await session.get_one(InboxUpdate, update_id)
        return row.payload
