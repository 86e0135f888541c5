"""The one exception hierarchy. The API maps each to an OpenAI error object in one handler."""

from __future__ import annotations


class OpenRFTError(Exception):
    """Base error: ``{"error": {"message", "type", "param", "code"}}`` with ``status``."""

    status: int = 500
    type: str = "server_error"
    default_code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code

    def to_body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(OpenRFTError):
    status = 400
    type = "invalid_request_error"


class AuthenticationError(OpenRFTError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(OpenRFTError):
    status = 403
    type = "permission_error"


class NotFoundError(OpenRFTError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class ConflictError(OpenRFTError):
    status = 409
    type = "invalid_request_error"
    default_code = "conflict"


class PayloadTooLargeError(OpenRFTError):
    status = 413
    type = "invalid_request_error"
    default_code = "file_too_large"


class UnprocessableError(OpenRFTError):
    status = 422
    type = "invalid_request_error"


class RateLimitError(OpenRFTError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class ServerError(OpenRFTError):
    status = 500
    type = "server_error"
