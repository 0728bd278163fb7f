"""Resolved settings: CLI flags over ``IZBENCH_*`` environment variables over defaults.

One validated object is built per command and handed down the path
CLI -> runner -> methods -> clients, so nothing below the CLI reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from izbench.choices import BlackBoxKind, CacheMode, ChoiceNorm, Device, DType, PromptProtocol, ScoreFunction


class Settings(BaseSettings):
    """Everything a run may be configured with."""

    model_config = SettingsConfigDict(env_prefix="IZBENCH_", extra="ignore")

    cache_dir: Path = Path("results/cache")
    """Directory of the response cache (diskcache)."""
    cache_mode: CacheMode = CacheMode.USE
    """use | refresh | off | replay."""
    store: Path = Path("results/izbench.duckdb")
    """DuckDB file holding runs, candidates, predictions and metrics."""
    seed: int = 0
    """Root seed of a run; every random choice is derived from it per item."""
    verbose: int = 0
    """0 quiet, 1 info, 2 debug."""
    data_dir: Path | None = None
    """Directory of the Instruction Induction data (raw/induce, raw/execute, annotations)."""
    bigbench_dir: Path | None = None
    """Directory of BIG-bench tasks (``<name>/task.json``), added as suite ``bigbench``."""
    tasks_dir: Path | None = None
    """Task files (default: the ``tasks/`` folder of the izbench checkout)."""
    model_dir: Path | None = None
    """Where converted embedded weights are kept (default ~/.cache/izbench/models)."""
    data_cache: Path | None = None
    """Where generated ``core`` task data is kept (default ~/.cache/izbench/tasks)."""

    blackbox: BlackBoxKind = BlackBoxKind.LOCAL
    """Which backend answers as the black box (measured fastest embedded one by default)."""
    generator: str = "smollm2-135m-instruct"
    """The open LLM that writes instructions (takes soft prompts): an embedded name
    (``izbench models``), a ``.gguf`` file or a transformers model directory."""
    blackbox_model: str = "smollm2-135m-instruct"
    """The model behind the ``local`` and ``llamacpp`` black boxes (same forms as ``generator``)."""
    device: Device = Device.AUTO
    """Where in-process models run: auto takes CUDA where present, else the CPU."""
    dtype: DType = DType.AUTO
    """Their precision: auto is bfloat16 on CUDA, float32 elsewhere (part of each model's revision)."""
    local_batch_size: int = Field(default=32, ge=1)
    """Rows the in-process transformers model scores together in one forward pass."""
    local_decode_batch_size: int = Field(default=96, ge=1)
    """Rows it decodes together (instructions, sampled proposals, generated answers). A batch
    runs until its longest row ends, so fuller batches pay for the late, nearly empty steps
    fewer times; 96 rows of SmolLM2's ~250-token instruction prompts hold ~1.1 GB of KV cache."""
    local_batch_tokens: int = Field(default=49152, ge=1)
    """Token positions one batch of the in-process model may hold: rows x (the longest prompt +
    the tokens a row may write). Its KV cache and activations grow with this, not with the row
    count: 96 rows of 1,500-token prompts would hold 140k positions (6.5 GB of SmolLM2's KV
    cache), so long prompts go in fewer rows. The default never binds on the ``core`` suite's
    short prompts."""
    local_share_prefixes: bool = True
    """Compute a shared prompt prefix (the instruction) once per batch instead of once per row."""
    score: ScoreFunction = ScoreFunction.LIKELIHOOD
    """How the scorer values an instruction: generate (greedy answer + task metric; the paper's
    protocol for API black boxes), likelihood (mean log-probability per token of the gold answer)
    or choice (best option by likelihood). The default is what measured instructions on the most
    ``core`` tasks with the embedded black box (docs/scoring.md)."""
    protocol: PromptProtocol = PromptProtocol.RAW
    """raw: the scorer's prompt as plain text (as APE prompted GPT-3); chat: inside the black
    box's chat template."""
    choice_norm: ChoiceNorm = ChoiceNorm.CHARS
    """Under choice: chars divides an option's log-likelihood by its length (acc_norm), none not."""
    anytime: bool = False
    """Live cells: score every incumbent (the best after each distinct instruction) on test as
    well, for anytime curves; it costs test-set calls per incumbent. Pool cells always do (their
    scores are lookups)."""
    scorer_early_stop: bool = True
    """Stop predictions once the text the metrics read is complete, and cap exact-match outputs
    by the task's longest answer (scores are unchanged; off reproduces 50-token predictions)."""

    openai_base_url: str = "https://api.openai.com/v1"
    """Any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, OpenAI)."""
    openai_model: str = "gpt-3.5-turbo"
    openai_revision: str | None = None
    """Pins the model in cache keys when its name alone does not (e.g. a dated snapshot)."""
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("openai_api_key", "IZBENCH_OPENAI_API_KEY", "OPENAI_API_KEY"),
        repr=False,
        exclude=True,
    )
    openai_concurrency: int = Field(default=4, ge=1)
    openai_max_attempts: int = Field(default=6, ge=1)
    openai_rpm: int | None = Field(default=None, ge=1)
    """Requests per minute the endpoint allows (calls wait rather than get a 429)."""
    openai_tpm: int | None = Field(default=None, ge=1)
    """Tokens per minute the endpoint allows (prompt estimate + max output tokens per call)."""
    openai_price_prompt: float | None = Field(default=None, ge=0)
    """US dollars per million prompt tokens; with the next, enables cost projection and --max-cost."""
    openai_price_completion: float | None = Field(default=None, ge=0)
    """US dollars per million completion tokens."""

    max_calls: int | None = Field(default=None, ge=0)
    """Stop cleanly before making more than this many model calls (cache hits are free)."""
    max_cost: float | None = Field(default=None, ge=0)
    """Stop cleanly before spending more than this many dollars on priced backends."""
