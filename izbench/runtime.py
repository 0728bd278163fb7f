"""The live objects of one command: backends, the cache, and the counts of calls they served.

Backends are built lazily (a command that never calls the black box never starts a server) and
closed together, so a llama.cpp server never outlives the command that started it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

from izbench.budget import Budget
from izbench.cache import CachedClient, CallStats, ResponseCache
from izbench.choices import PromptProtocol
from izbench.context import MethodContext
from izbench.domain import Domain
from izbench.errors import ConfigError
from izbench.generation import InstructionGenerator
from izbench.models.base import ModelBackend
from izbench.offload import Offload, inline
from izbench.profiles import MethodSettings
from izbench.results import Candidate, Scored
from izbench.scoring import DEFAULT_MAX_TOKENS, Scorer, output_cap
from izbench.settings import Settings
from izbench.tasks.metrics import Metric
from izbench.tasks.splits import Split
from izbench.tasks.types import TaskData

DomainFactory = Callable[[InstructionGenerator, InstructionGenerator], Domain]
"""Builds a cell's domain from its generator and its black-box writer (a pool's, written live)."""
Route = Callable[[ModelBackend], ModelBackend]
"""How one cell reaches a backend (``izbench.lockstep`` parks the cell until its round)."""


def prompt_protocol(backend: ModelBackend) -> PromptProtocol:
    """How a model is prompted to write: in its chat template, or raw when it has none."""
    return PromptProtocol.CHAT if getattr(backend, "chat_template", True) else PromptProtocol.RAW


class Runtime:
    """Owns the cache, the call counts and every backend one command uses."""

    def __init__(self, settings: Settings, cache: ResponseCache | None = None) -> None:
        self.settings = settings
        self.cache = cache or ResponseCache(settings.cache_dir, settings.cache_mode)
        self.stats = CallStats()
        self.budget = Budget.from_settings(settings)
        self._backends: dict[tuple[str, str], ModelBackend] = {}

    def backend(self, kind: str, model: str | None = None) -> ModelBackend:
        """The backend of that kind serving ``model`` (default: the black-box model), built on
        first use; the generator and a ``local`` black box of the same model share one."""
        key = (kind, model or self.settings.blackbox_model)
        if key not in self._backends:
            self._backends[key] = self._build(*key)
        return self._backends[key]

    def generator_backend(self) -> ModelBackend:
        """The in-process backend of the instruction generator (it alone takes soft prompts)."""
        return self.backend("local", self.settings.generator)

    def _build(self, kind: str, model: str) -> ModelBackend:
        s = self.settings
        if kind == "local":
            from izbench.models.catalog import resolve
            from izbench.models.local import LocalBackend
            from izbench.models.weights import placement

            device, dtype = placement(s.device, s.dtype)
            return LocalBackend(
                batch_size=s.local_batch_size,
                decode_batch_size=s.local_decode_batch_size,
                batch_tokens=s.local_batch_tokens,
                share_prefixes=s.local_share_prefixes,
                model_dir=s.model_dir,
                source=resolve(model),
                device=device,
                dtype=dtype,
            )
        if kind == "llamacpp":
            from izbench.models.catalog import resolve
            from izbench.models.llamacpp import LlamaCppBackend

            return LlamaCppBackend(resolve(model), model_dir=s.model_dir)
        if kind == "openai":
            from izbench.models.openai_backend import OpenAIBackend

            return OpenAIBackend(
                s.openai_base_url,
                s.openai_model,
                api_key=s.openai_api_key,
                revision=s.openai_revision,
                concurrency=s.openai_concurrency,
                max_attempts=s.openai_max_attempts,
                rpm=s.openai_rpm,
                tpm=s.openai_tpm,
            )
        raise ConfigError(f"unknown backend {kind!r}; choose one of local, llamacpp, openai")

    def client(
        self, kind: str, model: str | None = None, tally: CallStats | None = None, route: Route | None = None
    ) -> CachedClient:
        """A cached client over the backend of that kind (reached through ``route``, when
        given), counting into this runtime's stats and into ``tally``, when given."""
        backend = self.backend(kind, model)
        return CachedClient(route(backend) if route else backend, self.cache, self.stats, self.budget, tally)

    def blackbox(self, tally: CallStats | None = None, route: Route | None = None) -> CachedClient:
        """The configured black-box LLM."""
        return self.client(self.settings.blackbox, tally=tally, route=route)

    def generator(self, tally: CallStats | None = None, route: Route | None = None) -> InstructionGenerator:
        """The open LLM that writes instructions (always in-process: soft prompts), prompted
        inside its chat template, or as raw text when it has none (a base model)."""
        from izbench.models.local import LocalBackend

        client = self.client("local", self.settings.generator, tally=tally, route=route)
        model = self.generator_backend()
        assert isinstance(model, LocalBackend)  # the one backend that takes soft prompts
        return InstructionGenerator(client, protocol=prompt_protocol(model), model=model)

    def blackbox_generator(self, tally: CallStats | None = None, route: Route | None = None) -> InstructionGenerator:
        """The black box as an instruction writer (APE's default)."""
        return InstructionGenerator(
            self.blackbox(tally, route), protocol=prompt_protocol(self.backend(self.settings.blackbox))
        )

    def scorer(
        self, task: str, metric: Metric, data: TaskData, tally: CallStats | None = None, per_instruction: bool = False
    ) -> Scorer:
        """The task's scorer under the settings' score function and protocol; for generation, with
        early stopping and the output cap unless the settings turn them off (``per_instruction``:
        one instruction per call, as pools score)."""
        s = self.settings
        if s.score == "choice" and not all(e.options for e in data.induce + data.execute):
            raise ConfigError(
                f"task {task} has no answer options, so --score choice cannot score it; declare `options:` in its "
                "task file or use --score likelihood"
            )
        if s.protocol == "chat" and prompt_protocol(self.backend(s.blackbox)) == "raw":
            raise ConfigError(
                f"black box {s.blackbox_model} has no chat template, so --protocol chat cannot prompt it; "
                "use --protocol raw"
            )
        early = s.scorer_early_stop
        return Scorer(
            self.blackbox(tally),
            metric,
            max_tokens=output_cap(metric, data.induce + data.execute) if early else DEFAULT_MAX_TOKENS,
            stop_rule="answer" if early else None,
            score=s.score,
            protocol=s.protocol,
            choice_norm=s.choice_norm,
            per_instruction=per_instruction,
        )

    def method_context(
        self,
        task: str,
        metric: Metric,
        data: TaskData,
        split: Split,
        seed: int,
        params: MethodSettings,
        annotations: Sequence[str],
        on_candidates: Callable[[list[Candidate], list[Scored]], None] | None = None,
        route: Route | None = None,
        offload: Offload = inline,
        domain: DomainFactory | None = None,
    ) -> MethodContext:
        """Everything a method may use for one cell, wired to this runtime's cached clients.
        The writers (generator, black box as a writer) reach their backends through ``route``,
        when given (lockstep batches them across cells: a row's text does not depend on its
        batch); scoring calls go straight to the black box, in the batches the cell makes, so a
        score's float rounding is the same however cells are scheduled. Every client counts into
        the cell's own tally, and the black-box ones into its calls axis too. With ``domain``, the
        method chooses among the domain it builds (a pool's, written live) and scores one
        instruction per call as a pool build does (a live run that a pool cell must equal)."""
        cell = CallStats()
        calls = CallStats(parent=cell)
        generator = self.generator(cell, route)
        writer = self.blackbox_generator(calls, route)
        return MethodContext(
            task=task,
            split=split,
            scorer=self.scorer(task, metric, data, calls, per_instruction=domain is not None),
            generator=generator,
            blackbox_generator=writer,
            domain=domain(generator, writer) if domain is not None else None,
            blackbox_calls=calls,
            cell_calls=cell,
            annotations=tuple(annotations),
            seed=seed,
            params=params,
            on_candidates=on_candidates,
            offload=offload,
        )

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        self.cache.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
