"""Runs one (method, task, seed) cell: split, optimise on validation, score the best on test.

Everything random is seeded from (method, task, seed), so cells can run in any order. With a
store, the cell is written as it goes (candidates and their validation predictions as they are
scored), and a cell already finished under the same configuration is read back, not rerun.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import izbench
from izbench.identity import RunKey, cell_key, comparison_hash
from izbench.methods import Method, get_method
from izbench.methods.base import MethodContext
from izbench.offload import Offload, inline
from izbench.pool.data import PoolParams
from izbench.pool.domain import LiveDomain
from izbench.profiles import Profile
from izbench.results import Candidate, CellResult, MethodResult, Scored
from izbench.runtime import DomainFactory, Route, Runtime
from izbench.seeding import rng_for
from izbench.store import INCUMBENT_SPLIT, ResultStore, StoreWriter
from izbench.tasks.options import chance
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.splits import Split, make_split


def git_commit() -> str | None:
    """The izbench checkout's commit, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(izbench.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


Watch = Callable[[list[Candidate]], None]
"""Hears each batch of candidates as it is scored (a progress display)."""


class Recorder:
    """Writes a method's candidates and their validation predictions as they are scored."""

    def __init__(self, store: StoreWriter | None, run_id: str, split: Split, watch: Watch | None) -> None:
        self.store, self.run_id, self.split, self.watch = store, run_id, split, watch

    def __call__(self, candidates: list[Candidate], scored: list[Scored]) -> None:
        if self.watch is not None:
            self.watch(candidates)
        if self.store is None:
            return
        self.store.add_candidates(self.run_id, candidates)
        for c, s in zip(candidates, scored, strict=True):
            if c.new:  # a candidate dropped early by halving was scored on a prefix only
                shown = (
                    self.split.validation[: len(s.scores)]
                    if s.examples is None
                    else [self.split.validation[i] for i in s.examples]
                )
                self.store.add_predictions(self.run_id, "validation", c.step, shown, s)


def run_cell(
    runtime: Runtime,
    registry: TaskRegistry,
    method_name: str,
    task: str,
    seed: int,
    profile: Profile,
    store: StoreWriter | None = None,
    rerun: bool = False,
    route: Route | None = None,
    offload: Offload = inline,
    watch: Watch | None = None,
    pool: PoolParams | None = None,
) -> CellResult:
    """One cell into ``store``; ``route`` is how its clients reach the backends and ``offload``
    where its GP fits run (both lockstep's, when cells take turns). With ``pool``, the method
    chooses among that pool's domain, written live, on the pool's split: what a pool cell of the
    same method and seed must equal."""
    method = get_method(method_name)
    spec = registry.get(task)
    key = cell_key(runtime, registry, method_name, spec.key, seed, profile, pool)
    if isinstance(store, ResultStore) and not rerun and store.run_status(key.run_id) == "done":
        return store.load_cell(key.run_id)
    began = time.perf_counter()
    data = registry.load(spec.key)
    domain: DomainFactory | None = None
    if pool is None:
        split = make_split(spec.key, data, seed, n_validation=profile.n_validation, n_test=profile.n_test)
    else:  # the pool's split, demos included: the domain is written from them
        split = make_split(spec.key, data, pool.pool_seed, n_validation=pool.n_validation, n_test=pool.n_test)
        domain = partial(LiveDomain, spec.key, split, pool)
    context = runtime.method_context(
        spec.key, spec.metric, data, split, seed, profile.params, registry.references(spec),
        on_candidates=Recorder(store, key.run_id, split, watch), route=route, offload=offload, domain=domain,
    )  # fmt: skip
    return execute(method, context, key, profile, store, began, git_commit(), runtime.settings.anytime)


def execute(
    method: Method,
    context: MethodContext,
    key: RunKey,
    profile: Profile,
    store: StoreWriter | None,
    began: float,
    commit: str | None,
    anytime: bool = False,
) -> CellResult:
    """The method's run in ``context``, its best (and with ``anytime`` every incumbent) scored on
    test, all of it written as it goes (a failure marks the run failed, so a rerun redoes it
    from the cache)."""
    if store is not None:
        store.start_run(key, profile.budget_for(key.method), commit)
    try:
        result = method.optimize(
            context, profile.budget_for(key.method), rng_for("method", key.method, key.task, key.seed)
        )
        cell, test, earlier = tested(method, context, result, key, profile, began, anytime)
    except BaseException:
        if store is not None:
            store.mark_failed(key.run_id)
        raise
    if store is not None:
        store.add_predictions(key.run_id, "test", result.best.step, context.split.test, test)
        for step, scored in earlier.items():
            store.add_predictions(key.run_id, INCUMBENT_SPLIT, step, context.split.test, scored)
        store.finish_run(cell)
    return cell


def tested(
    method: Method,
    context: MethodContext,
    result: MethodResult,
    key: RunKey,
    profile: Profile,
    began: float,
    anytime: bool = False,
) -> tuple[CellResult, Scored, dict[int, Scored]]:
    """The cell's result once its best candidate (and, for references scored on all their
    instructions, every candidate) is scored on test; the best's test predictions; and with
    ``anytime`` the test predictions of every earlier incumbent, by step (the anytime curve)."""
    blackbox_calls = context.blackbox_calls.requests
    blackbox_tokens = None if context.blackbox_calls.lookups else context.blackbox_calls.work_tokens
    best, split, scorer = result.best, context.split, context.scorer
    test = scorer.score(best.instruction, split.test)
    incumbents = result.incumbents() if anytime else []
    earlier_steps = sorted({c.step: c.instruction for c in incumbents if c.step != best.step}.items())
    earlier_scored = scorer.score_many([text for _, text in earlier_steps], split.test) if earlier_steps else []
    earlier = {step: scored for (step, _), scored in zip(earlier_steps, earlier_scored, strict=True)}
    curve = tuple(test.mean if c.step == best.step else earlier[c.step].mean for c in incumbents)
    mean_test = None
    if method.score_all_on_test:
        all_scored = scorer.score_many([c.instruction for c in result.candidates], split.test)
        mean_test = sum(s.mean for s in all_scored) / len(all_scored)
    spent = context.cell_calls.counts()
    cell = CellResult(
        method=key.method,
        task=key.task,
        seed=key.seed,
        budget=profile.budget_for(key.method),
        proposals=result.proposals,
        distinct=result.distinct,
        best_instruction=best.instruction,
        val_score=best.val_score,
        test_score=test.mean,
        test_predictions=test.predictions,
        calls_made=spent.made,
        calls_served=spent.served,
        wall_s=time.perf_counter() - began,
        mean_test_score=mean_test,
        result=result,
        run_id=key.run_id,
        test_scores=test.scores,
        chance=sum(chance(e) for e in split.test) / len(split.test) if key.config["score"] == "choice" else None,
        comparison_hash=comparison_hash(key.config),
        blackbox_calls=blackbox_calls,
        blackbox_tokens=blackbox_tokens,
        off_validation_evals=sum(result.off_validation.values()) if result.off_validation else None,
        tried=result.tried if result.off_validation else None,
        tokens=spent.tokens,
        cost=context.cell_calls.cost,
        anytime=curve,
    )
    return cell, test, earlier
