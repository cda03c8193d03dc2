"""The package layout stays as documented: small modules, no import cycle, one-way flow.

These tests read the source with :mod:`ast` (no module is imported), so they see every import:
module level, inside functions and under ``if TYPE_CHECKING:`` alike, since each of those ties
one module to another as surely as a top-level import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "cnnkit"

#: Longest module allowed (lines). One concept a file; timm's layers/ have a median near 150.
MAX_LINES = 500

#: The one-way flow of SPEC.md: a module may import modules of its own rank or lower only.
RANKS: dict[str, int] = {
    # leaves: standard library only
    "cnnkit._validate": 0,
    "cnnkit._atomic": 0,
    "cnnkit.metric_names": 0,
    "cnnkit.history": 0,
    "cnnkit.data": 1,
    "cnnkit.augment": 1,
    "cnnkit.layers": 2,
    "cnnkit.builder": 3,
    "cnnkit.fuse": 3,
    "cnnkit.saving": 3,
    "cnnkit.backbones": 3,
    "cnnkit.training": 4,
    "cnnkit.recipes": 5,
    "cnnkit.diagnosis": 5,
    "cnnkit.checks": 5,
    "cnnkit.plotting": 6,
    "cnnkit.study": 7,
    "cnnkit.cli": 8,
    "cnnkit.__main__": 9,
}

#: Concepts that must import and run without torch (numpy at most).
TORCH_FREE = ("cnnkit._validate", "cnnkit._atomic", "cnnkit.metric_names", "cnnkit.history",
              "cnnkit.diagnosis", "cnnkit.checks", "cnnkit.cli")  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> Iterator[tuple[str, int, list[str]]]:
    """Every ``(target module, line, imported names)`` that module ``name`` imports."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno, [a.name for a in node.names]


def _edges(name: str) -> Iterator[tuple[str, int]]:
    """cnnkit modules that importing ``name`` executes (its own package parents excluded)."""
    own_parents = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
    for target, line, names in _imports(name):
        if not target.startswith("cnnkit"):
            continue
        hits = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES] or [target]
        for hit in hits:
            # Importing a.b.c runs a/__init__ and a/b/__init__ first, unless they are ours.
            parts = hit.split(".")
            for i in range(1, len(parts) + 1):
                mod = ".".join(parts[:i])
                if mod in MODULES and mod not in own_parents and mod != name:
                    yield mod, line


def _concept(name: str) -> str:
    return ".".join(name.split(".")[:2])


def test_every_module_has_a_rank() -> None:
    unranked = sorted({_concept(m) for m in MODULES if m != "cnnkit"} - set(RANKS))
    assert not unranked, f"add these concepts to RANKS in {__file__}: {unranked}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines; split it (limit {MAX_LINES})"


def test_no_submodule_imports_the_top_level_package() -> None:
    bad = [
        f"{MODULES[m]}:{line}: from cnnkit import {', '.join(names)}"
        for m in MODULES
        if m != "cnnkit"
        for target, line, names in _imports(m)
        if target == "cnnkit" and set(names) - {"__version__"}
    ]
    assert not bad, "import from the defining module instead:\n" + "\n".join(bad)


def test_imports_flow_one_way() -> None:
    bad = []
    for m in MODULES:
        if m == "cnnkit":
            continue
        for dep, line in _edges(m):
            if dep == "cnnkit":
                continue
            if RANKS[_concept(dep)] > RANKS[_concept(m)]:
                bad.append(f"{MODULES[m]}:{line}: {m} (rank {RANKS[_concept(m)]}) imports "
                           f"{dep} (rank {RANKS[_concept(dep)]})")  # fmt: skip
    assert not bad, "imports against the data -> ... -> study flow:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    graph = {m: sorted({d for d, _ in _edges(m) if d != "cnnkit"}) for m in MODULES if m != "cnnkit"}
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert not cycles, f"import cycles (function-local and TYPE_CHECKING imports count): {cycles}"


def test_torch_free_concepts_never_import_torch() -> None:
    bad = [
        f"{MODULES[m]}:{line}: import {target}"
        for m in MODULES
        if _concept(m) in TORCH_FREE
        for target, line, _ in _imports(m)
        if target.split(".")[0] in ("torch", "torchvision", "lightning")
    ]
    assert not bad, "these modules must run without torch:\n" + "\n".join(bad)


def test_package_inits_only_reexport() -> None:
    """A package ``__init__`` holds a docstring, imports and ``__all__``: no code to hunt for."""
    bad = []
    for m in MODULES:
        if not _is_package(m) or m == "cnnkit":
            continue
        for node in ast.parse(MODULES[m].read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bad.append(f"{MODULES[m]}:{node.lineno}: {node.name}")
    assert not bad, "move these definitions into a module of their own:\n" + "\n".join(bad)
