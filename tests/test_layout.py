"""The layout's promises: imports run one way, results read back without models, method settings
are typed, and a profile's config records only what it sets."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from izbench.errors import ConfigError
from izbench.identity import comparison_hash
from izbench.profiles import MethodSettings, get_profile

PACKAGE = Path(__file__).resolve().parents[1] / "izbench"
ABOVE_MODELS = (
    "izbench.cache",
    "izbench.generation",
    "izbench.runtime",
    "izbench.runner",
    "izbench.store",
    "izbench.scoring",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_models_and_tasks_never_import_upward() -> None:
    for folder in ("models", "tasks"):
        for path in (PACKAGE / folder).glob("*.py"):
            upward = {m for m in _imports(path) if m.startswith(ABOVE_MODELS)}
            assert not upward, f"{path.name} imports {upward}"


def test_reports_and_the_store_read_results_without_torch_or_the_runner() -> None:
    probe = (
        "import sys, izbench.report, izbench.store, izbench.report.regress; "
        "print(sorted(m for m in ('torch', 'transformers', 'izbench.runner', 'izbench.runtime') if m in sys.modules))"
    )
    loaded = subprocess.check_output([sys.executable, "-c", probe], text=True).strip()
    assert loaded == "[]"


def test_method_settings_are_typed_and_checked_once() -> None:
    smoke = get_profile("smoke")
    assert isinstance(smoke.params, MethodSettings) and smoke.params.n_init == 2
    assert smoke.params.intrinsic_dim == 10  # an unset setting reads its default
    with pytest.raises(ConfigError, match="n_init"):
        smoke.with_overrides(n_init=0)
    with pytest.raises(ConfigError, match="no_such_knob"):
        smoke.with_overrides(no_such_knob=3)


def test_a_profile_config_records_only_the_settings_it_sets() -> None:
    # The exact JSON cells of earlier versions were keyed by: adding a defaulted setting keeps it.
    dumped = get_profile("default").with_overrides(budget=None, scale=None).model_dump(mode="json")
    assert dumped == {
        "budget": 8,
        "n_validation": 10,
        "n_test": 40,
        "params": {"n_init": 4, "n_per_iter": 2, "cma_iterations": 8},
    }
    assert get_profile("default").with_overrides(scale=True).model_dump(mode="json")["params"]["scale"] is True


def test_a_setting_only_some_methods_read_is_in_their_identity_alone() -> None:
    from izbench.identity import cell_key
    from izbench.runtime import Runtime
    from izbench.settings import Settings
    from izbench.tasks.registry import TaskRegistry

    default = get_profile("default")
    assert default.params.instinct_domain == 32 and "instinct_domain" not in default.model_dump()["params"]
    assert default.owned_settings("instinct")["instinct_domain"] == 32
    assert default.owned_settings("instructzero") == {} and get_profile("paper").owned_settings("instinct") == {}
    with Runtime(Settings()) as runtime:
        registry = TaskRegistry()
        keys = {m: cell_key(runtime, registry, m, "core/sum", 0, default) for m in ("instructzero", "instinct")}
        rescaled = default.with_overrides(instinct_domain=64)
        # INSTINCT's cells change with its own settings; InstructZero's, and the comparison, do not.
        assert cell_key(runtime, registry, "instinct", "core/sum", 0, rescaled).run_id != keys["instinct"].run_id
        assert cell_key(runtime, registry, "instructzero", "core/sum", 0, rescaled) == keys["instructzero"]
        assert comparison_hash(keys["instinct"].config) == comparison_hash(keys["instructzero"].config)
        assert keys["instinct"].config["method_identity"]["settings"]["instinct_pool"] == 32
