"""Runs one (method, task, seed) cell: split, optimise on validation, score the best on test.

Everything random is seeded from (method, task, seed), so cells can run in any order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from izbench.methods import get_method
from izbench.methods.base import MethodContext, MethodResult
from izbench.models.generator import InstructionGenerator
from izbench.profiles import Profile
from izbench.runtime import Runtime
from izbench.scoring import Scorer
from izbench.seeding import rng_for
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.splits import make_split


@dataclass(frozen=True)
class CellResult:
    method: str
    task: str
    seed: int
    budget: int
    proposals: int
    distinct: int
    best_instruction: str
    val_score: float
    test_score: float
    test_predictions: tuple[str, ...]
    calls_made: int
    calls_served: int
    wall_s: float
    mean_test_score: float | None = None
    """For ``human``: the mean test score over all annotations (the paper reports both)."""
    result: MethodResult | None = None


def run_cell(
    runtime: Runtime,
    registry: TaskRegistry,
    method_name: str,
    task: str,
    seed: int,
    profile: Profile,
) -> CellResult:
    began = time.perf_counter()
    made, served = runtime.stats.made, runtime.stats.served
    method = get_method(method_name)
    spec = registry.get(task)
    data = registry.load(spec.key)
    split = make_split(
        spec.key, data, seed, n_validation=profile.n_validation, n_test=profile.n_test
    )
    scorer = Scorer(runtime.blackbox(), spec.metric)
    context = MethodContext(
        task=spec.key,
        split=split,
        scorer=scorer,
        generator=runtime.generator(),
        blackbox_generator=InstructionGenerator(runtime.blackbox()),
        annotations=data.annotations,
        seed=seed,
        params=dict(profile.params),
    )
    result = method.optimize(
        context, profile.budget, rng_for("method", method_name, spec.key, seed)
    )
    best = result.best
    test = scorer.score(best.instruction, split.test)
    mean_test = None
    if getattr(method, "score_all_on_test", False):
        all_scored = scorer.score_many([c.instruction for c in result.candidates], split.test)
        mean_test = sum(s.mean for s in all_scored) / len(all_scored)
    return CellResult(
        method=method_name,
        task=spec.key,
        seed=seed,
        budget=profile.budget,
        proposals=result.proposals,
        distinct=result.distinct,
        best_instruction=best.instruction,
        val_score=best.val_score,
        test_score=test.mean,
        test_predictions=test.predictions,
        calls_made=runtime.stats.made - made,
        calls_served=runtime.stats.served - served,
        wall_s=time.perf_counter() - began,
        mean_test_score=mean_test,
        result=result,
    )
