"""The Bayesian optimization loop over soft prompts: GP fit, an acquisition, CMA-ES.

Each round fits ``SingleTaskGP`` (outputs standardised; covariance ``ScaleKernel`` of the
instruction-coupled kernel, or of a plain Matern-5/2 ARD kernel as the ablation) by exact
marginal likelihood, then maximises the acquisition (analytic EI as upstream, or LogEI) with
CMA-ES (sigma0 0.8, population 50, bounded to the pipeline's search box) started from each of the top-k
evaluated points, and proposes each run's best point. Every proposal carries what its
acquisition did (``Diagnostics``): on surfaces where EI underflows everywhere, CMA-ES stops after
one generation and the proposal is a draw near its start, whatever the GP says.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import gpytorch
import linear_operator
import numpy as np
import torch
from botorch.acquisition.analytic import ExpectedImprovement, LogExpectedImprovement
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

from izbench.domain import LEGACY, SoftPipeline
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
    pipeline: SoftPipeline = LEGACY
    """The box the soft prompts live in (the GP's input bounds, CMA-ES's bounds)."""
    acquisition: str = "ei"
    """``ei``: analytic Expected Improvement (upstream); ``logei``: botorch's LogEI (Ament et al.
    2023), the same maximiser without the underflow."""
    seeded_ties: bool = False
    """On a finite domain, break acquisition ties by a seeded draw (False: to the lower row, as
    izbench's InstructZero version 2 did)."""


UNDERFLOW = 1e-12
"""EI below this counts as underflowed: CMA-ES's ``tolfun`` (1e-11) stops a generation whose
values all lie within it."""


def sobol_points(n: int, dim: int, seed: int, pipeline: SoftPipeline = LEGACY) -> torch.Tensor:
    """``n`` scrambled Sobol points in the pipeline's box (the same sequence, scaled)."""
    engine = SobolEngine(dimension=dim, scramble=True, seed=derive_seed("sobol", seed) % (2**31))  # type: ignore[no-untyped-call]
    return pipeline.scale(engine.draw(n).to(torch.double))


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


def fit_model(
    z: torch.Tensor,
    y: torch.Tensor,
    scores: torch.Tensor,
    coupled: bool,
    seed: int = 0,
    pipeline: SoftPipeline = LEGACY,
) -> Fit:
    """The GP on evaluated soft prompts ``z`` (n, d) with mean scores ``y`` (n,).

    When a fit fails, botorch retries from hyperparameters sampled from their priors with
    torch's global RNG; the fit runs on a forked RNG seeded from ``seed`` and the data size, so
    a cell's proposals never depend on what ran before it in the process. When every attempt
    fails the GP keeps its initial hyperparameters (the round still proposes) and says so.
    """
    if coupled:
        # The kernel's anchor points must be in the same (unit-cube) space as its inputs.
        base = InstructionCoupledKernel(pipeline.to_unit(z), scores)
    else:
        base = MaternKernel(nu=2.5, ard_num_dims=z.shape[-1], lengthscale_prior=GammaPrior(3.0, 6.0))
    # Soft prompts live in the pipeline's box; the kernels (and the Gamma(3, 6) lengthscale
    # prior) see them mapped to the unit cube, botorch's convention.
    bounds = torch.tensor([[pipeline.low] * z.shape[-1], [1.0] * z.shape[-1]], dtype=z.dtype)
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


def acquisition_values(fit: Fit, best: float, points: torch.Tensor, kind: str) -> torch.Tensor:
    """The acquisition at each of ``points`` (n, d): EI, or log EI."""
    with torch.no_grad(), warnings.catch_warnings(), unchecked():
        # botorch suggests LogEI when EI is asked for; tiny negative variances are rounded up.
        warnings.simplefilter("ignore")
        if kind == "logei":
            acquisition: ExpectedImprovement | LogExpectedImprovement = LogExpectedImprovement(fit.model, best_f=best)
        else:
            acquisition = ExpectedImprovement(fit.model, best_f=best)
        values: torch.Tensor = acquisition(points.unsqueeze(1))
        return values


def underflow_share(values: torch.Tensor, kind: str) -> float:
    """The share of acquisition values whose EI is below ``UNDERFLOW`` (for LogEI: its exp)."""
    ei = values.exp() if kind == "logei" else values
    return float((ei < UNDERFLOW).to(torch.double).mean()) if len(values) else 0.0


@dataclass(frozen=True)
class Round:
    """One BO round's proposals, the GP fit's note and each proposal's diagnostics."""

    points: torch.Tensor
    note: str | None
    diagnostics: list[dict[str, object]]


def propose(
    z: torch.Tensor,
    y: torch.Tensor,
    scores: torch.Tensor,
    n: int,
    settings: BOSettings,
    seed: int,
) -> Round:
    """``n`` new soft prompts (the acquisition maximised by CMA-ES from each of the ``n`` best
    points so far), with the fit's note and, per proposal, what CMA-ES saw and did."""
    fit = fit_model(z, y, scores, settings.coupled, seed, settings.pipeline)
    best = float(y.max())
    low, unit = settings.pipeline.search_low, settings.pipeline.to_unit

    with warnings.catch_warnings():
        # Imported here: cma loads matplotlib.pyplot (a second of CPU) that only BO rounds need.
        warnings.simplefilter("ignore")  # cma warns at import when matplotlib is absent (no plots)
        import cma

    starts = torch.argsort(y, descending=True)[:n]
    proposals: list[torch.Tensor] = []
    diagnostics: list[dict[str, object]] = []
    for rank, index in enumerate(starts.tolist()):
        es = cma.CMAEvolutionStrategy(
            z[index].numpy(),
            settings.sigma0,
            {
                "popsize": settings.popsize,
                "bounds": [low, 1],
                "seed": derive_seed("cma", seed, len(y), rank) % (2**31 - 1) + 1,
                "verbose": -9,
                "maxiter": settings.cma_iterations,
            },
        )
        seen: list[torch.Tensor] = []
        while not es.stop():
            points = es.ask()
            batch = torch.tensor(np.stack(points), dtype=torch.double)
            values = acquisition_values(fit, best, batch, settings.acquisition)
            seen.append(values)
            es.tell(points, [-float(v) for v in values])
        point = torch.tensor(es.result.xbest, dtype=torch.double).clamp(low, 1)
        proposals.append(point)
        every = torch.cat(seen) if seen else torch.empty(0, dtype=torch.double)
        diagnostics.append(
            {
                "acquisition": settings.acquisition,
                "max": float(every.max()) if len(every) else None,
                "underflow": underflow_share(every, settings.acquisition),
                "generations": int(es.countiter),
                "stop": sorted(str(k) for k in es.stop()),
                "moved": float(torch.linalg.vector_norm(unit(point) - unit(z[index]))),
            }
        )
    return Round(torch.stack(proposals), fit.note, diagnostics)


def propose_on_domain(
    z: torch.Tensor,
    y: torch.Tensor,
    scores: torch.Tensor,
    candidates: torch.Tensor,
    n: int,
    settings: BOSettings,
    seed: int,
) -> tuple[list[int], str | None, list[dict[str, object]]]:
    """The ``n`` candidates (rows of a finite domain's points) with the highest acquisition under
    the GP fitted as ``propose`` fits it, best first, the fit's note and each pick's diagnostics:
    the acquisition is maximised over the domain instead of by CMA-ES. Ties go to a seeded draw
    (``seeded_ties``; where EI underflows to 0 at every candidate that draw is all that picks),
    or to the lower row."""
    fit = fit_model(z, y, scores, settings.coupled, seed, settings.pipeline)
    values = acquisition_values(fit, float(y.max()), candidates, settings.acquisition)
    if settings.seeded_ties:
        gen = torch.Generator().manual_seed(derive_seed("acquisition-ties", seed, len(y)) % (2**63))
        tiebreak = torch.randperm(len(candidates), generator=gen).tolist()
    else:
        tiebreak = list(range(len(candidates)))
    order = sorted(range(len(candidates)), key=lambda k: (-float(values[k]), tiebreak[k]))[:n]
    top = float(values.max()) if len(values) else None
    summary = {
        "acquisition": settings.acquisition,
        "max": top,
        "underflow": underflow_share(values, settings.acquisition),
    }
    diagnostics: list[dict[str, object]] = [
        {**summary, "value": float(values[k]), "ties": int((values == values[k]).sum())} for k in order
    ]
    return order, fit.note, diagnostics
