"""Tiny random Qwen2 and Qwen3 models with their real chat templates, built locally (no hub).

The tokenizer is tiny-random-llama's byte-level one (so every character is a token) with the
template of Qwen2.5-Instruct or Qwen3 (hybrid thinking), which render tools, ``<tool_call>``
and ``<tool_response>`` themselves. The weights are seeded random: such a model writes a tool
call only when decoding is constrained to one (``tool_choice`` required or named).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

from openrft.inference.tiny_llama import build_tiny_tokenizer

_TOOLS_SYSTEM = (
    '{{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n'
    'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}\n'
    '{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}\n'
    '{{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and '
    'arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": '
    '<function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
)
_TOOL_MESSAGE = """{%- elif message.role == "tool" %}
    {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
        {{- '<|im_start|>user' }}
    {%- endif %}
    {{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}
    {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
"""
_CALLS = """{%- for tool_call in message.tool_calls %}
    {%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}
    {{- SEP + '<tool_call>\\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}
    {%- if tool_call.arguments is string %}{{- tool_call.arguments }}
    {%- else %}{{- tool_call.arguments | tojson }}{%- endif %}
    {{- '}\\n</tool_call>' }}
{%- endfor %}
"""

# Qwen2.5-Instruct: a default system prompt; tool calls after the content, each on a new line.
QWEN2_TEMPLATE = (
    "{%- if tools %}\n{{- '<|im_start|>system\\n' }}\n"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}"
    "{%- endif %}\n{{- '\\n\\n' }}\n" + _TOOLS_SYSTEM + "{%- else %}\n"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}{%- endif %}\n{%- endif %}\n"
    "{%- for message in messages %}\n"
    '{%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
    '(message.role == "assistant" and not message.tool_calls) %}\n'
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    '{%- elif message.role == "assistant" %}\n'
    "{{- '<|im_start|>' + message.role }}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}\n"
    + _CALLS.replace("SEP + ", "'\\n' + ")
    + "{{- '<|im_end|>\\n' }}\n"
    + _TOOL_MESSAGE
    + "{%- endfor %}\n"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n"
)

# Qwen3: no default system prompt; assistant turns after the last user query keep their
# reasoning; the generation prompt closes an empty think block when thinking is off.
QWEN3_TEMPLATE = (
    "{%- if tools %}\n{{- '<|im_start|>system\\n' }}\n"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}\n"
    + _TOOLS_SYSTEM
    + "{%- else %}\n{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "{%- set index = (messages|length - 1) - loop.index0 %}\n"
    '{%- if ns.multi_step_tool and message.role == "user" and message.content is string and '
    "not(message.content.startswith('<tool_response>') and "
    "message.content.endswith('</tool_response>')) %}\n"
    "{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}\n"
    "{%- endif %}\n{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "{%- if message.content is string %}{%- set content = message.content %}"
    "{%- else %}{%- set content = '' %}{%- endif %}\n"
    '{%- if (message.role == "user") or (message.role == "system" and not loop.first) %}\n'
    "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n"
    '{%- elif message.role == "assistant" %}\n'
    "{%- set reasoning_content = '' %}\n"
    "{%- if '</think>' in content %}\n"
    "{%- set reasoning_content = content.split('</think>')[0].rstrip('\\n')"
    ".split('<think>')[-1].lstrip('\\n') %}\n"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
    "{%- endif %}\n"
    "{%- if loop.index0 > ns.last_query_index %}\n"
    "{%- if loop.last or (not loop.last and reasoning_content) %}\n"
    "{{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + "
    "'\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + content }}{%- endif %}\n"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + content }}{%- endif %}\n"
    "{%- if message.tool_calls %}\n"
    + _CALLS.replace("SEP + ", "('\\n' if (loop.first and content) or (not loop.first) else '') + ")
    + "{%- endif %}\n{{- '<|im_end|>\\n' }}\n"
    + _TOOL_MESSAGE
    + "{%- endfor %}\n{%- if add_generation_prompt %}\n{{- '<|im_start|>assistant\\n' }}\n"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}\n{%- endif %}\n"
)

_SEED = 4321


def write_tiny_qwen(out_dir: Path, family: str) -> Path:
    """A ``qwen2`` or ``qwen3`` model dir (config, safetensors, tokenizer with the family's
    chat template) under ``out_dir``; returns it."""
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = {"qwen2": QWEN2_TEMPLATE, "qwen3": QWEN3_TEMPLATE}[family]
    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        if family == "qwen2":
            model: torch.nn.Module = Qwen2ForCausalLM(Qwen2Config(**common))
        else:
            model = Qwen3ForCausalLM(Qwen3Config(head_dim=16, **common))
    target = out_dir / f"tiny-random-{family}"
    model.save_pretrained(target)  # type: ignore[operator]
    tokenizer.save_pretrained(target)
    return target
