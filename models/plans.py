"""Weekly and monthly work plans (工作計劃表, regulations part 4 art. 10; part 3 art. 9): the
customers a rep means to visit and the targets for orders and collections, filed ahead of the
period and approved or commented on by the rep's supervisor."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, str_enum


class PlanKind(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"


class WorkPlan(IdMixin, Base):
    """One rep's plan for one week (Monday to Sunday) or one calendar month.

    Filing again before the deadline replaces the customers and targets in place (the row keeps its
    id); ``source_key`` is the update of the latest filing, so a redelivered one writes nothing.
    """

    __tablename__ = "work_plans"
    __table_args__ = (UniqueConstraint("rep_id", "kind", "starts_on", name="uq_work_plans_rep_kind_start"),)

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[PlanKind] = mapped_column(str_enum(PlanKind, "plan_kind"))
    starts_on: Mapped[date] = mapped_column(index=True)
    ends_on: Mapped[date]
    orders_target: Mapped[Decimal]
    collections_target: Mapped[Decimal]
    #: Visits the planned customers' grades call for in the period, when it was filed.
    planned_visits: Mapped[int]
    submitted_at: Mapped[datetime]
    #: Filed (for the first time) after the deadline.
    late: Mapped[bool] = mapped_column(default=False)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    source_key: Mapped[str] = mapped_column(String(64), unique=True)


class WorkPlanCustomer(IdMixin, Base):
    """A customer the plan means to visit, and how many visits its grade calls for in the period."""

    __tablename__ = "work_plan_customers"
    __table_args__ = (
        UniqueConstraint("plan_id", "customer_id", name="uq_work_plan_customers_plan_customer"),
    )

    plan_id: Mapped[int] = mapped_column(ForeignKey("work_plans.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    visits: Mapped[int] = mapped_column(default=1)


class WorkPlanComment(IdMixin, Base):
    """A supervisor's comment on a plan, pushed to its rep."""

    __tablename__ = "work_plan_comments"

    plan_id: Mapped[int] = mapped_column(ForeignKey("work_plans.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
