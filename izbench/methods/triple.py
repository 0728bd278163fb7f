"""TRIPLE (Shi et al., NeurIPS 2024, "Best arm identification for prompt learning under a limited
budget"): choosing an instruction from a fixed pool as fixed-budget best-arm identification.

Every candidate instruction is an arm; a pull scores one arm on one validation example drawn at
random (with replacement, as upstream's ``sample_batch`` draws a fresh example for every pull),
and the budget ``T`` counts pulls: single (instruction, example) evaluations. A cell's budget of
``B`` instructions buys ``T = B x n_validation`` pulls, what scoring ``B`` instructions on the
whole validation set costs, so TRIPLE spends the same black-box evaluations as the others.

Two algorithms, as the paper's two regimes (read from ``ShenGroup/TRIPLE`` be15d62):

- **Successive rejects** (Audibert et al. 2010) when the budget gives every arm two pulls or more:
  phases ``k = 1 .. K-1``, each surviving arm pulled up to ``n_k = ceil((T - K) / (logbar(K) (K + 1 - k)))``
  times, ``logbar(K) = 1/2 + sum_{i=2..K} 1/i``, then the arm with the lowest total reward rejected
  (ties: the lowest index, ``successive_rejects.py:58-66``). Textbook, not upstream's file: that
  one counts pulls by arm id but checks them by position, so after the first rejection it pulls one
  arm for the rest of the budget (docs/fidelity.md).
- **TRIPLE-CLST** when the pool is larger than that (``env.py:147-153, 265-388``): the arms'
  embeddings are clustered by k-means into ``ceil(sqrt(K))`` clusters; phase 1 spends
  ``int(5 C (1 - KL))`` pulls (KL: the cluster sizes against uniform) on sequential halving over
  the clusters, set up for twice that budget as upstream does, each pull a random member of the
  chosen cluster; phase 2 runs sequential halving over the prompts of the surviving clusters with
  what is left. Sequential halving is upstream's (``sequential_halving.py``): ``ceil(log2 n)``
  rounds, ``floor(T / (L n_active))`` pulls per arm per round, means over all rounds, the better
  half kept, leftover pulls to the last arm.

On a pool the arms are the distinct instructions its soft points write, each embedded by the
generator's hidden state of its first point (upstream embeds APE's instructions with
``text-embedding-ada-002``; a pool holds no text embedder's vectors, and the hidden state is
ZOPO's representation of the same instructions). Each arm is recorded with every reward it drew,
``examples`` counting its pulls, so the method's best (most examples, then highest mean) is the
arm the algorithm keeps: its last survivor.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from scipy.cluster.vq import kmeans2

from izbench.choices import BudgetUnit
from izbench.errors import ConfigError
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.results import MethodResult, Scored

Pull = Callable[[int], float]
"""Pulls arm ``i`` once: one reward."""


def log_bar(arms: int) -> float:
    return 0.5 + sum(1.0 / i for i in range(2, arms + 1))


def rejects_schedule(arms: int, budget: int) -> list[int]:
    """``n_k`` for phases ``k = 1 .. arms - 1``: the pulls each surviving arm has in all by the
    end of phase ``k`` (Audibert et al. 2010)."""
    bar = log_bar(arms)
    return [math.ceil((budget - arms) / (bar * (arms + 1 - k))) for k in range(1, arms)]


def successive_rejects(arms: int, budget: int, pull: Pull) -> tuple[int, list[list[float]]]:
    """The last surviving arm and every arm's rewards."""
    rewards: list[list[float]] = [[] for _ in range(arms)]
    alive = list(range(arms))
    for target in rejects_schedule(arms, budget):
        for arm in alive:
            while len(rewards[arm]) < target:
                rewards[arm].append(pull(arm))
        worst = min(alive, key=lambda a: (sum(rewards[a]), a))
        alive.remove(worst)
    return alive[0], rewards


def sequential_halving(
    arms: list[int], budget: int, pull: Pull, stop_after: int | None = None
) -> tuple[list[int], list[list[float]]]:
    """Upstream's sequential halving over ``arms`` (indices for ``pull``), planned for ``budget``
    pulls and stopped after ``stop_after`` of them: the surviving arms, best first, and each arm's
    rewards (position by position in ``arms``)."""
    limit = budget if stop_after is None else min(budget, stop_after)
    rewards: list[list[float]] = [[] for _ in arms]
    alive = list(range(len(arms)))
    rounds = max(1, math.ceil(math.log2(len(arms))))
    spent = 0

    def mean(p: int) -> float:
        return sum(rewards[p]) / max(1, len(rewards[p]))

    while spent < limit:
        if len(alive) == 1:  # the leftover pulls go to the winner
            rewards[alive[0]].append(pull(arms[alive[0]]))
            spent += 1
            continue
        each = max(1, budget // (rounds * len(alive)))  # a round too short for one pull each still pulls each once
        for position in alive:
            for _ in range(each):
                if spent < limit:
                    rewards[position].append(pull(arms[position]))
                    spent += 1
        if spent < limit or stop_after is None:
            alive = sorted(alive, key=lambda p: (-mean(p), p))[: math.ceil(len(alive) / 2)]
    alive.sort(key=lambda p: (-mean(p), p))
    return [arms[p] for p in alive], rewards


def clusters_of(embeddings: np.ndarray, count: int) -> np.ndarray:
    """k-means labels (k-means++ start, seeded by 0 as upstream's ``KMeans(random_state=0)``)."""
    if count >= len(embeddings):
        return np.arange(len(embeddings))
    _, labels = kmeans2(embeddings.astype(np.float64), count, minit="++", seed=np.random.default_rng(0))
    # Empty clusters are dropped: labels renumbered densely in order of first appearance.
    order = {int(c): k for k, c in enumerate(dict.fromkeys(int(v) for v in labels))}
    return np.array([order[int(v)] for v in labels])


def cluster_triple(
    embeddings: np.ndarray, budget: int, pull: Pull, rng: random.Random
) -> tuple[int, list[list[float]]]:
    """TRIPLE-CLST: sequential halving over clusters, then over the surviving clusters' arms."""
    arms = len(embeddings)
    count = math.ceil(math.sqrt(arms))
    labels = clusters_of(embeddings, count)
    names = sorted(set(int(v) for v in labels))
    members = {c: [i for i in range(arms) if labels[i] == c] for c in names}
    shares = np.array([len(members[c]) / arms for c in names])
    kl = float(np.sum(shares * np.log(shares * len(names))))
    phase1 = min(budget, int(5 * len(names) * (1 - kl)))
    rewards: list[list[float]] = [[] for _ in range(arms)]

    def pull_cluster(c: int) -> float:
        arm = rng.choice(members[c])
        reward = pull(arm)
        rewards[arm].append(reward)
        return reward

    survivors = names
    if phase1 > 0 and len(names) > 1:
        survivors, _ = sequential_halving(names, 2 * phase1, pull_cluster, stop_after=phase1)
    candidates = sorted(i for c in survivors for i in members[c])
    if budget == phase1:  # nothing left for phase 2: the best arm phase 1 pulled
        pulled = [a for a in candidates if rewards[a]] or candidates
        return max(pulled, key=lambda a: (sum(rewards[a]) / max(1, len(rewards[a])), -a)), rewards
    kept, second = sequential_halving(candidates, budget - phase1, pull)
    for position, arm in enumerate(candidates):
        rewards[arm] += second[position]
    return kept[0], rewards


class Triple(Method):
    name = "triple"
    version = 1
    pool_budget_free = False
    anytime = False
    on_domain = True

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        domain = context.domain
        if domain is None:
            raise ConfigError("triple chooses among a finite domain's instructions: run it on a pool (--domain pool)")
        tracker = Tracker(context)
        arms, first = domain.distinct_soft()
        validation = context.split.validation
        # The budget in pulls: as given in example evaluations, else what scoring that many
        # instructions on the whole validation set costs.
        total = budget if context.params.budget_unit is BudgetUnit.EXAMPLE_EVALS else budget * len(validation)
        draws = random.Random(rng.randrange(2**31))
        seen: list[list[tuple[int, float, str]]] = [[] for _ in arms]

        def pull(arm: int) -> float:
            drawn = draws.randrange(len(validation))
            scored = context.scorer.score(arms[arm], [validation[drawn]])
            seen[arm].append((drawn, scored.scores[0], scored.predictions[0]))
            return scored.scores[0]

        if len(arms) == 1:
            kept = 0
            pull(0)
        elif total >= 2 * len(arms):
            kept, _ = successive_rejects(len(arms), total, pull)
        else:
            states = domain.hidden(first).numpy()
            kept, _ = cluster_triple(states, total, pull, random.Random(rng.randrange(2**31)))
        # Fewest pulls first; among equals the kept arm first, so the result's best (most
        # examples, then highest mean, then earliest) is the arm the algorithm kept.
        order = sorted(range(len(arms)), key=lambda a: (len(seen[a]), a != kept, a))
        pulled = [a for a in order if seen[a]]
        tracker.record(
            [arms[a] for a in pulled],
            [
                Scored(
                    arms[a],
                    tuple(p for *_, p in seen[a]),
                    tuple(s for _, s, _ in seen[a]),
                    tuple(i for i, *_ in seen[a]),
                )
                for a in pulled
            ],
            note="pulls",
        )
        return tracker.result


@register("triple")
def _triple() -> Triple:
    return Triple()
