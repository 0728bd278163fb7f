"""The Bayesian optimization loop over soft prompts: GP fit, Expected Improvement, CMA-ES.

Each round fits ``SingleTaskGP`` (outputs standardised; covariance ``ScaleKernel`` of the
instruction-coupled kernel, or of a plain Matern-5/2 ARD kernel as the ablation) by exact
marginal likelihood, then maximises analytic EI with CMA-ES (sigma0 0.8, population 50, bounds
[-1, 1]) started from each of the top-k evaluated points, and proposes each run's best point.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import gpytorch
import linear_operator
import numpy as np
import torch
from botorch.acquisition.analytic import ExpectedImprovement
from botorch.exceptions.errors import ModelFittingError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior
from torch.quasirandom import SobolEngine

from izbench.methods.kernels import InstructionCoupledKernel
from izbench.seeding import derive_seed


@dataclass(frozen=True)
class BOSettings:
    intrinsic_dim: int = 10
    coupled: bool = True
    """False: the ablation, a plain Matern kernel on z."""
    sigma0: float = 0.8
    popsize: int = 50
    cma_iterations: int = 15
    """CMA-ES generations per start point."""


def sobol_points(n: int, dim: int, seed: int) -> torch.Tensor:
    """``n`` scrambled Sobol points in [-1, 1]^dim."""
    engine = SobolEngine(dimension=dim, scramble=True, seed=derive_seed("sobol", seed) % (2**31))  # type: ignore[no-untyped-call]
    return engine.draw(n).to(torch.double) * 2 - 1


def unchecked() -> contextlib.ExitStack:
    """gpytorch's and linear_operator's debug checks off (shapes, symmetry): the same numbers to
    the bit, ~18% less time per fit on the small matrices a round fits."""
    stack = contextlib.ExitStack()
    stack.enter_context(gpytorch.settings.debug(False))
    stack.enter_context(linear_operator.settings.debug(False))
    return stack


@dataclass(frozen=True)
class Fit:
    """A fitted GP and what went wrong on the way (recorded on the round's candidate rows)."""

    model: SingleTaskGP
    note: str | None
    """None for a clean fit; else the failed attempts, or that every attempt failed."""


def fit_model(z: torch.Tensor, y: torch.Tensor, scores: torch.Tensor, coupled: bool, seed: int = 0) -> Fit:
    """The GP on evaluated soft prompts ``z`` (n, d) with mean scores ``y`` (n,).

    When a fit fails, botorch retries from hyperparameters sampled from their priors with
    torch's global RNG; the fit runs on a forked RNG seeded from ``seed`` and the data size, so
    a cell's proposals never depend on what ran before it in the process. When every attempt
    fails the GP keeps its initial hyperparameters (the round still proposes) and says so.
    """
    if coupled:
        # The kernel's anchor points must be in the same (unit-cube) space as its inputs.
        base = InstructionCoupledKernel((z + 1) / 2, scores)
    else:
        base = MaternKernel(nu=2.5, ard_num_dims=z.shape[-1], lengthscale_prior=GammaPrior(3.0, 6.0))
    # Soft prompts live in [-1, 1]^d; the kernels (and the Gamma(3, 6) lengthscale prior) see
    # them mapped to the unit cube, botorch's convention.
    bounds = torch.tensor([[-1.0] * z.shape[-1], [1.0] * z.shape[-1]], dtype=z.dtype)
    model = SingleTaskGP(
        z,
        y.unsqueeze(-1),
        covar_module=ScaleKernel(base),
        input_transform=Normalize(d=z.shape[-1], bounds=bounds),
        outcome_transform=Standardize(m=1),
    )
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    failed = False
    with warnings.catch_warnings(record=True) as caught, torch.random.fork_rng(devices=[]), unchecked():
        # A flat score surface (all candidates equal) is common with small LLMs; fitting still
        # returns usable hyperparameters, so its warnings are recorded, not raised.
        warnings.simplefilter("always")
        torch.manual_seed(derive_seed("gp-fit", seed, len(y)) % (2**63))
        try:
            fit_gpytorch_mll(mll)
        except ModelFittingError:
            failed = True
            mll.eval()
    retries = [w for w in caught if issubclass(w.category, OptimizationWarning)]
    if failed:
        return Fit(model, f"gp fit failed on every attempt; initial hyperparameters kept ({len(retries)} warnings)")
    if retries:
        return Fit(model, f"gp fit retried after {len(retries)} warning(s): {str(retries[0].message)[:160]}")
    return Fit(model, None)


def propose(
    z: torch.Tensor,
    y: torch.Tensor,
    scores: torch.Tensor,
    n: int,
    settings: BOSettings,
    seed: int,
) -> tuple[torch.Tensor, str | None]:
    """``n`` new soft prompts (EI maximised by CMA-ES from each of the ``n`` best points so far)
    and the GP fit's note."""
    fit = fit_model(z, y, scores, settings.coupled, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # botorch suggests LogEI; the paper uses analytic EI
        acquisition = ExpectedImprovement(fit.model, best_f=y.max())

    def negative_ei(points: list[np.ndarray]) -> list[float]:
        batch = torch.tensor(np.stack(points), dtype=torch.double).unsqueeze(1)
        with torch.no_grad(), warnings.catch_warnings(), unchecked():
            warnings.simplefilter("ignore")  # tiny negative variances are rounded up, harmless
            values = acquisition(batch)
        return [-float(v) for v in values]

    with warnings.catch_warnings():
        # Imported here: cma loads matplotlib.pyplot (a second of CPU) that only BO rounds need.
        warnings.simplefilter("ignore")  # cma warns at import when matplotlib is absent (no plots)
        import cma

    starts = torch.argsort(y, descending=True)[:n]
    proposals: list[torch.Tensor] = []
    for rank, index in enumerate(starts.tolist()):
        es = cma.CMAEvolutionStrategy(
            z[index].numpy(),
            settings.sigma0,
            {
                "popsize": settings.popsize,
                "bounds": [-1, 1],
                "seed": derive_seed("cma", seed, len(y), rank) % (2**31 - 1) + 1,
                "verbose": -9,
                "maxiter": settings.cma_iterations,
            },
        )
        while not es.stop():
            points = es.ask()
            es.tell(points, negative_ei(points))
        proposals.append(torch.tensor(es.result.xbest, dtype=torch.double).clamp(-1, 1))
    return torch.stack(proposals), fit.note


def propose_on_domain(
    z: torch.Tensor,
    y: torch.Tensor,
    scores: torch.Tensor,
    candidates: torch.Tensor,
    n: int,
    settings: BOSettings,
    seed: int,
) -> tuple[list[int], str | None]:
    """The ``n`` candidates (rows of a finite domain's points) with the highest EI under the GP
    fitted as ``propose`` fits it, best first (ties to the lower row), and the fit's note: the
    acquisition is maximised over the domain instead of by CMA-ES."""
    fit = fit_model(z, y, scores, settings.coupled, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # botorch suggests LogEI; the paper uses analytic EI
        acquisition = ExpectedImprovement(fit.model, best_f=y.max())
        with torch.no_grad(), unchecked():
            values = acquisition(candidates.unsqueeze(1))
    order = sorted(range(len(candidates)), key=lambda k: (-float(values[k]), k))
    return order[:n], fit.note
