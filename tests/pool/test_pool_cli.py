"""Pools as a user runs them: build, compare on them with no model call, report, export, and
import into a fresh store on a machine without the cache that built them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import duckdb
from processes import izbench_here

BUILD = ["pool", "build", "--tasks", "larger_animal,sum", "--size", "16", "--ape", "4", "--n-validation", "4",
         "--n-test", "6"]  # fmt: skip
COMPARE = ["compare", "--domain", "pool", "--tasks", "larger_animal,sum", "--methods", "uniform,instructzero,presto",
           "--seeds", "0-1", "--profile", "smoke"]  # fmt: skip


def test_build_compare_report_export_import(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    built = izbench_here(*BUILD, env=tiny_env)
    assert built.returncode == 0, built.stderr
    assert [line.split(":")[0] for line in built.stderr.splitlines() if line.startswith("pools ")] == [
        "pools 1/2", "pools 2/2"
    ]  # fmt: skip
    assert "core/larger_animal" in built.stdout and "oracle test" in built.stdout
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    identities = [json.loads(i) for (i,) in con.execute("SELECT identity_json FROM pools").fetchall()]
    soft = con.execute("SELECT min(list_min(z)) FROM pool_points WHERE domain = 'soft'").fetchone()
    con.close()
    # Built by default with upstream's pipeline: Sobol points in [0, 1]^d.
    assert [i["setup"]["pool"]["pipeline"] for i in identities] == [2, 2] and soft is not None and soft[0] >= 0.0
    again = izbench_here(*BUILD, env=tiny_env)
    assert "2 pools read back from the store" in again.stderr and " 0 made" in again.stderr

    compared = izbench_here(*COMPARE, env=tiny_env)
    assert compared.returncode == 0, compared.stderr
    assert "no model call" in compared.stderr and "calls: " not in compared.stderr  # no model session at all
    # 3 methods x 2 tasks x 2 seeds, and the anchors empty and human on each task and seed.
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    made, cells = con.execute("SELECT sum(calls_made), count(*) FROM runs WHERE status = 'done'").fetchone()  # type: ignore[misc]
    con.close()
    assert (made, cells) == (0, 20)
    assert "regret" in compared.stdout and "IQM [95%]" in compared.stdout
    assert "anytime: IQM [95%]" in compared.stdout and "anytime: area" in compared.stdout

    report = izbench_here("report", "--out", str(tmp_path / "report"), env=tiny_env)
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "on pools of 16 soft prompts" in markdown and "## " in markdown and "### The pools" in markdown
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    pooled = [s for s in results["sections"] if "pools" in s]
    assert len(pooled) == 1 and {p["task"] for p in pooled[0]["pools"]} == {"core/larger_animal", "core/sum"}
    # Every pool cell has its anytime curve: in the report as a section, two figures and the json.
    assert "### Anytime" in markdown and (tmp_path / "report" / "anytime.png").exists()
    assert sorted(pooled[0]["anytime"]["methods"]) == ["instructzero", "presto", "uniform"]
    assert set(pooled[0]["anytime"]["reached"]) == {"reference", "oracle - 0.05"}
    # And against every other unit a pool records (lookups carry no tokens).
    assert set(pooled[0]["anytime_units"]) == {"proposals", "example-evals", "calls"}
    assert "Anytime against each budget unit" in markdown and (tmp_path / "report" / "units.png").exists()
    assert "anytime against each budget unit" in compared.stdout

    exported = izbench_here("pool", "export", str(tmp_path / "core.izpool"), env=tiny_env)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(tmp_path / "core.izpool") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert len(manifest["pools"]) == 2 and set(manifest["parts"]) >= {"pools.parquet", "pool_scores.parquet"}

    # Elsewhere: a fresh store and cache; the imported pools run the same cells with no model call.
    fresh = tiny_env | {"IZBENCH_STORE": str(tmp_path / "fresh.duckdb"), "IZBENCH_CACHE_DIR": str(tmp_path / "none")}
    imported = izbench_here("pool", "import", str(tmp_path / "core.izpool"), env=fresh)
    assert imported.returncode == 0, imported.stderr
    rerun = izbench_here(*COMPARE, env=fresh)
    assert rerun.returncode == 0, rerun.stderr
    assert not (tmp_path / "none").exists()  # no cache was even opened
    assert _scores(tmp_path / "fresh.duckdb") == _scores(tmp_path / "izbench.duckdb")


def _scores(store: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(
            "SELECT method, task, seed, best_instruction, val_score, test_score FROM runs ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def test_a_tampered_or_mismatched_pool_file_is_refused_whole(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    assert izbench_here(*BUILD[:3], "sum", *BUILD[4:], env=tiny_env).returncode == 0
    assert izbench_here("pool", "export", str(tmp_path / "p.izpool"), env=tiny_env).returncode == 0
    # One byte of one part changed: its sha256 no longer matches the manifest.
    with zipfile.ZipFile(tmp_path / "p.izpool") as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    scores = bytearray(parts["pool_scores.parquet"])
    scores[len(scores) // 2] ^= 0xFF
    with zipfile.ZipFile(tmp_path / "bad.izpool", "w") as archive:
        for name, data in (parts | {"pool_scores.parquet": bytes(scores)}).items():
            archive.writestr(name, data)
    fresh = tiny_env | {"IZBENCH_STORE": str(tmp_path / "fresh.duckdb")}
    refused = izbench_here("pool", "import", str(tmp_path / "bad.izpool"), env=fresh)
    assert refused.returncode == 2 and "pool_scores.parquet does not match its sha256" in refused.stderr
    # A pool whose task data differs from this machine's: refused, nothing half-imported.
    manifest = json.loads(parts["manifest.json"])
    manifest["pools"][0]["task_data"] = "0" * 64
    with zipfile.ZipFile(tmp_path / "other.izpool", "w") as archive:
        for name, data in (parts | {"manifest.json": json.dumps(manifest).encode()}).items():
            archive.writestr(name, data)
    mismatched = izbench_here("pool", "import", str(tmp_path / "other.izpool"), env=fresh)
    assert mismatched.returncode == 2 and "is not what the pool was scored on" in mismatched.stderr
    # A pool file not made yet (configs/paper-pool.toml's before its build): how to make it.
    missing = izbench_here("pool", "import", str(tmp_path / "none.izpool"), env=fresh)
    assert missing.returncode == 2 and "no pool file at" in missing.stderr and "izbench pool export" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    con = duckdb.connect(str(tmp_path / "fresh.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM pools").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM pool_scores").fetchone() == (0,)
    con.close()


def test_the_shipped_pool_imports_here_and_runs_with_no_call(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    """``results/pools/core.izpool`` still matches this checkout's ``core`` tasks (their data
    digests) and the default models' identity, so ``configs/pool.toml`` runs on a fresh machine."""
    shipped = Path(__file__).resolve().parents[2] / "results" / "pools" / "core.izpool"
    env = {k: v for k, v in tiny_env.items() if k not in ("IZBENCH_GENERATOR", "IZBENCH_BLACKBOX_MODEL")}
    ran = izbench_here("compare", "--domain", "pool", "--pool-file", str(shipped), "--tasks", "sum,diff",
                       "--methods", "uniform,ape", "--seeds", "0-1", env=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "13 pools imported" in ran.stderr and "calls: " not in ran.stderr
    con = duckdb.connect(env["IZBENCH_STORE"], read_only=True)
    made, cells = con.execute("SELECT sum(calls_made), count(*) FROM runs WHERE status = 'done'").fetchone()  # type: ignore[misc]
    con.close()
    assert (made, cells) == (0, 16)  # (uniform, ape, empty, human) x 2 tasks x 2 seeds


def test_pool_workers_end_with_a_killed_compare(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    """A compare killed with SIGKILL leaves no pool worker computing for nobody."""
    import os
    import signal
    import subprocess
    import sys
    import time

    built = izbench_here(*BUILD, env=tiny_env)
    assert built.returncode == 0, built.stderr
    compare = [*COMPARE[:-2], "--profile", "default", "--seeds", "0-9", "--workers", "2"]
    driver = subprocess.Popen(
        [sys.executable, "-m", "izbench", *compare], env=tiny_env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert driver.stderr is not None
    for line in driver.stderr:
        if line.startswith("cells 1/"):
            break

    def children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == driver.pid:
                    found.append(int(entry.name))
        return found

    workers = children()
    assert len(workers) >= 2
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)

    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 20
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [p for p in workers if running(p)]
    assert not alive, f"pool workers {alive} outlived their compare"
