"""What every all-or-nothing import shares: the per-row problem list and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.i18n import N_, Translator
from bot.tabular import EXTRA, FORMULA

Problem = tuple[str, dict[str, str]]


def cell_problems(row: dict[str, str]) -> list[Problem]:
    """What :mod:`bot.tabular` marked on a row: more cells than columns, formulas instead of values."""
    problems: list[Problem] = []
    if EXTRA in row:
        problems.append((N_("more cells than columns in the header"), {}))
    if FORMULA in row:
        problems.append(
            (
                N_("{columns}: a formula is not a value (starts with =); import the values"),
                {"columns": row[FORMULA][:200]},
            )
        )
    return problems


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
    """Created and updated counts, or — if any row was bad — every bad row and nothing written.

    ``notes`` says, row by row, what an import did that the admin must hear of (who was added,
    moved, reactivated or deactivated); they render like problems: "line 3: …".
    """

    created: int = 0
    updated: int = 0
    teams_created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors
