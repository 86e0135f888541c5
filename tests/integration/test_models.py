"""Models through the official SDK: base models listed, retrieved, never deletable."""

from __future__ import annotations

import openai
import pytest

from tests.integration.conftest import RFT_API_KEY, ServerHandle


def test_base_models_are_listed_and_retrievable(rft_server: ServerHandle) -> None:
    client = rft_server.client(RFT_API_KEY)
    models = {m.id: m for m in client.models.list()}
    assert {"tiny-random-llama", "SmolLM2-135M-Instruct"} <= set(models)
    assert models["tiny-random-llama"].object == "model"
    assert client.models.retrieve("SmolLM2-135M-Instruct").owned_by == "openrft"


def test_base_models_cannot_be_deleted(rft_server: ServerHandle) -> None:
    client = rft_server.client(RFT_API_KEY)
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.models.delete("tiny-random-llama")
    assert "only fine-tuned models" in info.value.message
    assert "tiny-random-llama" in [m.id for m in client.models.list()]


def test_unknown_fine_tuned_model_is_404(rft_server: ServerHandle) -> None:
    client = rft_server.client(RFT_API_KEY)
    missing = "ft:tiny-random-llama:default::ftjob-missing"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(missing)
    with pytest.raises(openai.NotFoundError):
        client.models.delete(missing)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("HuggingFaceTB/not-a-model-here")
