"""Tokenizer-side helpers: chat prompts to ids, and the token ids that end a turn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Tokens that end an assistant turn in common chat templates (ChatML, Llama 3, Phi, Gemma).
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


def default_stop_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """eos of the tokenizer and of the model's generation config, plus known end-of-turn tokens."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    if eos is not None:
        ids.update(int(i) for i in (eos if isinstance(eos, list) else [eos]))
    vocab = tokenizer.get_vocab()
    ids.update(vocab[token] for token in _END_OF_TURN if token in vocab)
    return sorted(ids)


def encode_chat(
    tokenizer: Any, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
) -> list[int]:
    """Render ``messages`` (``{"role", "content"}`` dicts) with the chat template, to ids."""
    if not getattr(tokenizer, "chat_template", None):
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
        if add_generation_prompt:
            text += "assistant: "
        return list(tokenizer.encode(text))
    text = tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return list(tokenizer.encode(text, add_special_tokens=False))
