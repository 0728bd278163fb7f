"""ZOPO's parts on known functions: the NTK GP interpolates and knows where it has data, its mean's
gradient is the mean's, and the whole loop climbs a smooth score faster than random choice."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

from izbench.methods.zopo import JITTER, NtkGP, ZopoRun, ntk_network, tangent_kernel
from izbench.results import MethodResult


def test_the_network_is_drawn_from_seed_zero_layer_by_layer() -> None:
    first = ntk_network(6)
    again = ntk_network(6)
    assert all(torch.equal(first[k], again[k]) for k in first)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(first["0.weight"], torch.randn((32, 6), generator=g).double())  # float32 draws, as upstream's
    g = torch.Generator().manual_seed(0)  # every layer restarts the stream (learner_diag.py:22)
    assert torch.equal(first["2.weight"], torch.randn((32, 32), generator=g).double())


def fitted(points: int = 12, dim: int = 5) -> tuple[NtkGP, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn((points, dim), generator=g, dtype=torch.double)
    y = torch.sin(x.sum(dim=1))
    gp = NtkGP(ntk_network(dim))
    gp.fit(x, y)
    return gp, x, y


def test_the_kernel_is_the_tangent_kernel_and_the_gp_interpolates() -> None:
    gp, x, y = fitted()
    # Upstream's way: Jacobians over every parameter by jacrev, then J J^T.
    net = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)).double()

    def out(params: dict[str, torch.Tensor], point: torch.Tensor) -> torch.Tensor:
        return functional_call(net, params, (point.unsqueeze(0),)).squeeze()

    jac = vmap(jacrev(out), (None, 0))(gp.params, gp.inputs)
    phi = torch.cat([j.flatten(1) for j in jac.values()], dim=1)
    assert torch.allclose(tangent_kernel(gp.params, gp.inputs, gp.inputs), phi @ phi.T, rtol=1e-10)
    means = torch.stack([gp.mean(x[i]) for i in range(len(x))])
    assert torch.allclose(means, y, atol=1e-3)
    at_data = gp.variance(x[3])
    elsewhere = gp.variance(x[3] + 0.7)
    assert at_data < 10 * JITTER < elsewhere


def test_the_ascent_follows_the_means_gradient() -> None:
    gp, x, _ = fitted()
    point = x[0] + 0.05
    analytic = grad(gp.mean)(point)
    step = 1e-6
    numeric = torch.stack(
        [
            (gp.mean(point + step * e) - gp.mean(point - step * e)) / (2 * step)
            for e in torch.eye(len(point), dtype=torch.double)
        ]
    )
    assert torch.allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


@dataclass
class Candidate:
    val_score: float


@dataclass
class Lookup:
    """What ZopoRun asks of a Tracker, scoring instructions by a known function."""

    score_of: dict[str, float]
    scored: list[str] = field(default_factory=list)
    result: MethodResult = field(default_factory=MethodResult)

    @property
    def spent(self) -> int:
        return len(self.scored)

    def left(self, budget: int) -> int:
        return budget - self.spent

    def open(self, budget: int) -> bool:
        return self.spent < budget

    def add(self, instructions: list[str]) -> list[Candidate]:
        assert not set(instructions) & set(self.scored), "ZOPO scores every instruction once"
        self.scored += instructions
        return [Candidate(self.score_of[i]) for i in instructions]


def test_zopo_climbs_a_smooth_score_faster_than_random_choice() -> None:
    g = torch.Generator().manual_seed(2)
    emb = torch.randn((400, 8), generator=g, dtype=torch.double)
    emb = emb / emb.norm(dim=1, keepdim=True)
    target = torch.ones(8, dtype=torch.double) / 8**0.5
    arms = [f"arm {i}" for i in range(len(emb))]
    score = {a: float(emb[i] @ target) for i, a in enumerate(arms)}
    budget, wins = 30, 0
    for seed in range(8):
        tracker = Lookup(score)
        run = ZopoRun(tracker, arms, emb, budget)  # type: ignore[arg-type]
        run.start(random.Random(seed).sample(range(len(arms)), 8))
        while tracker.open(budget):
            run.step()
        assert tracker.spent == budget and len(set(tracker.scored)) == budget
        by_chance = random.Random(100 + seed).sample(arms, budget)
        wins += max(score[a] for a in tracker.scored) > max(score[a] for a in by_chance)
    assert wins >= 7
