"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright), with
every request that would leave the loopback address aborted and recorded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import OWNER_KEY, FinishedJob

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
ARTIFACTS = REPO_ROOT / "test-artifacts"


@dataclass
class Offline:
    """A browser context whose requests off the loopback address are aborted and kept."""

    context: BrowserContext
    blocked: list[str] = field(default_factory=list)

    def guard(self, route: Route) -> None:
        url = route.request.url
        if urlparse(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    handle = Offline(context)
    context.route("**/*", handle.guard)
    yield handle
    context.close()
    assert handle.blocked == [], f"the dashboard tried to leave loopback: {handle.blocked}"


def log_in(page: Page, key: str) -> None:
    page.fill("#key", key)
    page.click("#login-button")


def open_job(offline: Offline, job: FinishedJob, job_id: str | None = None) -> Page:
    page = offline.context.new_page()
    page.goto(f"{job.server.root_url}/jobs/{job_id or job.job_id}")
    expect(page.locator("#msg")).to_contain_text("needs an API key")
    log_in(page, OWNER_KEY)
    return page


def keep_screenshot(page: Page, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)


def test_job_page_by_url_shows_charts_report_and_a_session_key(
    offline: Offline, finished_job: FinishedJob, tmp_path: Path
) -> None:
    page = open_job(offline, finished_job)
    expect(page.locator("#job-status")).to_have_text("succeeded")
    charts = page.locator(".chart")
    expect(charts.first).to_be_visible()
    page.wait_for_function(
        "document.querySelectorAll('.chart:not([data-points=\"0\"]) canvas').length >= 6"
    )
    filled = [
        charts.nth(i).get_attribute("data-chart")
        for i in range(charts.count())
        if int(charts.nth(i).get_attribute("data-points") or 0) > 0
    ]
    assert len(filled) >= 6, filled
    assert {"Reward (train, validation)", "Truncation rate", "Grader error rate"} <= set(filled)
    expect(page.locator("#report-wlt")).to_contain_text("wins")
    # train, valid and 4 results: step metrics, samples, report, grader logs
    expect(page.locator("#panel-files tr.file")).to_have_count(6)
    assert page.evaluate("sessionStorage.getItem('openrft-api-key')") == OWNER_KEY
    assert page.evaluate("localStorage.length") == 0
    keep_screenshot(page, tmp_path, "dashboard-job.png")


def test_samples_table_filters_by_reward(offline: Offline, finished_job: FinishedJob) -> None:
    page = open_job(offline, finished_job)
    rows = page.locator("#samples-table tbody tr.sample")
    expect(rows.first).to_be_visible()
    step = page.locator("#samples-step").input_value()
    rewards = sorted(float(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.reward)"))
    threshold = rewards[len(rewards) // 2]
    page.fill("#samples-min", str(threshold))
    page.click("#samples-apply")
    expected = httpx.get(
        f"{finished_job.server.base_url}/fine_tuning/jobs/{finished_job.job_id}/samples",
        params={"step": step, "split": "valid", "min_reward": threshold, "limit": 100},
        headers={"Authorization": f"Bearer {OWNER_KEY}"},
    ).json()["data"]
    assert 0 < len(expected) < len(rewards)
    expect(rows).to_have_count(len(expected))
    shown = [float(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.reward)")]
    assert shown == [s["reward"] for s in expected] and min(shown) >= threshold
    expect(rows.first.locator("td").nth(4)).to_contain_text("parity=")  # sub-scores
    page.select_option("#samples-split", "train")
    expect(rows.first.locator("td").nth(5)).not_to_have_text("–")  # train rows: advantages


def test_a_checkpoints_chat_box_answers(offline: Offline, finished_job: FinishedJob) -> None:
    page = open_job(offline, finished_job)
    row = page.locator("#panel-checkpoints tr.checkpoint").first
    expect(row).to_be_visible()
    row.locator(".chat-input").fill("Hello there")
    row.locator(".chat-send").click()
    reply = row.locator(".reply")
    expect(reply).to_have_attribute("data-state", "done", timeout=180_000)
    expect(reply).to_contain_text("tokens · finish:")


def test_the_integrity_panel_runs_a_preflight_of_the_jobs_settings(
    offline: Offline, finished_job: FinishedJob
) -> None:
    page = open_job(offline, finished_job)
    expect(page.locator("#alarms")).to_have_text("No alarms.")
    expect(page.locator("#preflight-report")).to_contain_text("ran no preflight")
    page.click("#preflight-run")
    verdict = page.locator("#preflight-verdict")
    expect(verdict).to_contain_text("Preflight verdict:", timeout=180_000)
    probes = page.locator("#panel-integrity tr.probe")
    expect(probes).to_have_count(5)  # python graders: no judge probe
    assert "learnable fraction" in page.locator("#panel-integrity").inner_text()


def test_the_grader_logs_panel_shows_what_the_graders_printed(
    offline: Offline, finished_job: FinishedJob
) -> None:
    page = open_job(offline, finished_job)
    entries = page.locator("#panel-logs tr.log")
    expect(entries.first).to_be_visible()
    expect(entries.first.locator("pre")).to_contain_text("parity of")
    logs_file = next(
        f
        for f in finished_job.owner.fine_tuning.jobs.retrieve(finished_job.job_id).result_files
        if finished_job.owner.files.retrieve(f).filename == "grader_logs.jsonl"
    )
    kept = finished_job.owner.files.content(logs_file).text.splitlines()
    expect(entries).to_have_count(min(len(kept), 200))
    expect(page.locator("#logs-note")).to_contain_text(f"of {len(kept)} entries")
    splits = set(entries.locator("td:nth-child(2)").all_inner_texts())
    assert splits <= {"train", "valid"} and "train" in splits


def test_another_projects_job_is_neither_listed_nor_openable(
    offline: Offline, finished_job: FinishedJob
) -> None:
    page = offline.context.new_page()
    page.goto(finished_job.server.root_url + "/")
    log_in(page, OWNER_KEY)
    expect(page.locator(f'tr.job[data-job="{finished_job.job_id}"]')).to_be_visible()
    expect(page.locator(f'tr.job[data-job="{finished_job.other_job_id}"]')).to_have_count(0)
    page.goto(f"{finished_job.server.root_url}/jobs/{finished_job.other_job_id}")
    expect(page.locator("#msg")).to_contain_text("No such fine-tuning job")
    expect(page.locator("#job-status")).to_have_count(0)
    # The other project sees its own job and not the owner's.
    page.click("#logout")
    log_in(page, finished_job.other_key)
    page.goto(finished_job.server.root_url + "/")
    expect(page.locator(f'tr.job[data-job="{finished_job.other_job_id}"]')).to_be_visible()
    expect(page.locator(f'tr.job[data-job="{finished_job.job_id}"]')).to_have_count(0)


def test_the_network_guard_catches_a_request_off_loopback(browser: Browser) -> None:
    context = browser.new_context()
    handle = Offline(context)
    context.route("**/*", handle.guard)
    page = context.new_page()
    page.set_content("<p>x</p>")
    page.evaluate("fetch('http://cdn.example.invalid/x').catch(() => null)")
    page.wait_for_timeout(200)
    context.close()
    assert handle.blocked == ["http://cdn.example.invalid/x"]
