from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openrft.inference.registry import load_base_model


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def tiny(tiny_cache: Path) -> tuple[Any, Any]:
    """A fresh (model, tokenizer) of tiny-random-llama (same seeded weights every time)."""
    return load_base_model("tiny-random-llama", cache_dir=tiny_cache)
