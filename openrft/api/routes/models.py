"""``/v1/models``: list base + fine-tuned models, retrieve, delete fine-tuned ones."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.api.deps import ModelServiceDep, ProjectDep
from openrft.protocol.common import DeletedObject
from openrft.protocol.models import Model, ModelList

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("")
def list_models(project: ProjectDep, models: ModelServiceDep) -> ModelList:
    return ModelList(data=[Model.of(info) for info in models.list(project)])


# Model ids may contain '/' (hub ids, local paths), hence the path converter.
@router.get("/{model_id:path}")
def retrieve_model(model_id: str, project: ProjectDep, models: ModelServiceDep) -> Model:
    return Model.of(models.retrieve(project, model_id))


@router.delete("/{model_id:path}")
def delete_model(model_id: str, project: ProjectDep, models: ModelServiceDep) -> DeletedObject:
    models.delete(project, model_id)
    return DeletedObject(id=model_id, object="model")
