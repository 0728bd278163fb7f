"""Peak memory of the local backend on long prompts, by token budget per batch.

A comparison's heaviest moment is its first lockstep round: every InstructZero, Uniform and APE
cell asks the generator for instructions from 5 demos at once, and on a task whose inputs run to
a few hundred tokens those prompts are ~1,500 tokens long. This script builds exactly the
requests that round sends (default profile, seed 0: 4 soft prompts per InstructZero cell, 2 per
Uniform cell, APE's 8 sampled proposals per cell) for the given BIG-bench tasks, and the choice
scoring of 8 instructions on each task's validation examples, then sends each set to the local
backend in a fresh process per budget and prints the process's peak RSS and the seconds taken.

    python benchmarks/memory.py --bigbench-dir DIR [--budgets 0,49152,24576] [--tasks a,b]

A budget of 0 means no token bound (rows alone bound a batch, as before ``local_batch_tokens``).
The figures need a quiet machine for the seconds, not for the memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def requests_for(bigbench_dir: Path, tasks: list[str], instructions: int = 8) -> tuple[list[object], list[object]]:
    """(the first lockstep round's generator requests, choice-scoring requests) for ``tasks``."""
    from izbench.generation import INSTRUCTZERO_TEMPLATE, InstructionGenerator, format_demos
    from izbench.methods.bo import sobol_points
    from izbench.methods.projection import SoftPromptProjection
    from izbench.models.types import Completion
    from izbench.profiles import get_profile
    from izbench.scoring import Scorer
    from izbench.tasks.registry import TaskRegistry
    from izbench.tasks.splits import make_split
    from izbench.templates import INDUCTION_TEMPLATE as APE_TEMPLATE

    profile = get_profile("default")
    registry = TaskRegistry(bigbench_dir=bigbench_dir)
    write, score = [], []

    class Collect:  # a client that keeps the requests and answers each with a dummy score
        def __init__(self) -> None:
            self.requests: list[object] = []

        def complete(self, requests: list[object]) -> list[object]:
            self.requests += requests
            return [Completion(text="", finish_reason="stop", prompt_tokens=0, completion_tokens=0, latency_s=0.0,
                               logprobs=(0.0,)) for _ in requests]  # fmt: skip

    for task in tasks:
        spec = registry.get(task)
        split = make_split(spec.key, registry.load(spec.key), 0, profile.n_validation, profile.n_test)
        soft = SoftPromptProjection(10, 5, 576, seed=0)
        demos = format_demos([(e.input, e.answers[0]) for e in split.demos(0)])
        writer = InstructionGenerator(None, INSTRUCTZERO_TEMPLATE)  # type: ignore[arg-type]
        zs = sobol_points(4 + 2, 10, 0)  # InstructZero's 4 initial points, Uniform's first 2
        write += writer.requests([(soft(z.float()), demos) for z in zs])
        ape = InstructionGenerator(None, APE_TEMPLATE, max_new_tokens=50, protocol="raw")  # type: ignore[arg-type]
        sets = [format_demos([(e.input, e.answers[0]) for e in split.demos(k)]) for k in range(8)]
        write += ape.requests([(None, d) for d in sets], seed=1, temperature=0.9, top_p=0.9, sample_indices=range(8))
        collect = Collect()
        scorer = Scorer(collect, spec.metric, score="choice", protocol="raw")  # type: ignore[arg-type]
        scorer.score_many(
            [f"Instruction number {k}: pick the right option." for k in range(instructions)], split.validation
        )
        score += collect.requests
    return write, score


def measure(bigbench_dir: Path, tasks: list[str], budget: int, part: str, instructions: int) -> dict[str, float]:
    """Run in a fresh process: one part's requests through the local backend at ``budget``."""
    from izbench.models.local import LocalBackend
    from izbench.models.weights import load_model

    write, score = requests_for(bigbench_dir, tasks, instructions)
    requests = write if part == "write" else score
    backend = LocalBackend(load_model(), batch_size=32, decode_batch_size=96, batch_tokens=budget or None)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    answers = backend.complete(requests)  # type: ignore[arg-type]
    seconds = time.perf_counter() - began
    failed = sum(isinstance(a, Exception) for a in answers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": len(requests), "failed": failed, "seconds": seconds, "peak_gib": peak / 2**20,
            "loaded_gib": before / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bigbench-dir", type=Path, required=True)
    parser.add_argument("--tasks", default="")
    parser.add_argument("--budgets", default="0,49152")
    parser.add_argument("--parts", default="write,score", help="write, score or both")
    parser.add_argument("--instructions", type=int, default=8, help="instructions scored per task (score part)")
    parser.add_argument("--child", nargs=2, metavar=("BUDGET", "PART"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    tasks = [t for t in args.tasks.split(",") if t] or sorted(
        f"bigbench/{p.parent.name}" for p in args.bigbench_dir.glob("*/task.json")
    )
    if args.child:
        print(json.dumps(measure(args.bigbench_dir, tasks, int(args.child[0]), args.child[1], args.instructions)))
        return
    print(f"tasks: {', '.join(tasks)}")
    for part in args.parts.split(","):
        for budget in (int(b) for b in args.budgets.split(",")):
            child = [sys.executable, __file__, "--bigbench-dir", str(args.bigbench_dir), "--tasks", ",".join(tasks),
                     "--instructions", str(args.instructions)]  # fmt: skip
            out = subprocess.run([*child, "--child", str(budget), part], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{part:5} budget {budget or 'none':>6}: {r['rows']:4d} rows in {r['seconds']:6.1f} s, "
                f"peak RSS {r['peak_gib']:.2f} GiB (model loaded: {r['loaded_gib']:.2f}), {r['failed']} failed",
                flush=True,
            )


if __name__ == "__main__":
    main()
