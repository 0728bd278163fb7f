"""Splits as the papers use them, fixed per (task, seed).

From the induce pool: a validation set (default 20) that scores every candidate of a run,
and the rest as the pool demos are drawn from (5 per generator prompt); the test set comes from
execute (default up to 100). Validation and demos never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from izbench.errors import ConfigError
from izbench.seeding import rng_for
from izbench.tasks.types import Example, TaskData


@dataclass(frozen=True)
class Split:
    task: str
    seed: int
    demo_pool: tuple[Example, ...]
    validation: tuple[Example, ...]
    test: tuple[Example, ...]

    def demos(self, index: int, k: int = 5) -> tuple[Example, ...]:
        """The ``index``-th set of ``k`` demos, the same whatever else was drawn before."""
        rng = rng_for("demos", self.task, self.seed, index)
        return tuple(rng.sample(self.demo_pool, min(k, len(self.demo_pool))))


def make_split(
    task: str,
    data: TaskData,
    seed: int,
    n_validation: int = 20,
    n_test: int = 100,
    n_demos: int = 5,
) -> Split:
    """Draw the split; small pools keep at least ``n_demos`` examples for demos."""
    if len(data.induce) < n_demos + 1:
        raise ConfigError(f"task {task} has only {len(data.induce)} induce examples; it needs {n_demos + 1}")
    order = list(range(len(data.induce)))
    rng_for("split", task, seed).shuffle(order)
    n_val = min(n_validation, len(order) - n_demos)
    test_order = list(range(len(data.execute)))
    rng_for("test", task, seed).shuffle(test_order)
    return Split(
        task=task,
        seed=seed,
        validation=tuple(data.induce[i] for i in order[:n_val]),
        demo_pool=tuple(data.induce[i] for i in order[n_val:]),
        test=tuple(data.execute[i] for i in sorted(test_order[:n_test])),
    )
