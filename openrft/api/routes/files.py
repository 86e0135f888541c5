"""``/v1/files``: upload (multipart), list, retrieve, raw content, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from openrft.api.deps import FileServiceDep, ProjectDep
from openrft.errors import InvalidRequestError
from openrft.protocol.common import DeletedObject
from openrft.protocol.files import ListFilesResponse, OpenAIFile

router = APIRouter(prefix="/v1/files", tags=["files"])


@router.post("")
async def create_file(request: Request, project: ProjectDep, files: FileServiceDep) -> OpenAIFile:
    """Starlette spools the file part to a temp file; it is copied and validated in a thread.

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
        record = await run_in_threadpool(
            files.create_stream, project, filename, purpose, upload.file
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
