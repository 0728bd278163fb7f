"""``izbench signal`` as a user runs it: verdicts printed, stored, reported, and heeded by compare."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from processes import izbench, izbench_here

from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import ResultStore

SETUP = ("--score", "likelihood", "--protocol", "raw")


def _real_env(tmp: Path) -> dict[str, str]:
    """An izbench process on the default models (SmolLM2), with its own cache and store."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("IZBENCH_")}
    return inherited | {"IZBENCH_CACHE_DIR": str(tmp / "cache"), "IZBENCH_STORE": str(tmp / "izbench.duckdb")}


@pytest.mark.slow
def test_signal_prints_stores_and_reports_verdicts(tmp_path: Path) -> None:
    """On the real model: the verdict is the point of the check."""
    args = ("signal", "--tasks", "antonyms,larger_animal", "--n-examples", "8", *SETUP)
    env = _real_env(tmp_path)
    cold = izbench(*args, env=env)
    assert cold.returncode == 0, cold.stderr
    assert "measures instructions on" in cold.stdout
    assert "core/antonyms" in cold.stdout and "core/larger_animal" in cold.stdout
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    rows = con.execute("SELECT task, n_examples, measures, vs_empty_low, vs_mismatched_low FROM signal").fetchall()
    con.close()
    assert sorted(r[0] for r in rows) == ["core/antonyms", "core/larger_animal"]
    for _, n, measures, low_empty, low_mismatch in rows:
        assert n == 8 and measures == (low_empty > 0 and low_mismatch > 0)
    # Scoring is cached: the same check again makes no model call and gives the same rows.
    warm = izbench("--cache-mode", "replay", *args, env=env)
    assert warm.returncode == 0, warm.stderr and " 0 made" in warm.stderr
    report = izbench("report", "--out", str(tmp_path / "report"), env=env)
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "## Signal check" in markdown and "score likelihood, protocol raw" in markdown


def test_compare_warns_where_the_set_up_measures_nothing(
    tmp_path: Path, tiny_settings: Settings, tiny_env: dict[str, str]
) -> None:
    settings = tiny_settings.model_copy(update={"score": "likelihood", "protocol": "raw"})
    with Runtime(settings) as runtime, ResultStore.open(settings.store) as store:
        from izbench.identity import scoring_setup, signal_setup

        row = {
            "task": "core/sum", "n_examples": 4, "n_references": 1, "n_mismatched": 3, "reference_mean": -1.0,
            "empty_mean": -1.0, "mismatched_mean": -1.0, "vs_empty": 0.0, "vs_empty_low": -0.1,
            "vs_empty_high": 0.1, "vs_mismatched": 0.0, "vs_mismatched_low": -0.1, "vs_mismatched_high": 0.1,
            "chance": None, "measures": False,
        }  # fmt: skip
        store.put_signal(signal_setup(scoring_setup(runtime)), [0], [row])
    result = izbench_here("compare", "--tasks", "sum", "--methods", "empty", "--profile", "smoke", *SETUP, env=tiny_env)
    assert result.returncode == 0, result.stderr
    assert "does not measure instructions on core/sum" in result.stderr
    other = izbench_here(
        "compare", "--tasks", "sum", "--methods", "empty", "--profile", "smoke", "--score", "generate",
        "--protocol", "chat", env=tiny_env,
    )  # fmt: skip
    assert other.returncode == 0 and "does not measure" not in other.stderr
    # The store now holds the same cell under two score functions: never one leaderboard.
    report = izbench_here("report", "--out", str(tmp_path / "report"), env=tiny_env)
    assert report.returncode == 0, report.stderr
    assert "2 configurations in the store" in report.stderr
    markdown = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "## score likelihood, protocol raw" in markdown and "## score generate, protocol chat" in markdown
    assert markdown.count("| core/sum |") == 3  # one row in each leaderboard, one in the signal section
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert len({c["comparison_hash"] for c in results["cells"]}) == 2
    # Each cell is checked against the baseline cell of its own configuration only.
    same = izbench_here("regress", "--baseline", str(tmp_path / "report" / "results.json"), env=tiny_env)
    assert same.returncode == 0 and "4 baseline cells" in same.stdout and "0 regressions" in same.stdout


def test_choice_compare_runs_replays_and_reports_chance(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    args = (
        "compare",
        "--tasks",
        "larger_animal",
        "--methods",
        "empty,human",
        "--profile",
        "smoke",
        "--score",
        "choice",
    )
    cold = izbench_here(*args, env=tiny_env)
    assert cold.returncode == 0, cold.stderr
    assert "chance" in cold.stdout and "0.500" in cold.stdout  # two animals: chance is 1/2
    replay = izbench_here("--cache-mode", "replay", *args, env=tiny_env)
    assert replay.returncode == 0, replay.stderr
    assert " 0 made" in replay.stderr
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    scores = con.execute("SELECT DISTINCT score FROM predictions").fetchall()
    con.close()
    assert {s for (s,) in scores} <= {0.0, 1.0}
    report = izbench_here("report", "--out", str(tmp_path / "report"), env=tiny_env)
    assert report.returncode == 0 and "| chance |" in (tmp_path / "report" / "leaderboard.md").read_text()
    # A task without options refuses choice before any model is called.
    refused = izbench_here(
        "compare", "--tasks", "sum", "--methods", "empty", "--profile", "smoke", "--score", "choice", env=tiny_env
    )
    assert refused.returncode == 2
    assert "--score choice needs answer options, and core/sum have none" in refused.stderr


@pytest.mark.usefixtures("llamacpp")
def test_a_cell_identity_is_read_from_settings_without_starting_a_server(tmp_path: Path) -> None:
    """A warm rerun computes every cell's key; with --blackbox llamacpp that must start nothing."""
    from izbench.identity import cell_key
    from izbench.profiles import get_profile
    from izbench.tasks.registry import TaskRegistry

    settings = Settings(store=tmp_path / "s.duckdb", cache_dir=tmp_path / "c", blackbox="llamacpp")
    with Runtime(settings) as runtime:
        key = cell_key(runtime, TaskRegistry(), "empty", "sum", 0, get_profile("smoke"))
        assert key.config["blackbox"]["kind"] == "llamacpp"
        assert runtime.backend("llamacpp").server.pid is None  # type: ignore[attr-defined]
