"""What runs produce, as plain data: scored examples, candidates, a method's result, a cell's
result. Nothing here imports a model, so the store and reports read results without torch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scored:
    """An instruction's predictions and per-example scores on a list of examples.

    Under ``generate`` a prediction is the black box's answer; under ``likelihood`` the gold
    answer that scored best; under ``choice`` the option the model preferred.
    """

    instruction: str
    predictions: tuple[str, ...]
    scores: tuple[float, ...]
    examples: tuple[int, ...] | None = None
    """The validation example each score is on, when they are not the set's first ``n`` in
    order (TRIPLE's pulls draw them at random, with replacement)."""

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


@dataclass(frozen=True)
class Candidate:
    """One proposal: the instruction, where it came from, and its validation scores."""

    step: int
    """Order of proposal within the run (0-based)."""
    instruction: str
    val_score: float
    val_scores: tuple[float, ...]
    soft_prompt: tuple[float, ...] | None = None
    """The low-dimensional z that produced it (InstructZero, Uniform)."""
    parent: str | None = None
    """The instruction it was derived from (APE resampling), or a reference's label."""
    new: bool = True
    """False when the instruction had already been scored in this run (cost no calls)."""
    note: str | None = None
    """What went wrong proposing it without stopping the run (e.g. a GP fit that failed)."""
    examples: int = 0
    """Validation examples it was scored on: fewer than the split's when successive halving
    dropped it early (0 when unknown: a row stored before this was recorded)."""
    calls: int | None = None
    """Black-box calls the cell had asked for (served or made) once this candidate was scored:
    the calls axis, which compares methods whose candidates cost different amounts."""
    evals: int | None = None
    """(instruction, example) evaluations the cell had made by then, on validation and off it
    (``Tracker.spent`` in ``example-evals``): the example-evals axis (None: stored before it was)."""
    tokens: int | None = None
    """Prompt and completion tokens of the black-box calls the cell had asked for by then: the
    tokens axis (None on a pool, whose lookups carry none, or stored before it was)."""
    acquisition: str | None = None
    """What the acquisition did when it proposed this candidate (a BO method's rounds), as JSON:
    its kind, largest value, share underflowed, CMA-ES generations and stop reasons, distance
    moved from the start point (``izbench.methods.bo``)."""


@dataclass
class MethodResult:
    """Everything a method did: all candidates in order, and the best by validation score."""

    candidates: list[Candidate] = field(default_factory=list)
    off_validation: dict[str, int] = field(default_factory=dict)
    """(instruction, example) evaluations made off the validation set, by instruction (GEPA's
    minibatches of demos): black-box work the candidates do not show."""

    @property
    def tried(self) -> int:
        """Distinct instructions scored anywhere: the candidates' and those scored only off
        validation (GEPA's rejected children)."""
        return len(set(self.off_validation) | {c.instruction for c in self.candidates})

    @property
    def best(self) -> Candidate:
        """The best by validation score among candidates scored on the most examples (a
        candidate dropped early by halving never wins on a lucky short prefix). Ties go to the
        earliest proposal, so the result never depends on dict order."""
        most = max(c.examples for c in self.candidates)
        finalists = [c for c in self.candidates if c.examples == most]
        return max(finalists, key=lambda c: (c.val_score, -c.step))

    def incumbents(self) -> list[Candidate]:
        """The best (by ``best``'s rule) after each distinct instruction, k = 1 .. distinct: the
        instruction a run stopped after k distinct instructions would return (an anytime curve's
        x axis; repeats cost no call, so they never start a new point)."""
        out: list[Candidate] = []
        for end, candidate in enumerate(self.candidates):
            if candidate.new:
                out.append(MethodResult(self.candidates[: end + 1]).best)
        if out:
            # The run's answer, even where a later repeat (halving's longer rescoring) decided it.
            out[-1] = self.best
        return out

    @property
    def proposals(self) -> int:
        return len(self.candidates)

    @property
    def distinct(self) -> int:
        return sum(1 for c in self.candidates if c.new)


@dataclass(frozen=True)
class CellResult:
    method: str
    task: str
    seed: int
    budget: int
    proposals: int
    distinct: int
    best_instruction: str
    val_score: float
    test_score: float
    test_predictions: tuple[str, ...]
    calls_made: int
    calls_served: int
    wall_s: float
    mean_test_score: float | None = None
    """For ``human``: the mean test score over all annotations (the paper reports both)."""
    result: MethodResult | None = None
    run_id: str = ""
    reused: bool = False
    """True when read back from the store instead of run."""
    test_scores: tuple[float, ...] = ()
    chance: float | None = None
    """Under choice scoring: the test accuracy of picking options at random."""
    comparison_hash: str = ""
    """What the cell must share with others to be compared with them (``izbench.identity``)."""
    blackbox_calls: int | None = None
    """Black-box calls the method asked for while optimising (served or made; test excluded)."""
    tokens: int = 0
    """Tokens this run spent on calls it made (prompt and completion)."""
    blackbox_tokens: int | None = None
    """Prompt and completion tokens of the black-box calls the method asked for while
    optimising, served or made (the same on a warm rerun); None on a pool, whose lookups have none."""
    off_validation_evals: int | None = None
    """(instruction, example) evaluations off the validation set (``MethodResult.off_validation``);
    None for methods that make none."""
    tried: int | None = None
    """Distinct instructions scored anywhere (``MethodResult.tried``), where off-validation
    evaluations make it differ from ``distinct``."""
    computed_wall_s: float | None = None
    """For a cell read back from the store: the wall time of the run that computed it."""
    cost: float = 0.0
    """Dollars this run spent on priced backends."""
    anytime: tuple[float, ...] = ()
    """Test score of the incumbent after k = 1 .. distinct instructions (``incumbents``), or
    empty when the incumbents were not scored on test (a live cell without ``anytime``)."""

    @property
    def metrics(self) -> dict[str, float]:
        """The figures a regression check compares, by name (the store's ``metrics`` table)."""
        out = {"val_score": self.val_score, "test_score": self.test_score}
        for name in ("blackbox_calls", "blackbox_tokens", "chance", "mean_test_score", "off_validation_evals", "tried"):
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value)
        return out
