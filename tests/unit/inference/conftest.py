"""Models for the inference tests, loaded once per session from a persistent conversion cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from openrft.inference.registry import load_base_model

# Converting SmolLM2 from GGUF takes ~40 s; keep the result across test sessions.
MODEL_CACHE = Path(
    os.environ.get("OPENRFT_TEST_MODEL_CACHE", Path.home() / ".cache" / "openrft-test" / "models")
)


@pytest.fixture(scope="session")
def tiny() -> tuple[Any, Any]:
    """``(model, tokenizer)`` of tiny-random-llama."""
    return load_base_model("tiny-random-llama", cache_dir=MODEL_CACHE)


@pytest.fixture(scope="session")
def smollm2() -> tuple[Any, Any]:
    """``(model, tokenizer)`` of SmolLM2-135M-Instruct (float32)."""
    return load_base_model("SmolLM2-135M-Instruct", cache_dir=MODEL_CACHE)
