"""The per-project disk quota: uploads and results (``files``) plus the weights of checkpoints
and fine-tuned models (``models.bytes``). Uploads past it are a 413 (``FileService``), new jobs
of a project at it a 403, and a checkpoint that would pass it fails its job."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.files_repo import FileRepository
from openrft.db.models_repo import ModelRepository
from openrft.errors import PermissionDeniedError

SETTING = "OPENRFT_PROJECT_DISK_QUOTA_BYTES"


class QuotaExceededError(PermissionDeniedError):
    default_code = "quota_exceeded"


def used_bytes(session: Session, project: str) -> int:
    """What ``project`` stores: files, checkpoints and fine-tuned models."""
    return FileRepository(session).total_bytes(project) + ModelRepository(session).total_bytes(
        project
    )


@dataclass(frozen=True)
class ProjectQuota:
    """``limit_bytes`` None: no quota."""

    sessions: sessionmaker[Session]
    limit_bytes: int | None

    def used(self, project: str) -> int:
        with self.sessions() as session:
            return used_bytes(session, project)

    def check_job_room(self, project: str) -> None:
        """QuotaExceededError when ``project`` already fills its quota: its job's checkpoints
        would have no room."""
        if self.limit_bytes is None:
            return
        used = self.used(project)
        if used >= self.limit_bytes:
            raise QuotaExceededError(
                f"Project {project!r} stores {used} bytes, its whole disk quota of "
                f"{self.limit_bytes} bytes ({SETTING}); a new job would have no room for "
                "checkpoints. Delete files or fine-tuned models, or raise the quota."
            )

    def check_checkpoint_room(self, project: str, step: int, size: int, replaces: int) -> None:
        """QuotaExceededError when a checkpoint of ``size`` bytes (replacing one of ``replaces``
        bytes) would take ``project`` past its quota."""
        if self.limit_bytes is None:
            return
        after = self.used(project) - replaces + size
        if after > self.limit_bytes:
            raise QuotaExceededError(
                f"The checkpoint of step {step} ({size} bytes) would bring project "
                f"{project!r} to {after} bytes, over its disk quota of {self.limit_bytes} bytes "
                f"({SETTING}); the job stops here. Delete files or fine-tuned models, or raise "
                "the quota."
            )
