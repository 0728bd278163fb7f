"""A BO round's proposals depend on the cell's seed alone, never on torch's global RNG state."""

from __future__ import annotations

import functools

import pytest
import torch
from botorch.fit import fit_gpytorch_mll

from izbench.methods import bo
from izbench.methods.bo import BOSettings, propose


@pytest.fixture
def failing_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fits that stop after one iteration: botorch treats each as failed and retries from
    hyperparameters sampled from their priors, the path that draws random numbers."""
    quick = functools.partial(fit_gpytorch_mll, optimizer_kwargs={"options": {"maxiter": 1}})
    monkeypatch.setattr(bo, "fit_gpytorch_mll", quick)


def _round(global_seed: int) -> torch.Tensor:
    torch.manual_seed(global_seed)  # what earlier cells in the process left behind
    return propose(*_data(), 2, BOSettings(intrinsic_dim=4, cma_iterations=2, popsize=8), seed=7)


@pytest.mark.filterwarnings("ignore")
def test_proposals_do_not_depend_on_the_global_rng(failing_fits: None) -> None:
    first = _round(1)
    assert torch.equal(first, _round(12345))
    # ... and a fit leaves the caller's global stream where it was.
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    bo.fit_model(*_data(), coupled=True, seed=7)
    assert torch.equal(torch.rand(2), expected)


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    z = torch.rand((6, 4), generator=gen, dtype=torch.double) * 2 - 1
    scores = torch.rand((6, 3), generator=gen, dtype=torch.double)
    return z, scores.mean(-1), scores
