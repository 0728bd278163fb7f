"""izbench's speed, in one table: backends, roofline, generator, izbench's own overhead, compare.

Every figure is the median of ``--repeats`` runs (cache off unless said) on this machine:

- black-box throughput of ``local`` and ``llamacpp`` on the same 64 scoring prompts of a core
  task (4 generated instructions x 16 validation examples, the scorer's real requests) at batch
  sizes 1, 8, 32 (for llamacpp: concurrent requests), as calls/s and prompt+output tokens/s;
  ``local`` also in its previous setting (no prefix sharing, no early stop, 50 output tokens);
- the roofline: fp32 matmul GFLOP/s at the model's hidden size, and per backend the useful
  work as GFLOP/s = 2 x parameters x needed tokens / time, where needed tokens are each shared
  instruction prefix once, each example's own tokens and the output up to what the metric reads;
- generator instructions/s (soft-prompt path) at batch 1 and 25;
- izbench's overhead: the time a cold scoring pass through scorer + cache + store spends outside
  the backend, relative to the time inside it (measured within each run, median of 5);
- wall time and peak RSS of ``izbench compare --profile smoke`` cold, then warm with replay;
- cache hit rate and calls made of the default compare, read from the store if it has one.

Run: ``make bench`` or ``.venv/bin/python benchmarks/backends.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from izbench.answer import answer_complete
from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache
from izbench.errors import BackendError
from izbench.generation import InstructionGenerator, format_demos
from izbench.identity import RunKey
from izbench.models.base import ModelBackend
from izbench.models.batching import common_prefix
from izbench.models.llamacpp import LlamaCppBackend
from izbench.models.local import LocalBackend
from izbench.models.types import Completion, CompletionRequest, PromptProtocol
from izbench.models.weights import load_model
from izbench.scoring import DEFAULT_MAX_TOKENS, Scorer, output_cap
from izbench.store import ResultStore
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.spec import TaskSpec
from izbench.tasks.splits import Split, make_split
from izbench.tasks.types import Example

TASK = "sum"
Rows = list[tuple[str, str]]


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def matmul_gflops(hidden: int, intermediate: int, repeats: int) -> float:
    """Dense fp32 GFLOP/s of a (512 x hidden) @ (hidden x intermediate) product, like an MLP."""
    a, w = torch.randn(512, hidden), torch.randn(hidden, intermediate)
    for _ in range(20):
        a @ w
    per = median_time(lambda: [a @ w for _ in range(50)], repeats) / 50
    return 2 * 512 * hidden * intermediate / per / 1e9


def prompt_tokens_needed(local: LocalBackend, requests: Sequence[CompletionRequest]) -> int:
    """Prompt tokens that must be computed for scoring requests: each instruction's shared
    prefix once, then every example's own tokens."""
    by_instruction: dict[str, list[list[int]]] = {}
    for r in requests:
        by_instruction.setdefault(r.messages[0].content.split("\n\nInput:")[0], []).append(local.token_ids(r))
    total = 0
    for rows in by_instruction.values():
        shared = common_prefix(rows)
        total += shared + sum(len(r) - shared for r in rows)
    return total


def needed_tokens(local: LocalBackend, requests: Sequence[CompletionRequest], outputs: Sequence[Completion]) -> int:
    """Tokens that must be computed: the prompts' (``prompt_tokens_needed``) and each output up
    to the token that completes what the metric reads."""
    total = prompt_tokens_needed(local, requests)
    tok = local._loaded.tokenizer
    for c in outputs:
        out = tok.encode(c.text, add_special_tokens=False)
        k = next((k for k in range(1, len(out) + 1) if answer_complete(tok.decode(out[:k]))), len(out))
        total += k
    return total


def peak_rss_of(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS GiB) of a command, measured in a fresh wrapper process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True, check=True)
    wall, rss_kib, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"benchmark command failed ({code}): {' '.join(cmd)}")
    return float(wall), int(rss_kib) / 2**20


@dataclass(frozen=True)
class Workload:
    """What every backend row's useful work is measured by, and how it is timed."""

    needed_tokens: int
    roofline: float
    params: int
    batches: Sequence[int]
    repeats: int


def backend_rows(
    name: str, backend: ModelBackend, requests: list[CompletionRequest], set_batch: Callable[[int], None], w: Workload
) -> Rows:
    rows: Rows = []
    backend.complete(requests[:2])  # warm-up
    for batch in w.batches:
        set_batch(batch)
        answers: list[Completion] = []

        def run(answers: list[Completion] = answers) -> None:
            answers[:] = [a for a in backend.complete(requests) if isinstance(a, Completion)]

        t = median_time(run, w.repeats)
        raw = sum(a.prompt_tokens + a.completion_tokens for a in answers)
        useful = 2 * w.params * w.needed_tokens / t / 1e9
        rows.append(
            (
                f"{name}, batch {batch}",
                f"{len(requests) / t:6.1f} calls/s  {raw / t:6.0f} tok/s  useful {useful:5.1f} GFLOP/s "
                f"({useful / w.roofline:4.0%} of roofline)  [{t:.2f} s]",
            )
        )
    return rows


class TimedBackend:
    """A backend whose ``complete`` calls are timed: the rest of a run is izbench's own time."""

    def __init__(self, inner: LocalBackend) -> None:
        self.inner = inner
        self.kind, self.model_id, self.revision = inner.kind, inner.model_id, inner.revision
        self.seconds = 0.0

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        began = time.perf_counter()
        try:
            return self.inner.complete(requests)
        finally:
            self.seconds += time.perf_counter() - began

    def close(self) -> None:
        self.inner.close()


def overhead_row(
    local: LocalBackend, spec: TaskSpec, chosen: list[str], split: Split, cap: int, tmp: Path, repeats: int
) -> Rows:
    """izbench's own time on a cold scoring pass: scorer + cache + store around the backend.

    Measured inside each run (wall minus the time spent in the backend), so run-to-run noise of
    the model itself, which is larger than the overhead on 2 cores, does not enter the figure.
    """
    shares, walls, warm = [], [], 0.0
    for r in range(max(5, repeats)):
        timed = TimedBackend(local)
        cache = ResponseCache(tmp / f"over{r}", CacheMode.USE)
        with ResultStore.open(tmp / f"over{r}.duckdb") as store:
            key = RunKey("bench", spec.key, r, {"bench": r})
            store.start_run(key, len(chosen), None)
            began = time.perf_counter()
            scorer = Scorer(CachedClient(timed, cache, CallStats()), spec.metric, max_tokens=cap)
            results = scorer.score_many(chosen, split.validation)
            for k, res in enumerate(results):
                store.add_predictions(key.run_id, "validation", k, split.validation, res)
            wall = time.perf_counter() - began
        shares.append((wall - timed.seconds) / timed.seconds)
        walls.append(wall)
        warm_began = time.perf_counter()
        scorer.score_many(chosen, split.validation)
        warm = time.perf_counter() - warm_began
        cache.close()
    share, wall = statistics.median(shares), statistics.median(walls)
    outside_ms = wall * share / (1 + share) * 1000
    return [
        (
            "izbench overhead (scorer+cache+store vs backend time)",
            f"{share:+.1%}  [median of {len(shares)}: {wall:.2f} s wall, {outside_ms:.0f} ms outside the model; "
            f"warm pass {warm * 1000:.0f} ms]",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="batch 8/32 only, no llamacpp, no compare runs")
    parser.add_argument("--store", type=Path, default=Path("results/izbench.duckdb"))
    parser.add_argument(
        "--scoring-only", action="store_true", help="only the score-function rows, on four core references"
    )
    parser.add_argument(
        "--protocol",
        choices=("raw", "chat"),
        action="append",
        help="prompt protocol of the score-function rows (repeatable; default: raw, as `make compare`, and chat)",
    )
    args = parser.parse_args()
    protocols: list[PromptProtocol] = args.protocol or ["raw", "chat"]
    rows: Rows = []
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__} threads {torch.get_num_threads()}", flush=True)

    loaded = load_model()
    local = LocalBackend(loaded)
    model = loaded.model
    params = sum(p.numel() for p in model.parameters())
    hidden, inter = model.config.hidden_size, model.config.intermediate_size
    roofline = matmul_gflops(hidden, inter, args.repeats)
    rows.append((f"roofline: fp32 matmul 512x{hidden} @ {hidden}x{inter}", f"{roofline:.0f} GFLOP/s"))

    registry = TaskRegistry()
    if args.scoring_only:
        chosen = [registry.references(registry.get(t))[0] for t in (TASK, "antonyms", "larger_animal", "diff")]
        for protocol in protocols:
            rows += scoring_rows(local, registry, chosen, Workload(0, roofline, params, (32,), args.repeats), protocol)
        print_rows(rows)
        return
    spec = registry.get(TASK)
    data = registry.load(spec.key)
    split = make_split(spec.key, data, 0, n_validation=16)
    demos = format_demos([(e.input, e.answers[0]) for e in split.demo_pool[:5]])
    with tempfile.TemporaryDirectory() as tmp:
        off = ResponseCache(Path(tmp) / "off", CacheMode.OFF)
        generator = InstructionGenerator(CachedClient(local, off, CallStats()))
        gen = torch.Generator().manual_seed(0)
        softs = [torch.rand((5, hidden), generator=gen) * 2 - 1 for _ in range(25)]
        instructions: list[str] = []
        for batch in (1, 25):
            items = [(s, demos) for s in softs[:batch]]

            def make(items: list[tuple[torch.Tensor, str]] = items) -> None:
                instructions[:] = generator.generate(items)

            t = median_time(make, args.repeats if batch == 1 else 1)
            rows.append((f"generator, batch {batch}", f"{batch / t:.2f} instructions/s ({t:.1f} s)"))
        chosen = [i for i in dict.fromkeys(instructions) if i][:4]

        scorer = Scorer(
            CachedClient(local, off, CallStats()), spec.metric, max_tokens=output_cap(spec.metric, data.induce)
        )
        requests = [
            CompletionRequest.user(scorer.prompt(i, e), max_tokens=scorer.max_tokens, stop_rule="answer")
            for i in chosen
            for e in split.validation
        ]
        before = [replace_request(r) for r in requests]
        rows.append(
            (
                f"workload: {TASK}, {len(chosen)} instructions x {len(split.validation)} examples",
                f"output cap {scorer.max_tokens} tokens (was {DEFAULT_MAX_TOKENS})",
            )
        )
        answers = local.complete(requests)
        needed = needed_tokens(local, requests, [a for a in answers if isinstance(a, Completion)])
        batches = (8, 32) if args.quick else (1, 8, 32)

        def set_local(b: int) -> None:
            local.batch_size = b

        work = Workload(needed, roofline, params, batches, args.repeats)
        local.share_prefixes = False
        rows += backend_rows("local, before (no sharing/stop, 50 tok)", local, before, set_local, work)
        local.share_prefixes = True
        rows += backend_rows("local", local, requests, set_local, work)
        if not args.quick:
            llama = LlamaCppBackend()
            try:

                def set_llama(b: int) -> None:
                    llama.concurrency = b

                rows += backend_rows("llamacpp (concurrency)", llama, requests, set_llama, work)
            finally:
                llama.close()

        local.batch_size = 32
        for protocol in protocols:
            rows += scoring_rows(local, registry, chosen, work, protocol)
        rows += overhead_row(local, spec, chosen, split, scorer.max_tokens, Path(tmp), args.repeats)

    if not args.quick:
        izbench = str(Path(sys.executable).with_name("izbench"))
        # Kept (results/bench-smoke/) so its leaderboard can be read after: `izbench --store ... report`.
        kept = Path("results/bench-smoke")
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        env = {**os.environ, "IZBENCH_CACHE_DIR": f"{kept}/cache", "IZBENCH_STORE": f"{kept}/s.duckdb"}
        cmd = [izbench, "compare", "--profile", "smoke"]
        wall, rss = peak_rss_of(cmd, env)
        rows.append(("izbench compare --profile smoke, cold (1 run)", f"{wall:.1f} s, peak RSS {rss:.2f} GiB"))
        warm_runs = [peak_rss_of([izbench, "--cache-mode", "replay", *cmd[1:]], env) for _ in range(args.repeats)]
        wall = statistics.median(w for w, _ in warm_runs)
        rss = max(r for _, r in warm_runs)
        rows.append(("  same, warm (--cache-mode replay)", f"{wall:.1f} s, peak RSS {rss:.2f} GiB"))
    rows += default_compare_rows(args.store)
    print_rows(rows)


def print_rows(rows: Rows) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


def scoring_rows(
    local: LocalBackend, registry: TaskRegistry, chosen: list[str], w: Workload, protocol: PromptProtocol
) -> Rows:
    """Examples per second of each score function on the same instructions and examples (cache
    off, batch 32) under one prompt protocol: generate vs likelihood on ``sum``, generate vs
    choice on ``larger_animal`` (the same 16 validation examples each), with likelihood's useful
    GFLOP/s."""
    off = ResponseCache(Path(tempfile.mkdtemp()) / "off", CacheMode.OFF)
    client = CachedClient(local, off, CallStats())
    rows: Rows = []
    for task, other in ((TASK, "likelihood"), ("larger_animal", "choice")):
        spec = registry.get(task)
        data = registry.load(spec.key)
        examples = make_split(spec.key, data, 0, n_validation=16).validation
        rates = {}
        for fn in ("generate", other):
            scorer = Scorer(
                client,
                spec.metric,
                max_tokens=output_cap(spec.metric, data.induce),
                score=fn,  # type: ignore[arg-type]
                protocol=protocol,
            )

            def score_all(scorer: Scorer = scorer, examples: tuple[Example, ...] = examples) -> None:
                scorer.score_many(chosen, examples)

            t = median_time(score_all, w.repeats)
            rates[fn] = len(chosen) * len(examples) / t
            note = ""
            if fn == "likelihood":
                requests = [
                    scorer._request(i, e, scorer.continuation(a))
                    for i in chosen
                    for e in examples
                    for a in e.answers[:1]
                ]
                needed = prompt_tokens_needed(local, requests) + sum(len(local.scored_ids(r)[1]) for r in requests)
                useful = 2 * w.params * needed / t / 1e9
                note = f"  useful {useful:5.1f} GFLOP/s ({useful / w.roofline:4.0%} of roofline)"
            if fn != "generate":
                note += f"  {rates[fn] / rates['generate']:.1f}x generate"
            rows.append((f"scorer {fn}, {task}, {protocol}", f"{rates[fn]:6.1f} examples/s{note}  [{t:.2f} s]"))
    off.close()
    return rows


def replace_request(request: CompletionRequest) -> CompletionRequest:
    """The request as the scorer sent it before the speed work: 50 tokens, no stop rule."""
    return request.model_copy(update={"max_tokens": DEFAULT_MAX_TOKENS, "stop_rule": None})


def default_compare_rows(store_path: Path) -> Rows:
    """Calls made vs served of the default-profile runs in the store, if there are any."""
    if not store_path.exists():
        return [("default compare", f"no store at {store_path}; run `make compare` first")]
    with ResultStore.open(store_path, read_only=True) as store:
        (row,) = store.query(
            "SELECT count(*) AS n, sum(calls_made) AS made, sum(calls_served) AS served, sum(wall_s) AS wall "
            "FROM runs WHERE status = 'done' AND json_extract(config_json, '$.profile.budget') = 8"
        )
    if not row["n"]:
        return [("default compare", "no default-profile runs in the store")]
    made, served = row["made"] or 0, row["served"] or 0
    return [
        (
            f"default compare in the store ({row['n']} cells)",
            f"{made} calls made, {served} served, hit rate {served / max(1, made + served):.0%}, "
            f"sum of cell walls {row['wall'] / 60:.1f} min",
        )
    ]


if __name__ == "__main__":
    main()
