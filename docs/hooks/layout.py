"""mkdocs hook: the package layout in docs/architecture.md, generated from the source.

The page holds the marker ``<!-- layout -->``; this hook replaces it with one line per module
of ``src/cnnkit`` (its path, its line count and the first line of its docstring), so the
layout the docs show is the layout that ships. A module without a docstring, or a page
without the marker, fails the build.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

MARKER = "<!-- layout -->"
SRC = Path(__file__).resolve().parents[2] / "src" / "cnnkit"


#: Sphinx roles and rST literals in a docstring line, shown as plain names in the tree.
_ROLE = re.compile(r":[a-z]+:`~?([^`<]+?)(?:\s*<[^>]+>)?`")


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc:
        raise ValueError(f"{path} has no module docstring; docs/architecture.md needs one")
    line = doc.strip().splitlines()[0].rstrip()
    return _ROLE.sub(r"\1", line).replace("``", "")


def layout_tree() -> str:
    """The layout as a fenced text block, folders first, one line per module."""
    rows: list[tuple[str, str, str]] = []

    def walk(folder: Path, depth: int) -> None:
        files = sorted(p for p in folder.iterdir() if p.suffix == ".py")
        init = folder / "__init__.py"
        for path in ([init] if init in files else []) + [p for p in files if p != init]:
            lines = len(path.read_text(encoding="utf-8").splitlines())
            rows.append(("    " * depth + path.name, str(lines), _summary(path)))
        for sub in sorted(p for p in folder.iterdir() if (p / "__init__.py").is_file()):
            rows.append(("    " * depth + sub.name + "/", "", ""))
            walk(sub, depth + 1)

    walk(SRC, 1)
    width = max(len(r[0]) for r in rows)
    out = ["src/cnnkit/"] + [
        f"{name:<{width}}  {lines:>4}  {text}".rstrip() for name, lines, text in rows
    ]
    return "```text\n" + "\n".join(out) + "\n```"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != "architecture.md":
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/architecture.md lost its {MARKER} marker")
    return markdown.replace(MARKER, layout_tree())
