"""Rows for tests, written straight to the database: a company to act in.

Use these for the *given* part of a test; the *when* goes through the fake
Bot API (tests/harness.py) like a user would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import count

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from models import (
    Allocation,
    Collection,
    Customer,
    PaymentMethod,
    Receivable,
    ReceivableSource,
    Role,
    Team,
    User,
)

_numbers = count(1)


@dataclass(frozen=True)
class Company:
    """Two teams; a manager, two reps and finance; a few customers each."""

    north: Team
    south: Team
    manager: User  # North's manager
    rep: User  # North
    other_rep: User  # South
    finance: User
    director: User


def user(
    session: AsyncSession,
    telegram_id: int,
    name: str,
    role: Role,
    team: Team | None,
    now: datetime,
    *,
    joined: bool = True,
    language: str | None = "en",
) -> User:
    person = User(
        telegram_id=telegram_id,
        name=name,
        role=role,
        team_id=team.id if team else None,
        active=True,
        created_at=now,
        first_seen_at=now if joined else None,
        language=language,
    )
    session.add(person)
    return person


async def company(db: Database, now: datetime) -> Company:
    async with db.transaction() as session:
        north, south = Team(name="North", created_at=now), Team(name="South", created_at=now)
        session.add_all([north, south])
        await session.flush()
        manager = user(session, 5001, "Mia Manager", Role.MANAGER, north, now)
        rep = user(session, 2001, "Li Wei", Role.REP, north, now)
        other = user(session, 2002, "Bob South", Role.REP, south, now)
        finance = user(session, 6001, "Fay Finance", Role.FINANCE, None, now)
        director = user(session, 7001, "Dee Director", Role.DIRECTOR, None, now)
        await session.flush()
        north.manager_id = manager.id
        return Company(north, south, manager, rep, other, finance, director)


async def customer(
    db: Database,
    now: datetime,
    *,
    name: str,
    rep: User | None,
    code: str | None = None,
    grade: str = "C",
    **fields: object,
) -> Customer:
    async with db.transaction() as session:
        row = Customer(
            code=code or f"C{next(_numbers):04d}",
            name=name,
            grade=grade,
            rep_id=rep.id if rep else None,
            team_id=rep.team_id if rep else None,
            created_at=now,
            **fields,
        )
        session.add(row)
    return row


async def receivable(
    db: Database,
    now: datetime,
    *,
    customer: Customer,
    amount: str,
    issued_on: date,
    due_on: date,
    invoice_no: str | None = None,
) -> Receivable:
    async with db.transaction() as session:
        row = Receivable(
            invoice_no=invoice_no or f"INV-{next(_numbers):05d}",
            customer_id=customer.id,
            rep_id=customer.rep_id,
            amount=Decimal(amount),
            issued_on=issued_on,
            due_on=due_on,
            source=ReceivableSource.IMPORT,
            created_at=now,
        )
        session.add(row)
    return row


async def payment(
    db: Database,
    now: datetime,
    *,
    receivable: Receivable,
    amount: str,
    rep: User,
    method: PaymentMethod = PaymentMethod.TRANSFER,
) -> Collection:
    """A collection fully applied to one receivable."""
    async with db.transaction() as session:
        row = Collection(
            rep_id=rep.id,
            customer_id=receivable.customer_id,
            amount=Decimal(amount),
            method=method,
            received_at=now,
            recorded_by=rep.id,
            source_key=f"test:{next(_numbers)}",
            created_at=now,
        )
        session.add(row)
        await session.flush()
        session.add(Allocation(collection_id=row.id, receivable_id=receivable.id, amount=Decimal(amount)))
    return row
