"""``POST /v1/responses``: plain text in and out, JSON or SSE events when ``stream`` is true."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from openrft.api.deps import ProjectDep
from openrft.protocol.responses import ResponseRequest
from openrft.services.responses import ResponsesService

router = APIRouter(prefix="/v1", tags=["responses"])


def get_responses(request: Request) -> ResponsesService:
    return ResponsesService(request.app.state.chat)


ResponsesServiceDep = Annotated[ResponsesService, Depends(get_responses)]


@router.post("/responses", response_model=None)
async def create_response(
    body: ResponseRequest, project: ProjectDep, responses: ResponsesServiceDep
) -> JSONResponse | StreamingResponse:
    if body.stream:
        events = await responses.stream(project, body)
        return StreamingResponse(events, media_type="text/event-stream")
    response = await responses.create(project, body)
    return JSONResponse(response.model_dump(mode="json"))
