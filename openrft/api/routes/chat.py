"""``POST /v1/chat/completions``: JSON, or SSE chunks when ``stream`` is true."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from openrft.api.deps import ChatServiceDep, ProjectDep
from openrft.protocol.chat import ChatCompletionRequest

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest, project: ProjectDep, chat: ChatServiceDep
) -> JSONResponse | StreamingResponse:
    if body.stream:
        return StreamingResponse(await chat.stream(project, body), media_type="text/event-stream")
    completion = await chat.create(project, body)
    return JSONResponse(completion.model_dump(mode="json"))
