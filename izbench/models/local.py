"""The ``local`` backend: the embedded transformers model answering chat requests in-process.

It is both the instruction generator's engine (it alone accepts soft prompts) and a black box.
Requests with equal generation settings are decoded together in batches of ``batch_size``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import torch

from izbench.errors import BackendError
from izbench.models.decoding import DecodeParams, decode
from izbench.models.types import Completion, CompletionRequest
from izbench.models.weights import LoadedModel, load_model


class LocalBackend:
    """SmolLM2 in-process through transformers (fp32, dequantised from the shipped GGUF)."""

    kind = "local"

    def __init__(self, loaded: LoadedModel | None = None, batch_size: int = 16) -> None:
        import transformers

        self._loaded = loaded or load_model()
        self.batch_size = batch_size
        self.model_id = self._loaded.info.model_id
        self.revision = (
            f"gguf-sha256:{self._loaded.info.sha256};fp32;"
            f"transformers-{transformers.__version__};torch-{torch.__version__}"
        )
        tok = self._loaded.tokenizer
        eos = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
        self._eos_ids = frozenset(i for i in eos if isinstance(i, int) and i >= 0)

    @property
    def hidden_size(self) -> int:
        return int(self._loaded.model.config.hidden_size)

    def embedding_matrix(self) -> torch.Tensor:
        """The input token embedding weights (vocab, hidden); read-only use."""
        weight: torch.Tensor = self._loaded.model.get_input_embeddings().weight
        return weight.detach()

    def prompt_embeddings(self, request: CompletionRequest) -> torch.Tensor:
        """The chat-formatted prompt as (tokens, hidden) embeddings, soft prompt first."""
        tok = self._loaded.tokenizer
        ids = tok.apply_chat_template(
            [m.model_dump() for m in request.messages],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
        )
        if not isinstance(ids, list):  # some tokenizer versions return a BatchEncoding
            ids = list(ids["input_ids"])
        with torch.inference_mode():
            embeds = self._loaded.model.get_input_embeddings()(torch.tensor(ids))
        if request.soft_prompt is not None:
            soft = request.soft_prompt.to_tensor()
            if soft.shape[1] != embeds.shape[1]:
                raise BackendError(
                    f"soft prompt hidden size {soft.shape[1]} does not match the model's {embeds.shape[1]}"
                )
            embeds = torch.cat([soft, embeds], dim=0)
        result: torch.Tensor = embeds
        return result

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        groups: dict[DecodeParams, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            params = DecodeParams(
                max_new_tokens=r.max_tokens,
                temperature=r.temperature,
                top_p=r.top_p if r.temperature > 0 else 1.0,
                stop=r.stop,
            )
            groups[params].append(i)
        out: list[Completion | BackendError | None] = [None] * len(requests)
        for params, indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                began = time.perf_counter()
                prompts = [self.prompt_embeddings(requests[i]) for i in chunk]
                seeds = [requests[i].sampling_seed for i in chunk]
                with self._loaded.lock:
                    results = decode(
                        self._loaded.model,
                        self._loaded.tokenizer,
                        prompts,
                        params,
                        seeds=seeds,
                        eos_ids=self._eos_ids,
                    )
                per_call = (time.perf_counter() - began) / len(chunk)
                for i, res in zip(chunk, results, strict=True):
                    out[i] = Completion(
                        text=res.text,
                        finish_reason=res.finish_reason,
                        prompt_tokens=res.prompt_tokens,
                        completion_tokens=res.completion_tokens,
                        latency_s=per_call,
                    )
        return [c for c in out if c is not None]

    def close(self) -> None:
        """Nothing to release: the weights are shared for the process's lifetime."""
