"""Tokenizer-side helpers: chat prompts to ids, and the token ids that end a turn.

``encode_chat`` is the only prompt renderer: training (``TokenizerCodec``), evaluation,
multi-turn rollouts (``encode_continuation``) and serving all call it, so a model sees the same
ids for the same conversation everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrft.domain.messages import normalize_messages
from openrft.domain.tool_format import template_renders_tools, to_default_format
from openrft.domain.tools import normalize_tools

# Tokens that end an assistant turn in common chat templates (ChatML, Llama 3, Phi, Gemma).
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")
# The plain fallback (no chat template) ends every message with a newline.
_PLAIN_END = "\n"


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


def render_chat(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """The text of ``messages`` (normalized by ``normalize_messages``) for ``tokenizer``.

    A chat template that renders tools itself (Qwen2/Qwen3: ``<tool_call>``) gets the messages
    and ``tools`` as they are; any other template gets them in the default tool format
    (``openrft.domain.tool_format.to_default_format``), which leaves tool-free conversations
    untouched. Without a template: ``"<role>: <content>\\n"`` per message, then
    ``"assistant: "``.
    """
    normalized = normalize_messages(messages)
    tool_list = normalize_tools(list(tools)) if tools else None
    template = getattr(tokenizer, "chat_template", None)
    if template_renders_tools(template):
        return str(
            tokenizer.apply_chat_template(
                normalized,
                tools=tool_list,
                tokenize=False,
                add_generation_prompt=add_generation_prompt,
            )
        )
    plain = to_default_format(normalized, tool_list)
    if not template:
        text = "".join(f"{m['role']}: {m['content']}{_PLAIN_END}" for m in plain)
        return text + ("assistant: " if add_generation_prompt else "")
    return str(
        tokenizer.apply_chat_template(
            plain, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    )


def encode_chat(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
) -> list[int]:
    """Ids of ``render_chat``'s text: a template's text is encoded without extra special
    tokens; the plain fallback with the tokenizer's own (e.g. BOS)."""
    text = render_chat(
        tokenizer, messages, tools=tools, add_generation_prompt=add_generation_prompt
    )
    special = not getattr(tokenizer, "chat_template", None)
    return list(tokenizer.encode(text, add_special_tokens=special))


def encode_continuation(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    turn_end: int,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> list[int]:
    """Ids that follow a turn the model wrote, up to the cue for its next turn.

    ``messages[turn_end - 1]`` is that assistant turn, whose sampled ids ended with an
    end-of-turn token; the messages after it (tool results) are new. The ids are what the
    conversation's rendering has after that turn's end-of-turn token: the template's
    separator, the new messages and the assistant cue. So prompt + sampled turns +
    continuations is the token sequence ``encode_chat`` gives the same conversation, up to how
    the model spaced its own turns (templates such as Qwen3's re-render earlier assistant turns,
    so the turn is found by counting end-of-turn tokens, not by comparing text).
    """
    before = render_chat(tokenizer, messages[:turn_end], tools=tools, add_generation_prompt=False)
    after = render_chat(tokenizer, messages, tools=tools, add_generation_prompt=True)
    if getattr(tokenizer, "chat_template", None):
        marker = max(_END_OF_TURN, key=before.rfind)
        if marker not in before:
            raise ValueError("the chat template ends turns with no known end-of-turn token")
        position = -1
        for _ in range(before.count(marker)):
            position = after.index(marker, position + 1)
        text = after[position + len(marker) :]
    else:
        text = _PLAIN_END + after[len(before) :]
    return list(tokenizer.encode(text, add_special_tokens=False))


def encode_assistant_turn(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> list[int]:
    """Ids of the last message (an assistant turn) as the model writes it after the cue of
    ``encode_chat(messages[:-1])``: its text (tool calls in the rendered format) through the
    end-of-turn token. Supervised and DPO training learn exactly these ids, so a tuned model
    produces, and stops, the way serving reads its output."""
    head = render_chat(tokenizer, messages[:-1], tools=tools, add_generation_prompt=True)
    full = render_chat(tokenizer, messages, tools=tools, add_generation_prompt=False)
    if not full.startswith(head):
        raise ValueError("the chat template renders earlier turns differently once answered")
    text = full[len(head) :]
    if not getattr(tokenizer, "chat_template", None):
        ids = list(tokenizer.encode(text.removesuffix(_PLAIN_END), add_special_tokens=False))
        return [*ids, int(tokenizer.eos_token_id)]
    marker = max(_END_OF_TURN, key=text.rfind)
    if marker not in text:
        raise ValueError("the chat template ends turns with no known end-of-turn token")
    return list(
        tokenizer.encode(text[: text.rfind(marker) + len(marker)], add_special_tokens=False)
    )
