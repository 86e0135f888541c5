"""``POST /v1/chat/completions``: JSON, or SSE chunks when ``stream`` is true."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from openrft.api.deps import ProjectDep
from openrft.protocol.chat import ChatCompletionRequest
from openrft.services.chat import ChatService

router = APIRouter(prefix="/v1", tags=["chat"])


def get_chat(request: Request) -> ChatService:
    chat: ChatService = request.app.state.chat
    return chat


ChatServiceDep = Annotated[ChatService, Depends(get_chat)]


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest, project: ProjectDep, chat: ChatServiceDep
) -> JSONResponse | StreamingResponse:
    if body.stream:
        return StreamingResponse(await chat.stream(project, body), media_type="text/event-stream")
    completion = await chat.create(project, body)
    return JSONResponse(completion.model_dump(mode="json"))
