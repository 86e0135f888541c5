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
