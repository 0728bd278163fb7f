"""Budget presets: how many candidates, validation and test examples a run uses.

``smoke`` is for tests (seconds per cell), ``default`` is what ``make compare`` runs (minutes
for the core suite), ``paper`` is the upstream budget (25 Sobol points + 5 rounds of 25 = 150
soft prompts, 20 validation examples, 100 test examples). Explicit flags override a profile.

Method settings are typed (``MethodSettings``) and checked once; a profile names only those it
changes and a cell's configuration records exactly those (``exclude_unset``), so adding a setting
with a default never changes existing cells' identity.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    model_serializer,
)

from izbench.choices import BudgetUnit, Selection, Writer
from izbench.errors import ConfigError


class MethodSettings(BaseModel):
    """Every method knob; each method reads the ones it uses (defaults are the papers')."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_init: int = Field(default=25, ge=1)
    """InstructZero: scrambled-Sobol soft prompts before the first GP round."""
    n_per_iter: int = Field(default=25, ge=1)
    """InstructZero: proposals per BO round; Uniform: soft prompts written per batch."""
    cma_iterations: int = Field(default=15, ge=1)
    """InstructZero: CMA-ES generations per start point when maximising EI (upstream breaks after
    10, ``instruction_coupled_kernel.py:63``; the paper profile sets 10, the default keeps the
    15 earlier identities were measured with)."""
    intrinsic_dim: int = Field(default=10, ge=1)
    """Soft-prompt methods: dimension of z, projected to ``n_tokens`` embeddings."""
    n_tokens: int = Field(default=5, ge=1)
    """Soft-prompt methods: soft-prompt length in tokens."""
    scale: bool = False
    """Soft-prompt methods: scale the projection to the embedding matrix's spread."""
    ape_generator: Writer = Writer.BLACKBOX
    """APE: which model writes instructions (the paper: the black box)."""
    resample_fraction: float = Field(default=0.0, ge=0.0, lt=1.0)
    """APE: share of the budget for the iterative Monte Carlo stage."""
    budget_unit: BudgetUnit = BudgetUnit.DISTINCT
    """What the budget counts: distinct instructions (the default: fair across methods) or
    proposals, repeats included (the papers' unit)."""
    select: Selection = Selection.FULL
    """APE, Uniform: score every candidate on the whole validation set (``full``) or by
    successive halving on growing prefixes of it (``halving``, fewer black-box calls)."""
    writer: Writer = Writer.BLACKBOX
    """OPRO, EvoPrompt: which model writes instructions (the papers: the black box)."""
    opro_per_step: int = Field(default=8, ge=1)
    """OPRO: instructions sampled from each meta-prompt (the paper's 8)."""
    opro_exemplars: int = Field(default=3, ge=0)
    """OPRO: task exemplars shown in each meta-prompt (the paper's 3)."""
    opro_shown: int = Field(default=20, ge=1)
    """OPRO: best instructions so far shown in the meta-prompt, ascending by score (the paper's 20)."""
    opro_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    """OPRO: under accuracy-scale scoring (generate, choice), instructions scoring below this are
    not shown. Upstream uses 0.3 with GPT scorers and 0.0 (no filter) with text-bison
    (``optimize_instructions.py:682-687``); a 135M black box's scores sit below 0.3 on most tasks,
    so the default is 0.0. Never applied to likelihood scores (nats, not a share)."""
    population: int = Field(default=10, ge=2)
    """EvoPrompt, CAPO: population size (EvoPrompt's paper: 10; CAPO keeps as many as it was
    given initial prompts, and izbench writes this many)."""
    instinct_n_init: int = Field(default=40, ge=1)
    """INSTINCT: soft prompts scored before the first NeuralUCB step (the paper's 40)."""
    instinct_domain: int = Field(default=10000, ge=2)
    """INSTINCT: Sobol soft prompts whose hidden states the network ranks (the paper's 10000)."""
    instinct_pool: int = Field(default=1000, ge=1)
    """INSTINCT: domain points drawn at random for each selection (the paper's n_eval, 1000)."""
    instinct_train_steps: int = Field(default=1000, ge=1)
    """INSTINCT: full-batch Adam steps per network refit (the paper's 1000)."""
    instinct_nu: float = Field(default=1.0, gt=0.0)
    """INSTINCT: NeuralUCB exploration weight (the paper's 1)."""
    instinct_lambda: float = Field(default=0.1, gt=0.0)
    """INSTINCT: NeuralUCB regulariser (the paper's 0.1)."""
    zopo_n_init: int = Field(default=40, ge=1)
    """ZOPO: random instructions scored before the first gradient step (the paper's 40 of 165)."""
    capo_crossovers: int = Field(default=4, ge=1)
    """CAPO: children per step (upstream's ``crossovers_per_iter``, 4)."""
    capo_upper_shots: int = Field(default=5, ge=0)
    """CAPO: few-shot examples a prompt may carry (upstream's ``upper_shots``, 5)."""
    capo_blocks: int = Field(default=10, ge=1)
    """CAPO: blocks the validation set is raced in, at most (upstream's ``max_n_blocks_eval``, 10)."""
    capo_block_floor: int = Field(default=5, ge=1)
    """CAPO: fewest validation examples in a block (izbench's; upstream's blocks are 30 rows)."""
    capo_alpha: float = Field(default=0.2, gt=0.0, lt=1.0)
    """CAPO: significance of the racing's paired t-test (upstream's 0.2)."""
    capo_length_penalty: float = Field(default=0.05, ge=0.0)
    """CAPO: score lost per prompt length relative to the first population's longest (upstream's 0.05)."""
    gepa_minibatch: int = Field(default=3, ge=1)
    """GEPA: demos each reflection reads and each proposal is first tried on (upstream's 3)."""


OWNED: dict[str, frozenset[str]] = {
    "writer": frozenset({"opro", "evoprompt-ga", "capo", "gepa"}),
    "opro_per_step": frozenset({"opro"}),
    "opro_exemplars": frozenset({"opro"}),
    "opro_shown": frozenset({"opro"}),
    "opro_threshold": frozenset({"opro"}),
    "population": frozenset({"evoprompt-ga", "capo"}),
    "zopo_n_init": frozenset({"zopo"}),
    **{
        name: frozenset({"capo"})
        for name in (
            "capo_crossovers",
            "capo_upper_shots",
            "capo_blocks",
            "capo_block_floor",
            "capo_alpha",
            "capo_length_penalty",
        )
    },
    "gepa_minibatch": frozenset({"gepa"}),
    **{
        name: frozenset({"instinct", "presto"})
        for name in (
            "instinct_n_init",
            "instinct_domain",
            "instinct_pool",
            "instinct_train_steps",
            "instinct_nu",
            "instinct_lambda",
        )
    },
}
"""Settings only some methods read. A profile's own record (shared by every cell of a
comparison) leaves them out; each owner's cells record them in their method identity, so
scaling INSTINCT in a profile changes INSTINCT's cells and no one else's."""


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True)

    budget: int = Field(ge=1)
    """Candidates per cell, in ``params.budget_unit`` (distinct instructions unless set), the
    same for every method unless ``budgets`` names one."""
    n_validation: int = Field(ge=1)
    n_test: int = Field(ge=1)
    budgets: dict[str, int] = Field(default_factory=dict)
    """Per method (its registered name), a budget of its own: the paper profile's upstream
    budgets, which differ by method. Empty (and then not recorded) in every other profile."""
    params: MethodSettings = Field(default_factory=MethodSettings)
    """Method settings this profile sets (n_init, n_per_iter, cma_iterations, scale, ...)."""

    @field_serializer("params")
    def _only_set(self, params: MethodSettings) -> dict[str, Any]:
        return params.model_dump(mode="json", exclude_unset=True, exclude=set(OWNED))

    @model_serializer(mode="wrap")
    def _without_empty_budgets(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Profiles without per-method budgets keep the identity they had before the field."""
        data: dict[str, Any] = handler(self)
        if not data.get("budgets"):
            data.pop("budgets", None)
        return data

    def budget_for(self, method: str) -> int:
        """``method``'s budget (a kept earlier version has its method's)."""
        return self.budgets.get(method.partition("@")[0], self.budget)

    @property
    def unit(self) -> BudgetUnit:
        return self.params.budget_unit

    def owned_settings(self, method: str) -> dict[str, Any]:
        """The settings this profile sets that only ``method`` (with others like it) reads."""
        base = method.partition("@")[0]  # a kept earlier version reads what its method reads
        chosen = {name for name, owners in OWNED.items() if base in owners}
        return self.params.model_dump(mode="json", exclude_unset=True, include=chosen)

    def with_overrides(self, **overrides: Any) -> Profile:
        top = {k: v for k, v in overrides.items() if k in ("budget", "n_validation", "n_test") and v is not None}
        given = {k: v for k, v in overrides.items() if k not in top and v is not None}
        try:
            params = MethodSettings.model_validate({**self.params.model_dump(exclude_unset=True), **given})
        except ValidationError as e:
            problem = e.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ConfigError(f"method setting {where}: {problem['msg']}") from None
        # A budget given by flag is every method's: it replaces the per-method ones.
        budgets = {} if "budget" in top else self.budgets
        return self.model_copy(update={**top, "params": params, "budgets": budgets})


PAPER_BUDGETS = {
    "instinct": 165,  # INSTINCT: 40 initial + 125 NeuralUCB queries
    "presto": 165,  # PRESTO: the same 40 + 125
    "ape": 90,  # APE: num_subsamples 3 x num_prompts_per_subsample 30
    "opro": 1600,  # OPRO: 200 steps x 8 instructions per step
    "evoprompt-ga": 110,  # EvoPrompt: a population of 10, then 10 generations of 10 children
}
"""The paper profile's budgets other than InstructZero's 25 + 5 x 25 = 150 (its own, and
Uniform's, which the InstructZero paper runs at the same budget), each in upstream's unit:
proposals, repeats included."""

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        budget=3,
        n_validation=4,
        n_test=8,
        params=MethodSettings.model_validate(
            {
                "n_init": 2,
                "n_per_iter": 1,
                "cma_iterations": 3,
                "opro_per_step": 1,
                "population": 2,
                "instinct_n_init": 2,
                "zopo_n_init": 2,
                "capo_crossovers": 1,
                "instinct_domain": 16,
                "instinct_pool": 16,
                "instinct_train_steps": 100,
            }
        ),
    ),
    "default": Profile(
        budget=8,
        n_validation=10,
        n_test=40,
        params=MethodSettings.model_validate(
            {
                "n_init": 4,
                "n_per_iter": 2,
                "cma_iterations": 8,
                "opro_per_step": 2,
                "population": 4,
                "instinct_n_init": 4,
                "zopo_n_init": 4,
                "instinct_domain": 32,
                "instinct_pool": 32,
                "instinct_train_steps": 300,
            }
        ),
    ),
    "paper": Profile(
        budget=150,
        n_validation=20,
        n_test=100,
        budgets=PAPER_BUDGETS,
        params=MethodSettings.model_validate(
            {"n_init": 25, "n_per_iter": 25, "cma_iterations": 10, "budget_unit": "evaluations"}
        ),
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name]
