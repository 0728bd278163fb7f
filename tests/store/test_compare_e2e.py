"""``izbench compare`` end to end as a user runs it (real processes, a real DuckDB store): on the tiny
model for what the harness does, and once on SmolLM2 for what a real comparison shows."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from processes import izbench, izbench_here

from izbench.cache import ResponseCache

ARGS = [
    "compare",
    "--tasks",
    "larger_animal,sum",
    "--methods",
    "uniform,empty,human",
    "--profile",
    "smoke",
]


LONGER = [*ARGS[:4], "uniform,empty,human,instructzero", *ARGS[5:]]
"""With InstructZero, whose GP round starts worker processes: a run that lasts long enough on
the tiny model for a signal to land in the middle of it."""


def _izbench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return izbench(*args, env=env, timeout=600)


def _here(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return izbench_here(*args, env=env)


def _rows(tmp: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(tmp / "izbench.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_compare_stores_everything_and_replays_exactly(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    cold = _izbench(tiny_env, *ARGS)
    assert cold.returncode == 0, cold.stderr
    assert "average" in cold.stdout and "6 cells" in cold.stderr and "anchor" not in cold.stderr
    runs = _rows(
        tmp_path,
        "SELECT run_id, status, proposals, distinct_candidates, val_score, test_score FROM runs",
    )
    assert len(runs) == 6 and {r[1] for r in runs} == {"done"}
    for run_id, _, proposals, distinct, *_ in runs:
        (n_candidates,) = _rows(tmp_path, f"SELECT count(*) FROM candidates WHERE run_id = '{run_id}'")[0]
        (n_val,) = _rows(
            tmp_path,
            f"SELECT count(*) FROM predictions WHERE run_id = '{run_id}' AND split = 'validation'",
        )[0]
        (n_test,) = _rows(
            tmp_path,
            f"SELECT count(*) FROM predictions WHERE run_id = '{run_id}' AND split = 'test'",
        )[0]
        assert n_candidates == proposals and n_val == distinct * 4 and n_test == 8
    replay = _izbench(tiny_env, "--cache-mode", "replay", *ARGS)
    assert replay.returncode == 0, replay.stderr
    assert " 0 made; tokens spent: 0" in replay.stderr
    again = _rows(
        tmp_path,
        "SELECT run_id, status, proposals, distinct_candidates, val_score, test_score FROM runs",
    )
    assert sorted(again) == sorted(runs)
    assert _rows(tmp_path, "SELECT count(*) FROM candidates")[0][0] == sum(r[2] for r in runs)  # type: ignore[misc]
    warm = _izbench(tiny_env, *ARGS)
    assert "6 cells read back from the store" in warm.stderr


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    """``izbench`` with Ctrl-C's default disposition, as from a terminal: a test run started in
    the background of a non-interactive shell ignores SIGINT, and a child inherits that."""
    return subprocess.Popen(
        [sys.executable, "-m", "izbench", *LONGER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def _wait_for_calls(tmp: Path, proc: subprocess.Popen[str], n: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (tmp / "cache").exists():
            cache = ResponseCache(tmp / "cache")
            count = len(cache)
            cache.close()
            if count >= n:
                return
        time.sleep(0.5)
    raise AssertionError("the run made no progress")


def test_killed_runs_resume_without_duplicates(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    first = _start(tiny_env)
    _wait_for_calls(tmp_path, first, 5)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "rerun to resume" in err, err
    second = _start(tiny_env)
    _wait_for_calls(tmp_path, second, 25)
    second.send_signal(signal.SIGKILL)
    second.wait(60)
    before = _cached(tmp_path)
    final = _izbench(tiny_env, *LONGER)
    assert final.returncode == 0, final.stderr
    runs = _rows(tmp_path, "SELECT method, task, seed, status FROM runs")
    assert len(runs) == 8 and {r[3] for r in runs} == {"done"}
    duplicates = _rows(
        tmp_path,
        "SELECT run_id, step, count(*) FROM candidates GROUP BY run_id, step HAVING count(*) > 1",
    )
    assert duplicates == []
    duplicate_predictions = _rows(
        tmp_path,
        "SELECT run_id, split, step, example_index FROM predictions GROUP BY ALL HAVING count(*) > 1",
    )
    assert duplicate_predictions == []
    # Work done before the kills was not paid for again: every call the resumed run made is a
    # new cache entry. (Whether a killed cell had begun, so that some calls are served, depends
    # on where the kill landed.)
    calls = re.search(r"calls: (\d+) served from cache, (\d+) made", final.stderr)
    assert calls is not None, final.stderr
    assert _cached(tmp_path) - before == int(calls.group(2)) > 0


def _cached(tmp: Path) -> int:
    cache = ResponseCache(tmp / "cache")
    try:
        return len(cache)
    finally:
        cache.close()


def _chromium() -> str | None:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI"):
        raise AssertionError("CI must have Debian's chromium (make test installs it)")
    return found


def test_report_regress_and_the_html_in_chromium(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    assert _here(tiny_env, *ARGS).returncode == 0
    out = tmp_path / "report"
    report = _here(tiny_env, "report", "--out", str(out))
    assert report.returncode == 0, report.stderr
    for name in ("leaderboard.md", "index.html", "results.json", "curves.png", "intervals.png", "calls.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "results.json").read_text())
    assert len(results["cells"]) == 6 and all(len(c["test_scores"]) == 8 for c in results["cells"])
    # The calls axis: every cell records the black-box calls it asked for, candidate by candidate.
    for c in results["cells"]:
        calls = [x for x, _ in c["calls_curve"]]
        assert c["blackbox_calls"] > 0 and calls == sorted(calls) and calls[-1] <= c["blackbox_calls"]
    markdown = (out / "leaderboard.md").read_text()
    assert "| core/larger_animal |" in markdown and "| black-box calls per cell |" in markdown
    assert "uniform vs empty" in markdown or "empty vs uniform" in markdown

    same = _here(tiny_env, "regress", "--baseline", str(out / "results.json"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "0 regressions" in same.stdout
    doctored = json.loads((out / "results.json").read_text())
    doctored["cells"][0]["test_score"] += 0.25
    (tmp_path / "doctored.json").write_text(json.dumps(doctored))
    worse = _here(tiny_env, "regress", "--baseline", str(tmp_path / "doctored.json"))
    assert worse.returncode == 1 and "REGRESSION" in worse.stdout
    doctored["cells"][0]["test_score"] -= 0.5  # now the store's score is higher than the baseline's
    (tmp_path / "better.json").write_text(json.dumps(doctored))
    changed = _here(tiny_env, "regress", "--baseline", str(tmp_path / "better.json"))
    assert changed.returncode == 1 and "improved" in changed.stdout
    tolerated = _here(tiny_env, "regress", "--baseline", str(tmp_path / "better.json"), "--fail-on", "worse")
    assert tolerated.returncode == 0, tolerated.stdout

    exported = _here(tiny_env, "export", "--format", "csv", "--out", str(tmp_path / "csv"))
    import csv

    assert exported.returncode == 0
    with (tmp_path / "csv" / "runs.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 6  # fields may hold quoted newlines

    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    page = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert page.returncode == 0, page.stderr[-2000:]
    assert '<table id="leaderboard">' in page.stdout and "core/larger_animal" in page.stdout
    console_errors = [line for line in page.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    assert console_errors == []
    # Every figure is inlined: the seed-level ones (intervals, profile), curves and calls.
    assert page.stdout.count("data:image/png;base64,") == len(list(out.glob("*.png"))) >= 4


@pytest.mark.slow
def test_a_real_compare_ranks_the_reference_above_no_instruction(tmp_path: Path) -> None:
    """One comparison on SmolLM2 as ``make compare`` runs it (smoke budget): under the default
    set-up the task's own instruction makes the gold answers likelier than no instruction (the
    signal check measured +3.9 and +4.8 nats per token on these two tasks)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("IZBENCH_")}
    env = inherited | {"IZBENCH_CACHE_DIR": str(tmp_path / "cache"), "IZBENCH_STORE": str(tmp_path / "izbench.duckdb")}
    args = ["compare", "--tasks", "antonyms,larger_animal", "--methods", "human,empty,uniform", "--profile", "smoke"]
    result = _izbench(env, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    scores = {(m, t): s for m, t, s in _rows(tmp_path, "SELECT method, task, test_score FROM runs")}
    assert len(scores) == 6
    for task in ("core/antonyms", "core/larger_animal"):
        assert scores[("human", task)] > scores[("empty", task)] + 1.0
    # Both tasks have a clear reference, so the headline is a normalized score over them...
    assert "IQM [95%]" in result.stdout and "One seed per task: seed-to-seed variance is unmeasured" in result.stdout
    report = _izbench(env, "report", "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["sections"][0]["tasks"] == ["core/antonyms", "core/larger_animal"]
    # ... and a rerun of the same cells is no statistical regression.
    same = _izbench(env, "regress", "--baseline", str(tmp_path / "report" / "results.json"), "--check", "statistical")
    assert same.returncode == 0 and "1 methods checked, 0 regressions" in same.stdout, same.stdout + same.stderr
