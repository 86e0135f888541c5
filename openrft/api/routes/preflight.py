"""``/v1/fine_tuning/alpha/preflight``: sample and grade the base model before training."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from openrft.api.deps import CallerDep, PreflightServiceDep
from openrft.protocol.preflight import PreflightRequest

router = APIRouter(prefix="/v1/fine_tuning/alpha", tags=["fine_tuning"])


@router.post("/preflight")
async def preflight(
    body: PreflightRequest, caller: CallerDep, preflights: PreflightServiceDep
) -> dict[str, Any]:
    """Model graders call this server back with the caller's own key."""
    request, options = body.to_service()
    return await preflights.run(caller.project, request, options, api_key=caller.api_key)
