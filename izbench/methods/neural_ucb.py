"""NeuralUCB with a diagonal design matrix (Zhou et al. 2020), as INSTINCT and PRESTO use it.

The network is INSTINCT's: one hidden layer of 100 ReLU units. How it is drawn and trained is a
``Recipe``, because the two upstreams differ: INSTINCT draws every weight and bias from N(0, 1)
and trains with Adam at 1e-3 and weight decay ``lambda / n`` in float64 here; PRESTO keeps
``nn.Linear``'s initialisation, trains in float32 with Adam at 1e-4 and no weight decay, and adds
a score-consistency term (``Recipe.consistency``).

An arm's score is ``mu(x) + sqrt(sum(lambda * nu * g(x)^2 / U))`` with ``g(x)`` the gradient of
the network's output with respect to all its parameters and ``U`` (initially ``lambda``) growing
by ``g^2`` of every arm chosen (and, for PRESTO, of the points ``update_exploration`` is given).
Refits restart from the initial weights and run full-batch Adam on contexts standardised by the
training contexts' mean and standard deviation. Adam runs fused (one kernel per step
instead of ~10 passes over each weight: the same update to ~1e-14, 1.1-1.5x faster fits; the
surrogate's fits are what a pool cell spends its time on).

Written functionally on plain tensors: the weights come from a generator seeded by the cell
(``nn.Linear`` would draw its default initialisation from torch's global RNG), and per-example
gradients come from ``torch.func`` rather than a hook library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.func import grad, vmap

HIDDEN = 100


@dataclass(frozen=True)
class Recipe:
    """How the network is drawn and trained."""

    init: str
    """"normal": every parameter from N(0, 1) (INSTINCT); "linear": ``nn.Linear``'s default,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases (PRESTO)."""
    learning_rate: float
    weight_decay: bool
    """Adam's weight decay ``lambda / n`` (INSTINCT) or none (PRESTO)."""
    dtype: torch.dtype
    consistency: float = 0.0
    """PRESTO's score-consistency weight: the loss adds this (ramped up linearly over the first
    half of the steps) times the mean, over the unscored preimages given to ``fit``, of the mean
    squared difference between the network's outputs on two points of one preimage."""


INSTINCT_RECIPE = Recipe(init="normal", learning_rate=1e-3, weight_decay=True, dtype=torch.double)
"""INSTINCT's (N(0, 1), Adam 1e-3 with weight decay ``lambda / n``), in float64 as izbench has
always run it; PRESTO's versions before 3 used it too."""
PRESTO_RECIPE = Recipe(init="linear", learning_rate=1e-4, weight_decay=False, dtype=torch.float32, consistency=0.1)
"""PRESTO's own (``LlamaForMLPRegression.py`` 7f07ba6: ``tkwargs`` float32 ``:14-17``, Adam lr 1e-4
``:143``, ``g_lambda`` 0.1 ramped over half the steps ``:19-22, :171-177``)."""


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
        recipe: Recipe = INSTINCT_RECIPE,
    ) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.recipe = recipe
        dtype = recipe.dtype

        def draw(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
            if recipe.init == "normal":
                return torch.randn(*shape, generator=gen, dtype=dtype)
            bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and nn.Linear's bias rule agree here
            return (torch.rand(*shape, generator=gen, dtype=dtype) * 2 - 1) * bound

        self.initial = {
            "w1": draw((hidden, input_dim), input_dim),
            "b1": draw((hidden,), input_dim),
            "w2": draw((1, hidden), hidden),
            "b2": draw((1,), hidden),
        }
        self.params = {k: v.clone() for k, v in self.initial.items()}
        self.lam = lam
        self.nu = nu
        self.steps = steps
        self.U = torch.full((sum(v.numel() for v in self.initial.values()),), lam, dtype=dtype)
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def _standardise(self, contexts: torch.Tensor) -> torch.Tensor:
        if self.mean is None or self.std is None:
            return contexts
        return (contexts - self.mean) / self.std

    def outputs_and_gradients(self, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output on each (standardised) context and its gradient with respect to
        every parameter, flattened in the order w1, b1, w2, b2: shapes (n,) and (n, P)."""
        x = self._standardise(contexts.to(self.recipe.dtype))
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

    def update_exploration(self, contexts: torch.Tensor) -> None:
        """PRESTO's ``update_U``: ``U`` grows by ``g^2`` of every context, as if each were chosen."""
        if len(contexts):
            _, g = self.outputs_and_gradients(contexts)
            self.U += (g * g).sum(dim=0)

    def fit(self, contexts: torch.Tensor, rewards: torch.Tensor, groups: Sequence[torch.Tensor] = ()) -> float:
        """Refit from the initial weights on every (context, reward) so far; returns the loss.
        ``groups`` (the contexts of each unscored preimage of two points or more) feed the
        recipe's score-consistency term."""
        dtype = self.recipe.dtype
        x = contexts.to(dtype)
        y = rewards.to(dtype).reshape(-1)
        self.mean = x.mean(dim=0)
        self.std = (x.std(dim=0) if len(x) > 1 else torch.zeros_like(self.mean)) + 1e-30
        x = self._standardise(x)
        consistent = self.recipe.consistency > 0 and len(groups) > 0
        if consistent:
            sizes = torch.tensor([len(g) for g in groups], dtype=dtype)
            owner = torch.repeat_interleave(torch.arange(len(groups)), sizes.long())
            x = torch.cat([x, self._standardise(torch.cat(list(groups)).to(dtype))])
            pairs = sizes * (sizes - 1) / 2
        labelled = len(y)
        params = {k: v.clone().requires_grad_(True) for k, v in self.initial.items()}
        decay = self.lam / labelled if self.recipe.weight_decay else 0.0
        optimizer = torch.optim.Adam(
            list(params.values()), lr=self.recipe.learning_rate, weight_decay=decay, fused=True
        )
        ramp = self.steps * 0.5
        loss = torch.tensor(0.0)
        for step in range(self.steps):
            optimizer.zero_grad()
            out = network_output(params, x)
            loss = torch.mean((out[:labelled] - y) ** 2)
            if consistent:
                rest = out[labelled:]
                total = torch.zeros(len(groups), dtype=dtype).scatter_add(0, owner, rest)
                squares = torch.zeros(len(groups), dtype=dtype).scatter_add(0, owner, rest * rest)
                spread = (sizes * squares - total * total) / pairs  # sum_{i<j} (o_i - o_j)^2 per pair
                weight = self.recipe.consistency * min(1.0, step / ramp)
                loss = loss + weight * spread.mean()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        self.params = {k: v.detach() for k, v in params.items()}
        return float(loss.detach())
