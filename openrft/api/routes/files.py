"""``/v1/files``: upload (multipart), list, retrieve, raw content, delete."""

from __future__ import annotations

from typing import Annotated, BinaryIO

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from openrft.api.deps import FileServiceDep, ProjectDep
from openrft.domain.records import FileRecord
from openrft.errors import InvalidRequestError
from openrft.protocol.common import DeletedObject
from openrft.protocol.files import ListFilesResponse, OpenAIFile
from openrft.services.files import FileService
from openrft.services.idempotency import IdempotencyStore, upload_hash

router = APIRouter(prefix="/v1/files", tags=["files"])


def create_once(
    files: FileService, project: str, key: str, filename: str, purpose: str, stream: BinaryIO
) -> FileRecord:
    """The file a request with this ``Idempotency-Key`` (and the same name, purpose and
    content) stored, storing it now if none did."""
    file_id = IdempotencyStore(files.sessions).once(
        project,
        "files",
        key,
        upload_hash(filename, purpose, stream),
        lambda: files.create_stream(project, filename, purpose, stream).id,
        lambda made: files.delete(project, made),
    )
    return files.retrieve(project, file_id)


@router.post("")
async def create_file(
    request: Request,
    project: ProjectDep,
    files: FileServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> OpenAIFile:
    """Starlette spools the file part to a temp file; it is copied and validated in a thread.
    With ``Idempotency-Key``, a retry of the same upload returns the first file.

    The body size cap is ``BodyLimitMiddleware`` (openrft/api/limits.py).
    """
    async with request.form() as form:
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise InvalidRequestError(
                "Missing 'file': send the file as a multipart form field named 'file'.",
                param="file",
            )
        if not isinstance(purpose, str) or not purpose:
            raise InvalidRequestError(
                "Missing 'purpose': use 'fine-tune' for training and validation files.",
                param="purpose",
            )
        filename = upload.filename or "upload"
        if idempotency_key is None:
            record = await run_in_threadpool(
                files.create_stream, project, filename, purpose, upload.file
            )
        else:
            record = await run_in_threadpool(
                create_once, files, project, idempotency_key, filename, purpose, upload.file
            )
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
