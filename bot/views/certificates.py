"""The return certificate (銷售退貨證明單) as a printable page: a one-page A5 PDF, or a PNG of it.

Drawn with matplotlib's object API (a ``Figure`` of its own, no pyplot, no global state), which the
bot already uses for charts: no further dependency. Chinese is drawn in the CJK font the charts
resolve (:func:`bot.services.reporting.charts.cjk_font_name`: a system font, else the packaged Noto Sans SC),
and every text is drawn as written (user text is never mathtext or TeX, as in the charts). The
labels are in the reader's language; names, products and reasons as they were typed.

The fields are the certificate's: number and date of issue, customer, the customer's rep, who asked
and when, the invoice, products and quantities when given, the amount credited, the reason, who
approved it and when, what the credit settled and what it left as credit, and lines for the
customer's and the rep's signatures. Rendering is CPU work: call it in a thread
(``asyncio.to_thread``), as the charts are.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D

from bot.i18n import N_, Translator
from bot.services.money.amounts import format_amount
from bot.services.money.returns import Certificate, items_text
from bot.services.reporting.charts import font

#: A5 portrait, in inches.
PAGE = (5.83, 8.27)
LEFT, LABEL_WIDTH, RIGHT = 0.08, 0.34, 0.92
#: Characters of text per line in the value column (a CJK character counts twice).
VALUE_WIDTH = 40
LINE = 0.028
PNG_DPI = 200


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, width: int = VALUE_WIDTH) -> list[str]:
    """``text`` in lines of at most ``width`` display columns: at spaces where there are any, anywhere
    in Chinese (which has none)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if display_width(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for ch in word:
                if display_width(line + ch) > width:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    return lines


def _fields(t: Translator, cert: Certificate, zone: ZoneInfo) -> list[tuple[str, str]]:
    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment is not None else "—"

    fields = [
        (t.gettext(N_("Customer")), f"{cert.customer.name} ({cert.customer.code})"),
        (t.gettext(N_("Sales rep")), cert.rep or "—"),
        (t.gettext(N_("Requested by")), f"{cert.requested_by}, {when(cert.requested_at)}"),
        (t.gettext(N_("Invoice")), cert.invoice_no or t.gettext(N_("none named"))),
    ]
    if cert.items:
        fields.append((t.gettext(N_("Products and quantities")), items_text(cert.items)))
    fields += [
        (t.gettext(N_("Amount credited")), format_amount(cert.amount)),
        (t.gettext(N_("Reason")), cert.reason or "—"),
        (t.gettext(N_("Approved by")), f"{cert.decided_by or '—'}, {when(cert.decided_at)}"),
    ]
    settled = "; ".join(
        t.gettext(N_("{invoice}: {amount}")).format(
            invoice=line.invoice_no, amount=format_amount(line.amount)
        )
        for line in cert.settled
    )
    fields.append((t.gettext(N_("Credited to invoices")), settled or "—"))
    if cert.kept > 0:
        fields.append((t.gettext(N_("Kept as the customer's credit")), format_amount(cert.kept)))
    return fields


def figure(t: Translator, cert: Certificate, zone: ZoneInfo) -> Figure:
    """The certificate on one A5 page."""
    page = Figure(figsize=PAGE)
    cjk = font()

    def text(
        x: float,
        y: float,
        value: str,
        *,
        size: float = 9,
        align: str = "left",
        colour: str = "black",
        props: FontProperties = cjk,
    ) -> None:
        # One weight only: the packaged CJK font has no bold (matplotlib would warn and fake it).
        shown = props.copy()
        shown.set_size(size)
        page.text(
            x,
            y,
            value,
            fontproperties=shown,
            ha=align,
            va="top",
            color=colour,
            parse_math=False,
            usetex=False,
        )

    text(0.5, 0.95, t.gettext(N_("Sales return certificate (銷售退貨證明單)")), size=14, align="center")
    issued = cert.decided_at.astimezone(zone).date().isoformat() if cert.decided_at else "—"
    text(
        RIGHT, 0.895, t.gettext(N_("No. {number}")).format(number=cert.number or "—"), size=10, align="right"
    )
    text(RIGHT, 0.87, t.gettext(N_("Date: {date}")).format(date=issued), size=9, align="right")
    _rule(page, 0.845)
    y = 0.825
    for label, value in _fields(t, cert, zone):
        text(LEFT, y, label, colour="#444444")
        for line in wrap(value):
            text(LEFT + LABEL_WIDTH, y, line)
            y -= LINE
        y -= LINE * 0.4
    y -= LINE
    _rule(page, y)
    y -= LINE * 2.5
    for label in (N_("Customer's signature"), N_("Sales rep's signature"), N_("Approver's signature")):
        text(LEFT, y, t.gettext(label) + ":")
        _rule(page, y - LINE * 0.8, start=LEFT + LABEL_WIDTH)
        y -= LINE * 2.5
    text(
        LEFT,
        0.04,
        t.gettext(N_("Return #{id} · regulations part 4, art. 22")).format(id=cert.return_id),
        size=7,
    )
    return page


def _rule(page: Figure, y: float, *, start: float = LEFT, end: float = RIGHT) -> None:
    page.add_artist(Line2D([start, end], [y, y], color="black", linewidth=0.6, transform=page.transFigure))


def render_pdf(t: Translator, cert: Certificate, zone: ZoneInfo) -> bytes:
    buffer = io.BytesIO()
    figure(t, cert, zone).savefig(
        buffer, format="pdf", metadata={"Title": f"{cert.number}", "Creator": "fieldbot"}
    )
    return buffer.getvalue()


def render_png(t: Translator, cert: Certificate, zone: ZoneInfo) -> bytes:
    buffer = io.BytesIO()
    figure(t, cert, zone).savefig(buffer, format="png", dpi=PNG_DPI, facecolor="white")
    return buffer.getvalue()


def file_name(cert: Certificate, extension: str) -> str:
    return f"{cert.number or f'return-{cert.return_id}'}.{extension}"
