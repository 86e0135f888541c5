"""Liveness probe: ``GET /health`` needs no key."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """``200 {"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}
