"""Runs one (method, task, seed) cell: split, optimise on validation, score the best on test.

Everything random is seeded from (method, task, seed), so cells can run in any order. With a
store, the cell is written as it goes (candidates and their validation predictions as they are
scored), and a cell already finished under the same configuration is read back, not rerun.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import izbench
from izbench.methods import get_method
from izbench.methods.base import METHOD_PATH_VERSION
from izbench.offload import Offload, inline
from izbench.profiles import Profile
from izbench.results import Candidate, CellResult, comparison_hash
from izbench.runtime import Route, Runtime, prompt_protocol
from izbench.scoring import DEFAULT_TEMPLATE, Scored
from izbench.seeding import rng_for
from izbench.store import ResultStore, RunKey, StoreWriter
from izbench.tasks.options import chance
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.splits import make_split
from izbench.tasks.types import Example

CONFIG_FORMAT = 4
"""Bump when the meaning of a run's configuration changes, so old runs are not reused."""


def scoring_setup(runtime: Runtime) -> dict[str, Any]:
    """What decides a score besides the instruction and the examples: the score function, the
    prompt protocol and template, and the black box (the signal check is keyed by this)."""
    settings = runtime.settings
    blackbox = runtime.backend(settings.blackbox)
    setup: dict[str, Any] = {
        "score": settings.score,
        "protocol": settings.protocol,
        "scorer_template": DEFAULT_TEMPLATE,
        "scorer_early_stop": settings.scorer_early_stop,
        "blackbox": {"kind": blackbox.kind, "model": blackbox.model_id, "revision": blackbox.revision},
    }
    if settings.score == "choice":
        setup["choice_norm"] = settings.choice_norm
    return setup


def cell_config(runtime: Runtime, profile: Profile) -> dict[str, Any]:
    """Everything that decides a cell's outcome besides (method, task, seed)."""
    generator = runtime.generator_backend()
    return {
        "format": CONFIG_FORMAT,
        "profile": profile.model_dump(mode="json"),
        **scoring_setup(runtime),
        "generator": {
            "kind": generator.kind,
            "model": generator.model_id,
            "revision": generator.revision,
            "protocol": prompt_protocol(generator),
        },
    }


def cell_key(runtime: Runtime, registry: TaskRegistry, method: str, task: str, seed: int, profile: Profile) -> RunKey:
    """The identity of a cell in the store: (method, task, seed), everything in its config, the
    task's spec and a digest of its examples, and the method's code version, so a changed task
    file, task data or method is a new cell, never a stale one read back."""
    spec = registry.get(task)
    config = cell_config(runtime, profile)
    config["task_identity"] = {
        "spec": spec.model_dump(mode="json", exclude={"path"}),
        "data": registry.digest(spec.key),
    }
    config["method_identity"] = {"version": get_method(method).version, "path": METHOD_PATH_VERSION}
    if owned := profile.owned_settings(method):
        config["method_identity"]["settings"] = owned
    return RunKey(method, spec.key, seed, config)


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


def prediction_rows(split: str, step: int, examples: tuple[Example, ...], scored: Scored) -> list[dict[str, Any]]:
    """One store row per example of a scored candidate (the shape ``add_predictions`` takes)."""
    return [
        {
            "split": split,
            "step": step,
            "index": i,
            "input": e.input,
            "prediction": p,
            "gold": e.answers,
            "score": s,
        }
        for i, (e, p, s) in enumerate(zip(examples, scored.predictions, scored.scores, strict=True))
    ]


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
) -> CellResult:
    """One cell into ``store``; ``route`` is how its clients reach the backends and ``offload``
    where its GP fits run (both lockstep's, when cells take turns)."""
    method = get_method(method_name)
    spec = registry.get(task)
    key = cell_key(runtime, registry, method_name, spec.key, seed, profile)
    if isinstance(store, ResultStore) and not rerun and store.run_status(key.run_id) == "done":
        return store.load_cell(key.run_id)
    began = time.perf_counter()
    data = registry.load(spec.key)
    split = make_split(spec.key, data, seed, n_validation=profile.n_validation, n_test=profile.n_test)

    def record(candidates: list[Candidate], scored: list[Scored]) -> None:
        if store is None:
            return
        store.add_candidates(
            key.run_id,
            [
                {
                    "step": c.step,
                    "instruction": c.instruction,
                    "val_score": c.val_score,
                    "soft_prompt": list(c.soft_prompt) if c.soft_prompt else None,
                    "parent": c.parent,
                    "new": c.new,
                    "note": c.note,
                    "examples": c.examples,
                    "calls": c.calls,
                }
                for c in candidates
            ],
        )
        rows = []
        for c, s in zip(candidates, scored, strict=True):
            if c.new:
                # A candidate dropped early by halving has predictions for a prefix only.
                rows.extend(prediction_rows("validation", c.step, split.validation[: len(s.scores)], s))
        store.add_predictions(key.run_id, rows)

    context = runtime.method_context(
        spec.key,
        spec.metric,
        data,
        split,
        seed,
        profile.params,
        registry.references(spec),
        on_candidates=record,
        route=route,
        offload=offload,
    )
    scorer = context.scorer
    if store is not None:
        store.start_run(
            key,
            {
                "budget": profile.budget,
                "izbench_version": izbench.__version__,
                "git_commit": git_commit(),
                "blackbox": key.config["blackbox"]["kind"],
                "blackbox_model": key.config["blackbox"]["model"],
                "generator_model": key.config["generator"]["model"],
            },
        )
    try:
        result = method.optimize(context, profile.budget, rng_for("method", method_name, spec.key, seed))
        blackbox_calls = context.blackbox_calls.requests
        best = result.best
        test = scorer.score(best.instruction, split.test)
        mean_test = None
        if getattr(method, "score_all_on_test", False):
            all_scored = scorer.score_many([c.instruction for c in result.candidates], split.test)
            mean_test = sum(s.mean for s in all_scored) / len(all_scored)
    except BaseException:
        if store is not None:
            store.mark_failed(key.run_id)
        raise
    spent = context.cell_calls.counts()
    cell = CellResult(
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
        calls_made=spent[1],
        calls_served=spent[0],
        wall_s=time.perf_counter() - began,
        mean_test_score=mean_test,
        result=result,
        run_id=key.run_id,
        test_scores=test.scores,
        chance=sum(chance(e) for e in split.test) / len(split.test) if runtime.settings.score == "choice" else None,
        config_hash=comparison_hash(key.config),
        blackbox_calls=blackbox_calls,
    )
    if store is not None:
        store.add_predictions(key.run_id, prediction_rows("test", best.step, split.test, test))
        metrics = {"val_score": cell.val_score, "test_score": cell.test_score, "blackbox_calls": blackbox_calls}
        if cell.chance is not None:
            metrics["chance"] = cell.chance
        if mean_test is not None:
            metrics["mean_test_score"] = mean_test
        store.finish_run(
            key.run_id,
            {
                "calls_made": cell.calls_made,
                "calls_served": cell.calls_served,
                "tokens": spent[2] + spent[3],
                "cost": context.cell_calls.cost,
                "proposals": cell.proposals,
                "distinct": cell.distinct,
                "best_instruction": cell.best_instruction,
                "val_score": cell.val_score,
                "test_score": cell.test_score,
                "wall_s": cell.wall_s,
            },
            metrics,
        )
    return cell
