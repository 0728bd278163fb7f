"""NeuralUCB (INSTINCT's surrogate) against a case small enough to compute by hand."""

from __future__ import annotations

import math

import pytest
import torch

from izbench.methods.neural_ucb import NeuralUCB


def _tiny() -> NeuralUCB:
    """One input, one hidden unit: w1 = 2, b1 = 0, w2 = 3, b2 = 1, lambda = 0.1, nu = 1."""
    bandit = NeuralUCB(1, lam=0.1, nu=1.0, hidden=1)
    bandit.params = {
        "w1": torch.tensor([[2.0]], dtype=torch.double),
        "b1": torch.tensor([0.0], dtype=torch.double),
        "w2": torch.tensor([[3.0]], dtype=torch.double),
        "b2": torch.tensor([1.0], dtype=torch.double),
    }
    return bandit


def test_outputs_and_gradients_match_the_hand_computation() -> None:
    mu, g = _tiny().outputs_and_gradients(torch.tensor([[1.0], [-1.0]], dtype=torch.double))
    # x = 1: hidden relu(2) = 2, output 3 * 2 + 1 = 7; d/dw1 = w2 * x = 3, d/db1 = 3, d/dw2 = 2, d/db2 = 1.
    # x = -1: hidden relu(-2) = 0, output 1; only d/db2 = 1 is non-zero.
    assert mu.tolist() == [7.0, 1.0]
    assert g.tolist() == [[3.0, 3.0, 2.0, 1.0], [0.0, 0.0, 0.0, 1.0]]


def test_select_takes_the_highest_upper_bound_and_shrinks_its_bonus() -> None:
    bandit = _tiny()
    contexts = torch.tensor([[1.0], [-1.0]], dtype=torch.double)
    # UCB(x=1) = 7 + sqrt(0.1 * (9 + 9 + 4 + 1) / 0.1) = 7 + sqrt(23); UCB(x=-1) = 1 + 1.
    assert bandit.select(contexts) == 0
    assert bandit.U.tolist() == pytest.approx([9.1, 9.1, 4.1, 1.1])
    mu, g = bandit.outputs_and_gradients(contexts[:1])
    bonus = math.sqrt(0.1 * (9 / 9.1 + 9 / 9.1 + 4 / 4.1 + 1 / 1.1))
    assert bonus == pytest.approx(0.62151, abs=1e-5)
    assert mu.item() + bonus == pytest.approx(7.62151, abs=1e-5)


def test_exploration_can_outweigh_a_higher_mean() -> None:
    contexts = torch.tensor([[1.0], [-1.0]], dtype=torch.double)
    for nu, chosen in ((1.0, 0), (1e-6, 1)):
        bandit = _tiny()
        bandit.nu = nu
        bandit.params = {**bandit.params, "w2": torch.tensor([[-0.1]], dtype=torch.double)}
        # w2 = -0.1: x = 1 outputs 0.8 with g = (-0.1, -0.1, 2, 1); x = -1 outputs 1 with g = (0, 0, 0, 1).
        # nu = 1: 0.8 + sqrt(0.01 + 0.01 + 4 + 1) = 3.0405 beats 1 + 1 = 2 (the lower mean explores);
        # nu = 1e-6: the bonuses are ~1e-3 and the higher mean wins.
        assert bandit.select(contexts) == chosen


def test_fit_learns_the_rewards_from_the_same_start_every_time() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=gen, dtype=torch.double)
    y = x[:, 0] * 2 - x[:, 1]
    a = NeuralUCB(5, seed=3, steps=300)
    b = NeuralUCB(5, seed=3, steps=300)
    torch.manual_seed(123)  # the global RNG plays no part
    loss = a.fit(x, y)
    torch.manual_seed(456)
    assert b.fit(x, y) == loss
    before = torch.mean((y - y.mean()) ** 2).item()
    assert loss < before / 10
    refit = a.fit(x, y)  # refits restart from the initial weights
    assert refit == loss
    assert NeuralUCB(5, seed=4, steps=300).fit(x, y) != loss
