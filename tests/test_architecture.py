"""Dependencies between apps point one way (DESIGN.md's architecture; CONVENTIONS 2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "contactpoint"
ROOT_MODULES = {"config", "settings", "urls", "wsgi", "cli"}
DOMAIN = {"audit", "index", "matching", "access", "search", "shielding", "feeds", "lifecycle"}

# Which apps each app may import. An import outside this table is a design bug: move the code.
ALLOWED: dict[str, set[str]] = {
    "audit": set(),
    "index": {"audit"},
    "matching": {"index", "audit"},
    "access": {"index", "audit"},
    "search": {"access", "matching", "index", "audit"},
    "shielding": {"access", "index", "audit"},
    "lifecycle": {"shielding", "access", "index", "audit"},
    "feeds": {"shielding", "matching", "access", "index", "audit"},
    "synthetic": {"feeds", "matching", "access", "index", "audit"},
    "web": DOMAIN | {"synthetic"},
    "api": DOMAIN,
}


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "contactpoint" and len(parts) > 1:
                found.add(parts[1])
    return found


APPS = sorted(p.name for p in PACKAGE.iterdir() if (p / "apps.py").exists())


def test_every_app_has_a_declared_place() -> None:
    assert set(APPS) <= set(ALLOWED), f"add {set(APPS) - set(ALLOWED)} to ALLOWED"


@pytest.mark.parametrize("app", APPS)
def test_app_imports_only_the_apps_below_it(app: str) -> None:
    wrong = []
    for path in (PACKAGE / app).rglob("*.py"):
        for imported in _imported_apps(path) - ROOT_MODULES - {app}:
            if imported not in ALLOWED.get(app, set()):
                wrong.append(f"{path.relative_to(PACKAGE)} imports contactpoint.{imported}")
    assert not wrong, "\n".join(wrong)
