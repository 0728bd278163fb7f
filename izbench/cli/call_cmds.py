"""``izbench complete`` and ``izbench generate``: one-off model calls through the cache."""

from __future__ import annotations

from typing import Annotated

import typer

from izbench.cli._app import app, console
from izbench.cli._session import model_session


@app.command("complete")
def complete_command(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    backend: Annotated[str | None, typer.Option(help="Backend to ask (default: the configured black box).")] = None,
    max_tokens: Annotated[int, typer.Option(min=1)] = 64,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.0,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1.0,
    samples: Annotated[int, typer.Option(min=1, help="Samples, with sample index 0..N-1.")] = 1,
) -> None:
    """Ask the black box one question (cached like every other call)."""
    from izbench.models.types import CompletionRequest

    with model_session(ctx) as runtime:
        client = runtime.client(backend or runtime.settings.blackbox)
        requests = [
            CompletionRequest.user(
                prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=runtime.settings.seed,
                sample_index=i,
            )
            for i in range(samples)
        ]
        for i, completion in enumerate(client.complete(requests)):
            tag = "cached" if completion.cached else f"{completion.latency_s:.2f} s"
            console.print(f"[dim]#{i} ({completion.finish_reason}, {tag})[/dim]")
            console.print(completion.text, markup=False, highlight=False)


@app.command("generate")
def generate_command(
    ctx: typer.Context,
    demo: Annotated[
        list[str],
        typer.Option(help="An input/output demo as 'INPUT => OUTPUT' (repeat the option)."),
    ],
    soft_prompt_seed: Annotated[
        int | None,
        typer.Option(help="Prepend a random soft prompt drawn from this seed (none if unset)."),
    ] = None,
    n_tokens: Annotated[int, typer.Option(min=1, help="Soft prompt length in tokens.")] = 5,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.0,
    samples: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Have the open LLM write an instruction from demos, optionally with a soft prompt."""
    import torch

    from izbench.generation import format_demos

    pairs = [_split_demo(d) for d in demo]
    with model_session(ctx) as runtime:
        generator = runtime.generator()
        soft = None
        if soft_prompt_seed is not None:
            hidden = generator.soft_prompt_model().hidden_size
            gen = torch.Generator().manual_seed(soft_prompt_seed)
            soft = torch.rand((n_tokens, hidden), generator=gen) * 2 - 1
        texts = generator.generate(
            [(soft, format_demos(pairs))] * samples,
            seed=runtime.settings.seed,
            temperature=temperature,
            sample_indices=range(samples),
        )
        for i, text in enumerate(texts):
            console.print(f"[dim]#{i}[/dim]")
            console.print(text, markup=False, highlight=False)


def _split_demo(text: str) -> tuple[str, str]:
    """'INPUT => OUTPUT' as a pair; a demo without the arrow is a usage error."""
    if "=>" not in text:
        raise typer.BadParameter(f"demo {text!r} has no '=>'; write it as 'INPUT => OUTPUT'")
    source, target = text.split("=>", 1)
    return source.strip(), target.strip()
