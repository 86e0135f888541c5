"""The dashboard's files: served without a key, every asset from this server (no CDN).

What the page shows is tested in a real browser: tests/e2e/test_dashboard_browser.py.
"""

from __future__ import annotations

import re
from importlib.resources import files

import httpx

from tests.integration.conftest import ServerHandle

STATIC = files("openrft.api").joinpath("static")
ASSET_REF = re.compile(r"""(?:src|href)="([^"]+)"|from\s+"([^"]+)"|import\s+"([^"]+)\"""")


def own_assets() -> dict[str, str]:
    """Our own html/js/css files (the vendored library is checked by the browser test)."""
    found = {}
    for folder in ("", "css", "js", "js/panels"):
        base = STATIC.joinpath(folder) if folder else STATIC
        for entry in base.iterdir():
            if entry.name.endswith((".html", ".js", ".css")):
                found[f"{folder}/{entry.name}".lstrip("/")] = entry.read_text(encoding="utf-8")
    return found


def test_jobs_list_and_job_pages_are_served_without_key(server: ServerHandle) -> None:
    for path in ("/", "/jobs/ftjob-anything"):
        resp = httpx.get(f"{server.root_url}{path}", timeout=10)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/js/main.js">' in resp.text


def test_every_referenced_asset_is_local_and_served(server: ServerHandle) -> None:
    assets = own_assets()
    assert {"dashboard.html", "js/main.js", "js/panels/index.js", "css/dashboard.css"} <= set(
        assets
    )
    for name, text in assets.items():
        assert "http://" not in text and "https://" not in text, name
        for match in ASSET_REF.finditer(text):
            ref = next(group for group in match.groups() if group)
            if ref.startswith("/static/"):
                resp = httpx.get(f"{server.root_url}{ref}", timeout=10)
                assert resp.status_code == 200, (name, ref)
            else:
                assert ref.startswith(("./", "../", "/")), (name, ref)
    chart = httpx.get(f"{server.root_url}/static/vendor/uplot/uPlot.esm.js", timeout=10)
    assert chart.status_code == 200 and "javascript" in chart.headers["content-type"]
    license_text = httpx.get(f"{server.root_url}/static/vendor/uplot/LICENSE", timeout=10).text
    assert "MIT License" in license_text


def test_the_job_page_uses_the_public_api(server: ServerHandle) -> None:
    assets = own_assets()
    code = "\n".join(assets.values())
    for endpoint in ("/fine_tuning/jobs", "/events", "/checkpoints", "/samples", "/report"):
        assert endpoint in code, endpoint
    assert "/chat/completions" in assets["js/panels/checkpoints.js"]
    # Grader logs: the job's grader_logs.jsonl result file, read through /v1/files.
    logs = assets["js/panels/logs.js"]
    assert "grader_logs.jsonl" in logs and "/content" in logs
    assert "logs" in assets["js/panels/index.js"]
    assert "sessionStorage" in assets["js/api.js"] and "localStorage" not in code
