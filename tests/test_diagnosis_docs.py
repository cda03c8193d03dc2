"""The diagnosis threshold tables of docs/diagnosis.md are generated from the code by the mkdocs
hook docs/hooks/thresholds.py: every constant appears with its real value and rationale, and a
missing marker, a constant without a rationale or a stale mention fails the build."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import cnnkit.diagnosis.data_checks as data_checks
import cnnkit.diagnosis.thresholds as thresholds

ROOT = Path(__file__).resolve().parents[1]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("thresholds_hook", ROOT / "docs/hooks/thresholds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


HOOK = _hook()
PAGE = (ROOT / "docs/diagnosis.md").read_text(encoding="utf-8")


def _numeric(v: object) -> bool:
    if isinstance(v, tuple):
        return bool(v) and all(_numeric(x) for x in v)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rows(markdown: str) -> dict[str, tuple[str, str]]:
    return {m[0]: (m[1], m[2]) for m in re.findall(r"^\| `(\w+)` \| `([^`]*)` \| (.*) \|$",
                                                   markdown, re.M)}


def test_the_hook_is_registered() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^hooks:\n(?:  - .*\n)*  - docs/hooks/thresholds\.py$", config, re.M)


def test_every_threshold_is_tabulated_with_its_real_value() -> None:
    rows = _rows(HOOK.render_page(PAGE, ROOT, "diagnosis.md"))
    for module in (thresholds, data_checks):
        names = [n for n in module.__all__ if n.isupper() and _numeric(getattr(module, n))]
        assert names
        for name in names:
            source, rationale = rows[name]
            assert eval(source) == getattr(module, name), name  # the value as the code has it
            assert len(rationale) > 20, name
    assert "PRIORITY" not in rows  # not a number: documented in the text instead
    assert rows["OVERFIT_MIN_TRAIN_DROP"][1].startswith("... and this fraction")
    assert "<!-- thresholds" not in HOOK.render_page(PAGE, ROOT, "diagnosis.md")


def test_a_missing_marker_fails_the_build() -> None:
    page = PAGE.replace("<!-- thresholds: cnnkit.diagnosis.data_checks -->", "")
    with pytest.raises(HOOK.PluginError, match=r"no marker for cnnkit\.diagnosis\.data_checks"):
        HOOK.render_page(page, ROOT, "diagnosis.md")
    assert HOOK.render_page("# other page\n", ROOT, "other.md") == "# other page\n"


def test_a_stale_constant_name_fails_the_build() -> None:
    page = PAGE + "\nSee `OVERFIT_RISE_SIGMA` (renamed).\n"
    with pytest.raises(HOOK.PluginError, match="OVERFIT_RISE_SIGMA, which is not defined"):
        HOOK.render_page(page, ROOT, "diagnosis.md")


def test_a_constant_without_rationale_or_an_unknown_module_fails_the_build(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "limits.py").write_text("#: Documented.\nA_LIMIT = 1.5\nB_LIMIT = 2\n", encoding="utf-8")
    with pytest.raises(HOOK.PluginError, match=r"B_LIMIT .* has no '#:' comment"):
        HOOK.render_page("<!-- thresholds: demo.limits -->", tmp_path, "x.md")
    (pkg / "limits.py").write_text("#: Documented,\n#: on two lines.\nA_LIMIT = 1 / 4\n", encoding="utf-8")
    out = HOOK.render_page("<!-- thresholds: demo.limits -->", tmp_path, "x.md")
    assert "| `A_LIMIT` | `1 / 4` | Documented, on two lines. |" in out
    with pytest.raises(HOOK.PluginError, match="no module file"):
        HOOK.render_page("<!-- thresholds: demo.missing -->", tmp_path, "x.md")
