"""The package's layers: no two parts of forkflow/ import each other, directly or round about.

A part is a package (auth/, services/, routes/, storage/) or a top-level module (store.py,
events.py, ...). The imports are read from the source (every `import` and `from ... import`,
also those inside functions), so a cycle hidden behind a late import counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "forkflow"
PACKAGES = ("auth", "services", "routes", "storage")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """forkflow.services.orders -> services; forkflow.store -> store."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path, module: str, known: set[str]) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            names = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (name for name in names if name in known)


def part_graph() -> dict[str, set[str]]:
    """Which parts each part imports."""
    files = {_module(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts}
    graph: dict[str, set[str]] = {_part(module): set() for module in files}
    for module, path in files.items():
        for imported in _imports(path, module, set(files)):
            if _part(imported) != _part(module):
                graph[_part(module)].add(_part(imported))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of parts that reach each other (strongly connected, more than one part)."""
    reach = {part: _reachable(graph, part) for part in graph}
    groups = {frozenset(other for other in graph if other in reach[part] and part in reach[other]) for part in graph}
    return [set(group) for group in groups if len(group) > 1]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_graph_sees_the_packages_and_their_imports() -> None:
    graph = part_graph()
    assert set(PACKAGES) <= set(graph) and {"store", "events", "app"} <= set(graph)
    assert "store" in graph["services"] and "storage" in graph["store"] and "events" in graph["storage"]


def test_no_two_parts_import_each_other() -> None:
    """routes/ included: openapi.py documents the routes it is handed, and live.py and limits.py
    read the request through request.py, so nothing below routes/ imports it."""
    assert [sorted(group) for group in cycles(part_graph())] == []


def test_the_lower_layers_are_in_no_cycle() -> None:
    """Also not with routes/: the cycles these were in (auth <-> services through the credential
    lookups, config <-> auth through the password hash cost) stay gone."""
    for group in cycles(part_graph()):
        assert not {"auth", "services", "storage", "store", "config"} & group, sorted(group)
