"""Where a project's grader may take code and URLs from: validation context per caller.

A Lambda ``function`` may name a ``.py`` file the caller uploaded with purpose ``grader``
(``file-abc123:lambda_handler``), a file under ``--grader-base-dir``, or a URL that passes the
egress policy. Uploads are checked when they arrive (a ``.py`` name, UTF-8, at most
``max_grader_source_bytes``, valid Python syntax) and read again, project-scoped, when a grader
names them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS, GraderLimits, setting_hint
from openrft.domain.records import GRADER_PURPOSE
from openrft.errors import InvalidRequestError, NotFoundError
from openrft.graders.types import ValidationContext
from openrft.net.egress import EgressPolicy

if TYPE_CHECKING:
    from openrft.services.files import FileService
    from openrft.services.models import ModelService


def check_grader_upload(filename: str, path: Path, max_bytes: int) -> None:
    """400 unless ``path`` holds a ``.py`` handler file of at most ``max_bytes`` that could be
    loaded."""
    if not filename.lower().endswith(".py"):
        raise InvalidRequestError(
            f"Grader files must be Python source with a .py name; got {filename!r}.", param="file"
        )
    if path.stat().st_size > max_bytes:
        raise InvalidRequestError(
            f"Grader files are at most {max_bytes} bytes on this server "
            f"({setting_hint('source_bytes')}).",
            param="file",
            code="source_too_large",
        )
    try:
        ast.parse(path.read_bytes().decode(), filename=filename)
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("Grader files must be UTF-8 text.", param="file") from exc
    except SyntaxError as exc:
        raise InvalidRequestError(
            f"The grader file does not parse: {exc.msg} (line {exc.lineno}).", param="file"
        ) from exc


@dataclass(frozen=True)
class GraderSources:
    """``context(project)``: the ValidationContext for one caller's grader; model graders may
    name what ``models`` serves the caller; user code is refused unless ``sandbox`` (the
    operator's mode) works here."""

    files: FileService
    base_dir: Path | None
    egress: EgressPolicy
    models: ModelService | None = None
    sandbox: str | None = None
    limits: GraderLimits = DEFAULT_GRADER_LIMITS

    def context(self, project: str) -> ValidationContext:
        return ValidationContext(
            base_dir=self.base_dir,
            egress=self.egress,
            read_upload=partial(self.read_upload, project),
            knows_model=partial(self.models.knows, project) if self.models else None,
            sandbox=self.sandbox,
            limits=self.limits,
        )

    def read_upload(self, project: str, file_id: str) -> tuple[str, str] | None:
        """(file name, source) of ``project``'s grader upload ``file_id``; None if it has none."""
        try:
            record = self.files.retrieve(project, file_id)
        except NotFoundError:
            return None
        if record.purpose != GRADER_PURPOSE:
            return None
        try:
            return record.filename, self.files.content(project, file_id).decode()
        except (NotFoundError, OSError, UnicodeDecodeError):
            return None
