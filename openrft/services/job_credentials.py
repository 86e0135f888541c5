"""Job credentials: how a training worker calls this server as its job's project, and only so.

A model grader in the worker calls the server's own ``/v1/chat/completions``. It must act as
the job's project (the models it may grade with are that project's), not as the project of
whatever key the server was started with. The worker signs a credential with a secret in the
data dir (0600, hidden from sandboxes):
``sk-openrft-job-<payload>.<signature>``, the payload naming the job, its project and an
expiry. The server accepts it only for the paths in ``JOB_CREDENTIAL_PATHS``, only before it
expires and only while the job is ``running``: a credential dies with its job run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

JOB_CREDENTIAL_PREFIX = "sk-openrft-job-"
JOB_CREDENTIAL_PATHS = frozenset({"/v1/chat/completions"})
SECRET_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class JobClaims:
    """What a valid credential says: the job, its project, and when it stops being valid."""

    job_id: str
    project: str
    expires_at: float


class InvalidJobCredential(ValueError):
    """Forged, altered, expired or malformed."""


class JobCredentials:
    """Issues and checks job credentials with the secret ``<data_dir>/secrets/job-credential``."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / "secrets" / "job-credential"
        self._cached: bytes | None = None

    def _secret(self) -> bytes:
        """The signing secret, made on first use (0600; a concurrent maker's secret wins)."""
        if self._cached is not None:
            return self._cached
        if not self.path.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_bytes(SECRET_BYTES))
        secret = self.path.read_bytes()
        if len(secret) != SECRET_BYTES:
            raise InvalidJobCredential("the job credential secret is not written yet")
        self._cached = secret
        return secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret(), payload, hashlib.sha256).digest()

    def issue(self, job_id: str, project: str, lifetime_s: float) -> str:
        """A credential for ``job_id`` of ``project`` valid for ``lifetime_s`` seconds."""
        claims = {"job": job_id, "project": project, "exp": time.time() + lifetime_s}
        payload = json.dumps(claims, sort_keys=True).encode()
        return f"{JOB_CREDENTIAL_PREFIX}{_b64(payload)}.{_b64(self._sign(payload))}"

    def verify(self, credential: str) -> JobClaims:
        """The claims of an authentic, unexpired credential; InvalidJobCredential otherwise."""
        body = credential.removeprefix(JOB_CREDENTIAL_PREFIX)
        try:
            encoded, signature = body.split(".")
            payload = _unb64(encoded)
            given = _unb64(signature)
        except (ValueError, binascii.Error) as exc:
            raise InvalidJobCredential("malformed") from exc
        if not hmac.compare_digest(given, self._sign(payload)):
            raise InvalidJobCredential("bad signature")
        claims = json.loads(payload)
        if claims["exp"] < time.time():
            raise InvalidJobCredential("expired")
        return JobClaims(claims["job"], claims["project"], float(claims["exp"]))


def is_job_credential(key: str) -> bool:
    return key.startswith(JOB_CREDENTIAL_PREFIX)
