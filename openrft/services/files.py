"""Uploaded files: validate, store atomically, list, read and delete, all scoped to a project."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.files_repo import FileRepository
from openrft.domain.datasets import validate_jsonl
from openrft.domain.records import FINE_TUNE_PURPOSE, UPLOAD_PURPOSES, FileRecord
from openrft.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from openrft.ids import new_id
from openrft.storage.blobs import BlobStore

MAX_LIST_LIMIT = 10_000


def file_key(file_id: str) -> str:
    return f"files/{file_id}"


@dataclass(frozen=True)
class FileListPage:
    data: list[FileRecord]
    has_more: bool


class FileService:
    def __init__(self, sessions: sessionmaker[Session], blobs: BlobStore, max_upload_bytes: int):
        self.sessions = sessions
        self.blobs = blobs
        self.max_upload_bytes = max_upload_bytes

    def check_size(self, size: int, what: str = "File") -> None:
        """413 before anything is stored when ``size`` (bytes) is over the cap."""
        if size > self.max_upload_bytes:
            raise PayloadTooLargeError(
                f"{what} is {size} bytes; the limit is {self.max_upload_bytes} bytes. "
                "Split it or raise --max-upload-bytes (OPENRFT_MAX_UPLOAD_BYTES).",
                param="file",
            )

    def create(self, project: str, filename: str, purpose: str, data: bytes) -> FileRecord:
        """Validate and store an upload. A rejected upload leaves no blob and no row."""
        self.check_size(len(data))
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequestError(
                f"Invalid purpose {purpose!r}; use one of: {', '.join(UPLOAD_PURPOSES)}.",
                param="purpose",
            )
        rows = 0
        if purpose == FINE_TUNE_PURPOSE:
            if not filename.lower().endswith(".jsonl"):
                raise InvalidRequestError(
                    f"Fine-tune files must be JSONL with a .jsonl name; got {filename!r}.",
                    param="file",
                )
            rows = validate_jsonl(data)
        return self.store(project, filename, purpose, data, rows=rows)

    def store(
        self, project: str, filename: str, purpose: str, data: bytes, *, rows: int = 0
    ) -> FileRecord:
        """Write the blob, then the row; the blob is removed again if the row fails."""
        record = FileRecord(
            id=new_id("file-"),
            project=project,
            filename=filename,
            purpose=purpose,
            bytes=len(data),
            created_at=int(time.time()),
            rows=rows,
        )
        self.blobs.put_bytes(file_key(record.id), data)
        try:
            with self.sessions.begin() as session:
                FileRepository(session).add(record)
        except BaseException:
            self.blobs.delete(file_key(record.id))
            raise
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
