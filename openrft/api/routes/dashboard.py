"""The dashboard at ``/``: a static page that reads the same /v1 API a user's SDK does."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    page = files("openrft.api").joinpath("static/dashboard.html").read_text(encoding="utf-8")
    return HTMLResponse(page)
