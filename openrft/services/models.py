"""Models: built-in base models, the server's model aliases, and each project's fine-tuned
models and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.jobs_repo import CheckpointRepository
from openrft.db.models_repo import ModelRepository
from openrft.domain.base_models import (
    LocalModelPolicy,
    base_model_names,
    canonical_base_model,
)
from openrft.domain.model_aliases import ModelAliases
from openrft.domain.models import ModelInfo, ResolvedModel
from openrft.domain.records import ModelRecord
from openrft.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from openrft.settings import Settings
from openrft.storage.blobs import BlobStore

BASE_OWNER = "openrft"


def _not_found(model_id: str) -> NotFoundError:
    return NotFoundError(
        f"The model '{model_id}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


class ModelService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        base_names: Callable[[], list[str]] = base_model_names,
        resolve_base: Callable[[str], str] = canonical_base_model,
        aliases: ModelAliases | None = None,
    ):
        """``base_names``/``resolve_base``: the built-in bases and the name → canonical map;
        ``aliases``: names that stand for a base model (listed and served like bases)."""
        self.sessions = sessions
        self.blobs = blobs
        self.base_names = base_names
        self.resolve_base = resolve_base
        self.aliases = aliases or ModelAliases()

    def _record(self, project: str, model_id: str) -> ModelRecord | None:
        with self.sessions() as session:
            return ModelRepository(session).get(project, model_id)

    def retrieve(self, project: str, model_id: str) -> ModelInfo:
        if model_id in self.base_names() or self.aliases.is_alias(model_id):
            return ModelInfo(model_id, 0, BASE_OWNER)
        record = self._record(project, model_id)
        if record is None:
            raise _not_found(model_id)
        return ModelInfo(record.id, record.created_at, project)

    def resolve(self, project: str, model_id: str) -> ResolvedModel:
        """A fine-tuned id of this project (its weights as a local dir), any accepted base
        model name, or an alias of one."""
        if model_id.startswith("ft:"):
            record = self._fine_tuned(project, model_id)
            return ResolvedModel(
                record.id, record.base_model, self.blobs.local_path(record.blob_dir)
            )
        return ResolvedModel(model_id, self._base(model_id), None)

    def knows(self, project: str, model_id: str) -> bool:
        """True when ``resolve`` accepts ``model_id`` for ``project`` (without fetching weights)."""
        try:
            if model_id.startswith("ft:"):
                self._fine_tuned(project, model_id)
            else:
                self._base(model_id)
        except NotFoundError:
            return False
        return True

    def _fine_tuned(self, project: str, model_id: str) -> ModelRecord:
        record = self._record(project, model_id)
        if record is None:
            raise _not_found(model_id)
        return record

    def _base(self, model_id: str) -> str:
        try:
            return self.resolve_base(self.aliases.target(model_id))
        except InvalidRequestError:
            raise _not_found(model_id) from None

    def delete(self, project: str, model_id: str) -> None:
        """Delete a fine-tuned model or checkpoint model and its weights. Bases → 403."""
        if model_id in self.base_names() or self.aliases.is_alias(model_id):
            raise PermissionDeniedError(
                f"'{model_id}' is a base model and cannot be deleted; only fine-tuned models "
                "(ids starting with 'ft:') can.",
                param="model",
            )
        record = self._record(project, model_id)
        if record is None:
            raise _not_found(model_id)
        with self.sessions.begin() as session:
            ModelRepository(session).delete(model_id)
            if record.kind == "checkpoint":
                CheckpointRepository(session).delete_step(record.job_id, record.step_number)
        self.blobs.delete(record.blob_dir)

    def list(self, project: str) -> list[ModelInfo]:
        """Base models and aliases first, then this project's models in creation order."""
        with self.sessions() as session:
            records = ModelRepository(session).for_project(project)
        names = [*self.base_names(), *self.aliases.names()]
        bases = [ModelInfo(name, 0, BASE_OWNER) for name in names]
        return bases + [ModelInfo(r.id, r.created_at, project) for r in records]


def local_model_policy(settings: Settings, *, keyed: bool) -> LocalModelPolicy:
    """Local model paths: under ``--model-root`` dirs; without them any path on a keyless
    server and none on a keyed one; never inside the data dir (other projects' weights)."""
    roots = settings.model_roots
    allowed = tuple(roots) if roots is not None else (() if keyed else None)
    return LocalModelPolicy(allowed, denied=(settings.data_dir,))


def build_model_service(
    settings: Settings, sessions: sessionmaker[Session], blobs: BlobStore, *, keyed: bool
) -> ModelService:
    """The ModelService the server uses (and a worker, to check a judge's model)."""
    resolve_base = partial(canonical_base_model, policy=local_model_policy(settings, keyed=keyed))
    aliases = ModelAliases(settings.model_aliases)
    return ModelService(sessions, blobs, resolve_base=resolve_base, aliases=aliases)
