"""Hostile names (issue 17): bidi controls, Unicode case and width, and names as long as Telegram's.

* A right-to-left override (or any bidi control) in a name must not reverse the rest of a line in
  any view, push or export, and a real Arabic or Hebrew name must not carry the figures after it
  into its right-to-left run: controls are removed where names come in and again where they are
  shown, right-to-left text is shown inside an isolate (FSI … PDI).
* Customers are found by a normalised key (NFKC + case folding) stored with them, the same on
  SQLite (whose ``lower()`` folds A-Z only) as on PostgreSQL; a re-imported ``ÄB-1`` updates.
* Whoever Telegram lets in may join: a first and a last name of 64 characters each.
"""

from __future__ import annotations

import io
import sqlite3
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.db import Database, upgrade_async
from bot.i18n import escape
from bot.services.intake.customer_import import import_customers
from bot.services.intake.receivable_import import import_receivables
from bot.services.intake.user_import import import_people
from bot.tabular import read_table
from bot.text import BIDI_CONTROLS, isolate, search_key
from jobs.runner import run_job
from models import Collection, Customer, Receivable, Role, Team, User, Visit, VisitKind
from tests import factories
from tests.conftest import PG_URL, ZONE
from tests.factories import Company
from tests.harness import Harness
from tests.test_onboarding import in_new_team, invite_token

RLO, PDF, LRE, RLM = "\u202e", "\u202c", "\u202a", "\u200f"
FSI, PDI = "\u2068", "\u2069"
ARABIC = "محمد علي"  # a real right-to-left name: its letters are bidi class AL


def assert_bidi_safe(text: str) -> None:
    """Nothing in ``text`` can reorder what follows it: no embedding, override or mark, isolates
    balanced, and every right-to-left character inside one."""
    depth = 0
    for position, ch in enumerate(text):
        if ch == FSI:
            depth += 1
        elif ch == PDI:
            depth -= 1
            assert depth >= 0, f"unbalanced isolate at {position}: {text!r}"
        elif ch in BIDI_CONTROLS:
            raise AssertionError(f"raw bidi control U+{ord(ch):04X} at {position}: {text!r}")
        elif unicodedata.bidirectional(ch) in ("R", "AL", "AN"):
            assert depth > 0, f"right-to-left {ch!r} outside an isolate at {position}: {text!r}"
    assert depth == 0, f"unclosed isolate: {text!r}"


# -- showing names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Li Wei", "Li Wei"),
        ("李伟", "李伟"),
        ("<b>&</b>", "&lt;b&gt;&amp;&lt;/b&gt;"),
        ("12,500.00", "12,500.00"),
        (f"Li {RLO}Wei", "Li Wei"),
        (f"{LRE}Bob{PDF}{RLM}", "Bob"),
        (f"{FSI}x{PDI}", "x"),
        (ARABIC, f"{FSI}{ARABIC}{PDI}"),
        (f"{RLO}{ARABIC} 3", f"{FSI}{ARABIC} 3{PDI}"),
        ("שלום & co", f"{FSI}שלום &amp; co{PDI}"),
        ("٣٤", f"{FSI}٣٤{PDI}"),
    ],
)
def test_escaped_values_lose_their_controls_and_are_isolated_if_right_to_left(value: str, shown: str) -> None:
    assert escape(value) == shown
    assert_bidi_safe(escape(value))
    assert isolate(isolate(value)) == isolate(value)


async def hostile_company(harness: Harness) -> Company:
    """North has a rep whose stored name carries an override (a row from before names were cleaned
    on the way in) and a rep with an Arabic name; each has a customer, a visit and a collection."""
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    async with harness.db.transaction() as session:
        spoofed = await session.get_one(User, people.rep.id)
        spoofed.name = f"Li {RLO}Wei 0.00 collected"
        arabic = factories.user(session, 2003, ARABIC, Role.REP, people.north, now)
        team = await session.get_one(Team, people.north.id)
        team.name = f"North{RLM}"
        await session.flush()
        for n, rep_id in enumerate((people.rep.id, arabic.id)):
            shop = Customer(
                code=f"S{RLO}{n}",
                name=f"Shop {RLO}{n} {ARABIC}",
                grade="A",
                rep_id=rep_id,
                team_id=people.north.id,
                created_at=now,
            )
            session.add(shop)
            await session.flush()
            session.add(
                Visit(
                    rep_id=rep_id,
                    customer_id=shop.id,
                    visited_at=now - timedelta(hours=1),
                    kind=VisitKind.VISIT,
                    notes=f"{RLO}notes {ARABIC}",
                    source_key=f"t:v{n}",
                    created_at=now,
                )
            )
            session.add(
                Collection(
                    rep_id=rep_id,
                    customer_id=shop.id,
                    amount=500 + n,
                    method="cash",
                    received_at=now - timedelta(hours=1),
                    recorded_by=rep_id,
                    source_key=f"t:c{n}",
                    created_at=now,
                )
            )
    for user_id, name in ((2001, "Li"), (2003, "Mo"), (5001, "Mia"), (7001, "Dee")):
        harness.api.add_user(user_id, name)
    return people


async def test_team_view_keeps_every_rep_line_in_order(harness: Harness) -> None:
    await hostile_company(harness)
    manager = harness.person(5001, "Mia")
    [team] = await manager.send("/team")
    text = team.plain_text()
    assert_bidi_safe(text)
    assert "Li Wei 0.00 collected — visits 1 · collected 500.00" in text
    assert f"{FSI}{ARABIC}{PDI} — visits 1 · collected 501.00" in text  # the figures after the isolate


async def test_summary_keeps_every_rep_line_in_order(harness: Harness) -> None:
    await hostile_company(harness)
    director = harness.person(7001, "Dee")
    text = await director.says("/summary")
    assert_bidi_safe(text)
    assert "Li Wei 0.00 collected (North) — visits 1" in text
    assert f"{FSI}{ARABIC}{PDI} (North) — visits 1" in text


async def test_the_missing_reports_push_keeps_names_apart(harness: Harness) -> None:
    await hostile_company(harness)
    harness.clock.set(datetime(2026, 11, 23, 19, 0, tzinfo=ZONE))
    await run_job(harness.db, "report_digest", harness.clock.now(), ZONE)  # who is missing, at the deadline
    await harness.deliver_pushes()
    for boss in (5001, 7001):  # the director: the overview first, then South (no manager) in full
        text = harness.api.chat(boss)[0].plain_text()
        assert_bidi_safe(text)
        assert "North" in text and "Li Wei 0.00 collected" in text and ARABIC in text


async def test_the_export_has_no_bidi_control_in_any_cell(harness: Harness) -> None:
    await hostile_company(harness)
    manager = harness.person(5001, "Mia")
    await manager.send("/export 2026-11")
    document = harness.api.last(5001)
    assert document.kind == "document" and document.file_bytes is not None
    book = load_workbook(io.BytesIO(document.file_bytes))
    texts = [
        cell.value
        for sheet in book
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]
    assert not [text for text in texts if any(ch in BIDI_CONTROLS for ch in text)]
    visits = [[cell.value for cell in row] for row in book["Visits"].iter_rows(min_row=2)]
    assert any("Li Wei 0.00 collected" in row and "S0" in row and f"Shop 0 {ARABIC}" in row for row in visits)
    assert_bidi_safe(document.plain_text())


# -- names coming in --------------------------------------------------------------------------------


async def test_bidi_controls_do_not_come_in_with_a_name(harness: Harness) -> None:
    admin = await harness.admin(name=f"Ada {RLO}Admin")
    token = await invite_token(await in_new_team(admin, f"/invite rep {RLO}North{PDF}", "North"))
    rep = harness.person(2001, f"Li{RLO}", last_name=f"{RLM}Wei")
    welcome = await rep.says(f"/start {token}")
    assert "Welcome, Li Wei! You are registered as sales rep in team North." in welcome
    assert await rep.says(f"/newcustomer Shop {RLO}7-1{PDF}") != ""
    await rep.press("Skip")
    await rep.press("Skip")
    assert "Saved: Shop 7-1 is a prospect" in await rep.says("Skip")  # saved at the form's end
    table = read_table(f"telegram_id,name,role,team\n3001,Zoe {RLO}Z,rep,North\n".encode(), "p.csv")
    async with harness.db.transaction() as session:
        assert (await import_people(session, table, harness.clock.now())).ok
    async with harness.db.reading() as session:
        names = set(await session.scalars(select(User.name)))
        customers = set(await session.scalars(select(Customer.name)))
        teams = set(await session.scalars(select(Team.name)))
    assert names == {"Ada Admin", "Li Wei", "Zoe Z"} and customers == {"Shop 7-1"} and teams == {"North"}


# -- Telegram's longest names -------------------------------------------------------------------------


async def test_a_64_plus_64_character_name_joins_and_is_stored_whole(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite rep North", "North"))
    first, last = "A" * 62 + "李伟", "Ω" * 63 + "z"
    assert len(first) == len(last) == 64
    rep = harness.person(2001, first, last_name=last)
    welcome = await rep.says(f"/start {token}")
    assert f"Welcome, {first} {last}!" in welcome
    async with harness.db.reading() as session:
        stored = await session.scalar(select(User.name).where(User.telegram_id == 2001))
    assert stored == f"{first} {last}" and len(stored) == 129


async def test_a_name_of_only_invisible_characters_still_joins(harness: Harness) -> None:
    admin = await harness.admin()
    token = await invite_token(await in_new_team(admin, "/invite rep North", "North"))
    rep = harness.person(2001, RLO + "\u2067", username="ghost_rep")
    assert "Welcome, @ghost_rep!" in await rep.says(f"/start {token}")


async def test_people_files_and_the_command_line_take_129_characters(harness: Harness) -> None:
    long_name = "Z" * 64 + " " + "Q" * 64
    table = read_table(
        f"telegram_id,name,role,team\n3001,{long_name},rep,North\n3002,{long_name}x,rep,North\n".encode(),
        "p.csv",
    )
    async with harness.db.transaction() as session:
        report = await import_people(session, table, harness.clock.now())
    assert [(error.line, error.render()) for error in report.errors] == [
        (3, "name must have 1 to 129 characters")
    ]
    admin = await harness.admin(name=long_name)
    assert f"{long_name}, you are signed in as admin" in await admin.says("/help")


# -- customers by a normalised key ------------------------------------------------------------------


@pytest.fixture
async def unicode_customers(harness: Harness) -> Company:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    for code, name in (("ÉL-1", "Élan Bistro"), ("ABC-7", "ＡＢＣ商店"), ("ÄB-1", "Straße Döner")):
        await factories.customer(harness.db, now, name=name, code=code, rep=people.rep)
    return people


ELAN, ABC, DONER = "Élan Bistro · ÉL-1", "ＡＢＣ商店 · ABC-7", "Straße Döner · ÄB-1"


@pytest.mark.parametrize(
    ("typed", "card"),
    [
        ("Élan Bistro", ELAN),
        ("élan bistro", ELAN),
        ("ÉLAN", ELAN),
        ("ÉL-1", ELAN),
        ("él-1", ELAN),
        ("ÉＬＡＮ  ＢＩＳＴＲＯ", ELAN),
        ("ＡＢＣ商店", ABC),
        ("abc商店", ABC),
        ("ａｂｃ－７", ABC),
        ("äb-1", DONER),
        ("STRASSE", DONER),
        ("straße döner", DONER),
    ],
)
async def test_customers_are_found_whatever_the_case_or_width(
    harness: Harness, unicode_customers: Company, typed: str, card: str
) -> None:
    rep = harness.person(2001, "Li")
    [reply] = await rep.send(f"/customer {typed}")
    assert reply.plain_text().startswith(card)


async def test_visit_and_collect_find_customers_by_their_key(
    harness: Harness, unicode_customers: Company
) -> None:
    rep = harness.person(2001, "Li")
    assert "Visit saved: Élan Bistro (ÉL-1)" in await rep.says("/visit élan bistro: talked about spring")
    assert "ＡＢＣ商店 owes nothing" in await rep.says("/collect abc商店: 500 cash")  # found by its key
    said = "\n".join(m.plain_text() for m in await rep.press("Confirm"))
    assert "500.00 (cash) from ＡＢＣ商店" in said
    async with harness.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 1
        assert await session.scalar(select(func.count()).select_from(Collection)) == 1


async def import_csv(harness: Harness, importer: object, content: str) -> object:
    table = read_table(content.encode(), "file.csv")
    async with harness.db.transaction() as session:
        return await importer(session, table, harness.clock.now(), None)  # type: ignore[operator]


async def test_reimporting_a_code_in_another_case_updates_the_customer(harness: Harness) -> None:
    await factories.company(harness.db, harness.clock.now())
    first = await import_csv(harness, import_customers, "code,name\nÄB-1,Äbel\nÉL-1,Élan\n")
    assert (first.created, first.updated) == (2, 0)  # type: ignore[attr-defined]
    for code, name in (("ÄB-1", "Äbel Hardware"), ("äb-1", "Äbel & Co"), ("ÉL-1", "Élan Bistro")):
        again = await import_csv(harness, import_customers, f"code,name\n{code},{name}\n")
        assert (again.created, again.updated) == (0, 1), code  # type: ignore[attr-defined]
    twice = await import_csv(harness, import_customers, "code,name\nÄB-1,One\näb-1,Two\n")
    assert [e.render() for e in twice.errors] == ["code äb-1 already appears on line 2"]  # type: ignore[attr-defined]
    async with harness.db.reading() as session:
        rows = (
            await session.execute(
                select(Customer.code, Customer.name, Customer.code_key, Customer.name_key).order_by(
                    Customer.id
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("ÄB-1", "Äbel & Co", "äb-1", "äbel & co"),
        ("ÉL-1", "Élan Bistro", "él-1", "élan bistro"),
    ]
    invoices = await import_csv(
        harness,
        import_receivables,
        "invoice_no,customer_code,amount,issued_on\nI-1,äb-1,100,2026-11-01\n"
        "I-2,ＥＬ-1,50,2026-11-02\nI-3,él-1,70,2026-11-02\n",
    )
    assert [e.render() for e in invoices.errors] == [  # type: ignore[attr-defined]
        "no customer has the code ＥＬ-1"
    ]  # É is not E: accents are kept
    invoices = await import_csv(
        harness,
        import_receivables,
        "invoice_no,customer_code,amount,issued_on\nI-1,äb-1,100,2026-11-01\nI-3,él-1,70,2026-11-02\n",
    )
    assert invoices.created == 2  # type: ignore[attr-defined]
    async with harness.db.reading() as session:
        owners = dict(
            (
                await session.execute(
                    select(Receivable.invoice_no, Customer.code).join(
                        Customer, Customer.id == Receivable.customer_id
                    )
                )
            ).all()
        )
    assert owners == {"I-1": "ÄB-1", "I-3": "ÉL-1"}


async def test_a_renamed_customer_is_found_by_its_new_name(
    harness: Harness, unicode_customers: Company
) -> None:
    async with harness.db.transaction() as session:
        shop = await session.scalar(select(Customer).where(Customer.code == "ÉL-1"))
        assert shop is not None
        shop.name = "Ölmühle"
    rep = harness.person(2001, "Li")
    [reply] = await rep.send("/customer ÖLMÜHLE")
    assert reply.plain_text().startswith("Ölmühle · ÉL-1")
    assert "No customer matches" in await rep.says("/customer élan")


# -- the migration ------------------------------------------------------------------------------------


@pytest.mark.skipif(PG_URL is not None, reason="migrates a SQLite file of its own from revision 0014")
async def test_the_migration_fills_keys_cleans_names_and_widens_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url, "0014")
    with sqlite3.connect(path) as connection:  # on SQLite ÄB-1 and äb-1 could both be stored
        connection.executescript(f"""
            INSERT INTO teams (id, name, created_at) VALUES (1, 'North', '2026-11-01'),
                                                            (2, 'North{RLM}', '2026-11-01'),
                                                            (3, 'South{RLO}', '2026-11-01');
            INSERT INTO users (id, telegram_id, name, role, active, created_at)
                VALUES (1, 11, 'Li {RLO}Wei', 'rep', 1, '2026-11-01 00:00:00.000000');
            INSERT INTO customers (id, code, name, grade, rep_id, status, created_at)
                VALUES (1, 'ÄB-1', 'Äbel', 'C', 1, 'active', '2026-11-01 00:00:00.000000'),
                       (2, 'äb-1', 'Äbel  twin', 'C', 1, 'active', '2026-11-01 00:00:00.000000'),
                       (3, 'ＡＢＣ', 'Shop {RLO}ＡＢＣ商店', 'C', 1, 'active', '2026-11-01 00:00:00.000000');
        """)
    await upgrade_async(url)
    with sqlite3.connect(path) as connection:
        assert list(connection.execute("SELECT id, code_key, name_key, name FROM customers ORDER BY id")) == [
            (1, "äb-1", "äbel", "Äbel"),
            (2, "äb-1\x1f2", "äbel twin", "Äbel twin"),
            (3, "abc", "shop abc商店", "Shop ＡＢＣ商店"),
        ]
        assert list(connection.execute("SELECT name FROM users")) == [("Li Wei",)]
        assert list(connection.execute("SELECT name FROM teams ORDER BY id")) == [
            ("North",),
            (f"North{RLM}",),
            ("South",),
        ]  # a cleaned name taken by another team stays
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            connection.execute(
                "INSERT INTO customers (code, name, grade, status, created_at, code_key) "
                "VALUES ('X', 'X', 'C', 'active', '2026-11-01', 'x')"
            )
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        declared = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()[0]
        assert "name VARCHAR(129) NOT NULL" in declared
    db = Database(url)
    try:
        async with db.reading() as session:
            found = await session.scalar(select(Customer.code).where(Customer.code_key == search_key("abc")))
        assert found == "ＡＢＣ"
    finally:
        await db.dispose()
