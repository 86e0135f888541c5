"""``Idempotency-Key`` on POST /v1/fine_tuning/jobs and POST /v1/files: a retried create
returns the first object.

As in Stripe's API: the same key and project with the same body returns the object the first
request made; the same key with a different body is a 400 ``idempotency_key_reused``. Keys are
scoped to the project and the endpoint.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from openrft.db.tables import idempotency_keys
from openrft.errors import InvalidRequestError

MAX_KEY_CHARS = 255


def request_hash(body: Any) -> str:
    data = asdict(body) if hasattr(body, "__dataclass_fields__") else body
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def upload_hash(filename: str, purpose: str, stream: BinaryIO) -> str:
    """An upload's identity: name, purpose and content; ``stream`` is rewound afterwards."""
    digest = hashlib.sha256(json.dumps([filename, purpose]).encode())
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


@dataclass(frozen=True)
class IdempotencyStore:
    sessions: sessionmaker[Session]

    def earlier(self, project: str, endpoint: str, key: str, digest: str) -> str | None:
        """The object id a request with this key made, or None; 400 if its body differed."""
        if not key or len(key) > MAX_KEY_CHARS:
            raise InvalidRequestError(
                f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters.",
                param="Idempotency-Key",
            )
        query = sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.object_id).where(
            idempotency_keys.c.project == project,
            idempotency_keys.c.endpoint == endpoint,
            idempotency_keys.c.key == key,
        )
        with self.sessions() as session:
            row = session.execute(query).first()
        if row is None:
            return None
        if row.request_hash != digest:
            raise InvalidRequestError(
                f"Idempotency-Key {key!r} was already used with a different request body; "
                "use a new key for a different request.",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        return str(row.object_id)

    def once(
        self,
        project: str,
        endpoint: str,
        key: str,
        digest: str,
        make: Callable[[], str],
        discard: Callable[[str], None] | None = None,
    ) -> str:
        """The id of the object this key made: ``make()`` runs only for a new key. If a
        concurrent request with the same key recorded its object first, the one made here is
        handed to ``discard``."""
        earlier = self.earlier(project, endpoint, key, digest)
        if earlier is not None:
            return earlier
        made = make()
        kept = self.remember(project, endpoint, key, digest, made)
        if kept != made and discard is not None:
            discard(made)
        return kept

    def remember(self, project: str, endpoint: str, key: str, digest: str, object_id: str) -> str:
        """Record the object made; if a concurrent request won, the id it recorded."""
        values = dict(project=project, endpoint=endpoint, key=key, request_hash=digest)
        try:
            with self.sessions.begin() as session:
                session.execute(
                    idempotency_keys.insert().values(
                        **values, object_id=object_id, created_at=int(time.time())
                    )
                )
        except IntegrityError:
            return self.earlier(project, endpoint, key, digest) or object_id
        return object_id
