"""Liveness probe: ``GET /health`` needs no key."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """``200 {"status": "ok"}`` while the process serves requests.

    On the event loop, not in the thread pool, so busy sync routes never queue it.
    """
    return {"status": "ok"}
