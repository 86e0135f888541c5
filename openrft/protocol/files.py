"""Wire models for ``/v1/files`` (schema ``OpenAIFile`` and ``ListFilesResponse``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from openrft.domain.records import FileRecord


class OpenAIFile(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"] = "processed"
    status_details: str | None = None

    @classmethod
    def of(cls, record: FileRecord) -> OpenAIFile:
        return cls(
            id=record.id,
            bytes=record.bytes,
            created_at=record.created_at,
            filename=record.filename,
            purpose=record.purpose,
        )


class ListFilesResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIFile]
    first_id: str | None
    last_id: str | None
    has_more: bool

    @classmethod
    def of(cls, records: list[FileRecord], has_more: bool) -> ListFilesResponse:
        return cls(
            data=[OpenAIFile.of(r) for r in records],
            first_id=records[0].id if records else None,
            last_id=records[-1].id if records else None,
            has_more=has_more,
        )
