"""The closed sets of values settings, flags and records take, each declared once.

Settings validate against them, the CLI offers them as choices, and the records that carry them
(requests, cell configurations) serialise them as their plain string values, so a cache key or
a config hash is the same whether a value came from a flag, a file or the environment.
"""

from __future__ import annotations

from enum import StrEnum


class CacheMode(StrEnum):
    """How a run uses the response cache."""

    USE = "use"
    """Read hits, call the model on misses, store what it answers."""
    REFRESH = "refresh"
    """Ignore hits, call the model for everything, overwrite what is stored."""
    OFF = "off"
    """Neither read nor write."""
    REPLAY = "replay"
    """Read only; a miss is an error. Proves a rerun is fully determined by the cache."""


class ScoreFunction(StrEnum):
    """How the scorer values an instruction's answers (``izbench.scoring``)."""

    GENERATE = "generate"
    LIKELIHOOD = "likelihood"
    CHOICE = "choice"


class PromptProtocol(StrEnum):
    """How a prompt reaches a model: inside its chat template, or as plain text."""

    CHAT = "chat"
    RAW = "raw"


class ChoiceNorm(StrEnum):
    """Under choice scoring: divide an option's log-likelihood by its length (acc_norm) or not (acc)."""

    CHARS = "chars"
    NONE = "none"


class BlackBoxKind(StrEnum):
    """The backends that can answer as the black box."""

    LOCAL = "local"
    LLAMACPP = "llamacpp"
    OPENAI = "openai"


class Device(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class DType(StrEnum):
    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"


class Selection(StrEnum):
    """How a method that writes a pool picks from it (``izbench.methods.selection``)."""

    FULL = "full"
    HALVING = "halving"


class BudgetUnit(StrEnum):
    """What a cell's budget counts (``izbench.methods.base.Tracker``)."""

    DISTINCT = "distinct"
    """Distinct instructions scored: the same for every method, so comparisons across methods
    are fair (a method whose writer repeats itself gets up to 3x the proposals)."""
    EVALUATIONS = "evaluations"
    """Proposals, repeats included (free of black-box calls, as upstream's caches make them):
    the unit the papers' budgets are in (InstructZero 25 + 5 x 25, APE 3 x 30, ...)."""
    EXAMPLE_EVALS = "example-evals"
    """(instruction, example) evaluations: each instruction costs the validation examples it was
    scored on (all of them, or the prefixes halving reached; TRIPLE's single pulls; CAPO's races
    and GEPA's minibatches). TRIPLE's and GEPA's unit (metric calls), and the black box's work on
    a task whatever a method's selection."""
    TOKENS = "tokens"
    """Prompt and completion tokens of the black-box calls a method asks for while optimising
    (scoring and black-box writing, served or made, so a warm rerun spends the same): what an
    API bills, CAPO's unit. A batch started with budget left may end past it."""


class Writer(StrEnum):
    """Which model writes a method's instructions: the black box (the papers') or the local one."""

    BLACKBOX = "blackbox"
    LOCAL = "local"


class DomainKind(StrEnum):
    """Where a comparison's methods find their instructions."""

    LIVE = "live"
    """Written and scored by the models as the methods ask (cached)."""
    POOL = "pool"
    """Looked up in stored pools: no model call (``izbench pool build``)."""


class Executor(StrEnum):
    """Where a comparison's cells run (``izbench.executors``)."""

    LOCKSTEP = "lockstep"
    LOCAL = "local"
    RAY = "ray"


class HiddenSource(StrEnum):
    """Where a pool's hidden states (INSTINCT's features) come from (``PoolParams.hidden``)."""

    PREFILL = "prefill"
    """Read off the prefill that writes each point's instruction: no pass of their own."""
    PASS = "pass"
    """A forward pass of their own per prompt, one prompt per pass (pools built before prefill)."""
