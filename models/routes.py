"""Route order (客戶路序, regulations part 4 art. 14): the order a rep visits their customers in.

A rep who saved their own order has one row per customer, numbered from 0. A rep with no rows
gets the automatic order (nearest next, from the stored coordinates: bot/services/field/routes.py).
Saving replaces all of the rep's rows; resetting to automatic deletes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class RouteStop(Base):
    __tablename__ = "route_stops"

    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: 0 for the first customer of the rep's route.
    position: Mapped[int]
    saved_at: Mapped[datetime]
