"""The rep's daily work report (工作日報表) and requests that wait for a manager."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, str_enum


class DailyReport(IdMixin, Base):
    __tablename__ = "daily_reports"
    __table_args__ = (UniqueConstraint("rep_id", "day", name="uq_daily_reports_rep_day"),)

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(index=True)
    #: The day's records as they stood at submission (visits, orders, collections, prospects).
    summary: Mapped[str] = mapped_column(Text, default="")
    #: What the rep wrote before any heading (a one-line report, say).
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    market_info: Mapped[str] = mapped_column(Text, default="")
    plan_tomorrow: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(default=False)
    source_key: Mapped[str] = mapped_column(String(64), unique=True)


class ReportRead(IdMixin, Base):
    """A supervisor marked a report read (its rep sees "read by …"); once per reader, the time
    moved on when they mark it again (a replaced report is read anew)."""

    __tablename__ = "report_reads"
    __table_args__ = (UniqueConstraint("report_id", "reader_id", name="uq_report_reads_report_reader"),)

    report_id: Mapped[int] = mapped_column(ForeignKey("daily_reports.id"))
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime]


class ReportComment(IdMixin, Base):
    """A supervisor's answer to a report, pushed to its rep."""

    __tablename__ = "report_comments"

    report_id: Mapped[int] = mapped_column(ForeignKey("daily_reports.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    source_key: Mapped[str] = mapped_column(String(64), unique=True)


class ApprovalKind(enum.StrEnum):
    OVER_LIMIT = "over_limit"
    DISCOUNT = "discount"
    #: Goods returned: approving issues the return certificate and its credit note (models/money.py).
    RETURN = "return"


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: The order was undone by whoever placed it before anyone decided: nothing left to decide.
    WITHDRAWN = "withdrawn"


class Approval(IdMixin, Base):
    __tablename__ = "approvals"

    kind: Mapped[ApprovalKind] = mapped_column(str_enum(ApprovalKind, "approval_kind"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    receivable_id: Mapped[int | None] = mapped_column(ForeignKey("receivables.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ApprovalStatus] = mapped_column(
        str_enum(ApprovalStatus, "approval_status"), default=ApprovalStatus.PENDING, index=True
    )
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
