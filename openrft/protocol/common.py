"""Wire shapes shared by several resources (OpenAI field names and order)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class DeletedObject(BaseModel):
    """``{id, object, deleted}``; ``object`` names the deleted kind ("file", "model")."""

    id: str
    object: str
    deleted: Literal[True] = True


class ErrorObject(BaseModel):
    code: str | None
    message: str
    param: str | None
