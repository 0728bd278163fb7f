"""BIG-bench task.json files written here as fixtures, in the upstream format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from izbench.errors import ConfigError
from izbench.tasks.metrics import score
from izbench.tasks.registry import TaskRegistry


def _write(root: Path, name: str, payload: object) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "task.json").write_text(json.dumps(payload))


def test_free_text_and_multiple_choice(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "capitals",
        {
            "name": "capitals",
            "description": "Name the capital.",
            "examples": [{"input": f"Country {i}", "target": [f"City {i}", f"Town {i}"]} for i in range(10)],
        },
    )
    _write(
        tmp_path,
        "parity",
        {
            "name": "parity",
            "description": "Odd or even.",
            "examples": [{"input": str(i), "target_scores": {"odd": i % 2, "even": 1 - i % 2}} for i in range(12)],
        },
    )
    registry = TaskRegistry(bigbench_dir=tmp_path)
    assert set(registry.suites["bigbench"]) == {"bigbench/capitals", "bigbench/parity"}
    capitals = registry.load("bigbench/capitals")
    assert len(capitals.induce) + len(capitals.execute) == 10 and len(capitals.execute) == 5
    example = capitals.induce[0]
    assert score(registry.get("capitals").metric, example.answers[1] + ".", example.answers) == 1.0
    parity = registry.load("bigbench/parity").induce[0]
    assert "Options:\n- odd\n- even" in parity.input
    assert parity.answers == (("odd",) if int(parity.input.split("\n")[0]) % 2 else ("even",))


def test_bad_bigbench_file(tmp_path: Path) -> None:
    _write(tmp_path, "broken", {"examples": [{"input": "x"}]})
    registry = TaskRegistry(bigbench_dir=tmp_path)
    with pytest.raises(ConfigError, match="neither 'target' nor 'target_scores'"):
        registry.load("bigbench/broken")
