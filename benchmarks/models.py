"""Each embedded model on this machine: load time and throughput through the ``local`` backend.

Per installed embedded model (``izbench models``): the first load in a fresh process (GGUF
conversion excluded: it happens once per machine and is reported separately when it runs), then
greedy generation and likelihood scoring on the same raw prompts, as rows/s and tokens/s.
Figures are medians of ``--repeats`` runs; each model loads in its own process so one model's
caches never warm the other's.

Run: ``.venv/bin/python benchmarks/models.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

WORDS = ("hot", "tall", "early", "happy", "open", "loud", "fast", "dark")
PROMPTS = [f"Write the opposite of the word: {w}\nAnswer:" for w in WORDS]
ANSWERS = [" cold", " short", " late", " sad", " closed", " quiet", " slow", " light"]


def measure(name: str, repeats: int) -> dict[str, float]:
    """Runs in a child process: load, then time generation and scoring."""
    from izbench.models.catalog import resolve
    from izbench.models.local import LocalBackend
    from izbench.models.types import CompletionRequest
    from izbench.models.weights import load_model, weights_dir

    source = resolve(name)
    began = time.perf_counter()
    weights_dir(source)  # converts once per machine; not part of the load figure below
    convert_s = time.perf_counter() - began
    began = time.perf_counter()
    loaded = load_model(source)
    load_s = time.perf_counter() - began
    backend = LocalBackend(loaded, batch_size=8)
    generate = [CompletionRequest.user(p, max_tokens=16, protocol="raw") for p in PROMPTS]
    pairs = zip(PROMPTS, ANSWERS, strict=True)
    score = [CompletionRequest.user(p, max_tokens=1, protocol="raw", continuation=a) for p, a in pairs]
    gen_times, score_times, tokens = [], [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        out = backend.complete(generate)
        gen_times.append(time.perf_counter() - t)
        tokens = sum(getattr(c, "completion_tokens", 0) for c in out)
        t = time.perf_counter()
        backend.complete(score)
        score_times.append(time.perf_counter() - t)
    g, s = statistics.median(gen_times), statistics.median(score_times)
    return {
        "convert_s": convert_s, "load_s": load_s, "hidden": backend.hidden_size,
        "generate_rows_s": len(PROMPTS) / g, "generate_tokens_s": tokens / g, "score_rows_s": len(PROMPTS) / s,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats)))
        return
    from izbench.models.catalog import EMBEDDED, installed

    for model in EMBEDDED.values():
        if not installed(model):
            print(f"{model.name:<24} not installed ({model.install})")
            continue
        loads = []
        for _ in range(args.repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--child", model.name, "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            loads.append(json.loads(out.stdout.strip().splitlines()[-1]))
        m = {k: statistics.median(r[k] for r in loads) for k in loads[0]}
        print(
            f"{model.name:<24} hidden {int(m['hidden'])}: load {m['load_s']:.1f} s; "
            f"generate {m['generate_rows_s']:.2f} rows/s "
            f"({m['generate_tokens_s']:.0f} tokens/s, batch 8, 16 tokens); likelihood {m['score_rows_s']:.1f} rows/s"
        )


if __name__ == "__main__":
    main()
