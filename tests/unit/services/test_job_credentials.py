"""Job credentials: signed with a private secret, bound to one job and project, expiring."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from openrft.services.job_credentials import InvalidJobCredential, JobClaims, JobCredentials


def test_a_credential_says_its_job_and_project(tmp_path: Path) -> None:
    credentials = JobCredentials(tmp_path)
    claims = credentials.verify(credentials.issue("ftjob-1", "team-b", 60))
    assert (claims.job_id, claims.project) == ("ftjob-1", "team-b")
    assert isinstance(claims, JobClaims)
    secret = tmp_path / "secrets" / "job-credential"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    # Another process on the same data dir (the worker) checks what the server issued.
    again = JobCredentials(tmp_path).verify(credentials.issue("ftjob-1", "team-b", 60))
    assert (again.job_id, again.project) == (claims.job_id, claims.project)


@pytest.mark.parametrize("bad", ["", "x.y", "sk-openrft-job-abc", "sk-openrft-job-a.b.c"])
def test_malformed_credentials_are_invalid(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidJobCredential):
        JobCredentials(tmp_path).verify(bad)


def test_expired_or_foreign_credentials_are_invalid(tmp_path: Path) -> None:
    credentials = JobCredentials(tmp_path)
    with pytest.raises(InvalidJobCredential, match="expired"):
        credentials.verify(credentials.issue("ftjob-1", "p", -1))
    foreign = JobCredentials(tmp_path / "other").issue("ftjob-1", "p", 60)
    with pytest.raises(InvalidJobCredential, match="signature"):
        credentials.verify(foreign)
