"""Every failure leaves as an OpenAI error object; no traceback ever reaches a response body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openrft.errors import OpenRFTError

log = logging.getLogger(__name__)

# The SDK retries 409/429/5xx by default; "wrong state" errors must not be retried blindly.
_NO_RETRY = {"x-should-retry": "false"}


def error_response(
    status: int, message: str, type_: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    headers = _NO_RETRY if status in (409, 500) else None
    return JSONResponse(status_code=status, content=body, headers=headers)


def _loc_to_param(loc: tuple[object, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenRFTError)
    async def _openrft_error(_: Request, exc: OpenRFTError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.type, exc.param, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = _loc_to_param(tuple(first.get("loc", ())))
        message = first.get("msg", "Invalid request.")
        if param:
            message = f"Invalid value for '{param}': {message}"
        return error_response(400, message, "invalid_request_error", param, None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return error_response(exc.status_code, str(exc.detail), type_)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(
            500, "The server had an error processing your request.", "server_error"
        )
