"""Uploaded files: validate, store atomically, list, read and delete, all scoped to a project."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.files_repo import FileRepository
from openrft.domain.datasets import JsonlLimits, read_lines, validate_jsonl
from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS
from openrft.domain.records import (
    FINE_TUNE_PURPOSE,
    GRADER_PURPOSE,
    UPLOAD_PURPOSES,
    FileRecord,
)
from openrft.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from openrft.ids import new_id
from openrft.services.grader_sources import check_grader_upload
from openrft.services.quota import used_bytes
from openrft.storage.blobs import BlobStore

MAX_LIST_LIMIT = 10_000
COPY_CHUNK_BYTES = 1 << 20


def file_key(file_id: str) -> str:
    return f"files/{file_id}"


def new_record(project: str, filename: str, purpose: str, size: int, rows: int) -> FileRecord:
    return FileRecord(
        id=new_id("file-"),
        project=project,
        filename=filename,
        purpose=purpose,
        bytes=size,
        created_at=int(time.time()),
        rows=rows,
    )


@dataclass(frozen=True)
class FileListPage:
    data: list[FileRecord]
    has_more: bool


class FileService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        max_upload_bytes: int,
        jsonl_limits: JsonlLimits | None = None,
        project_quota_bytes: int | None = None,
        max_grader_source_bytes: int = DEFAULT_GRADER_LIMITS.source_bytes,
    ):
        self.sessions = sessions
        self.blobs = blobs
        self.max_upload_bytes = max_upload_bytes
        self.jsonl_limits = jsonl_limits or JsonlLimits()
        self.project_quota_bytes = project_quota_bytes
        self.max_grader_source_bytes = max_grader_source_bytes

    def too_large(self, what: str) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"{what} the limit of {self.max_upload_bytes} bytes. "
            "Split it or raise --max-upload-bytes (OPENRFT_MAX_UPLOAD_BYTES).",
            param="file",
        )

    def create(self, project: str, filename: str, purpose: str, data: bytes) -> FileRecord:
        """Validate and store an upload held in memory (see ``create_stream``)."""
        return self.create_stream(project, filename, purpose, BytesIO(data))

    def create_stream(self, project: str, filename: str, purpose: str, src: BinaryIO) -> FileRecord:
        """Copy ``src`` to disk in chunks, validate it there, then store it.

        A rejected upload leaves no blob and no row. Blocking: call it off the event loop.
        """
        self.check_purpose(filename, purpose)
        staged = self.stage(src, *self.room(project))
        try:
            rows = 0
            if purpose == FINE_TUNE_PURPOSE:
                with staged.open("rb") as handle:
                    rows = validate_jsonl(read_lines(handle, self.jsonl_limits), self.jsonl_limits)
            elif purpose == GRADER_PURPOSE:
                check_grader_upload(filename, staged, self.max_grader_source_bytes)
            return self.store_staged(project, filename, purpose, staged, rows=rows)
        finally:
            staged.unlink(missing_ok=True)

    def check_purpose(self, filename: str, purpose: str) -> None:
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequestError(
                f"Invalid purpose {purpose!r}; use one of: {', '.join(UPLOAD_PURPOSES)}.",
                param="purpose",
            )
        if purpose == FINE_TUNE_PURPOSE and not filename.lower().endswith(".jsonl"):
            raise InvalidRequestError(
                f"Fine-tune files must be JSONL with a .jsonl name; got {filename!r}.",
                param="file",
            )

    def room(self, project: str) -> tuple[int, PayloadTooLargeError]:
        """Bytes this upload may have (the upload cap or what is left of the project's quota)
        and the error for one that is longer."""
        if self.project_quota_bytes is not None:
            with self.sessions() as session:
                used = used_bytes(session, project)
            left = self.project_quota_bytes - used
            if left < self.max_upload_bytes:
                return max(0, left), PayloadTooLargeError(
                    f"Project {project!r} already stores {used} bytes of files, checkpoints "
                    f"and models; this upload does not fit its quota of "
                    f"{self.project_quota_bytes} bytes (OPENRFT_PROJECT_DISK_QUOTA_BYTES). "
                    "Delete files or fine-tuned models, or raise the quota.",
                    param="file",
                    code="quota_exceeded",
                )
        return self.max_upload_bytes, self.too_large("File is over")

    def stage(self, src: BinaryIO, cap: int, too_large: PayloadTooLargeError) -> Path:
        """``src`` copied to a local temp file for the blob store; ``too_large`` past ``cap``
        bytes."""
        fd, name = tempfile.mkstemp(dir=self.blobs.staging_dir(), suffix=".part")
        staged, total = Path(name), 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := src.read(COPY_CHUNK_BYTES):
                    total += len(chunk)
                    if total > cap:
                        raise too_large
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return staged

    def store_staged(
        self, project: str, filename: str, purpose: str, staged: Path, *, rows: int
    ) -> FileRecord:
        """Store a staged upload, then write the row (the blob goes if the row fails)."""
        record = new_record(project, filename, purpose, staged.stat().st_size, rows)
        self.blobs.put_file(file_key(record.id), staged)
        self.add_row(record)
        return record

    def add_row(self, record: FileRecord) -> None:
        try:
            with self.sessions.begin() as session:
                FileRepository(session).add(record)
        except BaseException:
            self.blobs.delete(file_key(record.id))
            raise

    def store(
        self, project: str, filename: str, purpose: str, data: bytes, *, rows: int = 0
    ) -> FileRecord:
        """Write the blob, then the row; the blob is removed again if the row fails."""
        record = new_record(project, filename, purpose, len(data), rows)
        self.blobs.put_bytes(file_key(record.id), data)
        self.add_row(record)
        return record

    def retrieve(self, project: str, file_id: str) -> FileRecord:
        with self.sessions() as session:
            record = FileRepository(session).get(project, file_id)
        if record is None:
            raise NotFoundError(f"No such File object: {file_id}", param="file_id")
        return record

    def list(
        self,
        project: str,
        *,
        purpose: str | None = None,
        limit: int = MAX_LIST_LIMIT,
        order: str = "desc",
        after: str | None = None,
    ) -> FileListPage:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidRequestError(
                f"Invalid 'limit' {limit}: use 1 to {MAX_LIST_LIMIT}.", param="limit"
            )
        if order not in ("asc", "desc"):
            raise InvalidRequestError(f"Invalid 'order' {order!r}: use asc or desc.", param="order")
        with self.sessions() as session:
            data, has_more = FileRepository(session).page(
                project, purpose=purpose, after=after, limit=limit, descending=order == "desc"
            )
        return FileListPage(data, has_more)

    def content(self, project: str, file_id: str) -> bytes:
        self.retrieve(project, file_id)
        return self.blobs.read_bytes(file_key(file_id))

    def delete(self, project: str, file_id: str) -> None:
        """Remove the row first (the file disappears at once), then its blob."""
        with self.sessions.begin() as session:
            deleted = FileRepository(session).delete(project, file_id)
        if not deleted:
            raise NotFoundError(f"No such File object: {file_id}", param="file_id")
        self.blobs.delete(file_key(file_id))
