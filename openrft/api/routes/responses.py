"""``POST /v1/responses``: plain text in and out, JSON or SSE events when ``stream`` is true."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from openrft.api.deps import ProjectDep, ResponsesServiceDep
from openrft.protocol.responses import ResponseRequest

router = APIRouter(prefix="/v1", tags=["responses"])


@router.post("/responses", response_model=None)
async def create_response(
    body: ResponseRequest, project: ProjectDep, responses: ResponsesServiceDep
) -> JSONResponse | StreamingResponse:
    if body.stream:
        events = await responses.stream(project, body)
        return StreamingResponse(events, media_type="text/event-stream")
    response = await responses.create(project, body)
    return JSONResponse(response.model_dump(mode="json"))
