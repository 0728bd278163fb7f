"""A BO round's proposals depend on the cell's seed alone, never on torch's global RNG state."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.optim.fit import fit_gpytorch_mll_scipy

from izbench.methods import bo
from izbench.methods.bo import BOSettings, propose


@pytest.fixture
def failing_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fits whose first two attempts end in an optimisation warning that botorch treats as a
    failure (an iteration limit would count as success): it retries from hyperparameters sampled
    from their priors, the path that draws from torch's global RNG."""
    attempts: list[int] = []

    def flaky(mll: object, closure: object = None, **kwargs: object) -> object:
        # A few iterations only, so the result depends on where the attempt started.
        result = fit_gpytorch_mll_scipy(mll, closure=closure, options={"maxiter": 3})  # type: ignore[arg-type]
        attempts.append(1)
        if len(attempts) % 3:
            warnings.warn("ABNORMAL_TERMINATION_IN_LNSRCH (planted by the test)", OptimizationWarning, stacklevel=1)
        return result

    monkeypatch.setattr(bo, "fit_gpytorch_mll", functools.partial(fit_gpytorch_mll, optimizer=flaky))


def _round(global_seed: int) -> torch.Tensor:
    torch.manual_seed(global_seed)  # what earlier cells in the process left behind
    found = propose(*_data(), 2, BOSettings(intrinsic_dim=4, cma_iterations=2, popsize=8), seed=7)
    proposals, note = found.points, found.note
    assert note is not None and note.startswith("gp fit")  # the failed attempts are recorded
    return proposals


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


def test_a_clean_fit_has_no_note() -> None:
    assert bo.fit_model(*_data(), coupled=True, seed=7).note is None


@pytest.mark.filterwarnings("ignore")
def test_a_fit_that_fails_every_attempt_still_proposes_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from botorch.exceptions.errors import ModelFittingError

    def never(*args: object, **kwargs: object) -> None:
        raise ModelFittingError("All attempts to fit the model have failed.")

    monkeypatch.setattr(bo, "fit_gpytorch_mll", never)
    found = propose(*_data(), 2, BOSettings(intrinsic_dim=4, cma_iterations=2, popsize=8), seed=7)
    proposals, note = found.points, found.note
    assert proposals.shape == (2, 4) and bool(((proposals >= -1) & (proposals <= 1)).all())
    assert note is not None and "every attempt" in note


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    z = torch.rand((6, 4), generator=gen, dtype=torch.double) * 2 - 1
    scores = torch.rand((6, 3), generator=gen, dtype=torch.double)
    return z, scores.mean(-1), scores
