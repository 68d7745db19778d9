"""The contract sits at the bottom: it imports no app, and only tests and the demo import the simulator."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# The project's own apps: the contract may take nothing from them.
APPS = {name for name in settings.INSTALLED_APPS if (ROOT / name / "apps.py").exists()}
# Besides tests: the simulator itself, the command that serves it, and the demo.
SIMULATOR_USERS = {
    "exchanges/simulator.py",
    "exchanges/management/commands/exchange_server.py",
    "exchanges/management/commands/run_demo.py",
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def app_code() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not {".venv", "tests", "bench", "node_modules"} & set(path.relative_to(ROOT).parts)
    ]


def test_the_apps_are_found():
    assert {"accounts", "beneficiaries", "exchanges", "orientations"} <= APPS


def test_the_contract_imports_no_app():
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "contract").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in APPS
    }
    assert not offending


def test_only_tests_the_demo_and_its_command_import_the_simulator():
    offending = {
        str(path.relative_to(ROOT))
        for path in app_code()
        if str(path.relative_to(ROOT)) not in SIMULATOR_USERS
        and any(module.startswith("exchanges.simulator") for module in imported_modules(path))
    }
    assert not offending
