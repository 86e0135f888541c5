"""A tenant cannot make a keyed server read or run its own files through a Lambda handler path.

Before: ``file.py:handler`` was resolved against the server's working directory, so on a keyed,
multi-tenant server any project could run a server-side ``.py`` function (e.g. the package's own
``gsm8k_reward.py``), and the errors told which paths existed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import openrft
from tests.integration.conftest import ServerHandle, start_server
from tests.integration.test_auth import create_key

KEY = "sk-security-handler-paths"
PACKAGE_REWARD = Path(openrft.__file__).parent / "demo" / "gsm8k_reward.py"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A keyed server with no --grader-base-dir (the test fixture's default is removed)."""
    data_dir = tmp_path_factory.mktemp("keyed-no-grader-dir")
    with start_server(data_dir, api_key=KEY, env={"OPENRFT_GRADER_BASE_DIR": ""}) as handle:
        yield handle


def _validate(server: ServerHandle, function: str) -> openai.BadRequestError:
    client = server.client(api_key=KEY)
    grader = {"type": "lambda", "lambda": {"function": f"{function}:lambda_handler"}}
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/fine_tuning/alpha/graders/validate", body={"grader": grader}, cast_to=object)
    return info.value


def test_keyed_server_without_a_grader_dir_runs_no_server_file(keyed: ServerHandle) -> None:
    own_code = _validate(keyed, str(PACKAGE_REWARD))
    missing = _validate(keyed, "/nonexistent/x.py")
    relative = _validate(keyed, "openrft/demo/gsm8k_reward.py")
    bodies = [e.body for e in (own_code, missing, relative)]
    assert all(b == bodies[0] for b in bodies)  # no existence oracle
    assert bodies[0]["param"] == "grader.lambda.function"
    assert "no handler file is available" in bodies[0]["message"]
    assert str(Path.cwd()) not in bodies[0]["message"]


HANDLER = (
    "def lambda_handler(event, context):\n"
    "    return [{'id': t['id'], 'aggregate_reward_score': 0.75, 'metrics_list': []}\n"
    "            for t in event]\n"
)


def _upload_handler(client: openai.OpenAI, name: str = "reward.py", source: str = HANDLER) -> str:
    return client.files.create(file=(name, source.encode()), purpose="grader").id  # type: ignore[arg-type]


def test_an_uploaded_handler_is_the_remote_users_way(keyed: ServerHandle) -> None:
    """Without any grader dir, a tenant uploads its handler (purpose "grader") and names it as
    ``file-…:lambda_handler``; it runs in the sandbox and a job can be created with it."""
    client = keyed.client(api_key=KEY)
    function = f"{_upload_handler(client)}:lambda_handler"
    grader = {"type": "lambda", "name": "uploaded", "lambda": {"function": function}}
    run = client.post(
        "/fine_tuning/alpha/graders/run",
        body={"grader": grader, "model_sample": "x", "item": {"reference_answer": "y"}},
        cast_to=object,
    )
    assert run["reward"] == 0.75  # type: ignore[index]
    rows = b'{"messages": [{"role": "user", "content": "hi"}], "reference_answer": "x"}\n'
    training = client.files.create(file=("t.jsonl", rows), purpose="fine-tune").id
    method = {"type": "reinforcement", "reinforcement": {"grader": grader}}
    raw = client.fine_tuning.jobs.with_raw_response.create(
        model="tiny-random-llama", training_file=training, method=method
    )
    stored = raw.http_response.json()["method"]["reinforcement"]["grader"]
    assert stored["lambda"]["function"] == function


def test_another_projects_upload_is_no_handler(keyed: ServerHandle) -> None:
    """Project B naming project A's handler file gets the answer a missing id gets."""
    owner = keyed.client(api_key=KEY)
    file_id = _upload_handler(owner)
    intruder = keyed.client(create_key(keyed, "team-b-handlers"))
    stolen = _validate_as(intruder, f"{file_id}:lambda_handler")
    missing = _validate_as(intruder, "file-doesnotexist:lambda_handler")
    assert stolen.body["message"].replace(file_id, "ID") == missing.body["message"].replace(  # type: ignore[index]
        "file-doesnotexist", "ID"
    )
    training = owner.files.create(file=("t.jsonl", b'{"messages": []}\n'), purpose="user_data")
    not_grader = _validate_as(owner, f"{training.id}:lambda_handler")  # wrong purpose
    assert "no grader file" in not_grader.body["message"]  # type: ignore[index]


def test_grader_uploads_are_checked_on_arrival(keyed: ServerHandle) -> None:
    client = keyed.client(api_key=KEY)
    for name, source, fragment in (
        ("reward.txt", HANDLER, ".py name"),
        ("reward.py", "def lambda_handler(event, context)\n", "does not parse"),
        ("reward.py", "x = 1\n" * 60_000, "at most 262144 bytes"),
    ):
        with pytest.raises(openai.BadRequestError, match=fragment):
            _upload_handler(client, name, source)


def _validate_as(client: openai.OpenAI, function: str) -> openai.BadRequestError:
    grader = {"type": "lambda", "lambda": {"function": function}}
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/fine_tuning/alpha/graders/validate", body={"grader": grader}, cast_to=object)
    return info.value
