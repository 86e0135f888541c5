"""Property-based requests from the server's own OpenAPI document: no request gets a 5xx.

The schema is the app's ``openapi()`` (what ``/openapi.json`` serves, checked below), so the
operations are known at collection time. ``MAX_EXAMPLES`` per operation bounds the run to about
a minute or two.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from openrft.api.app import create_app
from openrft.settings import Settings
from tests.integration.conftest import FAKE_WORKER, ServerHandle, start_server

KEY = "sk-schemathesis"
MAX_EXAMPLES = 25
OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
# Valid and invalid inputs both; NUL bytes included (they once gave a 500).
schema.config.generation.update(modes=list(GenerationMode), allow_x00=True)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    env = {"OPENRFT_WORKER_COMMAND": json.dumps([sys.executable, str(FAKE_WORKER)])}
    with start_server(tmp_path_factory.mktemp("schemathesis"), api_key=KEY, env=env) as handle:
        yield handle


def test_the_served_document_is_the_one_tested(live: ServerHandle) -> None:
    assert httpx.get(f"{live.root_url}/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.timeout(300)
def test_no_server_errors(case: schemathesis.Case, live: ServerHandle) -> None:
    response = case.call(
        base_url=live.root_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
