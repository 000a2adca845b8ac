"""Customer letters and complaints (用戶函電, regulations part 3 art. 16–18), with their clocks.

Every item is answered within three days of being logged; a quality problem also gets someone
on site within five (``onsite_due``). Both due dates are local calendar days, fixed when the item
is logged (bot/services/field/complaints.py says why calendar days).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, str_enum


class ComplaintKind(enum.StrEnum):
    ENQUIRY = "enquiry"
    LETTER = "letter"
    COMPLAINT = "complaint"


class ComplaintTag(enum.StrEnum):
    QUALITY = "quality"
    DELIVERY = "delivery"
    PRICE = "price"
    SERVICE = "service"
    OTHER = "other"


class Complaint(IdMixin, Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_open", "resolved_at", "answer_due"),
        Index("ix_complaints_customer_opened", "customer_id", "opened_at"),
        Index("ix_complaints_opened", "opened_at"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: Whoever logged it; it is owned by the customer's rep, or by them when the customer has none
    #: (bot/services/field/complaints.py: ``owner``).
    logged_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ComplaintKind] = mapped_column(str_enum(ComplaintKind, "complaint_kind"))
    tag: Mapped[ComplaintTag] = mapped_column(str_enum(ComplaintTag, "complaint_tag"))
    text: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime]
    #: The last local day an answer is on time.
    answer_due: Mapped[date]
    #: The last local day someone may reach the customer on time: quality problems only.
    onsite_due: Mapped[date | None]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    #: When someone was on site: the visit's time, or when it was recorded by hand.
    onsite_at: Mapped[datetime | None]
    onsite_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The on-site visit that met the requirement (cleared if that visit is undone).
    onsite_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    #: What was recorded by hand when nobody logged a visit (e.g. the quality department went).
    onsite_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
