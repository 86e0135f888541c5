"""Tokenizer-side helpers: chat prompts to ids, and the token ids that end a turn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrft.domain.messages import normalize_messages

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
    tokenizer: Any, messages: Sequence[Mapping[str, Any]], *, add_generation_prompt: bool = True
) -> list[int]:
    """Ids of ``messages`` (normalized by ``normalize_messages``) rendered for ``tokenizer``.

    With a chat template: the template's text, encoded without extra special tokens. Without
    one: the plain fallback ``"<role>: <content>\n"`` per message, then ``"assistant: "``,
    encoded with the tokenizer's own special tokens (e.g. BOS). Training, evaluation and
    serving all call this, so a prompt has the same ids everywhere.
    """
    plain = normalize_messages(messages)
    if not getattr(tokenizer, "chat_template", None):
        text = "".join(f"{m['role']}: {m['content']}\n" for m in plain)
        if add_generation_prompt:
            text += "assistant: "
        return list(tokenizer.encode(text))
    text = tokenizer.apply_chat_template(
        plain, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return list(tokenizer.encode(text, add_special_tokens=False))
