"""Every command × every role (and strangers, and deactivated people): who may do what.

The command menu (bot/menus.py) says which roles see a command; the services
decide. This matrix checks the two agree: a role that sees a command is never
told it may not use it, and a role that does not see it is refused and shown
no data. Arguments are realistic so each command reaches its service.
"""

from __future__ import annotations

import pytest

from bot.menus import COMMANDS
from models import Role
from tests import factories
from tests.harness import Harness

#: A realistic use of each command, reaching past usage help into the service.
USES = {
    "visit": "/visit Shop: talked about prices",
    "collect": "/collect Shop: 100 cash",
    "order": "/order Shop: 100",
    "return": "/return Shop: 100 damaged in transport",
    "today": "/today",
    "route": "/route",
    "trip": "/trip start 12345",
    "trips": "/trips month",
    "qr": "/qr Shop",
    "report": "/report All good today",
    "plan": "/plan",
    "reports": "/reports",
    "customers": "/customers",
    "customer": "/customer Shop",
    "newcustomer": "/newcustomer Matrix Prospect",
    "reverse": "/reverse 999999 wrong amount",
    "deposits": "/deposits",
    "collections": "/collections yesterday",
    "summary": "/summary week",
    "team": "/team",
    "missing": "/missing",
    "rep": "/rep Li",
    "overdue": "/overdue",
    "market": "/market week price",
    "complaint": "/complaint Shop: complaint quality the caps leak",
    "complaints": "/complaints all",
    "discount": "/discount Shop: 5% big order",
    "expense": "/expense 45 meals lunch",
    "expenses": "/expenses",
    "approvals": "/approvals",
    "export": "/export today",
    "chart": "/chart today",
    "mute": "/mute 1h",
    "settings": "/settings",
    "help": "/help",
    "invite": "/invite rep North",
    "invites": "/invites",
    "users": "/users",
    "role": "/role @nobody_here rep North",
    "deactivate": "/deactivate @nobody_here",
    "activate": "/activate @nobody_here",
    "lang": "/lang en",
    "cancel": "/cancel",
}
REFUSALS = ("does not allow", "not allowed", "only for", "can invite reps only", "figures are for")
TELEGRAM_IDS = {
    Role.ADMIN: 1001,
    Role.DIRECTOR: 7001,
    Role.MANAGER: 5001,
    Role.FINANCE: 6001,
    Role.REP: 2001,
    Role.MARKETING: 8001,
}


def test_every_menu_command_has_a_use_in_the_matrix() -> None:
    assert {spec.name for spec in COMMANDS} == set(USES)


@pytest.mark.parametrize("role", list(Role))
async def test_role_sees_what_it_may_do_and_is_refused_the_rest(harness: Harness, role: Role) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="Shop", rep=people.rep, code="SHOP")
    if role == Role.ADMIN:
        await harness.admin()
    if role == Role.MARKETING:
        async with harness.db.transaction() as session:
            factories.user(session, TELEGRAM_IDS[role], "Max Market", role, None, now)
    person = harness.person(TELEGRAM_IDS[role], "Tester")
    for spec in COMMANDS:
        said = await person.says(USES[spec.name])
        refused = any(phrase in said for phrase in REFUSALS)
        if role in spec.roles:
            assert not refused, f"{role} sees /{spec.name} in the menu but is refused: {said!r}"
        else:
            assert refused, f"{role} does not see /{spec.name} but may use it: {said!r}"
        await person.says("/cancel")  # leave any flow the command started


@pytest.mark.parametrize("who", ["stranger", "deactivated"])
async def test_strangers_and_deactivated_people_get_nothing(harness: Harness, who: str) -> None:
    now = harness.clock.now()
    people = await factories.company(harness.db, now)
    await factories.customer(harness.db, now, name="Shop", rep=people.rep, code="SHOP")
    telegram_id = 4001
    if who == "deactivated":
        admin = await harness.admin()
        telegram_id = 2001
        harness.person(2001, "Li")
        assert "can no longer use the bot" in await admin.says("/deactivate 2001")
    person = harness.person(telegram_id, "Sam")
    for spec in COMMANDS:
        replies = await person.send(USES[spec.name])
        assert len(replies) == 1, spec.name
        assert "invite link" in replies[0].plain_text() and replies[0].reply_markup is None, spec.name
