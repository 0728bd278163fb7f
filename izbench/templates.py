"""The prompts methods write instructions with, in one module below both the methods and the
pools (each reads them; neither owns them)."""

from __future__ import annotations

INSTRUCTZERO_TEMPLATE = "\n[DEMOS]\n\nThe instruction was to?"
"""Upstream InstructZero's generator prompt (the user turn of the chat-formatted prompt)."""

INSTINCT_TEMPLATE = "\n[DEMOS]\n\nThe instruction was to"
"""Upstream INSTINCT's generator prompt, given as raw text (no chat template), after the soft
prompt: ``init_prompt + "[full_DEMO]\n\nThe instruction was to"`` (``run_neural_bandits.py:79,
282-283``)."""

INSTINCT_PREFIX = "The instruction was to"
"""What INSTINCT's instructions start with: upstream prepends it to the generated text and keeps
the first sentence that starts with it (``run_neural_bandits.py:204-218``)."""

INDUCTION_TEMPLATE = (
    "I gave a friend an instruction and five inputs. The friend read the instruction and wrote "
    "an output for every one of the inputs.\nHere are the input-output pairs:\n\n[DEMOS]\n\n"
    "The instruction was to"
)
"""The Instruction Induction paper's prompt (Honovich et al.): what izbench's APE used before
version 2, and what the ``human`` reference's writer and EvoPrompt's version 1 still use."""

APE_TEMPLATE = (
    "I gave a friend a instruction. Based on the instruction they produced the following "
    "input-output pairs:\n\n[DEMOS]\n\nThe instruction was to"
)
"""Upstream APE's forward-generation prompt for Instruction Induction (``[full_DEMO]`` is the
demos, ``[APE]`` where the model writes), its wording and its grammar kept."""

RESAMPLE_TEMPLATE = (
    "Generate a variation of the following instruction while keeping the semantic meaning.\n\nInput: [DEMOS]\n\nOutput:"
)
"""APE's resampling prompt; the instruction to vary takes the [DEMOS] slot."""

EVOPROMPT_PARAPHRASE_TEMPLATE = (
    "Generate a variation of the following instruction while keeping the semantic meaning.\nInput:[DEMOS]\nOutput:"
)
"""EvoPrompt's paraphrase prompt for its initial population (``llm_client.py:141-152``, 94caff3),
its spacing kept; the instruction takes the [DEMOS] slot."""
