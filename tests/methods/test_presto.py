"""PRESTO as its code runs it (``mlvlab/PRESTO`` 7f07ba6; issue 30): the group initialisation, the
network recipe, score consistency and the exploration matrix's updates. Each test fails on
version 2 (``presto@2``), which did these differently."""

from __future__ import annotations

import random
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
import torch

from izbench.cache import CallStats
from izbench.context import MethodContext
from izbench.domain import UPSTREAM, Domain
from izbench.methods import get_method
from izbench.methods.neural_ucb import INSTINCT_RECIPE, PRESTO_RECIPE, NeuralUCB
from izbench.methods.presto import MIN_GROUP, group_initialization, representative_instructions
from izbench.profiles import MethodSettings
from izbench.results import Scored
from izbench.tasks.types import Example


def _upstream_greedy(states: torch.Tensor, preimages: list[list[int]], n: int) -> list[int]:
    """PRESTO's ``greedy_group_selection`` as its formulas read, every MMD recomputed from scratch
    per candidate (the method carries kernel sums instead)."""

    def d2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * a).sum(1, keepdim=True) + (b * b).sum(1, keepdim=True).T - 2 * a @ b.T

    x = states.to(torch.float32)
    all_d2 = d2(x, x)
    bandwidth = all_d2[~torch.eye(len(x), dtype=torch.bool)].median()

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-d2(a, b) / (2 * bandwidth))

    kxx = k(x, x)
    xx = (kxx.sum() - kxx.diagonal().sum()) / (len(x) * (len(x) - 1))
    groups = [g for g in range(len(preimages)) if len(preimages[g]) >= MIN_GROUP]
    chosen: list[int] = []
    for _ in range(n):
        left = [g for g in groups if g not in chosen]
        mmd = {}
        for g in left:
            y = x[[p for c in [*chosen, g] for p in preimages[c]]]
            kyy = k(y, y)
            yy = (kyy.sum() - kyy.diagonal().sum()) / (len(y) * (len(y) - 1))
            mmd[g] = float(torch.clamp(xx + yy - 2 * k(x, y).mean(), min=0))
        top_size, top_mmd = max(len(preimages[g]) for g in left), max(mmd.values())
        totals = [len(preimages[g]) / top_size + 1 - mmd[g] / top_mmd for g in left]
        chosen.append(left[totals.index(max(totals))])
    return chosen


def _clustered(seed: int, sizes: Sequence[int], dim: int = 6) -> tuple[torch.Tensor, list[list[int]]]:
    """Hidden states in clusters, one preimage per cluster."""
    gen = torch.Generator().manual_seed(seed)
    states, preimages, start = [], [], 0
    for size in sizes:
        centre = torch.randn(dim, generator=gen, dtype=torch.double) * 3
        states.append(centre + torch.randn(size, dim, generator=gen, dtype=torch.double))
        preimages.append(list(range(start, start + size)))
        start += size
    return torch.cat(states), preimages


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_group_initialisation_is_upstreams_greedy_selection(seed: int) -> None:
    sizes = [5, 9, 1, 2, 6, 12, 5, 3, 7, 5, 8, 1]
    states, preimages = _clustered(seed, sizes)
    chosen = group_initialization(states, preimages, 4)
    assert chosen == _upstream_greedy(states, preimages, 4)
    assert all(len(preimages[g]) >= MIN_GROUP for g in chosen)  # the five-point filter


def test_the_group_initialisation_differs_from_version_2s() -> None:
    """Version 2 (biased MMD, no size term, no filter) picks other preimages on the same states."""
    sizes = [5, 9, 1, 2, 6, 12, 5, 3, 7, 5, 8, 1]
    differ = 0
    for seed in range(3):
        states, preimages = _clustered(seed, sizes)
        differ += group_initialization(states, preimages, 4) != representative_instructions(states, preimages, 4)
    assert differ >= 2


def test_with_too_few_large_preimages_it_takes_the_largest() -> None:
    states, preimages = _clustered(0, [2, 5, 1, 3, 6, 4])
    # Two preimages have >= 5 points, not more than the 3 asked for: upstream takes the largest.
    assert group_initialization(states, preimages, 3) == [4, 1, 5]


def test_prestos_network_recipe() -> None:
    presto, instinct = NeuralUCB(20, seed=1, recipe=PRESTO_RECIPE), NeuralUCB(20, seed=1, recipe=INSTINCT_RECIPE)
    assert presto.initial["w1"].dtype == torch.float32 and instinct.initial["w1"].dtype == torch.double
    # nn.Linear's initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); INSTINCT's: N(0, 1).
    assert float(presto.initial["w1"].abs().max()) <= 20**-0.5 and float(presto.initial["w2"].abs().max()) <= 0.1
    assert float(instinct.initial["w1"].abs().max()) > 1.0
    assert (PRESTO_RECIPE.learning_rate, PRESTO_RECIPE.weight_decay) == (1e-4, False)


def test_score_consistency_pulls_a_preimages_outputs_together() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 4, generator=gen)
    y = x[:, 0]
    group = torch.randn(6, 4, generator=gen) * 2
    spreads = []
    for consistency in (0.0, 0.1):
        recipe = PRESTO_RECIPE.__class__(
            **{**PRESTO_RECIPE.__dict__, "consistency": consistency, "learning_rate": 1e-2}
        )
        bandit = NeuralUCB(4, seed=2, steps=400, recipe=recipe)
        bandit.fit(x, y, [group])
        mu, _ = bandit.outputs_and_gradients(group)
        spreads.append(float(mu.var()))
    assert spreads[1] < spreads[0] / 2


def test_update_exploration_adds_every_points_squared_gradient() -> None:
    bandit = NeuralUCB(3, seed=0, recipe=PRESTO_RECIPE)
    contexts = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    before = bandit.U.clone()
    bandit.update_exploration(contexts)
    _, g = bandit.outputs_and_gradients(contexts)
    torch.testing.assert_close(bandit.U, before + (g * g).sum(0))


class _Domain(Domain):
    """Clustered hidden states; every point of a cluster writes the cluster's instruction."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.states, self.preimages = _clustered(5, sizes, dim=8)
        self.texts = [f"instruction {g}" for g, p in enumerate(self.preimages) for _ in p]
        self.soft = torch.rand(len(self.texts), 10, generator=torch.Generator().manual_seed(0), dtype=torch.double)
        self.n_ape = 0
        self.pipeline = UPSTREAM

    def write_soft(self, points: Sequence[int]) -> list[str]:
        return [self.texts[p] for p in points]

    def hidden(self, points: Sequence[int]) -> torch.Tensor:
        return self.states[list(points)]

    def write_ape(self, points: Sequence[int]) -> list[str]:
        return []


class _Scorer:
    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        return [self.score(i, examples) for i in instructions]

    def score(self, instruction: str, examples: Sequence[Example]) -> Scored:
        value = -abs(int(instruction.split()[-1]) - 7) / 10  # a peak at cluster 7
        return Scored(instruction, ("x",), (value,))


def _run(method: str, domain: _Domain, budget: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """Run ``method`` on ``domain``; returns every ``update_exploration`` call with the points it was given."""
    updates: list[tuple[str, list[int]]] = []
    rows = {tuple(r.tolist()): k for k, r in enumerate(domain.states.to(torch.float32))}
    original = NeuralUCB.update_exploration

    def spy(self: NeuralUCB, contexts: torch.Tensor) -> None:
        updates.append(("update", sorted(rows[tuple(r.tolist())] for r in contexts.to(torch.float32))))
        original(self, contexts)

    monkeypatch.setattr(NeuralUCB, "update_exploration", spy)
    params = MethodSettings(instinct_n_init=3, instinct_pool=50, instinct_train_steps=20)
    split = SimpleNamespace(validation=(Example(input="q", answers=("a",)),))
    context = MethodContext(
        task="t",
        split=split,  # type: ignore[arg-type]
        scorer=_Scorer(),
        generator=None,  # type: ignore[arg-type]
        blackbox_generator=None,  # type: ignore[arg-type]
        annotations=(),
        seed=0,
        params=params,
        blackbox_calls=CallStats(),
        domain=domain,
    )
    result = get_method(method).optimize(context, budget, random.Random(0))
    updates.append(("evaluated", [int(c.instruction.split()[-1]) for c in result.candidates]))
    return updates


def test_presto_updates_u_with_the_preimages_as_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = [6, 1, 5, 3, 7, 2, 5, 8, 1, 4, 5, 2]
    domain = _Domain(sizes)
    calls = _run("presto", domain, 6, monkeypatch)
    evaluated = calls[-1][1]
    assert len(evaluated) == 6 and len(set(evaluated)) == 6
    first, rest = evaluated[:3], evaluated[3:]
    assert all(sizes[g] >= MIN_GROUP for g in first)
    # After the first fit: every point of each unscored preimage of two points or more.
    unscored = [g for g in range(len(sizes)) if g not in first and sizes[g] >= 2]
    assert calls[0] == ("update", sorted(p for g in unscored for p in domain.preimages[g]))
    # After each query: the chosen preimage's other points (the chosen one went through select).
    per_query = calls[1:-1]
    assert len(per_query) == len(rest)
    for (kind, points), group in zip(per_query, rest, strict=True):
        assert kind == "update" and len(points) == sizes[group] - 1
        assert set(points) < set(domain.preimages[group])


def test_presto_version_2_updated_u_by_the_chosen_point_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _run("presto@2", _Domain([6, 1, 5, 3, 7, 2, 5, 8, 1, 4, 5, 2]), 6, monkeypatch)
    assert [kind for kind, _ in calls] == ["evaluated"]
