"""The dashboard: one static page (``/`` lists jobs, ``/jobs/{id}`` is a job's own URL) whose
ES modules under ``/static`` read the same /v1 API a user's SDK does. Every asset, the chart
library included, ships inside the package: the page works with no network beyond this server.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter()
router.mount("/static", StaticFiles(packages=[("openrft.api", "static")]), name="static")


def _page() -> HTMLResponse:
    page = files("openrft.api").joinpath("static/dashboard.html").read_text(encoding="utf-8")
    return HTMLResponse(page)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    return _page()


@router.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(job_id: str) -> HTMLResponse:
    """The job's page; the browser reads the job (and gets 404 for another project's)."""
    return _page()
