"""``/v1/files``: upload (multipart), list, retrieve, raw content, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import UploadFile

from openrft.api.deps import FileServiceDep, ProjectDep
from openrft.errors import InvalidRequestError
from openrft.protocol.common import DeletedObject
from openrft.protocol.files import ListFilesResponse, OpenAIFile

router = APIRouter(prefix="/v1/files", tags=["files"])

# Multipart framing around the file part; bodies beyond cap + this are refused unread.
MULTIPART_SLACK_BYTES = 1 << 20
READ_CHUNK_BYTES = 1 << 20


async def _read_capped(upload: UploadFile, cap: int) -> bytes:
    """The upload's bytes, reading at most ``cap + 1`` so an oversize file is never held."""
    chunks, total = [], 0
    while chunk := await upload.read(READ_CHUNK_BYTES):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            break
    return b"".join(chunks)


@router.post("")
async def create_file(request: Request, project: ProjectDep, files: FileServiceDep) -> OpenAIFile:
    declared = int(request.headers.get("content-length") or 0)
    if declared > files.max_upload_bytes + MULTIPART_SLACK_BYTES:
        files.check_size(declared, what="The upload request")
    form = await request.form()
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, UploadFile):
        raise InvalidRequestError(
            "Missing 'file': send the file as a multipart form field named 'file'.", param="file"
        )
    if not isinstance(purpose, str) or not purpose:
        raise InvalidRequestError(
            "Missing 'purpose': use 'fine-tune' for training and validation files.",
            param="purpose",
        )
    data = await _read_capped(upload, files.max_upload_bytes)
    record = files.create(project, upload.filename or "upload", purpose, data)
    return OpenAIFile.of(record)


@router.get("")
def list_files(
    project: ProjectDep,
    files: FileServiceDep,
    purpose: str | None = None,
    limit: Annotated[int, Query()] = 10_000,
    order: str = "desc",
    after: str | None = None,
) -> ListFilesResponse:
    page = files.list(project, purpose=purpose, limit=limit, order=order, after=after)
    return ListFilesResponse.of(page.data, page.has_more)


@router.get("/{file_id}")
def retrieve_file(file_id: str, project: ProjectDep, files: FileServiceDep) -> OpenAIFile:
    return OpenAIFile.of(files.retrieve(project, file_id))


@router.get("/{file_id}/content")
def file_content(file_id: str, project: ProjectDep, files: FileServiceDep) -> Response:
    return Response(files.content(project, file_id), media_type="application/octet-stream")


@router.delete("/{file_id}")
def delete_file(file_id: str, project: ProjectDep, files: FileServiceDep) -> DeletedObject:
    files.delete(project, file_id)
    return DeletedObject(id=file_id, object="file")
