"""The least time a cached run's model work can take on this machine at the fp32 roofline.

Reads every entry of a response cache (what a run asked and got), counts the tokens that must be
computed (a soft-prompt generator call's prompt and output; a sampled call's (APE's instruction
proposals) prompt and output; a scoring call's own tokens and output, with each instruction's
shared prompt prefix counted once), converts them to FLOPs (2 x parameters per
token; attention is left out, so the bound is generous) and divides by the measured fp32 matmul
rate. It also prints the time the run actually spent in the model (latencies in the cache).

A target below this bound cannot be met by any fp32 implementation on this machine, only by
computing fewer tokens or by faster (quantised) kernels.

Run: ``.venv/bin/python benchmarks/lower_bound.py results/cache [--gflops 134]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from backends import matmul_gflops, prompt_tokens_needed  # `make bench`'s (this script's folder)

from izbench.cache import CacheMode, ResponseCache
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", type=Path)
    parser.add_argument("--gflops", type=float, default=0.0, help="roofline (default: measure it here)")
    args = parser.parse_args()
    if not (args.cache / "cache.db").is_file():
        parser.error(f"{args.cache} is not a response cache (no cache.db); pass a --cache-dir a run wrote")
    local = LocalBackend()
    model = local._loaded.model
    params = sum(p.numel() for p in model.parameters())
    roofline = args.gflops or matmul_gflops(model.config.hidden_size, model.config.intermediate_size, 5)

    cache = ResponseCache(args.cache, CacheMode.REPLAY)
    gen_tokens = gen_calls = sampled_tokens = sampled_calls = 0
    spent = {"generator": 0.0, "sampled": 0.0, "scoring": 0.0}
    scoring: list[CompletionRequest] = []
    outputs = 0
    for entry in cache.entries():
        request = CompletionRequest.model_validate(entry["request"])
        completion = entry["completion"]
        if request.soft_prompt is not None:
            gen_calls += 1
            gen_tokens += completion["prompt_tokens"] + completion["completion_tokens"]
            spent["generator"] += completion["latency_s"]
            continue
        if request.temperature > 0:  # APE's sampled instructions: every prompt is distinct
            sampled_calls += 1
            sampled_tokens += completion["prompt_tokens"] + completion["completion_tokens"]
            spent["sampled"] += completion["latency_s"]
            continue
        scoring.append(request)
        outputs += completion["completion_tokens"]
        spent["scoring"] += completion["latency_s"]
    score_tokens = outputs + prompt_tokens_needed(local, scoring)
    n_score = len(scoring)
    table = (
        ("generator", gen_calls, gen_tokens),
        ("sampled", sampled_calls, sampled_tokens),
        ("scoring", n_score, score_tokens),
    )
    for name, calls, tokens in table:
        bound = 2 * params * tokens / (roofline * 1e9)
        print(
            f"{name:<10} {calls:6d} calls {tokens:9d} needed tokens  bound {bound:7.1f} s"
            f"  spent {spent[name]:7.1f} s  ({bound / max(spent[name], 1e-9):.0%} of roofline)"
        )
    total = 2 * params * (gen_tokens + sampled_tokens + score_tokens) / (roofline * 1e9)
    print(f"total      bound {total:.1f} s at {roofline:.0f} GFLOP/s; spent {sum(spent.values()):.1f} s in the model")


if __name__ == "__main__":
    main()
