"""One live cell per soft-prompt method under the ``paper`` profile: does each run upstream's
number of black-box evaluations (InstructZero and Uniform 150, INSTINCT 165), and what does a
cell cost on this machine?

Prints, per method: the budget and its unit, the proposals (evaluations), the distinct
instructions among them, the calls made and served, the wall time, and what the acquisition
did (BO methods); and the fp32 matmul roofline measured in the same run, so the times can be
compared across machines. The cells go into ``--store`` like any compare's, so `izbench runs
show` and `izbench report` read them, and a rerun reads them back.

INSTINCT's paper domain is 10,000 soft prompts whose hidden states cost one forward pass each
(about 70 min on 2 cores); ``--instinct-domain`` shrinks it (1,000 by default here), which
leaves its evaluation count, the figure this script checks, unchanged.

Run: ``.venv/bin/python benchmarks/paper_cells.py --task core/larger_animal --seed 0 --store S``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backends import matmul_gflops  # `make bench`'s (this script's folder)

from izbench.profiles import PROFILES
from izbench.report.acquisition import summarize
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import ResultStore
from izbench.tasks.registry import TaskRegistry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="core/larger_animal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="instructzero,instructzero-logei,uniform,instinct")
    parser.add_argument("--instinct-domain", type=int, default=1000)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None, help="response cache (default: beside the store)")
    args = parser.parse_args()
    cache = args.cache or args.store.parent / "cache"
    settings = Settings(store=args.store, cache_dir=cache, score="likelihood", protocol="raw")
    paper = PROFILES["paper"]
    rows = []
    with Runtime(settings) as runtime, ResultStore.open(args.store) as store:
        roofline = matmul_gflops(576, 1536, 5)  # SmolLM2-135M's hidden and MLP sizes
        for method in args.methods.split(","):
            profile = paper.with_overrides(instinct_domain=args.instinct_domain) if "instinct" in method else paper
            began = time.perf_counter()
            cell = run_cell(runtime, TaskRegistry(), method, args.task, args.seed, profile, store)
            wall = time.perf_counter() - began
            assert cell.result is not None
            summary = summarize(method, [c.acquisition for c in cell.result.candidates if c.acquisition])
            rows.append(
                (method, profile.budget_for(method), profile.unit.value, cell.proposals, cell.distinct,
                 cell.calls_made, cell.calls_served, wall, summary.line() if summary else "-")
            )  # fmt: skip
    print(f"paper profile, {args.task}, seed {args.seed}; fp32 matmul roofline {roofline:.0f} GFLOP/s")
    print("| method | budget | unit | evaluations | distinct | calls made | served | wall s | acquisition |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for method, budget, unit, proposals, distinct, made, served, wall, line in rows:
        print(f"| {method} | {budget} | {unit} | {proposals} | {distinct} | {made} | {served} | {wall:.0f} | {line} |")


if __name__ == "__main__":
    main()
