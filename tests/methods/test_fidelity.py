"""The parts where izbench's methods follow upstream code (issue 30): each test fails on the
version that did it differently (kept as ``name@N``)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
import torch
from processes import izbench_here

from izbench.cache import CallStats
from izbench.choices import BudgetUnit
from izbench.domain import LEGACY, UPSTREAM
from izbench.errors import ConfigError
from izbench.methods import get_method
from izbench.methods.ape import APE_SETS, fresh_set, shared_sets
from izbench.methods.base import Tracker
from izbench.methods.bo import (
    UNDERFLOW,
    BOSettings,
    acquisition_values,
    fit_model,
    propose,
    propose_on_domain,
    sobol_points,
)
from izbench.methods.instinct import first_sentence
from izbench.methods.instructzero import InstructZero
from izbench.methods.uniform import Uniform
from izbench.profiles import PROFILES, MethodSettings
from izbench.report.acquisition import by_method, flat
from izbench.report.aggregate import budget_words, section
from izbench.report.render import section_markdown
from izbench.results import Scored
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry
from izbench.templates import APE_TEMPLATE, INDUCTION_TEMPLATE


def test_sobol_points_fill_the_pipelines_box() -> None:
    upstream = sobol_points(64, 10, seed=3, pipeline=UPSTREAM)
    legacy = sobol_points(64, 10, seed=3, pipeline=LEGACY)
    # Upstream draws SobolEngine points unscaled, in [0, 1]; izbench's first versions in [-1, 1].
    assert float(upstream.min()) >= 0.0 and float(upstream.max()) <= 1.0
    assert float(legacy.min()) < -0.5
    # The same sequence, scaled.
    torch.testing.assert_close(legacy, upstream * 2 - 1)


def test_versioned_names_run_the_kept_versions() -> None:
    current, kept = get_method("instructzero"), get_method("instructzero@2")
    assert (current.version, kept.version, kept.name) == (3, 2, "instructzero@2")
    uniform = get_method("uniform@1")
    assert isinstance(current, InstructZero) and isinstance(kept, InstructZero) and isinstance(uniform, Uniform)
    assert current.pipeline == UPSTREAM and kept.pipeline == LEGACY and uniform.pipeline == LEGACY
    with pytest.raises(ConfigError, match="instructzero has no version '9'; it runs versions 2, 3"):
        get_method("instructzero@9")
    with pytest.raises(ConfigError, match="unknown method"):
        get_method("nosuch@1")


def test_ape_shares_its_samples_among_three_demo_sets() -> None:
    # Upstream: num_subsamples 3 x num_prompts_per_subsample 30.
    rule = shared_sets(90)
    sets = [rule(k) for k in range(90)]
    assert APE_SETS == 3 and [sets.count(s) for s in range(3)] == [30, 30, 30]
    assert sets == sorted(sets)
    assert [fresh_set(k) for k in range(4)] == [0, 1, 2, 3]
    # Upstream's prompt, and not the Instruction Induction paper's that version 1 used.
    assert APE_TEMPLATE.startswith("I gave a friend a instruction. Based on the instruction")
    assert APE_TEMPLATE.endswith("\n\n[DEMOS]\n\nThe instruction was to")
    assert APE_TEMPLATE != INDUCTION_TEMPLATE


def _data(dim: int = 3, n: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    z = sobol_points(n, dim, seed=1, pipeline=UPSTREAM)
    y = torch.sin(4 * z.sum(-1))
    scores = torch.stack([y, y.roll(1), (y > 0).to(torch.double)], dim=-1)
    return z, y, scores


def test_ties_on_a_domain_go_to_a_seeded_draw() -> None:
    z, y, scores = _data()
    same = z[:1].repeat(12, 1)  # twelve copies of one point: every acquisition value ties
    seeded = BOSettings(intrinsic_dim=3, pipeline=UPSTREAM, seeded_ties=True)
    rows = BOSettings(intrinsic_dim=3, pipeline=UPSTREAM, seeded_ties=False)
    by_row, _, _ = propose_on_domain(z, y, scores, same, 5, rows, seed=0)
    assert by_row == [0, 1, 2, 3, 4]
    draws = {tuple(propose_on_domain(z, y, scores, same, 5, seeded, seed=s)[0]) for s in range(4)}
    assert len(draws) > 1 and (0, 1, 2, 3, 4) not in draws
    again, _, diagnostics = propose_on_domain(z, y, scores, same, 5, seeded, seed=2)
    assert tuple(again) in draws and all(d["ties"] == 12 for d in diagnostics)


def test_logei_ranks_where_ei_underflows() -> None:
    z, y, scores = _data(n=12)
    fit = fit_model(z, y, scores, coupled=False, pipeline=UPSTREAM)
    low = z[y < y.median()]  # observed points well below the best: the posterior is sure of them
    ei = acquisition_values(fit, float(y.max()), low, "ei")
    logei = acquisition_values(fit, float(y.max()), low, "logei")
    assert float((ei < UNDERFLOW).to(torch.double).mean()) > 0.5
    assert bool(torch.isfinite(logei).all()) and len(set(logei.tolist())) == len(low)


def test_upstream_cma_searches_minus_one_to_one() -> None:
    # Upstream draws the Sobol points in [0, 1] but bounds CMA-ES to [-1, 1]
    # (instruction_coupled_kernel.py:52); the best point sits at the low corner.
    z, _, scores = _data(dim=2, n=10)
    z[0] = torch.tensor([0.02, 0.02])
    y = -z.sum(-1)
    settings = BOSettings(intrinsic_dim=2, pipeline=UPSTREAM, cma_iterations=10, coupled=False)
    found = propose(z, y, scores, 3, settings, seed=0)
    assert float(found.points.min()) < 0.0 and float(found.points.min()) >= -1.0
    assert all(d["generations"] >= 1 and "max" in d for d in found.diagnostics)


def _cell(settings: Settings, cache: Path, method: str, seed: int = 0) -> list[tuple[float, ...]]:
    with Runtime(settings.model_copy(update={"cache_dir": cache})) as runtime:
        cell = run_cell(runtime, TaskRegistry(), method, "core/larger_animal", seed, PROFILES["smoke"])
    assert cell.result is not None and cell.method == method
    return [c.soft_prompt for c in cell.result.candidates if c.soft_prompt is not None]


@pytest.mark.parametrize(("method", "low"), [("uniform", 0.0), ("uniform@1", -1.0), ("instructzero", 0.0)])
def test_live_soft_prompts_are_drawn_in_the_versions_box(
    method: str, low: float, tmp_path: Path, tiny_settings: Settings
) -> None:
    soft = torch.tensor(_cell(tiny_settings, tmp_path / "cache", method))
    init = soft[: PROFILES["smoke"].params.n_init]
    assert float(init.min()) >= low and float(init.max()) <= 1.0
    if low < 0:
        assert float(soft.min()) < 0.0


def test_bo_rounds_store_what_the_acquisition_did(tmp_path: Path, tiny_settings: Settings) -> None:
    with Runtime(tiny_settings.model_copy(update={"cache_dir": tmp_path / "cache"})) as runtime:
        cell = run_cell(runtime, TaskRegistry(), "instructzero", "core/larger_animal", 0, PROFILES["smoke"])
    assert cell.result is not None
    n_init = PROFILES["smoke"].params.n_init
    sobol, rounds = cell.result.candidates[:n_init], cell.result.candidates[n_init:]
    assert all(c.acquisition is None for c in sobol) and rounds
    for c in rounds:
        assert c.acquisition is not None
        seen = json.loads(c.acquisition)
        assert seen["acquisition"] == "ei" and 0.0 <= seen["underflow"] <= 1.0
        assert 1 <= seen["generations"] <= PROFILES["smoke"].params.cma_iterations
    # The report's table counts exactly these proposals, and a run's page says the same.
    (summary,) = by_method([cell])
    assert summary.method == "instructzero" and summary.proposals == len(rounds)
    assert summary.generations is not None and summary.stops
    shown = section_markdown(section("smoke", "h", [cell]))
    assert "What the acquisition did" in shown and f"| instructzero | ei | {len(rounds)} |" in shown
    assert f"{len(rounds)} BO proposals" in summary.line()


def test_a_kept_version_runs_from_the_cli_and_its_page_shows_the_acquisition(
    tmp_path: Path, tiny_env: dict[str, str]
) -> None:
    args = ("run", "--method", "instructzero@2", "--task", "larger_animal", "--profile", "smoke")
    result = izbench_here(*args, env=tiny_env)
    assert result.returncode == 0, result.stderr[-800:]
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    (row,) = con.execute("SELECT run_id, method FROM runs").fetchall()
    con.close()
    assert row[1] == "instructzero@2"
    shown = izbench_here("runs", "show", row[0][:10], env=tiny_env)
    assert shown.returncode == 0, shown.stderr
    assert "acquisition (ei):" in shown.stdout and "BO proposals" in shown.stdout
    bad = izbench_here("run", "--method", "uniform@7", "--task", "larger_animal", "--profile", "smoke", env=tiny_env)
    assert bad.returncode == 2 and "uniform has no version '7'" in bad.stderr


def test_paper_budgets_are_upstreams_in_upstreams_unit() -> None:
    paper = PROFILES["paper"]
    assert paper.unit is BudgetUnit.EVALUATIONS and paper.params.cma_iterations == 10
    budgets = {m: paper.budget_for(m) for m in ("instructzero", "instructzero@2", "uniform", "instinct", "ape", "opro")}
    assert budgets == {
        "instructzero": 150,
        "instructzero@2": 150,
        "uniform": 150,
        "instinct": 165,
        "ape": 90,
        "opro": 1600,
    }
    # A budget given by flag is every method's.
    assert paper.with_overrides(budget=32).budget_for("ape") == 32
    # The other profiles' records do not change: no per-method budgets, no unit recorded.
    for name in ("smoke", "default"):
        record = PROFILES[name].model_dump(mode="json")
        assert "budgets" not in record and "budget_unit" not in record["params"]
    assert "150 evaluations (ape 90," in budget_words(paper.model_dump(mode="json"))
    assert budget_words(PROFILES["default"].model_dump(mode="json")) == "8 distinct"


@pytest.mark.parametrize("method", ["uniform", "instructzero", "ape"])
def test_evaluations_count_every_proposal_and_distinct_counts_instructions(
    method: str, tmp_path: Path, tiny_settings: Settings
) -> None:
    smoke = PROFILES["smoke"].with_overrides(budget=6)
    cells = {}
    # Tokens have their own test (test_methods.py): APE cannot be planned in them.
    for unit in (BudgetUnit.EVALUATIONS, BudgetUnit.DISTINCT, BudgetUnit.EXAMPLE_EVALS):
        with Runtime(tiny_settings.model_copy(update={"cache_dir": tmp_path / "cache"})) as runtime:
            profile = smoke.with_overrides(budget_unit=unit)
            cells[unit] = run_cell(runtime, TaskRegistry(), method, "core/larger_animal", 0, profile)
    evaluations, distinct = cells[BudgetUnit.EVALUATIONS], cells[BudgetUnit.DISTINCT]
    assert evaluations.proposals == 6 and evaluations.distinct <= 6
    assert distinct.distinct == 6 or distinct.proposals >= 18


def test_a_repeat_spends_an_evaluation_but_not_a_distinct_instruction() -> None:
    for unit, spent, still_open in ((BudgetUnit.EVALUATIONS, 3, False), (BudgetUnit.DISTINCT, 2, True)):
        context = SimpleNamespace(
            params=MethodSettings(budget_unit=unit), blackbox_calls=CallStats(), on_candidates=None
        )
        tracker = Tracker(context)  # type: ignore[arg-type]
        scored = Scored("a", ("x",), (1.0,))
        tracker.record(["a", "a", "b"], [scored, scored, Scored("b", ("y",), (0.0,))])
        assert (tracker.spent, tracker.left(3), tracker.open(3)) == (spent, 3 - spent, still_open)


def test_instinct_cuts_its_instructions_as_upstream() -> None:
    assert (
        first_sentence("write the plural of the word. Then do more.")
        == "The instruction was to write the plural of the word"
    )
    assert first_sentence("add them! Comment: nice") == "The instruction was to add them"
    assert first_sentence('say "hi." and go') == 'The instruction was to say "hi'
    assert first_sentence("") == "The instruction was to"


def test_instinct_writes_from_the_raw_prompt_in_the_upstream_box(tmp_path: Path, tiny_settings: Settings) -> None:
    with Runtime(tiny_settings.model_copy(update={"cache_dir": tmp_path / "cache"})) as runtime:
        cell = run_cell(runtime, TaskRegistry(), "instinct", "core/larger_animal", 0, PROFILES["smoke"])
        kept = run_cell(runtime, TaskRegistry(), "instinct@2", "core/larger_animal", 0, PROFILES["smoke"])
    assert cell.result is not None and kept.result is not None
    assert all(c.instruction.startswith("The instruction was to") for c in cell.result.candidates)
    assert not any(c.instruction.startswith("The instruction was to") for c in kept.result.candidates)
    soft = torch.tensor([c.soft_prompt for c in cell.result.candidates])
    assert float(soft.min()) >= 0.0
    assert float(torch.tensor([c.soft_prompt for c in kept.result.candidates]).min()) < 0.0


def test_a_pick_is_flat_when_a_tie_or_a_stalled_cma_es_decided_it() -> None:
    z, y, scores = _data()
    same = z[:1].repeat(4, 1)
    settings = BOSettings(intrinsic_dim=3, pipeline=UPSTREAM)
    _, _, tied = propose_on_domain(z, y, scores, same, 2, settings, seed=0)
    _, _, ranked = propose_on_domain(z, y, scores, sobol_points(16, 3, seed=9, pipeline=UPSTREAM), 2, settings, seed=0)
    assert all(flat(d) for d in tied) and not any(flat(d) for d in ranked)
    assert flat({"generations": 1, "stop": ["tolfun"]}) and not flat({"generations": 1, "stop": ["maxiter"]})
    assert not flat({"generations": 10, "stop": ["maxiter"]})


@pytest.mark.parametrize(("method", "asked"), [("opro", (512, ("</INS>",))), ("opro@1", (60, ()))])
def test_opro_asks_its_writer_for_upstreams_length(
    method: str, asked: tuple[int, tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 2 decodes up to 512 tokens, as upstream's GPT optimizer, ending at the closing tag."""
    import random

    import izbench.methods.opro as opro
    from izbench.context import MethodContext
    from izbench.tasks.types import Example

    requests: list[tuple[int, tuple[str, ...]]] = []
    outputs = iter([" **say** it.", "<INS>say it twice", "<INS>fill INS in", "say it thrice"] * 10)

    class Writer:
        def generate(self, items: list[object], **_: object) -> list[str]:
            return [next(outputs) for _ in items]

    def recording(context: object, max_new_tokens: int, template: str = "", stop: tuple[str, ...] = ()) -> Writer:
        requests.append((max_new_tokens, stop))
        return Writer()

    class Scorer:
        score_function = "generate"

        def score_many(self, instructions: list[str], examples: object) -> list[Scored]:
            return [Scored(i, ("x",), (0.5,)) for i in instructions]

    monkeypatch.setattr(opro, "writer", recording)
    example = Example(input="cat", answers=("cats",))
    split = SimpleNamespace(validation=(example,), demos=lambda step: (example,))
    context = MethodContext(
        task="t", split=split, scorer=Scorer(), generator=None, blackbox_generator=None,  # type: ignore[arg-type]
        annotations=(), seed=0, params=MethodSettings(opro_per_step=4), blackbox_calls=CallStats(),
    )  # fmt: skip
    result = get_method(method).optimize(context, 4, random.Random(0))
    assert requests == [asked]
    written = [c.instruction for c in result.candidates[1:]]
    if method == "opro":  # polished; the one with "INS" in it dropped unscored, so a second step
        assert written == ["Say it.", "Say it twice", "Say it thrice"]
    else:
        assert written == ["**say** it.", "say it twice", "fill INS in"]


def test_evoprompt_starts_from_references_ape_and_paraphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 2's first population (upstream's ``para_topk``): the references and APE's prompts
    scored, the best half kept and each paraphrased with EvoPrompt's prompt."""
    import random

    import izbench.methods.evoprompt as evoprompt
    from izbench.context import MethodContext
    from izbench.tasks.types import Example
    from izbench.templates import EVOPROMPT_PARAPHRASE_TEMPLATE

    used: list[str] = []

    class Writer:
        def __init__(self, template: str) -> None:
            self.template = template

        def generate(self, items: list[tuple[None, str]], sample_indices: range, **_: object) -> list[str]:
            used.append(self.template)
            if self.template == EVOPROMPT_PARAPHRASE_TEMPLATE:
                return [f"para of {text}" for _, text in items]
            return [f"ape {k}" for k in sample_indices]

    def recording(context: object, max_new_tokens: int, template: str = "", stop: tuple[str, ...] = ()) -> Writer:
        return Writer(template)

    worth = {"ref": 0.9, "ape 1": 0.8, "ape 2": 0.3, "ape 0": 0.1}

    class Scorer:
        score_function = "likelihood"

        def score_many(self, instructions: list[str], examples: object) -> list[Scored]:
            return [Scored(i, ("x",), (worth.get(i, 0.0),)) for i in instructions]

    monkeypatch.setattr(evoprompt, "writer", recording)
    example = Example(input="cat", answers=("cats",))
    split = SimpleNamespace(validation=(example,), demos=lambda k: (example,))
    context = MethodContext(
        task="t", split=split, scorer=Scorer(), generator=None, blackbox_generator=None,  # type: ignore[arg-type]
        annotations=("ref",), seed=0, params=MethodSettings(population=4), blackbox_calls=CallStats(),
    )  # fmt: skip
    result = get_method("evoprompt-ga").optimize(context, 6, random.Random(0))
    assert [(c.instruction, c.parent) for c in result.candidates] == [
        ("ref", "manual"), ("ape 0", "ape"), ("ape 1", "ape"), ("ape 2", "ape"),
        ("para of ref", "ref"), ("para of ape 1", "ape 1"),
    ]  # fmt: skip
    assert used[0] == APE_TEMPLATE and used[-1] == EVOPROMPT_PARAPHRASE_TEMPLATE
    used.clear()
    old = get_method("evoprompt-ga@1").optimize(context, 4, random.Random(0))
    assert used[0] == INDUCTION_TEMPLATE and all(c.parent == "initial" for c in old.candidates)


def test_the_projection_prices_each_method_at_its_own_budget() -> None:
    """Under the paper profile OPRO's cells are 1600 evaluations, not the profile's 150."""
    from izbench.costs import projected_calls

    paper = PROFILES["paper"]
    validation, test = paper.n_validation, paper.n_test
    assert projected_calls(paper, 1, "opro") == 1600 * validation + test + 1600
    assert projected_calls(paper, 1, "instructzero") == 150 * validation + test + 150
    assert projected_calls(paper, 1, "opro@1") == projected_calls(paper, 1, "opro")
    assert projected_calls(paper, 2) == (150 * validation + test) * 2 + 150
