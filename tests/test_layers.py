"""No import cycle between the apps (docs/architecture.md): each imports only the layers below it.

Read with `ast` from the sources, imports inside functions included: an import moved into a
function to dodge a circular import at load time is still a cycle between the apps.
"""

from __future__ import annotations

import ast
import pathlib
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parent.parent
APPS = ("accounts", "audit", "beneficiaries", "caseloads", "contract", "exchanges", "intake")
APPS += ("orientations", "pages", "rights")
# config is two things: settings and checks below every app, and the project's entry points on top
# (URLs, health pages, the Celery app and its worker hooks, loaded by config/__init__.py), which
# may import any app.
PROJECT = {"config", "config.urls", "config.health", "config.celery", "config.wsgi", "config.asgi"}


def _node(module: str) -> str | None:
    """The graph node of a dotted module name, None outside the project's apps."""
    if module in PROJECT:
        return "project"
    top = module.split(".")[0]
    return top if top in APPS or top == "config" else None


def _imports(path: pathlib.Path, module: str) -> list[tuple[str, int]]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package up
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from config import checks` imports the module config.checks, not config's __init__ alone.
            for alias in node.names:
                submodule = ROOT.joinpath(*base.split("."), alias.name)
                if submodule.with_suffix(".py").exists() or (submodule / "__init__.py").exists():
                    found.append((f"{base}.{alias.name}", node.lineno))
                else:
                    found.append((base, node.lineno))
    return found


def import_graph() -> dict[tuple[str, str], list[str]]:
    """(importing node, imported node) -> {"path:line", ...}, for every app module but migrations."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for top in (*APPS, "config"):
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            source = _node(module)
            for imported, line in _imports(path, module):
                target = _node(imported)
                if target and target != source:
                    edges[(source, target)].add(f"{relative}:{line}")
    return edges


def cycles(edges) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_apps_import_each_other_without_a_cycle():
    edges = import_graph()
    report = []
    for component in cycles(edges):
        report.append(" ⇄ ".join(component))
        for (a, b), where in sorted(edges.items()):
            if a in component and b in component:
                report.append(f"  {a} -> {b}: {', '.join(sorted(where))}")
    assert not report, "Import cycles between apps:\n" + "\n".join(report)


def test_a_cycle_is_seen_even_through_an_import_inside_a_function():
    # The test above would pass on a graph it cannot read: check it reads one.
    edges = import_graph()
    assert ("pages", "beneficiaries") in edges
    assert ("project", "exchanges") in edges
    assert cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [["a", "b", "c"]]
