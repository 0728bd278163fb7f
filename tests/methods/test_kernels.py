"""The instruction-coupled kernel and the BO loop, with no LLM involved."""

from __future__ import annotations

import torch

from izbench.methods.bo import BOSettings, fit_model, propose, sobol_points
from izbench.methods.kernels import JITTER, InstructionCoupledKernel


def test_coupled_kernel_is_positive_semidefinite() -> None:
    gen = torch.Generator().manual_seed(0)
    for n_train, n_query in ((5, 7), (12, 30)):
        z = torch.rand((n_train, 10), generator=gen, dtype=torch.double) * 2 - 1
        scores = torch.rand((n_train, 6), generator=gen, dtype=torch.double)
        kernel = InstructionCoupledKernel(z, scores)
        queries = torch.rand((n_query, 10), generator=gen, dtype=torch.double) * 2 - 1
        matrix = kernel(queries, queries).to_dense().detach()
        assert torch.allclose(matrix, matrix.T, atol=1e-10)
        assert torch.linalg.eigvalsh(matrix).min() > -1e-8


def test_coupled_kernel_equals_the_formula_by_hand() -> None:
    z = torch.tensor([[0.0, 0.5], [1.0, -0.5]], dtype=torch.double)
    scores = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.double)
    x = torch.tensor([[0.2, 0.1], [-0.3, 0.9], [1.0, -0.5]], dtype=torch.double)
    kernel = InstructionCoupledKernel(z, scores)

    def matern52(a: torch.Tensor, b: torch.Tensor, lengthscale: torch.Tensor) -> torch.Tensor:
        r = torch.cdist(a / lengthscale, b / lengthscale)
        s5 = 5**0.5 * r
        return (1 + s5 + 5 / 3 * r**2) * torch.exp(-s5)

    l_ls = kernel.latent_kernel.lengthscale.detach()
    s_ls = kernel.instruction_kernel.lengthscale.detach()
    gram = matern52(z, z, l_ls) + JITTER * torch.eye(2, dtype=torch.double)
    inv = torch.linalg.inv(gram)
    expected = matern52(x, z, l_ls) @ inv @ matern52(scores, scores, s_ls) @ inv @ matern52(z, x, l_ls)
    assert torch.allclose(kernel(x, x).to_dense().detach(), expected, atol=1e-8)


def test_a_training_set_repeated_over_a_batch_is_solved_once_with_the_same_values() -> None:
    # What the GP asks when EI scores a CMA-ES population: each candidate against the training
    # set, the set repeated over the batch. The shortcut must match the direct computation.
    gen = torch.Generator().manual_seed(1)
    z = torch.rand((40, 10), generator=gen, dtype=torch.double)
    kernel = InstructionCoupledKernel(z, torch.rand((40, 6), generator=gen, dtype=torch.double))
    candidates = torch.rand((50, 1, 10), generator=gen, dtype=torch.double)
    train = torch.cat([z.expand(50, 40, 10), candidates], dim=1)[:, :40]  # a materialised repeat
    calls: list[tuple[int, ...]] = []
    solve = torch.linalg.solve

    def counting_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(b.shape))
        return solve(a, b)

    with torch.no_grad():
        torch.linalg.solve = counting_solve
        try:
            fast = kernel(candidates, train).to_dense()
            back = kernel(train, candidates).to_dense()
        finally:
            torch.linalg.solve = solve
        direct = torch.stack([kernel(candidates[i], z).to_dense() for i in range(50)])
    assert (1, 40, 40) in calls and (50, 40, 40) not in calls  # the repeat was solved once
    assert fast.shape == (50, 1, 40)
    assert torch.allclose(fast, direct, rtol=1e-12, atol=1e-14)
    assert torch.allclose(back, direct.transpose(-1, -2), rtol=1e-12, atol=1e-14)


def _objective(z: torch.Tensor) -> torch.Tensor:
    """Per-'example' scores of a concave quadratic peaked off-centre; their mean is the objective."""
    target = torch.linspace(-0.6, 0.6, z.shape[-1], dtype=torch.double)
    parts = (z - target) ** 2
    return torch.stack([-parts[..., i::4].sum(-1) for i in range(4)], dim=-1)


def test_bo_beats_uniform_sampling_on_a_synthetic_function() -> None:
    # The GP + EI + CMA-ES loop with the Matern kernel on z (the ablation's kernel): on a smooth
    # function it must find much better points than as many uniform draws.
    settings = BOSettings(intrinsic_dim=10, cma_iterations=10, coupled=False)
    bo_best, uniform_best = [], []
    for seed in range(3):
        z = sobol_points(8, 10, seed)
        vectors = _objective(z)
        for round_ in range(6):
            new = propose(z, vectors.mean(-1), vectors, 3, settings, seed * 100 + round_).points
            z = torch.cat([z, new])
            vectors = torch.cat([vectors, _objective(new)])
        bo_best.append(float(vectors.mean(-1).max()))
        gen = torch.Generator().manual_seed(seed)
        random_z = torch.rand((len(z), 10), generator=gen, dtype=torch.double) * 2 - 1
        uniform_best.append(float(_objective(random_z).mean(-1).max()))
    assert sum(bo_best) / 3 > sum(uniform_best) / 3 + 0.15, (bo_best, uniform_best)
    assert all(b > u for b, u in zip(bo_best, uniform_best, strict=True)), (bo_best, uniform_best)


def test_coupled_proposals_stay_in_bounds_and_are_seeded() -> None:
    settings = BOSettings(intrinsic_dim=10, cma_iterations=4)
    z = sobol_points(6, 10, 0)
    vectors = _objective(z)
    first = propose(z, vectors.mean(-1), vectors, 2, settings, 7).points
    again = propose(z, vectors.mean(-1), vectors, 2, settings, 7).points
    assert first.shape == (2, 10) and first.abs().max() <= 1
    assert torch.equal(first, again)


def test_both_lengthscales_stay_within_their_prior_on_scores_that_carry_no_signal() -> None:
    # Upstream puts Gamma(3, 6) on both Matern kernels. Without it on the score kernel, scores
    # that are pure noise send its lengthscales to the hundreds (and the fit to ~1,000 L-BFGS steps).
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        z = sobol_points(12, 10, seed)
        scores = torch.rand((12, 10), generator=gen, dtype=torch.double)
        fit = fit_model(z, scores.mean(-1), scores, coupled=True, seed=seed)
        kernel = fit.model.covar_module.base_kernel
        assert fit.note is None
        assert float(kernel.instruction_kernel.lengthscale.detach().max()) < 5.0
        assert float(kernel.latent_kernel.lengthscale.detach().max()) < 5.0
