"""mkdocs hook: the threshold tables of ``docs/diagnosis.md``, generated from the code.

A page marks where a table goes with ``<!-- thresholds: cnnkit.diagnosis.thresholds -->`` (a
module path). At build time the marker is replaced by a table of that module's constants: name,
value (as written in the source) and the ``#:`` comment above it, which says which rule uses the
constant and why it has this value. The source is parsed, not imported, so the hook needs
neither numpy nor torch.

The build fails (``PluginError``) when a page listed in ``REQUIRED`` lacks one of its markers,
when a marker names a module that does not exist or has no constants, when a constant has no
``#:`` comment, or when the page names a constant (an upper-case name with an underscore, in
backticks) that no module of the marked modules' packages defines any more.

Registered in ``mkdocs.yml`` under ``hooks:``; tested by ``tests/test_diagnosis_docs.py``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from mkdocs.exceptions import PluginError
except ImportError:  # pragma: no cover - imported by the tests without mkdocs
    PluginError = RuntimeError  # type: ignore[misc,assignment]

#: Pages that must carry the tables of these modules.
REQUIRED: dict[str, tuple[str, ...]] = {
    "diagnosis.md": ("cnnkit.diagnosis.thresholds", "cnnkit.diagnosis.data_checks"),
}
MARKER = re.compile(r"<!--\s*thresholds:\s*([\w.]+)\s*-->")
CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z][A-Z0-9]{2,}$")
MENTION = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")

_seen: set[str] = set()


@dataclass(frozen=True)
class Constant:
    """One module-level constant: ``name = value`` with its ``#:`` comment."""

    name: str
    source: str  # the value as written
    comment: str  # the ``#:`` lines above it, joined
    numeric: bool  # a number or a tuple of numbers (tabulated); others are only checked


def _is_numeric(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_numeric(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_numeric(node.left) and _is_numeric(node.right)
    if isinstance(node, ast.Tuple):
        return bool(node.elts) and all(_is_numeric(e) for e in node.elts)
    return False


def _assignments(text: str) -> list[tuple[str, ast.expr, int]]:
    """``(name, value, line)`` of every upper-case module-level assignment."""
    out = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and CONSTANT_NAME.match(target.id):
            out.append((target.id, value, node.lineno))
    return out


def read_constants(path: Path) -> list[Constant]:
    """The upper-case module-level constants of a Python file, in source order.

    Raises:
        PluginError: The file is missing, or a constant has no ``#:`` comment.
    """
    if not path.is_file():
        raise PluginError(f"thresholds hook: no module file {path}")
    text = path.read_text(encoding="utf-8")
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT and tok.string.startswith("#:") and tok.start[1] == 0:
            comments[tok.start[0]] = tok.string[2:].strip()
    out: list[Constant] = []
    for name, value, lineno in _assignments(text):
        lines: list[str] = []
        line = lineno - 1
        while line in comments:
            lines.insert(0, comments[line])
            line -= 1
        if not lines:
            raise PluginError(
                f"thresholds hook: {path.name}: constant {name} (line {lineno}) has no "
                "'#:' comment saying which rule uses it and why it has this value"
            )
        source = ast.get_source_segment(text, value) or ""
        out.append(Constant(name, " ".join(source.split()), " ".join(lines), _is_numeric(value)))
    return out


def package_constant_names(path: Path) -> set[str]:
    """Names of the upper-case constants of every module next to ``path`` (its package)."""
    return {name for f in path.parent.glob("*.py")
            for name, _, _ in _assignments(f.read_text(encoding="utf-8"))}


def module_path(root: Path, module: str) -> Path:
    """``src/<module as path>.py`` under the repository root."""
    return root / "src" / (module.replace(".", "/") + ".py")


def render_table(constants: list[Constant]) -> str:
    """A Markdown table of the numeric constants: name, value, rule and rationale."""
    rows = ["| constant | value | rule and rationale |", "|---|---|---|"]
    for c in constants:
        if c.numeric:
            rows.append(f"| `{c.name}` | `{c.source}` | {c.comment.replace('|', '&#124;')} |")
    return "\n".join(rows)


def render_page(markdown: str, root: Path, page: str) -> str:
    """Replace every marker of ``markdown`` with its table; check markers and mentions.

    Args:
        markdown: The page source.
        root: The repository root (where ``src/`` is).
        page: The page's path under ``docs/`` (for ``REQUIRED`` and the messages).

    Returns:
        The page with the tables in place of the markers.

    Raises:
        PluginError: See the module docstring.
    """
    modules = MARKER.findall(markdown)
    missing = [m for m in REQUIRED.get(page, ()) if m not in modules]
    if missing:
        raise PluginError(
            f"thresholds hook: {page} has no marker for {', '.join(missing)}; add "
            + ", ".join(f"'<!-- thresholds: {m} -->'" for m in missing)
            + " where the table belongs"
        )
    if not modules:
        return markdown
    tables: dict[str, list[Constant]] = {}
    for module in modules:
        constants = read_constants(module_path(root, module))
        if not any(c.numeric for c in constants):
            raise PluginError(f"thresholds hook: {page}: module {module} has no numeric constants")
        tables[module] = constants
    defined = {n for module in modules for n in package_constant_names(module_path(root, module))}
    stale = sorted({m for m in MENTION.findall(MARKER.sub("", markdown)) if m not in defined})
    if stale:
        packages = sorted({m.rsplit(".", 1)[0] for m in modules})
        raise PluginError(
            f"thresholds hook: {page} names {', '.join(stale)}, which "
            f"{'is' if len(stale) == 1 else 'are'} not defined in {', '.join(packages)}: "
            "rename or remove the mention"
        )
    return MARKER.sub(lambda m: render_table(tables[m.group(1)]), markdown)


# ---------------------------------------------------------------------------- mkdocs events


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Forget the pages seen in a previous build (``mkdocs serve`` rebuilds)."""
    _seen.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    """Generate the tables of one page."""
    root = Path(config["config_file_path"]).resolve().parent
    src = page.file.src_uri
    _seen.add(src)
    return render_page(markdown, root, src)


def on_post_build(config: Any, **kwargs: Any) -> None:
    """Fail when a page that must carry tables was not built at all."""
    absent = sorted(set(REQUIRED) - _seen)
    if absent:
        raise PluginError(f"thresholds hook: pages {absent} were not built; update REQUIRED")
