"""TRIPLE's bandits on known rewards: the successive-rejects schedule (Audibert et al. 2010),
which arm each algorithm keeps, and that no algorithm spends more pulls than its budget."""

from __future__ import annotations

import random

import numpy as np
import pytest

from izbench.methods.triple import (
    cluster_triple,
    clusters_of,
    log_bar,
    rejects_schedule,
    sequential_halving,
    successive_rejects,
)


def counting(means: list[float], noise: float = 0.0, seed: int = 0) -> tuple[list[int], object]:
    """A pull function on arms with these means (Gaussian noise), and a counter of its pulls."""
    count = [0]
    rng = random.Random(seed)

    def pull(arm: int) -> float:
        count[0] += 1
        return means[arm] + rng.gauss(0.0, noise)

    return count, pull


def test_the_rejects_schedule_is_audiberts() -> None:
    # K = 3, T = 30: logbar = 1/2 + 1/2 + 1/3; n_1 = ceil(27 / (4/3 * 3)) = 7, n_2 = ceil(27 / (4/3 * 2)) = 11.
    assert log_bar(3) == pytest.approx(4 / 3)
    assert rejects_schedule(3, 30) == [7, 11]
    for arms, budget in ((30, 150), (7, 70), (91, 1500)):
        schedule = rejects_schedule(arms, budget)
        assert schedule == sorted(schedule) and len(schedule) == arms - 1
        # n_1 + ... + n_{K-1} + n_{K-1} pulls in all (the two finalists share the last phase): at most T.
        assert sum(schedule) + schedule[-1] <= budget
        count, pull = counting([0.0] * arms)
        successive_rejects(arms, budget, pull)
        assert count[0] == sum(schedule) + schedule[-1]


def test_successive_rejects_rejects_the_worst_first_and_keeps_the_best() -> None:
    means = [0.3, 0.9, 0.1, 0.5, 0.7]
    count, pull = counting(means)
    kept, rewards = successive_rejects(len(means), 60, pull)
    assert kept == 1 and count[0] <= 60
    pulls = [len(r) for r in rewards]
    # Rejected in the order of the means (fewer pulls for worse arms); the finalists share the last phase.
    assert pulls[2] < pulls[0] < pulls[3] < pulls[4] == pulls[1]


def test_successive_rejects_breaks_ties_as_upstream() -> None:
    _, pull = counting([0.5, 0.5, 0.5])
    kept, _ = successive_rejects(3, 30, pull)
    assert kept == 2  # the lowest index is rejected on a tie


def test_sequential_halving_keeps_the_best_half_each_round_and_spends_its_budget() -> None:
    means = [0.1 * k for k in range(8)]
    count, pull = counting(means)
    kept, rewards = sequential_halving(list(range(8)), 48, pull)
    assert kept == [7] and count[0] == 48
    # Three rounds: 48 // (3 * 8) = 2 pulls each, then 48 // (3 * 4) = 4, then 8; leftovers to the winner.
    assert [len(rewards[a]) for a in (0, 3)] == [2, 2] and [len(rewards[a]) for a in (4, 5)] == [6, 6]
    assert len(rewards[6]) == 14 and len(rewards[7]) == 48 - 4 * 2 - 2 * 6 - 14


def test_sequential_halving_stopped_early_returns_the_arms_still_alive() -> None:
    count, pull = counting([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    kept, _ = sequential_halving(list(range(6)), 60, pull, stop_after=30)
    # 60 // (3 * 6) = 3 pulls each (18), the best 3 kept, then stopped within the next round.
    assert count[0] == 30 and kept == [5, 4, 3]


def test_clusters_are_found_and_clst_keeps_an_arm_of_the_best_cluster() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    embeddings = np.concatenate([c + 0.1 * rng.standard_normal((4, 2)) for c in centres])
    labels = clusters_of(embeddings, 4)
    assert len({tuple(labels[k * 4 : k * 4 + 4]) for k in range(4)}) == 4
    assert all(len(set(labels[k * 4 : k * 4 + 4])) == 1 for k in range(4))
    means = [0.9 if k >= 12 else 0.1 for k in range(16)]  # the fourth cluster holds the good arms
    count, pull = counting(means, noise=0.05)
    kept, rewards = cluster_triple(embeddings, 60, pull, random.Random(0))
    assert kept >= 12 and count[0] == 60 == sum(len(r) for r in rewards)
    # A budget phase 1 (5 C (1 - KL) = 20 pulls here) takes whole: the pick is the best arm it pulled.
    count, pull = counting(means, noise=0.05)
    kept, rewards = cluster_triple(embeddings, 20, pull, random.Random(0))
    pulled = [a for a in range(16) if rewards[a]]
    assert count[0] == 20 and kept == max(pulled, key=lambda a: (sum(rewards[a]) / len(rewards[a]), -a))
