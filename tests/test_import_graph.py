"""zoo-rank's import graph has no cycle (#36): module- and function-level imports alike. Imports
under ``if TYPE_CHECKING:`` are left out: they name types for annotations and never run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.core

PACKAGE = Path(__file__).parents[1] / "zoo_rank"


def _modules(package: Path) -> dict[str, Path]:
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def cycles(package: Path = PACKAGE) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    modules = _modules(package)
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root, imported in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(imported)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _short(name: str) -> str:
    return name.removeprefix("zoo_rank.") if name != "zoo_rank" else name


def test_there_is_no_import_cycle():
    """Before (65dc0ea): two circles, of 23 modules (the API, the registry, the built-in set, the
    hub client, the targets, ...) and of 4 (families, training config, weights)."""
    assert [sorted(_short(m) for m in component) for component in cycles()] == []


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    package = tmp_path / "zoo_rank"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")  # a function-level import counts
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("from ..a import f\n")
    (package / "c.py").write_text("from . import a\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .e import x\n")
    (package / "e.py").write_text("from .d import y\n")  # d imports e for annotations only: no cycle
    assert cycles(package) == [{"zoo_rank.a", "zoo_rank.sub.b"}]


# Where entries and their vectors are written, outside the store itself: ``ingest`` (every
# source of entries), the shipped built-ins copied into a registry (retiring an earlier set's copies), a
# build's retrained runs moved to their shipped names (no new content), and a vector cached while a
# target is ranked (the target's own, kept for the next ranking; no entry is made).
WRITERS = {"zoo_rank.pipeline.ingest": {"commit"}, "zoo_rank.builtin_registry": {"commit"},
           "zoo_rank.pipeline.builtin": {"commit"}, "zoo_rank.pipeline.backfill": {"put_embedding"}}
WRITES = {"insert", "commit", "replace_embeddings", "put_embedding"}


def test_every_source_of_entries_enters_through_pipeline_ingest():
    found: dict[str, set[str]] = {}
    for module, path in _modules(PACKAGE).items():
        if module == "zoo_rank.registry":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES
                    and "registry" in ast.unparse(node.func.value)):
                found.setdefault(module, set()).add(node.func.attr)
    assert found == WRITERS
