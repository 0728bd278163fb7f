"""izbench as a user installs it: a built wheel (not editable) in a fresh venv finds its task files."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {"izbench"} | {
        "izbench." + p.parent.relative_to(ROOT / "izbench").as_posix().replace("/", ".")
        for p in (ROOT / "izbench").rglob("*.py")
        if p.parent != ROOT / "izbench" and "__pycache__" not in p.parts
    }
    assert on_disk | {"izbench._tasks"} == listed


@pytest.mark.slow
def test_built_wheel_lists_tasks_in_a_fresh_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(wheels)],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Dependencies come from this environment (a plain path line does not run its editable finder).
    fresh_site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    (fresh_site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", *wheels.glob("izbench-*.whl")], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IZBENCH_")}
    env |= {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "COLUMNS": "200"}
    where = subprocess.check_output(
        [python, "-c", "import izbench; print(izbench.__file__)"], text=True, cwd=tmp_path, env=env
    )
    assert Path(where.strip()).is_relative_to(env_dir)
    listing = subprocess.run(
        [env_dir / "bin" / "izbench", "tasks", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in listing.splitlines() if line.startswith("│")]
    core = {row[1]: row for row in rows if row[0] == "core"}
    assert len(core) == 13 and core["sum"][-1] == "available"  # generated from the shipped spec and tables
    assert len([row for row in rows if row[0] == "ii"]) == 24  # listed, with how to get data where there is none
