"""The same methods on two pools of the same tasks, side by side: does the pipeline a pool was
written with (izbench's first, or upstream's) change what the methods find?

Two pools built on the same tasks with the same pool seed and split sizes share their validation
and test examples, the empty instruction and the references, so a method's test score on one
pool and on the other are scores of instructions on the same examples. This script reads the
cells of one budget from two stores (``--old`` and ``--new``, each holding one pool's cells),
labels each method by its pool, normalizes both by the same anchors (the empty instruction 0,
the reference 1) and prints the seed-level statistics of ``izbench.report.seeds``: IQM with its
95% interval per method and pool, and P(A > B) with its interval for the pairs asked.

Run: ``.venv/bin/python benchmarks/pool_pipelines.py --old S1 --new S2 --budget 8``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from izbench.report.seeds import ANCHORS, normalize, seed_statistics
from izbench.results import CellResult
from izbench.store import ResultStore


def cells_of(store_path: Path, budget: int, label: str) -> list[CellResult]:
    """The finished cells of ``budget`` in the store (anchors at any budget), methods labelled."""
    with ResultStore.open(store_path, read_only=True) as store:
        ids = store.db.execute(
            "SELECT run_id, method FROM runs WHERE status = 'done' AND (budget = ? OR method IN ?)",
            [budget, list(ANCHORS)],
        ).fetchall()
        cells = [store.load_cell(run_id) for run_id, _ in ids]
    return [c if c.method in ANCHORS else replace(c, method=f"{c.method} [{label}]") for c in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="store of the cells on the pipeline-1 pool")
    parser.add_argument("--new", type=Path, required=True, help="store of the cells on the pipeline-2 pool")
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--pairs", default="", help="A:B,... (labelled names) to print; default: all")
    args = parser.parse_args()
    old = cells_of(args.old, args.budget, "pipeline 1")
    new = [c for c in cells_of(args.new, args.budget, "pipeline 2") if c.method not in ANCHORS]
    tasks = {c.task for c in new}
    normalized = normalize([c for c in old if c.task in tasks] + new)
    stats = seed_statistics(normalized)
    print(f"budget {args.budget}: {len(normalized.tasks)} tasks x {len(normalized.seeds)} seeds")
    print("| method | IQM [95%] |")
    print("| --- | --- |")
    for method in sorted(stats.aggregates, key=lambda m: -stats.aggregates[m]["IQM"].value):
        print(f"| {method} | {stats.aggregates[method]['IQM'].text()} |")
    wanted = [tuple(p.split(":")) for p in args.pairs.split(",") if p]
    print("\n| A | B | P(A > B) [95%] |")
    print("| --- | --- | --- |")
    for (a, b), estimate in stats.improvement.items():
        if wanted and (a, b) not in wanted and (b, a) not in wanted:
            continue
        print(f"| {a} | {b} | {estimate.text()} |")
    if stats.friedman is not None:
        print(f"\nFriedman chi2 {stats.friedman[0]:.2f}, p {stats.friedman[1]:.3g}")


if __name__ == "__main__":
    main()
