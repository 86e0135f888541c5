"""A tenant cannot use another project's weights, or any server path, by naming it as ``model``.

Before: ``model`` accepted any local Hugging Face directory, so on a keyed server project B
could chat with, or train from, project A's fine-tuned weights under the data dir by naming
their path (``<data_dir>/blobs/models/ftjob-…``), and could probe the server's file system.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from openrft.inference.tiny_llama import write_tiny_llama
from tests.integration.conftest import ServerHandle, start_server
from tests.integration.test_auth import create_key

KEY_A = "sk-security-model-paths-a"
ROW = {"messages": [{"role": "user", "content": "hi"}], "reference_answer": "x"}
GRADER = {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("weights") / "tiny"
    write_tiny_llama(out)
    return out


def _server(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]
) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("model-paths"), api_key=KEY_A, env=env) as handle:
        yield handle


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    yield from _server(tmp_path_factory, {})


def _job(client: openai.OpenAI, model: str) -> object:
    data = json.dumps(ROW).encode()
    file_id = client.files.create(file=("t.jsonl", data), purpose="fine-tune").id
    method = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}
    return client.fine_tuning.jobs.create(model=model, training_file=file_id, method=method)


def test_weights_inside_the_data_dir_are_no_model(keyed: ServerHandle) -> None:
    stolen = keyed.data_dir / "blobs" / "models" / "ftjob-of-project-a"
    write_tiny_llama(stolen)  # stands for project A's fine-tuned weights
    intruder = keyed.client(create_key(keyed, "team-b"))
    for name in (str(stolen), str(stolen / ".." / "ftjob-of-project-a")):
        with pytest.raises(openai.NotFoundError) as chat:
            intruder.chat.completions.create(
                model=name, messages=[{"role": "user", "content": "x"}]
            )
        assert chat.value.body["code"] == "model_not_found"
        with pytest.raises(openai.BadRequestError) as job:
            _job(intruder, name)
        assert job.value.body["param"] == "model"


def test_keyed_server_refuses_local_paths_without_model_roots(
    keyed: ServerHandle, weights: Path
) -> None:
    client = keyed.client()
    with pytest.raises(openai.BadRequestError) as existing:
        _job(client, str(weights))
    with pytest.raises(openai.BadRequestError) as missing:
        _job(client, str(weights.parent / "nothing-here"))
    # No oracle: an existing directory and a missing one get the same answer.
    assert existing.value.body["message"].replace(str(weights), "P") == missing.value.body[
        "message"
    ].replace(str(weights.parent / "nothing-here"), "P")


def test_model_roots_admit_paths_under_them(
    tmp_path_factory: pytest.TempPathFactory, weights: Path
) -> None:
    env = {"OPENRFT_MODEL_ROOTS": json.dumps([str(weights.parent)])}
    for server in _server(tmp_path_factory, env):
        job = _job(server.client(), str(weights))
        assert job.model == str(weights.resolve())  # type: ignore[attr-defined]
