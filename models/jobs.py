"""Scheduled work: which job ran for which day, and company settings admins can change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin


class JobRun(IdMixin, Base):
    """One run of a job for one local period (``ran_for``: a date, or date and hour)."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "ran_for", name="uq_job_runs_job_ran_for"),)

    job: Mapped[str] = mapped_column(String(40))
    ran_for: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    pushes: Mapped[int] = mapped_column(default=0)


class CompanySetting(Base):
    """A setting changed from its shipped default (job times, quiet hours, holidays, …)."""

    __tablename__ = "company_settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
