"""Options several commands share, and how a command's own flags override the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from izbench.choices import BudgetUnit, CacheMode, ChoiceNorm, PromptProtocol, ScoreFunction, Selection
from izbench.cli._app import err_console, settings_of

if TYPE_CHECKING:
    from izbench.profiles import Profile
    from izbench.settings import Settings

ScoreOption = Annotated[
    ScoreFunction | None,
    typer.Option("--score", help="generate | likelihood | choice (default: settings) (env IZBENCH_SCORE)."),
]
PromptOption = Annotated[
    PromptProtocol | None,
    typer.Option("--protocol", help="chat | raw: the scorer's prompt in the chat template or as plain text."),
]
ChoiceNormOption = Annotated[
    ChoiceNorm | None,
    typer.Option("--choice-norm", help="Under choice: chars (acc_norm) or none (acc) (env IZBENCH_CHOICE_NORM)."),
]
AnytimeOption = Annotated[
    bool | None,
    typer.Option(
        "--anytime/--no-anytime",
        help="Live cells: score every incumbent on test too, for anytime curves (test-set calls per incumbent; "
        "pool cells always have them) (env IZBENCH_ANYTIME).",
    ),
]
ProfileOption = Annotated[str, typer.Option(help="Budget preset: smoke | default | paper.")]
BudgetOption = Annotated[int | None, typer.Option(min=1, help="Distinct candidates (overrides the profile).")]
ValOption = Annotated[int | None, typer.Option(min=1, help="Validation examples (overrides the profile).")]
TestOption = Annotated[int | None, typer.Option(min=1, help="Test examples (overrides the profile).")]
ScaleOption = Annotated[
    bool | None,
    typer.Option(help="Rescale soft prompts to the embedding std (upstream does not)."),
]
RerunOption = Annotated[bool, typer.Option(help="Recompute cells the store already has (replay/refresh always do).")]
MaxCallsOption = Annotated[
    int | None, typer.Option(min=0, help="Stop cleanly before making more model calls (env IZBENCH_MAX_CALLS).")
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(min=0, help="Stop cleanly before spending more dollars; needs prices (env IZBENCH_MAX_COST)."),
]
BudgetUnitOption = Annotated[
    BudgetUnit | None,
    typer.Option(
        help="What --budget counts: distinct instructions (fair across methods), evaluations "
        "(proposals, repeats included: the papers' unit), example-evals ((instruction, example) "
        "evaluations: TRIPLE's and GEPA's unit) or tokens (black-box prompt and completion tokens: "
        "CAPO's unit, what an API bills)."
    ),
]
SelectOption = Annotated[
    Selection | None,
    typer.Option(help="APE, Uniform: full validation, or successive halving (fewer black-box calls)."),
]


def with_flags(ctx: typer.Context, **flags: object) -> Settings:
    """The command's settings with its own flags applied (flags over environment), kept on the
    context so everything below the command sees the same settings."""
    settings = settings_of(ctx)
    update = {k: v for k, v in flags.items() if v is not None}
    if update:
        settings = settings.model_copy(update=update)
        ctx.find_root().obj = settings
    return settings


def cell_flags(
    max_calls: int | None,
    max_cost: float | None,
    score: object,
    protocol: object,
    choice_norm: object,
    anytime: bool | None,
) -> dict[str, object]:
    """The settings flags ``run`` and ``compare`` share, by setting name (None: not given)."""
    return {
        "max_calls": max_calls,
        "max_cost": max_cost,
        "score": score,
        "protocol": protocol,
        "choice_norm": choice_norm,
        "anytime": anytime,
    }


def chosen_profile(
    name: str,
    budget: int | None,
    n_val: int | None,
    n_test: int | None,
    scale: bool | None,
    select: Selection | None = None,
    budget_unit: BudgetUnit | None = None,
) -> Profile:
    """The named profile with the command's overrides."""
    from izbench.profiles import get_profile

    return get_profile(name).with_overrides(
        budget=budget, n_validation=n_val, n_test=n_test, scale=scale, select=select, budget_unit=budget_unit
    )


def recompute(settings: Settings, rerun: bool) -> bool:
    """Whether stored cells are recomputed: on ``--rerun``, and always under replay and refresh,
    which exist to recompute."""
    return rerun or settings.cache_mode in (CacheMode.REPLAY, CacheMode.REFRESH)


def parse_seeds(text: str) -> list[int]:
    """Seeds as a comma list of integers and ranges (``0-4``, ``0,2,5-7``), in the order given,
    each once; or one line saying what is wrong."""
    from izbench.errors import ConfigError

    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ConfigError(
                f"--seeds {text!r}: {part!r} is not a seed; use integers and ranges, e.g. 0-4 or 0,2,5-7"
            ) from None
        if high < low:
            raise ConfigError(f"--seeds {text!r}: the range {part} runs backwards; write it as {high}-{low}")
        seeds += [s for s in range(low, high + 1) if s not in seeds]
    if not seeds:
        raise ConfigError("--seeds: give at least one seed, e.g. 0 or 0-4")
    return seeds


def report_skipped(skipped: list[tuple[str, str]]) -> None:
    """One line per suite of selected tasks whose data is not here, with the fix."""
    by_suite: dict[tuple[str, str], list[str]] = {}
    for name, hint in skipped:
        by_suite.setdefault((name.split("/")[0], hint), []).append(name)
    for (suite, hint), names in by_suite.items():
        what = names[0] if len(names) == 1 else f"{len(names)} {suite} tasks"
        err_console.print(f"skipped {what}: no data here ({hint})", highlight=False, markup=False)
