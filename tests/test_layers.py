"""Layers import downwards only: rules (bot/services, bot/views) and tables (models) never import the
jobs or the handlers that use them (docs/ARCHITECTURE.md, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BELOW = {
    "bot/services": ("jobs", "handlers"),
    "bot/views": ("jobs", "handlers"),
    "models": ("jobs", "handlers", "bot.services", "bot.views"),
}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_a_lower_layer_never_imports_a_higher_one(layer: str) -> None:
    forbidden = BELOW[layer]
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for name in imported(path)
        if any(name == above or name.startswith(f"{above}.") for above in forbidden)
    ]
    assert found == []
