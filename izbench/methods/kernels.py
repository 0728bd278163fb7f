"""InstructZero's instruction-coupled kernel (Chen et al. 2023, eq. 7).

    K(z, z') = l(z, Z) (L + 1e-4 I)^-1 S (L + 1e-4 I)^-1 l(Z, z')

``l`` is a Matern-5/2 ARD kernel on soft prompts, ``Z`` the soft prompts evaluated so far,
``L = l(Z, Z)``, and ``S`` a Matern-5/2 ARD kernel on the per-example validation score vectors of
the instructions those soft prompts produced; both carry upstream's Gamma(3, 6) lengthscale prior
(without it the score lengthscales run off to hundreds on a flat score surface and the fit takes
10x the L-BFGS steps). K is positive semi-definite because it is
``B S B^T`` with ``B = l(z, Z)(L + 1e-4 I)^-1`` and S positive semi-definite. It lets two soft
prompts be close when the instructions they lead to behave alike on the validation examples.

Example:
    >>> import torch
    >>> Z, V = torch.rand(4, 3, dtype=torch.double), torch.rand(4, 5, dtype=torch.double)
    >>> k = InstructionCoupledKernel(Z, V)
    >>> k(Z, Z).to_dense().shape
    torch.Size([4, 4])
"""

from __future__ import annotations

import torch
from gpytorch.kernels import Kernel, MaternKernel
from gpytorch.priors import GammaPrior

JITTER = 1e-4


class InstructionCoupledKernel(Kernel):  # type: ignore[misc]
    """The coupled kernel over soft prompts; its hyperparameters are those of ``l`` and ``S``."""

    has_lengthscale = False

    def __init__(self, train_z: torch.Tensor, train_scores: torch.Tensor) -> None:
        super().__init__()
        self.latent_kernel = MaternKernel(
            nu=2.5, ard_num_dims=train_z.shape[-1], lengthscale_prior=GammaPrior(3.0, 6.0)
        )
        self.instruction_kernel = MaternKernel(
            nu=2.5, ard_num_dims=train_scores.shape[-1], lengthscale_prior=GammaPrior(3.0, 6.0)
        )
        self.register_buffer("train_z", train_z)
        self.register_buffer("train_scores", train_scores)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: object) -> torch.Tensor:
        z = self.train_z
        gram = self.latent_kernel(z, z).to_dense()
        gram = gram + JITTER * torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
        s = self.instruction_kernel(self.train_scores, self.train_scores).to_dense()
        left = self._solve_latent(gram, x1).transpose(-1, -2)
        right = self._solve_latent(gram, x2)
        full = left @ s @ right
        result: torch.Tensor = torch.diagonal(full, dim1=-2, dim2=-1) if diag else full
        return result

    def _solve_latent(self, gram: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(L + jitter I)^-1 l(Z, x)``.

        To score a batch of candidates, the GP evaluates the kernel between each candidate and
        the training set, with the training set repeated over the batch (CMA-ES asks 50 at a
        time). A repeated operand is solved once and copied over the batch: the same values up
        to rounding, and the solves no longer grow with the batch.
        """
        z = self.train_z
        if x.dim() > 2:
            flat = x.reshape(-1, *x.shape[-2:])
            if flat.shape[0] > 1 and torch.equal(flat, flat[:1].expand_as(flat)):
                one = torch.linalg.solve(gram, self.latent_kernel(z, flat[:1]).to_dense())
                rows, cols = one.shape[-2:]
                # Copied into the column-major layout a batched solve returns, so the products
                # that follow take the same kernels and round the same way.
                out: torch.Tensor = one.new_empty(*x.shape[:-2], cols, rows).transpose(-1, -2)
                out.copy_(one.expand_as(out))
                return out
        solved: torch.Tensor = torch.linalg.solve(gram, self.latent_kernel(z, x).to_dense())
        return solved
