"""Model aliases: names other platforms use (``gpt-4.1``, ``o4-mini-2025-04-16``,
``openai.gpt-oss-20b``, ``qwen.qwen3-32b``) mapped to models this server has, so code written
for OpenAI or Bedrock runs unchanged. The operator sets them (``--model-alias NAME=MODEL``,
``OPENRFT_MODEL_ALIASES``); every place that takes a ``model`` (jobs, chat completions,
responses, model graders) looks names up here first. One step: an alias never names an alias.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class AliasError(ValueError):
    """An alias definition the server must refuse at startup; the message says which."""


@dataclass(frozen=True)
class ModelAliases:
    """``mapping``: alias name → model name (a base model this server accepts)."""

    mapping: Mapping[str, str] = field(default_factory=dict)

    def target(self, name: str) -> str:
        """The model an alias stands for, or ``name`` itself when it is no alias."""
        return self.mapping.get(name, name)

    def is_alias(self, name: str) -> bool:
        return name in self.mapping

    def names(self) -> list[str]:
        return sorted(self.mapping)


def parse_alias_flags(flags: Iterable[str]) -> dict[str, str]:
    """``["NAME=MODEL", ...]`` (the ``--model-alias`` flags) → ``{NAME: MODEL}``."""
    aliases: dict[str, str] = {}
    for flag in flags:
        name, sep, model = flag.partition("=")
        if not sep:
            raise AliasError(
                f"--model-alias {flag!r}: use NAME=MODEL, e.g. gpt-4.1=SmolLM2-135M-Instruct"
            )
        aliases[name.strip()] = model.strip()
    return check_aliases(aliases)


def check_aliases(aliases: Mapping[str, str]) -> dict[str, str]:
    """The aliases, or AliasError naming the first bad one."""
    for name, model in aliases.items():
        if not name or not model:
            raise AliasError(f"Model alias {name!r}={model!r}: both sides must be non-empty.")
        if name.startswith("ft:"):
            raise AliasError(f"Model alias {name!r}: 'ft:' names belong to fine-tuned models.")
        if model in aliases:
            raise AliasError(
                f"Model alias {name!r} names another alias, {model!r}; name the model itself."
            )
    return dict(aliases)
