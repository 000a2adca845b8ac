"""The demo's conversation as readable plain text: who said what, the bot's answers and buttons."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime

from bot.devserver import SentMessage
from bot.i18n import N_, Translator
from bot.menus import ROLE_LABELS
from jobs.catalogue import job_title
from models import Role

#: On the console a message longer than this is cut; transcript.txt keeps every line.
SHORT_LINES = 12
INDENT = " " * 8


@dataclass(frozen=True)
class Speaker:
    name: str
    role: Role


def buttons_of(message: SentMessage) -> list[str]:
    """Rows of buttons as ``[label] [label]``, inline keyboards and reply keyboards alike."""
    markup = message.reply_markup or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return ["  ".join(f"[{button.get('text', '')}]" for button in row) for row in rows]


@dataclass
class Transcript:
    """Lines in two versions: full (for transcript.txt) and shortened (for the console)."""

    t: Translator
    full: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)

    def _add(self, line: str, *, console: bool = True) -> None:
        self.full.append(line)
        if console:
            self.short.append(line)

    def who(self, speaker: Speaker) -> str:
        return self.t.gettext(N_("{name} ({role})")).format(
            name=speaker.name, role=self.t.gettext(ROLE_LABELS[speaker.role])
        )

    def said_by(self, who: str, what: str = "") -> str:
        """ "Li Wei (sales rep): /visit …"; in Chinese "李伟（销售员）：/visit …" (full-width colon)."""
        return self.t.gettext(N_("{who}: {what}")).format(who=who, what=what)

    def heading(self, at: datetime, text: str) -> None:
        self._add("")
        self._add(f"—— {at:%H:%M} {text} ——")

    def said(self, at: datetime, speaker: Speaker, text: str) -> None:
        self._add(f"{at:%H:%M}  " + self.said_by(self.who(speaker), text))

    def pressed(self, at: datetime, speaker: Speaker, label: str) -> None:
        self._add(
            f"{at:%H:%M}  "
            + self.said_by(self.who(speaker), self.t.gettext(N_("presses [{button}]")).format(button=label))
        )

    def shared_location(self, at: datetime, speaker: Speaker, lat: float, lon: float) -> None:
        shared = self.t.gettext(N_("shares a location ({lat}, {lon})")).format(lat=lat, lon=lon)
        self._add(f"{at:%H:%M}  " + self.said_by(self.who(speaker), shared))

    def job(self, at: datetime, name: str, pushes: int) -> None:
        self._add(
            f"{at:%H:%M}  ⏰ "
            + self.t.gettext(N_("scheduled job {job}, pushes queued: {n}")).format(
                job=job_title(name, self.t), n=pushes
            )
        )

    def bot(self, message: SentMessage, *, edited: bool) -> None:
        label = self.t.gettext(N_("bot (edits its message)") if edited else N_("bot"))
        self._message(INDENT + self.said_by(label), message)

    def push(self, at: datetime, recipient: Speaker, message: SentMessage, *, condensed: bool) -> None:
        head = f"{at:%H:%M}  📣 " + self.t.gettext(N_("push to {who}")).format(who=self.who(recipient))
        if condensed:
            first = message.plain_text().splitlines()[0] if message.plain_text() else ""
            self.short.append(self.said_by(head, f"{first} …"))
            self._message(f"{self.said_by(head).rstrip()}\n{INDENT}", message, console=False)
            return
        self._message(f"{self.said_by(head).rstrip()}\n{INDENT}", message)

    def _message(self, prefix: str, message: SentMessage, *, console: bool = True) -> None:
        body = message.plain_text().splitlines() or [""]
        if message.kind in ("document", "photo"):
            size = len(message.file_bytes or b"") // 1024
            note = self.t.gettext(N_("📎 file {name} ({size} KB)")).format(
                name=message.file_name or "image.png", size=size
            )
            body = [note, *(line for line in body if line)]
        lines = [*body, *buttons_of(message)]
        first, *rest = lines
        rendered = [prefix + first, *(INDENT + "  " + line if line else "" for line in rest)]
        for line in rendered:
            self.full.append(line)
        if not console:
            return
        shown = rendered
        if len(rendered) > SHORT_LINES:
            buttons = buttons_of(message)
            keep = SHORT_LINES - min(len(buttons), 3)
            cut = len(rendered) - keep - min(len(buttons), 3)
            shown = [
                *rendered[:keep],
                INDENT
                + "  … "
                + self.t.ngettext(
                    "(shortened: {n} more line in transcript.txt)",
                    "(shortened: {n} more lines in transcript.txt)",
                    cut,
                ).format(n=cut),
                *rendered[len(rendered) - min(len(buttons), 3) :],
            ]
        self.short.extend(shown)

    def note(self, text: str) -> None:
        if self.full:
            self._add("")
        for line in textwrap.wrap(text, 100, break_long_words=False, break_on_hyphens=False):
            self._add(line)

    def text(self, *, shortened: bool) -> str:
        return "\n".join(self.short if shortened else self.full) + "\n"
