"""What every all-or-nothing import shares: the per-row problem list and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.i18n import Translator


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str  # English source marked with N_, {placeholders} filled from params
    params: dict[str, str] = field(default_factory=dict)

    def render(self, t: Translator | None = None) -> str:
        if t is None:
            return self.reason.format(**self.params)
        return t(self.reason, **self.params)


@dataclass
class ImportReport:
    """Created and updated counts, or — if any row was bad — every bad row and nothing written."""

    created: int = 0
    updated: int = 0
    teams_created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors
