"""BIG-bench ``task.json`` files: a generic loader for any directory of them.

Examples carry ``input`` and either ``target`` (free text: exact match after normalisation,
any listed target accepted) or ``target_scores`` (multiple choice: the options are shown with
the input, and the answer is the best-scored option, by exact match; the options are also what
``--score choice`` picks from).

BIG-bench has no human-written instructions; a task's own ``task_prefix`` (what its authors put
before every input) or else its ``description`` stands in as its reference instruction, for the
signal check and as the 1 of the normalized score.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from izbench.errors import ConfigError
from izbench.seeding import rng_for
from izbench.tasks.metrics import Metric
from izbench.tasks.spec import Source, TaskSpec
from izbench.tasks.types import Example, TaskData


def discover(directory: Path) -> list[TaskSpec]:
    """One spec per ``<directory>/<name>/task.json`` (or ``<directory>/task.json``)."""
    paths = sorted(directory.glob("*/task.json")) or sorted(directory.glob("task.json"))
    specs = []
    for path in paths:
        raw = _read(path)
        own = str(raw.get("task_prefix") or raw.get("description") or "").strip()
        specs.append(
            TaskSpec(
                name=path.parent.name.lower().replace(" ", "_"),
                suite="bigbench",
                source=Source.BIGBENCH,
                metric=Metric.EXACT_MATCH,
                description=str(raw.get("description", ""))[:200],
                license="see the task's README in BIG-bench (Apache-2.0)",
                path=path.parent,
                reference=" ".join(own.split()) or None,
            )
        )
    return specs


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: not a readable BIG-bench task.json ({error})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("examples"), list) or not raw["examples"]:
        raise ConfigError(f"{path}: field 'examples': missing or empty; fix: add a list of examples")
    return raw


def _example(path: Path, index: int, record: dict[str, Any]) -> Example:
    if "input" not in record:
        raise ConfigError(f"{path}: example {index} has no 'input'; fix: add it")
    if "target_scores" in record:
        scores: dict[str, float] = record["target_scores"]
        best = max(scores.values())
        options = "\n".join(f"- {option}" for option in scores)
        answers = tuple(o for o, s in scores.items() if s == best)
        return Example(input=f"{record['input']}\nOptions:\n{options}", answers=answers, options=tuple(scores))
    if "target" in record:
        target = record["target"]
        answers = tuple(target) if isinstance(target, list) else (str(target),)
        return Example(input=str(record["input"]), answers=answers)
    raise ConfigError(f"{path}: example {index} has neither 'target' nor 'target_scores'; fix: add one")


def load(spec: TaskSpec) -> TaskData:
    """Examples split into a pool (induce) and a test set (execute, at most half, up to 100)."""
    assert spec.path is not None
    path = spec.path / "task.json"
    raw = _read(path)
    examples = [_example(path, i, r) for i, r in enumerate(raw["examples"])]
    order = list(range(len(examples)))
    rng_for("bigbench-split", spec.name).shuffle(order)
    n_test = min(spec.execute_size, len(examples) // 2)
    return TaskData(
        induce=tuple(examples[i] for i in order[n_test:]),
        execute=tuple(examples[i] for i in order[:n_test]),
    )
