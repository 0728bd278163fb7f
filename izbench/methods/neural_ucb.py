"""NeuralUCB with a diagonal design matrix (Zhou et al. 2020), as INSTINCT uses it.

The network is INSTINCT's: one hidden layer of 100 ReLU units, every weight and bias drawn from
N(0, 1). An arm's score is ``mu(x) + sqrt(sum(lambda * nu * g(x)^2 / U))`` with ``g(x)`` the
gradient of the network's output with respect to all its parameters and ``U`` (initially
``lambda``) growing by ``g^2`` of every arm chosen. Refits restart from the initial weights and
run full-batch Adam (learning rate 1e-3, weight decay ``lambda / n``) on contexts standardised
by the training contexts' mean and standard deviation. Adam runs fused (one kernel per step
instead of ~10 passes over each weight: the same update to ~1e-14, 1.1-1.5x faster fits; the
surrogate's fits are what a pool cell spends its time on).

Written functionally on plain tensors: the weights come from a generator seeded by the cell
(``nn.Linear`` would draw its default initialisation from torch's global RNG), and per-example
gradients come from ``torch.func`` rather than a hook library.
"""

from __future__ import annotations

import torch
from torch.func import grad, vmap

HIDDEN = 100
LEARNING_RATE = 1e-3


def network_output(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The network's output for contexts ``x``: shape (n,) for (n, d), a scalar for (d,)."""
    hidden = torch.relu(x @ params["w1"].T + params["b1"])
    return (hidden @ params["w2"].T + params["b2"]).squeeze(-1)


class NeuralUCB:
    """Chooses among contexts (hidden states) by upper confidence on a small network."""

    def __init__(
        self,
        input_dim: int,
        lam: float = 0.1,
        nu: float = 1.0,
        seed: int = 0,
        steps: int = 1000,
        hidden: int = HIDDEN,
    ) -> None:
        gen = torch.Generator().manual_seed(seed)

        def normal(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.double)

        self.initial = {"w1": normal(hidden, input_dim), "b1": normal(hidden), "w2": normal(1, hidden), "b2": normal(1)}
        self.params = {k: v.clone() for k, v in self.initial.items()}
        self.lam = lam
        self.nu = nu
        self.steps = steps
        self.U = torch.full((sum(v.numel() for v in self.initial.values()),), lam, dtype=torch.double)
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def _standardise(self, contexts: torch.Tensor) -> torch.Tensor:
        if self.mean is None or self.std is None:
            return contexts
        return (contexts - self.mean) / self.std

    def outputs_and_gradients(self, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output on each (standardised) context and its gradient with respect to
        every parameter, flattened in the order w1, b1, w2, b2: shapes (n,) and (n, P)."""
        x = self._standardise(contexts.to(torch.double))
        params = {k: v.detach() for k, v in self.params.items()}
        mu = network_output(params, x)
        grads = vmap(grad(network_output), in_dims=(None, 0))(params, x)
        flat = torch.cat([grads[k].reshape(len(x), -1) for k in ("w1", "b1", "w2", "b2")], dim=1)
        return mu, flat

    def select(self, contexts: torch.Tensor) -> int:
        """The index of the context with the highest upper confidence bound; updates ``U``."""
        mu, g = self.outputs_and_gradients(contexts)
        sigma = torch.sqrt(torch.sum(self.lam * self.nu * g * g / self.U, dim=1))
        arm = int(torch.argmax(mu + sigma))
        self.U += g[arm] * g[arm]
        return arm

    def fit(self, contexts: torch.Tensor, rewards: torch.Tensor) -> float:
        """Refit from the initial weights on every (context, reward) so far; returns the loss."""
        x = contexts.to(torch.double)
        y = rewards.to(torch.double).reshape(-1)
        self.mean = x.mean(dim=0)
        self.std = (x.std(dim=0) if len(x) > 1 else torch.zeros_like(self.mean)) + 1e-30
        x = self._standardise(x)
        params = {k: v.clone().requires_grad_(True) for k, v in self.initial.items()}
        optimizer = torch.optim.Adam(
            list(params.values()), lr=LEARNING_RATE, weight_decay=self.lam / len(x), fused=True
        )
        loss = torch.tensor(0.0)
        for _ in range(self.steps):
            optimizer.zero_grad()
            loss = torch.mean((network_output(params, x) - y) ** 2)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        self.params = {k: v.detach() for k, v in params.items()}
        return float(loss.detach())
