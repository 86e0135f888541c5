"""Wire models for ``/v1/models``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from openrft.domain.models import ModelInfo


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str

    @classmethod
    def of(cls, info: ModelInfo) -> Model:
        return cls(id=info.id, created=info.created, owned_by=info.owned_by)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
