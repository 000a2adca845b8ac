"""Declarative base, naming conventions and the column types every table shares.

Two custom types keep the rules of money and time in one place:

* ``UTCDateTime`` stores instants in UTC and always hands back aware datetimes,
  on SQLite (which has no time zone type) as on PostgreSQL.
* ``Money`` is ``NUMERIC(14, 2)`` on PostgreSQL and integer cents on SQLite,
  whose NUMERIC affinity would silently turn amounts into binary floats.
  Either way Python sees ``Decimal`` and SQL ``SUM`` stays exact.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Dialect, Enum, MetaData, Numeric, Table, TypeDecorator, inspect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

CENT = Decimal("0.01")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use the injected clock")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An amount of money with two decimals, exact on every backend."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(CENT)
        return int(amount * 100) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), Decimal: Money()}

    if TYPE_CHECKING:
        # Every model here maps a table of its own (SQLAlchemy types ``__table__`` as any FROM clause).
        __table__: ClassVar[Table]


def inserted_values(context: DefaultExecutionContext) -> dict[str, Any]:
    """In a Python column default: the values of the row being inserted (one row of an executemany)."""
    # SQLAlchemy leaves get_current_parameters unannotated.
    values: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return values


def column_values(row: Base) -> dict[str, Any]:
    """The columns given a value on ``row`` (a new, unsaved object), by column name: for a Core
    ``INSERT`` on a hot path, where the ORM's unit of work would cost more than the statement."""
    given = inspect(row).dict
    return {
        attribute.columns[0].key: given[attribute.key]
        for attribute in inspect(type(row)).column_attrs
        if attribute.key in given
    }


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)


def str_enum(kind: type[enum.StrEnum], name: str) -> Enum:
    """A string enum stored as its values in a VARCHAR, the same on SQLite and PostgreSQL."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )
