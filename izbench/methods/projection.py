"""InstructZero's random projection from the low-dimensional soft prompt into embedding space.

    p(z) = reshape(A z, (n_tokens, hidden)),   z in [0, 1]^d (or [-1, 1]^d),   A_ij ~ Uniform(-1, 1)

``A`` is a bias-free ``Linear(d, n_tokens * hidden)`` fixed for the run (seeded), as upstream.
Upstream does not rescale ``A z``; with ``scale=True`` the projected tokens are rescaled so that
their standard deviation equals that of the generator's token embedding matrix.
"""

from __future__ import annotations

import torch

from izbench.seeding import derive_seed


class SoftPromptProjection:
    """Maps z (d,) to a (n_tokens, hidden) soft prompt."""

    def __init__(
        self,
        intrinsic_dim: int,
        n_tokens: int,
        hidden: int,
        seed: int,
        embedding_std: float | None = None,
    ) -> None:
        self.intrinsic_dim = intrinsic_dim
        self.n_tokens = n_tokens
        self.hidden = hidden
        gen = torch.Generator().manual_seed(derive_seed("projection", seed) % (2**63))
        self.weight = torch.rand((n_tokens * hidden, intrinsic_dim), generator=gen) * 2 - 1
        self.embedding_std = embedding_std
        """When set, projected prompts are rescaled to this standard deviation."""

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape != (self.intrinsic_dim,):
            raise ValueError(f"z must have shape ({self.intrinsic_dim},), got {tuple(z.shape)}")
        flat = self.weight @ z.to(torch.float32)
        if self.embedding_std is not None:
            flat = flat * (self.embedding_std / flat.std().clamp_min(1e-12))
        return flat.reshape(self.n_tokens, self.hidden)
