"""API keys: created per project, stored as sha256 hashes, checked on every /v1 request."""

from __future__ import annotations

import hashlib
import re
import time

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.files_repo import KeyRepository
from openrft.db.jobs_repo import JobRepository
from openrft.domain.jobs import JobStatus
from openrft.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    PermissionDeniedError,
)
from openrft.ids import new_id, random_suffix
from openrft.services.job_credentials import (
    JOB_CREDENTIAL_PATHS,
    InvalidJobCredential,
    JobCredentials,
    is_job_credential,
)

DEFAULT_PROJECT = "default"
KEY_PREFIX = "sk-openrft-"
# The project name appears inside model ids (``ft:base:{project}:…``), so no colons.
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def hash_key(key: str) -> str:
    """Hex sha256 of the key: only this is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_project_name(project: str) -> str:
    if not _PROJECT_NAME.match(project):
        raise InvalidRequestError(
            f"Invalid project name {project!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            param="project",
        )
    return project


class KeyService:
    """Project keys, and (with ``credentials``) the job credentials of training workers."""

    def __init__(
        self, sessions: sessionmaker[Session], credentials: JobCredentials | None = None
    ) -> None:
        self.sessions = sessions
        self.credentials = credentials

    def create(self, project: str) -> str:
        """A new random key for ``project``; the plain key is returned once and never stored."""
        key = KEY_PREFIX + random_suffix(40)
        self.register(project, key)
        return key

    def register(self, project: str, key: str) -> None:
        """Store ``key`` for ``project``; registering the same key again is a no-op."""
        check_project_name(project)
        if not key.strip():
            raise InvalidRequestError("The API key must not be empty.", param="api_key")
        digest = hash_key(key)
        with self.sessions.begin() as session:
            repo = KeyRepository(session)
            owner = repo.project_for_hash(digest)
            if owner == project:
                return
            if owner is not None:
                raise ConflictError("This API key is already registered for another project.")
            repo.add(new_id("key_"), project, digest, int(time.time()))

    def auth_required(self) -> bool:
        with self.sessions() as session:
            return KeyRepository(session).any_exist()

    def authenticate(self, authorization: str | None, path: str | None = None) -> str:
        """The project of the bearer key; ``default`` when no key exists at all.

        ``authorization``: the raw ``Authorization`` header value, or None; ``path``: the
        request's path, which decides whether a job credential may be used.
        """
        if not self.auth_required():
            return DEFAULT_PROJECT
        key = bearer_key(authorization)
        if key is None:
            raise AuthenticationError(
                "Missing API key: send 'Authorization: Bearer <key>' "
                "(create one with `openrft keys create --project NAME`)."
            )
        if self.credentials is not None and is_job_credential(key):
            return self._job_project(self.credentials, key, path)
        with self.sessions() as session:
            project = KeyRepository(session).project_for_hash(hash_key(key))
        if project is None:
            raise AuthenticationError(f"Incorrect API key provided: {_redact(key)}.")
        return project

    def _job_project(self, credentials: JobCredentials, key: str, path: str | None) -> str:
        """The project of a job credential that is authentic, unexpired, used on a path it
        allows, and whose job is running in that project."""
        try:
            claims = credentials.verify(key)
        except InvalidJobCredential:
            raise AuthenticationError(f"Incorrect API key provided: {_redact(key)}.") from None
        if path not in JOB_CREDENTIAL_PATHS:
            allowed = ", ".join(sorted(JOB_CREDENTIAL_PATHS))
            raise PermissionDeniedError(
                f"A job credential may only call {allowed}; use a project API key.",
                code="insufficient_scope",
            )
        with self.sessions() as session:
            job = JobRepository(session).get(claims.job_id, claims.project)
        if job is None or job.status != JobStatus.RUNNING:
            raise AuthenticationError(
                f"This job credential belonged to {claims.job_id}, which is not running."
            )
        return claims.project


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header value, or None."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    return authorization[len("bearer ") :].strip() or None


def _redact(key: str) -> str:
    return key[:6] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
