"""Building a pool: a task's finite domain written by the models and every instruction scored once.

Per task, fixed by the task and the pool seed (never by a run's seed): the split (a validation and
a test set), ``size`` scrambled-Sobol soft prompts written into instructions by the generator
with the pool's projection and demos (and their hidden states, INSTINCT's features), ``ape``
instructions the black box samples from seeded demo sets, the task's references and the empty
instruction. Every distinct instruction is then scored on the validation set and on the test
set, one instruction per call (``Scorer.per_instruction``), so a live run on the same domain
computes each score in the same batch and agrees with the pool to the bit.

Every model call goes through the cache: a build killed at any point is rerun and pays for
nothing twice, and a pool is stored only once it is whole. Tasks build side by side in lockstep
(their generator calls share batches; scoring stays in each task's own batches).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from izbench.cache import CallStats
from izbench.identity import scoring_setup
from izbench.pool.data import POOL_FORMAT, PoolData, PoolParams
from izbench.pool.domain import LiveDomain
from izbench.runtime import Route, Runtime, prompt_protocol
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.spec import TaskSpec
from izbench.tasks.splits import make_split

if TYPE_CHECKING:
    from izbench.lockstep import Lane, Outcome


WRITE_PIECE = 32
"""Soft points a task writes per generator call: with 13 tasks in lockstep, rounds of ~400 rows
(a few full decode batches), each cached as it ends."""


def pool_identity(runtime: Runtime, registry: TaskRegistry, spec: TaskSpec, params: PoolParams) -> dict[str, Any]:
    """Everything that decides a pool: the task (spec and data), the models and their revisions,
    the score set-up, the pool's parameters and format."""
    generator = runtime.generator_backend()
    return {
        "task": {"spec": spec.model_dump(mode="json", exclude={"path"}), "data": registry.digest(spec.key)},
        "setup": {
            **scoring_setup(runtime),
            "generator": {
                "kind": generator.kind,
                "model": generator.model_id,
                "revision": generator.revision,
                "protocol": prompt_protocol(generator),
            },
            "pool": params.model_dump(mode="json"),
            "format": POOL_FORMAT,
        },
    }


def build_task(
    runtime: Runtime, registry: TaskRegistry, spec: TaskSpec, params: PoolParams, route: Route | None = None
) -> PoolData:
    """One task's pool, written and scored (writers reached through ``route``, when given)."""
    began = time.perf_counter()
    tally = CallStats()
    data = registry.load(spec.key)
    split = make_split(spec.key, data, params.pool_seed, n_validation=params.n_validation, n_test=params.n_test)
    generator = runtime.generator(tally, route)
    domain = LiveDomain(spec.key, split, params, generator, runtime.blackbox_generator(tally, route))
    points = list(range(params.size))
    # In pieces: each piece's answers are cached as its task resumes after the round, so a build
    # killed mid-way loses about one round, and a log hears of every round.
    soft = [text for k in range(0, len(points), WRITE_PIECE) for text in domain.write_soft(points[k : k + WRITE_PIECE])]
    hidden = domain.hidden(points)
    ape = domain.write_ape(list(range(params.ape)))
    references = list(registry.references(spec))
    instructions = list(dict.fromkeys(["", *references, *soft, *ape]))
    ids = {text: k for k, text in enumerate(instructions)}
    scorer = runtime.scorer(spec.key, spec.metric, data, tally, per_instruction=True)
    scores = {}
    for text in instructions:
        for name, examples in (("validation", split.validation), ("test", split.test)):
            scored = scorer.score(text, examples)
            scores[(ids[text], name)] = (scored.predictions, scored.scores)
    counts = tally.counts()
    return PoolData(
        task=spec.key,
        identity=pool_identity(runtime, registry, spec, params),
        validation=split.validation,
        test=split.test,
        instructions=instructions,
        soft_z=domain.soft.numpy(),
        soft_hidden=hidden.numpy().astype(np.float32),
        soft_ids=[ids[t] for t in soft],
        ape_ids=[ids[t] for t in ape],
        reference_ids=[ids[t] for t in references],
        empty_id=ids[""],
        scores=scores,
        calls_made=counts.made,
        calls_served=counts.served,
        wall_s=time.perf_counter() - began,
    )


def build_pools(
    runtime: Runtime,
    registry: TaskRegistry,
    specs: list[TaskSpec],
    params: PoolParams,
    on_done: Callable[[TaskSpec, PoolData | None, Exception | None], None],
    on_round: Callable[[int, int, int], None] | None = None,
) -> list[PoolData]:
    """Every task's pool, tasks taking turns so their generator calls share batches; each pool is
    handed to ``on_done`` as soon as it is whole. A task's error is raised once the others are done."""
    from izbench.lockstep import run_lockstep

    def job(spec: TaskSpec) -> Callable[[Lane], PoolData]:
        return lambda lane: build_task(runtime, registry, spec, params, route=lane)

    def done(index: int, outcome: Outcome[PoolData]) -> None:
        on_done(specs[index], outcome.value, outcome.error)

    outcomes = run_lockstep([job(s) for s in specs], on_done=done, on_round=on_round)
    failure = next((o.error for o in outcomes if o.error is not None), None)
    if failure is not None:
        raise failure
    return [o.value for o in outcomes if o.value is not None]
