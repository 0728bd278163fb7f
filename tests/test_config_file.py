"""``--config FILE``: settings and compare arguments from TOML, flags over the environment over
the file, and the shipped default config is exactly what ``make compare`` runs."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from izbench.config_file import load_config_file
from izbench.errors import ConfigError
from izbench.identity import cell_key
from izbench.profiles import get_profile
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry

ROOT = Path(__file__).resolve().parents[1]


def _make_compare_arguments() -> dict[str, str]:
    """The flags of the izbench compare line in the Makefile's compare target."""
    lines = (ROOT / "Makefile").read_text().split("\ncompare:")[1].split("\n\n")[0].replace("\\\n", " ")
    words = shlex.split(next(line for line in lines.splitlines() if "izbench compare" in line))
    words = words[words.index("compare") + 1 :]
    return {words[i].lstrip("-").replace("-", "_"): words[i + 1] for i in range(0, len(words), 2)}


def test_default_config_is_what_make_compare_runs(tmp_path: Path) -> None:
    settings_values, compare = load_config_file(ROOT / "configs" / "default.toml")
    flags = _make_compare_arguments()
    assert {k: str(v) for k, v in compare.items()} == {k: flags[k] for k in ("tasks", "methods", "seeds", "profile")}
    from_file = Settings(**settings_values, cache_dir=tmp_path / "c1")
    from_flags = Settings(score=flags["score"], protocol=flags["protocol"], cache_dir=tmp_path / "c2")
    registry = TaskRegistry()
    profile = get_profile(flags["profile"])
    with Runtime(from_file) as a, Runtime(from_flags) as b:
        for task in registry.suites["core"][:3]:
            for method in flags["methods"].split(","):
                assert cell_key(a, registry, method, task, 0, profile) == cell_key(
                    b, registry, method, task, 0, profile
                )


def test_flags_beat_the_environment_which_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('score = "choice"\nprotocol = "chat"\nseed = 5\n[compare]\nmethods = ["ape", "empty"]\n')
    monkeypatch.setenv("IZBENCH_PROTOCOL", "raw")
    values, compare = load_config_file(config)
    assert values == {"score": "choice", "seed": 5} and compare == {"methods": "ape,empty"}


def test_bad_config_files_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("score = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(bad)
    bad.write_text('scroe = "likelihood"\n')
    with pytest.raises(ConfigError, match="unknown setting.*scroe"):
        load_config_file(bad)
    bad.write_text('[compare]\ntask = "core"\n')
    with pytest.raises(ConfigError, match=r"unknown \[compare\] key.*task"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_config_file(tmp_path / "missing.toml")


def test_every_shipped_config_is_valid() -> None:
    for path in sorted((ROOT / "configs").glob("*.toml")):
        values, _ = load_config_file(path)
        Settings(**values)  # raises on a bad value


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.toml")))
def test_every_shipped_config_loads_and_names_known_methods(name: str) -> None:
    from izbench.methods import get_method

    settings_values, compare = load_config_file(ROOT / "configs" / name)
    Settings(**settings_values)
    for method in str(compare.get("methods", "")).split(","):
        if method:
            get_method(method)  # an unknown name is a ConfigError
