"""The ``local`` backend: the embedded transformers model answering chat requests in-process.

It is both the instruction generator's engine (it alone accepts soft prompts) and a black box.
Scoring requests are computed in batches of ``batch_size``; requests with equal generation
settings are decoded together in batches of ``decode_batch_size``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch

from izbench.errors import BackendError
from izbench.models.batching import even_pieces, shared_prefix_batches, with_prefixes
from izbench.models.catalog import DEFAULT_MODEL, ModelSource, resolve
from izbench.models.decoding import DECODING_VERSION, DecodeParams, PrefixMemo, decode, last_hidden_states
from izbench.models.likelihood import continuation_logprobs
from izbench.models.types import Completion, CompletionRequest
from izbench.models.weights import LoadedModel, hidden_size, load_model

DTYPE_TAGS = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


class LocalBackend:
    """A model in-process through transformers (by default SmolLM2, fp32 on the CPU)."""

    kind = "local"

    def __init__(
        self,
        loaded: LoadedModel | None = None,
        batch_size: int = 32,
        share_prefixes: bool = True,
        model_dir: Path | None = None,
        source: ModelSource | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        decode_batch_size: int | None = None,
        batch_tokens: int | None = None,
    ) -> None:
        self._loaded_model = loaded
        self._model_dir = model_dir
        self.batch_size = batch_size
        # A decode batch lasts until its longest row ends; with rows leaving as they finish,
        # its last steps run a few rows at the cost of reading every weight, so decode batches
        # are larger than scoring ones (docs/speed.md). A row's text does not depend on its batch.
        self._decode_batch_size = decode_batch_size
        self.batch_tokens = batch_tokens
        """Token positions a batch may hold (None: rows alone bound it; ``Settings.local_batch_tokens``)."""
        self.share_prefixes = share_prefixes
        self.prefix_memo = PrefixMemo()
        """The last prefix passes of scoring calls: a pool build scores each instruction on its
        validation examples, then its test examples, and computes the instruction once."""
        if loaded is not None:
            source, device, dtype = loaded.info, loaded.device, loaded.dtype
        # Identity comes from the weights' digest, not the loaded model: a replay that is
        # served entirely from the cache never loads the model.
        info = source or resolve(DEFAULT_MODEL)
        self.model_id = info.model_id
        self._info = info
        self.device, self.dtype = device, dtype
        place = DTYPE_TAGS[dtype] + ("" if device == "cpu" else f";{device}")
        self.revision = (
            f"{info.revision};{place};transformers-{importlib.metadata.version('transformers')};"
            f"torch-{torch.__version__};decoding-{DECODING_VERSION}"
        )

    @property
    def decode_batch_size(self) -> int:
        """Rows decoded together: their own size when given, else ``batch_size`` (which a
        benchmark may change between runs)."""
        return self._decode_batch_size or self.batch_size

    def _rows(self, size: int, lengths: Sequence[int], new_tokens: int = 0) -> int:
        """Rows per batch: ``size``, or fewer where rows this long would hold more than
        ``batch_tokens`` token positions (each row's prompt and what it may write), which is
        what a batch's KV cache and activations grow with."""
        if self.batch_tokens is None:
            return size
        longest = max(lengths, default=0) + new_tokens
        return max(1, min(size, self.batch_tokens // max(1, longest)))

    @property
    def chat_template(self) -> bool:
        """Whether the model has a chat template (a base model takes raw prompts only)."""
        return self._info.chat_template

    @property
    def _loaded(self) -> LoadedModel:
        """The weights, loaded on the first call that needs them."""
        if self._loaded_model is None:
            self._loaded_model = load_model(self._info, self._model_dir, self.device, self.dtype)
        return self._loaded_model

    @functools.cached_property
    def _eos_ids(self) -> frozenset[int]:
        tok = self._loaded.tokenizer
        vocab = tok.get_vocab()
        # The end-of-turn token of chat models (ChatML, Gemma) ends an answer as EOS does.
        eos = {tok.eos_token_id, *(vocab[t] for t in ("<|im_end|>", "<end_of_turn>") if t in vocab)}
        return frozenset(i for i in eos if isinstance(i, int) and i >= 0)

    @property
    def hidden_size(self) -> int:
        if self._loaded_model is None:  # read the checkpoint's config, not its weights
            size = hidden_size(self._info, self._model_dir)
            if size is not None:
                return size
        return int(self._loaded.model.get_input_embeddings().weight.shape[1])

    def embedding_matrix(self) -> torch.Tensor:
        """The input token embedding weights (vocab, hidden); read-only use."""
        weight: torch.Tensor = self._loaded.model.get_input_embeddings().weight
        return weight.detach()

    def prompt_text(self, request: CompletionRequest) -> str:
        """The prompt as the model reads it: chat-formatted, or the raw text as it is."""
        if request.protocol == "raw":
            return request.raw_text
        self._info.require_chat_template()
        text = self._loaded.tokenizer.apply_chat_template(
            [m.model_dump() for m in request.messages], add_generation_prompt=True, tokenize=False
        )
        return str(text)

    def _encode(self, text: str) -> list[int]:
        return [int(i) for i in self._loaded.tokenizer(text, add_special_tokens=False)["input_ids"]]

    @functools.cached_property
    def _start(self) -> list[int]:
        """The tokens the tokenizer puts before any text (Gemma's BOS; none for SmolLM2), which a
        raw prompt starts with as a server's tokenization does."""
        return [int(i) for i in self._loaded.tokenizer("", add_special_tokens=True)["input_ids"]]

    def _encode_prompt(self, request: CompletionRequest, text: str) -> list[int]:
        """A prompt's ids: raw text after the start tokens; a chat-formatted text already holds them."""
        start = self._start if request.protocol == "raw" else []
        return start + self._encode(text)

    def scored_ids(self, request: CompletionRequest) -> tuple[list[int], list[int]]:
        """(prompt ids, continuation ids) of a scoring request.

        The whole text is tokenized at once, as a server does with ``echo``; the continuation is
        what follows the prompt's own tokens (lm-evaluation-harness's rule). Where the two merge
        at the boundary, the prompt and continuation are tokenized apart instead.
        """
        assert request.continuation is not None
        prompt = self.prompt_text(request)
        head = self._encode_prompt(request, prompt)
        whole = self._encode_prompt(request, prompt + request.continuation)
        tail = whole[len(head) :] if whole[: len(head)] == head else self._encode(request.continuation)
        if not tail:
            raise BackendError(f"the continuation {request.continuation!r} has no tokens to score")
        return head, tail

    def token_ids(self, request: CompletionRequest) -> list[int]:
        """The formatted prompt's token ids (soft prompt not included)."""
        if request.protocol == "raw":
            return self._encode_prompt(request, request.raw_text)
        self._info.require_chat_template()
        ids = self._loaded.tokenizer.apply_chat_template(
            [m.model_dump() for m in request.messages],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
        )
        if not isinstance(ids, list):  # some tokenizer versions return a BatchEncoding
            ids = list(ids["input_ids"])
        return [int(i) for i in ids]

    def _embed(self, ids: Sequence[int]) -> torch.Tensor:
        with torch.inference_mode():
            embeds: torch.Tensor = self._loaded.model.get_input_embeddings()(
                torch.tensor(list(ids), dtype=torch.long, device=self._loaded.device)
            )
        return embeds

    def _embed_many(self, rows: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """Each row's embeddings, from one lookup over all of them."""
        joined = self._embed([t for row in rows for t in row])
        return list(torch.split(joined, [len(row) for row in rows]))

    def prompt_embeddings(self, request: CompletionRequest) -> torch.Tensor:
        """The chat-formatted prompt as (tokens, hidden) embeddings, soft prompt first."""
        embeds = self._embed(self.token_ids(request))
        if request.soft_prompt is not None:
            soft = request.soft_prompt.to_tensor().to(embeds)  # the model's dtype and device
            if soft.shape[1] != embeds.shape[1]:
                raise BackendError(
                    f"soft prompt hidden size {soft.shape[1]} does not match the model's {embeds.shape[1]}"
                )
            embeds = torch.cat([soft, embeds], dim=0)
        return embeds

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        out: list[Completion | BackendError | None] = [None] * len(requests)
        scoring = [i for i, r in enumerate(requests) if r.continuation is not None]
        if scoring:
            self._score(requests, scoring, out)
        hidden = [i for i, r in enumerate(requests) if r.hidden_state and r.continuation is None]
        if hidden:
            self._hidden(requests, hidden, out)
        rest = [i for i, r in enumerate(requests) if r.continuation is None and not r.hidden_state]
        self._generate(requests, rest, out)
        return [c for c in out if c is not None]

    def _hidden(
        self, requests: Sequence[CompletionRequest], indices: list[int], out: list[Completion | BackendError | None]
    ) -> None:
        """Hidden-state requests: the prompt's forward pass alone, nothing decoded."""
        for i in indices:
            began = time.perf_counter()
            prompt = self.prompt_embeddings(requests[i])
            with self._loaded.lock:
                (state,) = last_hidden_states(self._loaded.model, [prompt])
            out[i] = Completion(
                text="",
                finish_reason="stop",
                prompt_tokens=int(prompt.shape[0]),
                completion_tokens=0,
                latency_s=time.perf_counter() - began,
                hidden=state,
            )

    def _score(
        self, requests: Sequence[CompletionRequest], indices: list[int], out: list[Completion | BackendError | None]
    ) -> None:
        """Scoring requests: prompt + continuation in one forward pass, instruction prefixes shared."""
        parts: dict[int, tuple[list[int], list[int]]] = {}
        for i in indices:
            if requests[i].soft_prompt is not None:
                out[i] = BackendError("scoring a continuation after a soft prompt is not supported")
                continue
            try:
                parts[i] = self.scored_ids(requests[i])
            except BackendError as error:
                out[i] = error
        ids = {i: head + tail for i, (head, tail) in parts.items()}
        # Each row keeps its continuation and the token before it as its own.
        own = {i: len(tail) + 1 if self.share_prefixes else len(ids[i]) for i, (_, tail) in parts.items()}
        rows = self._rows(self.batch_size, [len(t) for t in ids.values()])
        batches = (
            shared_prefix_batches(ids, rows)
            if self.share_prefixes
            else [[list(ids)[k : k + rows]] for k in range(0, len(ids), rows)]
        )
        for batch in batches:
            began = time.perf_counter()
            cut = with_prefixes(batch, ids, own)
            chunk = cut.rows
            shared = any(cut.heads)
            pieces = self._embed_many((cut.heads if shared else []) + cut.tails)
            prompts = pieces[len(cut.heads) :] if shared else pieces
            with self._loaded.lock:
                values = continuation_logprobs(
                    self._loaded.model,
                    prompts,
                    [parts[i][1] for i in chunk],
                    prefixes=pieces[: len(cut.heads)] if shared else None,
                    prefix_of_row=cut.prefix_of_row if shared else None,
                    memo=self.prefix_memo,
                    prefix_key=tuple(tuple(head) for head in cut.heads) if shared else None,
                )
            per_call = (time.perf_counter() - began) / len(chunk)
            for i, logprobs in zip(chunk, values, strict=True):
                out[i] = Completion(
                    text=requests[i].continuation or "",
                    finish_reason="stop",
                    prompt_tokens=len(ids[i]),
                    completion_tokens=0,
                    latency_s=per_call,
                    logprobs=tuple(logprobs),
                )

    def _generate(
        self, requests: Sequence[CompletionRequest], indices: list[int], out: list[Completion | BackendError | None]
    ) -> None:
        groups: dict[DecodeParams, list[int]] = defaultdict(list)
        for i in indices:
            r = requests[i]
            params = DecodeParams(
                max_new_tokens=r.max_tokens,
                temperature=r.temperature,
                top_p=r.top_p if r.temperature > 0 else 1.0,
                stop=r.stop,
                stop_rule=r.stop_rule,
            )
            groups[params].append(i)
        for params, members in groups.items():
            soft = [i for i in members if requests[i].soft_prompt is not None]
            embedded = {i: self.prompt_embeddings(requests[i]) for i in soft}
            # Rows of similar length share a batch: each batch pads to its longest row.
            soft.sort(key=lambda i: embedded[i].shape[0])
            rows = self._rows(self.decode_batch_size, [embedded[i].shape[0] for i in soft], params.max_new_tokens)
            for chunk in even_pieces(soft, rows):
                self._run(params, requests, chunk, [embedded[i] for i in chunk], None, out)
            ids = {i: self.token_ids(requests[i]) for i in members if requests[i].soft_prompt is None}
            rows = self._rows(self.decode_batch_size, [len(t) for t in ids.values()], params.max_new_tokens)
            if not self.share_prefixes:
                for chunk in even_pieces(list(ids), rows):
                    self._run(params, requests, chunk, self._embed_many([ids[i] for i in chunk]), None, out)
                continue
            for batch in shared_prefix_batches(ids, rows):
                self._run_shared(params, requests, {i: ids[i] for group in batch for i in group}, batch, out)

    def _run_shared(
        self,
        params: DecodeParams,
        requests: Sequence[CompletionRequest],
        ids: dict[int, list[int]],
        batch: list[list[int]],
        out: list[Completion | BackendError | None],
    ) -> None:
        """Decode one batch of prefix groups: each group's shared tokens are computed once."""
        # Each row keeps at least one token of its own to predict from.
        cut = with_prefixes(batch, ids, dict.fromkeys(ids, 1), at_least=1)
        pieces = self._embed_many(cut.heads + cut.tails)
        prompts, prefixes = pieces[len(cut.heads) :], pieces[: len(cut.heads)]
        self._run(params, requests, cut.rows, prompts, (prefixes, cut.prefix_of_row), out)

    def _run(
        self,
        params: DecodeParams,
        requests: Sequence[CompletionRequest],
        chunk: list[int],
        prompts: list[torch.Tensor],
        prefixes: tuple[list[torch.Tensor], list[int]] | None,
        out: list[Completion | BackendError | None],
    ) -> None:
        began = time.perf_counter()
        seeds = [requests[i].sampling_seed for i in chunk]
        with self._loaded.lock:
            results = decode(
                self._loaded.model,
                self._loaded.tokenizer,
                prompts,
                params,
                seeds=seeds,
                eos_ids=self._eos_ids,
                prefixes=prefixes[0] if prefixes else None,
                prefix_of_row=prefixes[1] if prefixes else None,
                hidden=any(requests[i].with_hidden for i in chunk),
            )
        per_call = (time.perf_counter() - began) / len(chunk)
        for i, res in zip(chunk, results, strict=True):
            out[i] = Completion(
                text=res.text,
                finish_reason=res.finish_reason,
                prompt_tokens=res.prompt_tokens,
                completion_tokens=res.completion_tokens,
                latency_s=per_call,
                hidden=res.hidden if requests[i].with_hidden else (),
            )

    def close(self) -> None:
        """Nothing to release: the weights are shared for the process's lifetime."""
