"""Budget presets: how many candidates, validation and test examples a run uses.

``smoke`` is for tests (seconds per cell), ``default`` is what ``make compare`` runs (minutes
for the core suite), ``paper`` is the upstream budget (25 Sobol points + 5 rounds of 25 = 150
soft prompts, 20 validation examples, 100 test examples). Explicit flags override a profile.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from izbench.errors import ConfigError


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True)

    budget: int = Field(ge=1)
    """Distinct candidate instructions scored on validation, the same for every method."""
    n_validation: int = Field(ge=1)
    n_test: int = Field(ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    """Method settings (n_init, n_per_iter, cma_iterations, scale, ape_generator, ...)."""

    def with_overrides(self, **overrides: Any) -> Profile:
        top = {k: v for k, v in overrides.items() if k in ("budget", "n_validation", "n_test") and v is not None}
        params = {
            **self.params,
            **{k: v for k, v in overrides.items() if k not in top and v is not None},
        }
        return self.model_copy(update={**top, "params": params})


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        budget=3,
        n_validation=4,
        n_test=8,
        params={"n_init": 2, "n_per_iter": 1, "cma_iterations": 3},
    ),
    "default": Profile(
        budget=8,
        n_validation=10,
        n_test=40,
        params={"n_init": 4, "n_per_iter": 2, "cma_iterations": 8},
    ),
    "paper": Profile(
        budget=150,
        n_validation=20,
        n_test=100,
        params={"n_init": 25, "n_per_iter": 25, "cma_iterations": 15},
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name]
