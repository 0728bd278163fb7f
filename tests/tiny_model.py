"""A tiny random-weight causal LM saved as a transformers directory, for tests of logic.

Tests whose assertions are about control flow (cache, replay, lockstep, budgets, stores, the CLI)
need a model that behaves like one (a tokenizer with a chat template, batched left-padded
forward passes, soft prompts, sampling) but not one that knows anything. This one is a
two-layer Llama with a byte-level tokenizer (256 byte tokens and three special ones, no merges) that writes printable text
and ~250k parameters: it loads in a fraction of a second and decodes a step in about a
millisecond. The weights come from a private generator with a fixed seed, so the directory (and
its digest, its identity in cache keys) is the same in every test session on every machine.

Tests reach it exactly as a user reaches their own model directory: ``generator`` and
``blackbox_model`` set to its path (``Settings`` or ``IZBENCH_GENERATOR`` /
``IZBENCH_BLACKBOX_MODEL``).
"""

from __future__ import annotations

from pathlib import Path

SEED = 20261201
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML, as SmolLM2 uses it (without its default system turn)."""


def build_tiny_model(target: Path) -> Path:
    """Write the tiny model into ``target`` (created) and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbol = bytes_to_unicode()  # byte -> the printable character byte-level BPE names it by
    vocab = {symbol[b]: b for b in range(256)}  # token id = byte value
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(list(SPECIALS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=SPECIALS[0],
        eos_token=SPECIALS[2],
        pad_token=SPECIALS[0],
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
    )
    ids = {name: 256 + k for k, name in enumerate(SPECIALS)}
    config = LlamaConfig(
        vocab_size=256 + len(SPECIALS),
        hidden_size=96,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=ids[SPECIALS[0]],
        eos_token_id=ids[SPECIALS[2]],
        pad_token_id=ids[SPECIALS[0]],
    )
    # transformers initialises from torch's global RNG: keep that draw off the caller's stream,
    # then overwrite every weight from a private generator (the values are what is seeded).
    with torch.random.fork_rng(devices=[]):
        model = LlamaForCausalLM(config)
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                parameter.fill_(1.0)
            else:
                # Larger than a trained model's spread, so that different prompts (and soft
                # prompts) lead greedy decoding to different texts.
                parameter.normal_(0.0, 0.5 if "embed" in name else 0.2, generator=generator)
        # Only printable ASCII, newline and the end of a turn can be written (other rows of the
        # output layer are zero, so their logit is 0 against the others' spread): texts stay
        # text, as a trained model's do, and end now and then.
        writable = [*range(32, 127), 10, ids[SPECIALS[2]]]
        keep = torch.zeros(config.vocab_size, 1)
        keep[writable] = 1.0
        model.lm_head.weight.mul_(keep)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target
