"""The command line as a user runs it: a real process, real models, one line per error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from processes import izbench, izbench_here


def test_help_lists_the_commands(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    result = izbench("--help", env=tiny_env)
    assert result.returncode == 0
    for command in ("models", "complete", "generate", "cache"):
        assert command in result.stdout


def test_models_shows_the_default_backend(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    defaults = {k: v for k, v in tiny_env.items() if k not in ("IZBENCH_GENERATOR", "IZBENCH_BLACKBOX_MODEL")}
    result = izbench_here("models", env=defaults | {"IZBENCH_BLACKBOX": "llamacpp"})
    assert result.returncode == 0, result.stderr
    assert "SmolLM2-135M-Instruct" in result.stdout
    line = next(line for line in result.stdout.splitlines() if "llamacpp" in line)
    assert "yes" in line.split("│")[-2]


def test_complete_twice_then_replay(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    args = ("complete", "Say hello.", "--backend", "local", "--max-tokens", "6")
    cold = izbench_here(*args, env=tiny_env)
    assert cold.returncode == 0, cold.stderr
    assert "0 served from cache, 1 made" in cold.stderr
    warm = izbench_here("--cache-mode", "replay", *args, env=tiny_env)
    assert warm.returncode == 0, warm.stderr
    assert "1 served from cache, 0 made; tokens spent: 0" in warm.stderr
    assert warm.stdout.splitlines()[-1] == cold.stdout.splitlines()[-1]
    miss = izbench_here("--cache-mode", "replay", "complete", "Something new.", "--backend", "local", env=tiny_env)
    assert miss.returncode == 2
    error_lines = [line for line in miss.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "not in the cache" in error_lines[0]
    assert "Traceback" not in miss.stderr


def test_cache_stats_path_and_clear(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    izbench_here("complete", "Hi.", "--backend", "local", "--max-tokens", "4", env=tiny_env)
    stats = izbench_here("cache", "stats", env=tiny_env)
    assert stats.returncode == 0 and "1 entries" in stats.stdout
    path = izbench_here("cache", "path", env=tiny_env)
    assert path.stdout.strip() == str((tmp_path / "cache").resolve())
    cleared = izbench_here("cache", "clear", "--yes", env=tiny_env)
    assert "removed 1 entries" in cleared.stdout


def test_bad_setting_is_one_line(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    result = izbench_here("models", env=tiny_env | {"IZBENCH_BLACKBOX": "gpt-17"})
    assert result.returncode == 2
    assert "invalid setting blackbox" in result.stderr and "Traceback" not in result.stderr


def test_generate_with_a_soft_prompt(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    args = ("generate", "--demo", "cat => cats", "--demo", "dog => dogs", "--soft-prompt-seed", "1")
    result = izbench_here(*args, env=tiny_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].strip()
    assert "1 made" in result.stderr


def test_run_and_compare_smoke(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    run = izbench_here("run", "--method", "empty", "--task", "larger_animal", "--profile", "smoke", env=tiny_env)
    assert run.returncode == 0, run.stderr
    assert "best: val" in run.stdout and "made" in run.stderr
    compare = izbench_here(
        "compare",
        "--tasks",
        "larger_animal,sum",
        "--methods",
        "empty,manual",
        "--profile",
        "smoke",
        env=tiny_env,
    )
    assert compare.returncode == 0, compare.stderr
    # The normalized score's anchors: human (its 1) is added on both tasks; empty was asked for.
    assert "adding 2 anchor cells (human: 0 and 1 of the normalized score" in compare.stderr
    assert "6 cells" in compare.stderr
    assert "core/larger_animal" in compare.stdout and "average" in compare.stdout
    # `run` stored the (empty, larger_animal, seed 0) cell under the same configuration.
    assert "1 cells read back from the store" in compare.stderr


def test_unknown_method_is_one_line(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    result = izbench_here("run", "--method", "instructzer", "--task", "sum", env=tiny_env)
    assert result.returncode == 2
    assert "unknown method 'instructzer'" in result.stderr and "Traceback" not in result.stderr


def test_max_calls_stops_cleanly_and_a_rerun_resumes(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    args = ("compare", "--tasks", "sum,antonyms", "--methods", "uniform", "--profile", "smoke")
    stopped = izbench_here(*args, "--max-calls", "25", env=tiny_env)
    assert stopped.returncode == 3, stopped.stderr
    # 2 uniform cells, then 4 anchor cells (empty and human on both tasks)
    assert "stopped after 1 of 6 cells" in stopped.stderr and "25 of --max-calls 25" in stopped.stderr
    assert "served from cache, 25 made" in stopped.stderr  # never one call over the budget
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    (first,) = con.execute("SELECT calls_made FROM runs WHERE status = 'done'").fetchall()
    con.close()
    resumed = izbench_here(*args, env=tiny_env)
    assert resumed.returncode == 0, resumed.stderr
    # The finished cell is read back; the stopped one reuses the calls it had made before the stop.
    assert "1 cells read back from the store" in resumed.stderr
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    (served,) = con.execute(
        "SELECT calls_served FROM runs WHERE method = 'uniform' AND task = 'core/antonyms'"
    ).fetchone()
    con.close()
    assert 0 < served == 25 - first[0]


def test_max_cost_without_prices_is_one_line(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    result = izbench_here("compare", "--tasks", "sum", "--methods", "uniform", "--max-cost", "1", env=tiny_env)
    assert result.returncode == 2
    assert "--max-cost needs prices" in result.stderr and "Traceback" not in result.stderr


def test_global_options_also_work_after_the_command(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    from izbench.cli import hoist_global_options

    assert hoist_global_options(["run", "--method", "empty", "--store", "x.db", "--seed", "3"]) == [
        "--store", "x.db", "run", "--method", "empty", "--seed", "3"
    ]  # fmt: skip
    assert hoist_global_options(["--store", "a", "runs", "list", "--cache-dir=c"]) == [
        "--store", "a", "--cache-dir=c", "runs", "list"
    ]  # fmt: skip
    missing = tmp_path / "elsewhere.duckdb"
    result = izbench_here("runs", "list", "--store", str(missing), env=tiny_env)
    assert result.returncode == 2 and f"no results store at {missing}" in result.stderr


def test_commands_that_load_no_model_do_not_import_torch(tmp_path: Path) -> None:
    for args in (["--help"], ["runs", "list"], ["cache", "stats"]):
        # --help imports neither the model stack nor the store's database.
        code = (
            "import sys; sys.argv = ['izbench', *sys.argv[1:]]\n"
            "from izbench.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            f"assert {args == ['--help']} <= ('duckdb' not in sys.modules), 'duckdb imported'\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "IZBENCH_STORE": str(tmp_path / "none.duckdb"),
                "IZBENCH_CACHE_DIR": str(tmp_path / "c"),
            },
            timeout=120,
        )
        assert result.returncode == 0, (args, result.stderr[-800:])


def test_a_config_file_sets_settings_and_compare_arguments(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    config = tmp_path / "mine.toml"
    config.write_text(
        'score = "likelihood"\nprotocol = "raw"\n[compare]\ntasks = "sum"\nmethods = ["empty"]\nprofile = "smoke"\n'
    )
    result = izbench_here("--config", str(config), "compare", env=tiny_env)
    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    (row,) = con.execute("SELECT run_id, method, task, config_json FROM runs WHERE method = 'empty'").fetchall()
    con.close()
    assert row[1:3] == ("empty", "core/sum") and '"score": "likelihood"' in row[3]
    # A flag overrides the file; runs show prints the resolved configuration.
    flagged = izbench_here("--config", str(config), "compare", "--profile", "default", env=tiny_env)
    assert flagged.returncode == 0, flagged.stderr
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    assert con.execute("SELECT count(DISTINCT config_hash) FROM runs").fetchone() == (2,)
    con.close()
    shown = izbench_here("runs", "show", row[0][:10], env=tiny_env)
    assert shown.returncode == 0, shown.stderr
    assert '"protocol": "raw"' in shown.stdout and '"n_test": 8' in shown.stdout
    bad = izbench_here("--config", str(tmp_path / "nope.toml"), "compare", env=tiny_env)
    assert bad.returncode == 2 and bad.stderr.count("error:") == 1 and "no such file" in bad.stderr


def test_halving_stores_what_each_candidate_saw_and_replays(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    args = ("run", "--method", "ape", "--task", "larger_animal", "--profile", "smoke", "--select", "halving")
    first = izbench_here(*args, env=tiny_env)
    assert first.returncode == 0, first.stderr[-1500:]
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    rows = con.execute("SELECT step, examples, calls, note FROM candidates ORDER BY step").fetchall()
    saw = dict(
        con.execute("SELECT step, count(*) FROM predictions WHERE split = 'validation' GROUP BY step").fetchall()
    )
    spent = con.execute("SELECT value FROM metrics WHERE name = 'blackbox_calls'").fetchone()
    con.close()
    # Smoke: 3 candidates on 4 validation examples; prefixes 1, 2, 4: one dropped after 1, one after 2.
    assert sorted(r[1] for r in rows) == [1, 2, 4]
    assert all((r[3] or "").startswith("halving: dropped") == (r[1] < 4) for r in rows)
    assert {r[0]: r[1] for r in rows} == saw  # each candidate's predictions are the examples it saw
    assert spent is not None and max(r[2] for r in rows) <= spent[0]
    replay = izbench_here("--cache-mode", "replay", *args, "--rerun", env=tiny_env)
    assert replay.returncode == 0, replay.stderr[-1500:]
    assert "0 calls made" in replay.stdout


def test_a_cache_dir_that_is_a_file_is_one_line(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    occupied = tmp_path / "not-a-directory"
    occupied.write_text("x")
    result = izbench_here("--cache-dir", str(occupied), "complete", "Hi.", "--max-tokens", "2", env=tiny_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert f"{occupied} is a file, not a directory" in line


def test_error_text_keeps_its_brackets_and_names_the_extra(
    tiny_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the llamacpp extra, asking for that backend is one line naming the extra, printed
    literally (rich markup would have eaten "[llamacpp]")."""
    import importlib.metadata

    present = importlib.metadata.version

    def version(name: str) -> str:
        if name == "llama-cpp-python":
            raise importlib.metadata.PackageNotFoundError(name)
        return present(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    defaults = {k: v for k, v in tiny_env.items() if k not in ("IZBENCH_GENERATOR", "IZBENCH_BLACKBOX_MODEL")}
    result = izbench_here("--blackbox", "llamacpp", "complete", "Hi.", env=defaults)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "pip install 'izbench[llamacpp]'" in line


def test_missing_suite_data_is_one_line_per_suite(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    env = {k: v for k, v in tiny_env.items() if k != "IZBENCH_DATA_DIR"} | {"IZBENCH_DATA_DIR": str(tmp_path / "none")}
    result = izbench_here("compare", "--tasks", "sum,ii", "--methods", "empty", "--profile", "smoke", env=env)
    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and skipped[0].startswith("skipped 24 ii tasks: no data here (")


def test_a_log_gets_one_line_per_finished_cell(tiny_env: dict[str, str]) -> None:
    """Where stderr is not a terminal, compare says what finished, cell by cell, as it goes."""
    args = ("compare", "--tasks", "sum,antonyms", "--methods", "empty,uniform", "--profile", "smoke")
    cold = izbench_here(*args, env=tiny_env)
    assert cold.returncode == 0, cold.stderr
    lines = [line for line in cold.stderr.splitlines() if line.startswith("cells ")]
    assert [line.split(":")[0] for line in lines] == [f"cells {k}/6" for k in range(1, 7)]
    assert all(" s, calls " in line and " made / " in line for line in lines)
    assert {line.split(": ")[1].split(",")[0] for line in lines} == {
        f"{m} core/{t} seed 0" for m in ("empty", "uniform", "human") for t in ("sum", "antonyms")
    }
    warm = izbench_here(*args, env=tiny_env)
    assert (
        sum("read back from the store" in line for line in warm.stderr.splitlines() if line.startswith("cells ")) == 6
    )
