"""``integrations`` at job creation: OpenAI's wandb shape, the mlflow extension, and a 400 for
a missing package or missing credentials (never a failure mid-run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openrft.errors import InvalidRequestError
from openrft.trackers.spec import check_integrations, wandb_credentials

OFFLINE = {"WANDB_MODE": "offline"}


def check(value: Any, environ: dict[str, str] | None = None, **kw: Any) -> Any:
    return check_integrations(
        value, job_id="ftjob-1", available=lambda _: True, environ=environ or OFFLINE, **kw
    )


def param_of(value: Any, **kw: Any) -> str | None:
    with pytest.raises(InvalidRequestError) as caught:
        check(value, **kw)
    return caught.value.param


def test_wandb_is_echoed_as_openai_does_with_the_job_id_as_run_id() -> None:
    got = check([{"type": "wandb", "wandb": {"project": "p", "tags": ["a"]}}])
    assert got == [
        {
            "type": "wandb",
            "wandb": {
                "project": "p",
                "name": None,
                "entity": None,
                "tags": ["a"],
                "run_id": "ftjob-1",
            },
        }
    ]


def test_mlflow_extension_is_normalized() -> None:
    got = check([{"type": "mlflow", "mlflow": {"experiment_name": "e", "tags": {"k": "v"}}}])
    assert got == [
        {"type": "mlflow", "mlflow": {"experiment_name": "e", "run_name": None, "tags": {"k": "v"}}}
    ]
    assert check(None) is None


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ({"type": "wandb"}, "integrations"),
        ([{"type": "wandb", "wandb": {"project": "p"}}] * 6, "integrations"),
        (["wandb"], "integrations.0.type"),
        ([{"type": "wandb", "wandb": {"project": "p"}, "extra": 1}], "integrations.0.extra"),
        ([{"type": "wandb"}], "integrations.0.wandb"),
        ([{"type": "wandb", "wandb": {"project": ""}}], "integrations.0.wandb.project"),
        ([{"type": "wandb", "wandb": {"project": "p", "team": "t"}}], "integrations.0.wandb.team"),
        ([{"type": "wandb", "wandb": {"project": "p", "tags": "a"}}], "integrations.0.wandb.tags"),
        (
            [{"type": "wandb", "wandb": {"project": "p", "tags": ["x" * 65]}}],
            "integrations.0.wandb.tags",
        ),
        ([{"type": "mlflow", "mlflow": {}}], "integrations.0.mlflow.experiment_name"),
        (
            [{"type": "mlflow", "mlflow": {"experiment_name": "e", "tags": {"k": 1}}}],
            "integrations.0.mlflow.tags",
        ),
    ],
)
def test_bad_shapes_name_the_field(value: Any, param: str) -> None:
    assert param_of(value) == param


def test_a_missing_package_is_a_400_naming_the_extra() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_integrations(
            [{"type": "wandb", "wandb": {"project": "p"}}],
            job_id="ftjob-1",
            available=lambda name: name != "wandb",
            environ=OFFLINE,
        )
    assert caught.value.code == "integration_unavailable"
    assert caught.value.param == "integrations.0.wandb"
    assert "openrft[trackers]" in caught.value.message


def test_wandb_without_credentials_is_a_400(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    with pytest.raises(InvalidRequestError) as caught:
        check([{"type": "wandb", "wandb": {"project": "p"}}], environ={"WANDB_MODE": "online"})
    assert "WANDB_API_KEY" in caught.value.message
    assert caught.value.code == "integration_unavailable"


def test_wandb_credentials_come_from_mode_key_or_netrc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert wandb_credentials({"WANDB_MODE": "offline"})
    assert wandb_credentials({"WANDB_API_KEY": "k"})
    assert not wandb_credentials({})
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine wandb.example.org login user password secret\n")
    netrc.chmod(0o600)
    assert not wandb_credentials({})
    assert wandb_credentials({"WANDB_BASE_URL": "https://wandb.example.org"})
