"""Accepted base model names and their canonical form: the one list of built-in bases.

No torch here, so the API process validates a job without importing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from openrft.errors import InvalidRequestError

TINY_RANDOM_LLAMA = "tiny-random-llama"
# Tiny random models of the seed's families (Qwen3, gpt-oss), built offline for tests on CPU.
TINY_RANDOM_QWEN3 = "tiny-random-qwen3"
TINY_RANDOM_GPT_OSS = "tiny-random-gpt-oss"
SMOLLM2 = "SmolLM2-135M-Instruct"
_ALIASES = {
    TINY_RANDOM_LLAMA: TINY_RANDOM_LLAMA,
    TINY_RANDOM_QWEN3: TINY_RANDOM_QWEN3,
    TINY_RANDOM_GPT_OSS: TINY_RANDOM_GPT_OSS,
    SMOLLM2: SMOLLM2,
    "HuggingFaceTB/SmolLM2-135M-Instruct": SMOLLM2,
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def base_model_names() -> list[str]:
    """The built-in base model ids (canonical names, no aliases)."""
    return [TINY_RANDOM_LLAMA, SMOLLM2, TINY_RANDOM_QWEN3, TINY_RANDOM_GPT_OSS]


def canonical_base_name(name: str) -> str:
    """Map an accepted base model id to its canonical form.

    Built-in names and aliases → the built-in name; a local HF dir or ``.gguf`` file → its
    absolute path; a hub id (``org/name``) → unchanged. Anything else raises
    ``InvalidRequestError(param="model")``.
    """
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        path = Path(name).expanduser()
    except RuntimeError:  # "~user" of no known user: no such path
        raise InvalidRequestError(f"The model '{name}' does not exist.", param="model") from None
    if path.is_dir() and (path / "config.json").is_file():
        return str(path.resolve())
    if path.suffix == ".gguf" and path.is_file():
        return str(path.resolve())
    if _HUB_ID.match(name) and not path.exists():
        return name
    raise InvalidRequestError(f"The model '{name}' does not exist.", param="model")


@dataclass(frozen=True)
class LocalModelPolicy:
    """Which local directories and ``.gguf`` files may be named as a base model.

    ``roots`` None allows any path (a single-user, keyless server); otherwise only paths under
    one of ``roots``. Paths under ``denied`` (the data dir: other projects' weights) never."""

    roots: tuple[Path, ...] | None
    denied: tuple[Path, ...] = ()

    def allows(self, path: Path) -> bool:
        if any(path.is_relative_to(d.resolve()) for d in self.denied):
            return False
        return self.roots is None or any(path.is_relative_to(r.resolve()) for r in self.roots)


def canonical_base_model(
    name: object, *, param: str = "model", policy: LocalModelPolicy | None = None
) -> str:
    """Canonical id of an accepted base model name; 400 naming ``param`` otherwise (also for a
    local path ``policy`` does not allow: the same answer as for one that does not exist)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError("'model' must be a non-empty string.", param=param)
    try:
        canonical = canonical_base_name(name)
        if (
            policy is not None
            and Path(canonical).is_absolute()
            and not policy.allows(Path(canonical))
        ):
            raise InvalidRequestError(f"The model '{name}' does not exist.", param=param)
        return canonical
    except InvalidRequestError as exc:
        raise InvalidRequestError(
            f"The model '{name}' does not exist. Use one of {', '.join(base_model_names())}, "
            "a local Hugging Face model directory, a .gguf file or a hub id 'org/name'.",
            param=param,
            code="model_not_found",
        ) from exc
