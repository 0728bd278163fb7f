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

KINDS = ("generator", "hidden", "sampled", "scoring")


def model_work(cache_dir: Path, local: LocalBackend) -> dict[str, tuple[int, int, float]]:
    """Per kind of call in a cache: (calls, needed tokens, seconds the model spent on them).

    Kinds: ``generator`` (soft-prompt writes: prompt and output), ``hidden`` (hidden-state
    passes: the prompt), ``sampled`` (APE's proposals: prompt and output), ``scoring`` (each
    instruction's shared prefix once, each example's own tokens and what was generated).
    """
    cache = ResponseCache(cache_dir, CacheMode.REPLAY)
    calls = dict.fromkeys(KINDS, 0)
    tokens = dict.fromkeys(KINDS, 0)
    spent = dict.fromkeys(KINDS, 0.0)
    scoring: list[CompletionRequest] = []
    for entry in cache.entries():
        request = CompletionRequest.model_validate(entry["request"])
        completion = entry["completion"]
        if request.soft_prompt is not None:
            kind = "hidden" if request.hidden_state else "generator"
            used = completion["prompt_tokens"] + completion["completion_tokens"]
        elif request.temperature > 0:  # APE's sampled instructions: every prompt is distinct
            kind, used = "sampled", completion["prompt_tokens"] + completion["completion_tokens"]
        else:
            kind, used = "scoring", completion["completion_tokens"]
            scoring.append(request)
        calls[kind] += 1
        tokens[kind] += used
        spent[kind] += completion["latency_s"]
    tokens["scoring"] += prompt_tokens_needed(local, scoring)
    return {kind: (calls[kind], tokens[kind], spent[kind]) for kind in KINDS}


def print_work(work: dict[str, tuple[int, int, float]], params: int, roofline: float) -> None:
    """One line per kind: calls, tokens, the roofline's bound, time spent and the ratio."""
    for name, (calls, tokens, spent) in work.items():
        bound = 2 * params * tokens / (roofline * 1e9)
        print(
            f"{name:<10} {calls:6d} calls {tokens:9d} needed tokens  bound {bound:7.1f} s"
            f"  spent {spent:7.1f} s  ({bound / max(spent, 1e-9):.0%} of roofline)"
        )
    total = 2 * params * sum(t for _, t, _ in work.values()) / (roofline * 1e9)
    spent = sum(s for *_, s in work.values())
    print(f"total      bound {total:.1f} s at {roofline:.0f} GFLOP/s; spent {spent:.1f} s in the model")


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
    print_work(model_work(args.cache, local), params, roofline)


if __name__ == "__main__":
    main()
