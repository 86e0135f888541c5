"""User code never sees the server's environment or data dir, and weak isolation is opt-in.

Before: without bubblewrap the sandbox fell back to ``unshare`` on its own. That mode kept the
server's whole environment (API keys, cloud and database credentials) and saw the data dir,
created 0755 with the SQLite database 0644, and ``graders/run`` sent back whatever the grader
read (in its error details).
"""

from __future__ import annotations

import re
import stat
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openrft.graders import GraderContext, SandboxLimits, build_grader, validate_grader
from openrft.graders.sandbox import launch
from openrft.graders.types import ValidationContext
from openrft.services.job_requests import check_tools
from tests.integration.conftest import ServerHandle, start_server
from tests.unit.graders.conftest import make_request

KEY = "sk-security-sandbox"
NO_SANDBOX_CHECKED = ValidationContext(sandbox="auto")
STRING_CHECK = {
    "type": "string_check",
    "name": "s",
    "input": "a",
    "reference": "a",
    "operation": "eq",
}
CANARY = "canary-aws-secret-0123456789"
SECRET = "canary-weights-9876543210"
ROW = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
# What a tenant's grader would try: read every variable and the data dir, and send it all back
# in the error details of graders/run.
SNOOP = textwrap.dedent(
    """
    import os

    def grade(sample, item):
        found = dict(os.environ)
        try:
            for root, _, names in os.walk(item["data_dir"]):
                for name in names:
                    with open(os.path.join(root, name), errors="replace") as handle:
                        found[name] = handle.read()
        except OSError as exc:
            found["error"] = str(exc)
        raise ValueError(repr(found))
    """
)


@pytest.fixture(scope="module")
def unshare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A keyed server whose operator opted in to the ``unshare`` mode, holding a cloud secret
    in its environment."""
    data_dir = tmp_path_factory.mktemp("sandbox-unshare") / "data"
    env = {"OPENRFT_SANDBOX_ISOLATION": "unshare", "AWS_SECRET_ACCESS_KEY": CANARY}
    with start_server(data_dir, api_key=KEY, env=env) as handle:
        yield handle


def _run_snoop(server: ServerHandle) -> dict[str, Any]:
    client = server.client()
    body = {
        "grader": {"type": "python", "source": SNOOP},
        "model_sample": "x",
        "item": {"data_dir": str(server.data_dir)},
    }
    result: dict[str, Any] = client.post(
        "/fine_tuning/alpha/graders/run", body=body, cast_to=object
    )
    return result


def test_unshare_mode_shows_neither_environment_nor_data_dir(unshare_server: ServerHandle) -> None:
    client = unshare_server.client()
    client.files.create(file=("w.jsonl", ROW), purpose="fine-tune")
    (unshare_server.data_dir / "weights.txt").write_text(SECRET)
    result = _run_snoop(unshare_server)
    details = result["metadata"]["errors"]["python_grader_runtime_error_details"]
    assert "ValueError" in details  # the grader ran and reported what it read
    # The one key it may hold is the judge relay's own (chat on the job's project's models
    # through the relay only, worthless anywhere else); no other key of any kind.
    details = re.sub(r"sk-judge-[\w-]+", "", details)
    for leaked in (CANARY, KEY, SECRET, "sk-", "OPENRFT_"):
        assert leaked not in details
    assert (unshare_server.data_dir / "weights.txt").read_text() == SECRET  # hidden only inside


def test_weak_isolation_is_announced_at_startup(unshare_server: ServerHandle) -> None:
    assert "WITHOUT file system isolation" in unshare_server.log_tail(200)


def test_data_dir_is_private(unshare_server: ServerHandle) -> None:
    """Before: 0755 and a 0644 database, readable by every local user."""
    client = unshare_server.client()
    client.files.create(file=("p.jsonl", ROW), purpose="fine-tune")
    data_dir = unshare_server.data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    database = data_dir / "openrft.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert blobs
    for path in blobs:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def _snoop_grader(mode: str, data_dir: Path) -> Any:
    limits = SandboxLimits(wall_time_s=20.0, workers=1, isolation=mode, hidden=(str(data_dir),))
    spec = validate_grader({"type": "python", "source": SNOOP})
    return build_grader(spec, GraderContext(sandbox=limits))


@pytest.fixture
def open_data_dir() -> Iterator[Path]:
    """A world-readable data dir, as they were made before, holding weights."""
    with tempfile.TemporaryDirectory(prefix="openrft-open-data-") as name:
        data_dir = Path(name)
        data_dir.chmod(0o755)
        (data_dir / "weights.txt").write_text(SECRET)
        (data_dir / "weights.txt").chmod(0o644)
        yield data_dir


@pytest.mark.parametrize("mode", ["bwrap", "unshare", "none"])
async def test_no_mode_passes_on_the_servers_environment(
    mode: str, open_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the mode keeps the grader out of this data dir: ``none`` does not, which is why
    it is the operator's explicit choice."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)
    grader = _snoop_grader(mode, open_data_dir)
    try:
        [result] = await grader.grade([make_request("x", {"data_dir": str(open_data_dir)})])
    finally:
        await grader.aclose()
    details = result.errors["python_grader_runtime_error_details"]
    assert "ValueError" in details
    assert CANARY not in details
    assert (SECRET in details) == (mode == "none")
    assert (open_data_dir / "weights.txt").read_text() == SECRET  # hidden only in the sandbox


def test_without_bubblewrap_user_code_is_refused_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before: a machine without a working bwrap fell back to weaker modes silently."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap, no unshare
    launch._probe.cache_clear()
    try:
        with pytest.raises(launch.SandboxUnavailableError) as info:
            _snoop_grader("auto", tmp_path)
        assert info.value.code == "sandbox_unavailable"
        assert "--sandbox-isolation" in info.value.message
        with pytest.raises(launch.SandboxUnavailableError):  # at validation, not at run time
            validate_grader({"type": "python", "source": SNOOP}, ctx=NO_SANDBOX_CHECKED)
        with pytest.raises(launch.SandboxUnavailableError):
            check_tools(
                [{"type": "python", "source": "def f(x):\n    return x\n"}], NO_SANDBOX_CHECKED
            )
        assert validate_grader(STRING_CHECK, ctx=NO_SANDBOX_CHECKED)  # no user code: fine
        warning = launch.isolation_warning("auto")
        assert warning is not None and "bubblewrap does not work" in warning
    finally:
        launch._probe.cache_clear()
