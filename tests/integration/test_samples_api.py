"""``GET /v1/fine_tuning/jobs/{id}/samples`` and ``/report`` on a live keyed server.

The job's worker only sleeps; the test plays the trainer through the real ``JobRuntime``:
it keeps samples with known rewards, saves a checkpoint and finishes the job.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest
from scipy import stats

from openrft.domain.samples import RolloutSample
from openrft.services.job_runtime import JobRuntime
from openrft.settings import Settings
from tests.integration.conftest import (
    ServerHandle,
    rft_method,
    start_server,
    upload_jsonl,
    wait_for_status,
)
from tests.integration.test_auth import create_key

KEY = "sk-samples-owner"
SLEEPING_WORKER = [sys.executable, "-c", "import time; time.sleep(600)"]
VALID_ITEMS, EVAL_SAMPLES, GROUPS, GROUP_SIZE = 6, 2, 2, 4


def reward(split: str, step: int, item: int, sample: int) -> float:
    """Known rewards: the tuned step (3) scores higher on most validation items."""
    base = ((item * 7 + sample * 3 + step) % 10) / 10
    return min(1.0, base + 0.3) if split == "valid" and step == 3 and item != 4 else base


def sample(split: str, step: int, item: int, index: int) -> RolloutSample:
    return RolloutSample(
        step=step,
        split=split,  # type: ignore[arg-type]
        item=item,
        sample=index,
        prompt=[{"role": "user", "content": f"question {item}"}],
        completion=f"{split} answer {step}/{item}/{index}",
        reward=reward(split, step, item, index),
        finish_reason="stop",
        completion_tokens=5,
        prompt_tokens=7,
        scores={"accuracy": float(index % 2), "format": 1.0},
        advantage=None if split == "valid" else index - 1.5,
    )


@dataclass
class Played:
    server: ServerHandle
    job_id: str
    owner: openai.OpenAI
    other: openai.OpenAI


def http(played: Played, path: str, key: str = KEY, **params: object) -> httpx.Response:
    return httpx.get(
        f"{played.server.base_url}/fine_tuning/jobs/{played.job_id}/{path}",
        params={k: v for k, v in params.items() if v is not None},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    data_dir = tmp_path_factory.mktemp("openrft-samples")
    env = {"OPENRFT_WORKER_COMMAND": json.dumps(SLEEPING_WORKER)}
    with start_server(data_dir, api_key=KEY, env=env) as server:
        owner = server.client()
        job = owner.fine_tuning.jobs.create(
            model="tiny-random-llama", training_file=upload_jsonl(owner), method=rft_method()
        )
        wait_for_status(owner, job.id, {"running"})
        runtime = JobRuntime(Settings(data_dir=data_dir))
        for step in (0, 2, 3):
            valid = [
                sample("valid", step, i, j) for i in range(VALID_ITEMS) for j in range(EVAL_SAMPLES)
            ]
            runtime.add_samples(job.id, valid)
        for step in (1, 2, 3):
            train = [sample("train", step, g, s) for g in range(GROUPS) for s in range(GROUP_SIZE)]
            runtime.add_samples(job.id, train)
        adapter = data_dir / "adapter"
        adapter.mkdir()
        (adapter / "adapter_model.safetensors").write_bytes(b"weights")
        runtime.add_checkpoint(job.id, 3, {"valid_reward_mean": 0.7}, adapter)
        runtime.finish(job.id, "succeeded", fine_tuned_step=3)
        runtime.engine.dispose()
        other = server.client(create_key(server, "team-other"))
        yield Played(server, job.id, owner, other)


def all_pages(played: Played, limit: int, **params: object) -> list[dict]:
    seen, after = [], None
    while True:
        body = http(played, "samples", limit=limit, after=after, **params).json()
        seen += body["data"]
        assert body["first_id"] == (body["data"][0]["id"] if body["data"] else None)
        if not body["has_more"]:
            return seen
        after = body["last_id"]


def test_pages_cover_every_sample_once_in_recording_order(played: Played) -> None:
    everything = all_pages(played, limit=1000)
    assert len(everything) == 3 * VALID_ITEMS * EVAL_SAMPLES + 3 * GROUPS * GROUP_SIZE
    paged = all_pages(played, limit=7)
    assert [s["id"] for s in paged] == [s["id"] for s in everything]
    first = everything[0]
    assert first["object"] == "fine_tuning.job.sample"
    assert (first["step"], first["split"], first["item"], first["sample"]) == (0, "valid", 0, 0)
    assert first["prompt"] == [{"role": "user", "content": "question 0"}]
    assert first["scores"] == {"accuracy": 0.0, "format": 1.0}
    assert first["fine_tuning_job_id"] == played.job_id
    train = [s for s in everything if s["split"] == "train"]
    assert [s["advantage"] for s in train[:4]] == [-1.5, -0.5, 0.5, 1.5]


def test_filters_by_step_split_and_reward_bounds(played: Played) -> None:
    step3 = all_pages(played, limit=100, step=3, split="valid")
    assert len(step3) == VALID_ITEMS * EVAL_SAMPLES
    assert all(s["step"] == 3 and s["split"] == "valid" for s in step3)
    train = all_pages(played, limit=100, split="train")
    assert {s["step"] for s in train} == {1, 2, 3}
    low, high = 0.3, 0.6
    banded = all_pages(played, limit=5, min_reward=low, max_reward=high)
    expected = [
        (split, step, item, j)
        for split, steps, items, samples in (
            ("valid", (0, 2, 3), VALID_ITEMS, EVAL_SAMPLES),
            ("train", (1, 2, 3), GROUPS, GROUP_SIZE),
        )
        for step in steps
        for item in range(items)
        for j in range(samples)
        if low <= reward(split, step, item, j) <= high
    ]
    got = [(s["split"], s["step"], s["item"], s["sample"]) for s in banded]
    assert sorted(got) == sorted(expected) and 0 < len(got) < 60
    assert all(low <= s["reward"] <= high for s in banded)  # inclusive bounds


def test_bad_queries_are_400s_naming_the_parameter(played: Played) -> None:
    for params, param in (
        ({"split": "test"}, "split"),
        ({"step": -1}, "step"),
        ({"min_reward": 0.9, "max_reward": 0.1}, "min_reward"),
        ({"limit": 0}, "limit"),
        ({"after": "ftsample-nope"}, "after"),
    ):
        response = http(played, "samples", **params)
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == param


def test_another_project_gets_404_for_samples_and_report(played: Played) -> None:
    other_key = played.other.api_key
    for path in ("samples", "report"):
        response = http(played, path, key=other_key)
        assert response.status_code == 404
        assert played.job_id in response.json()["error"]["message"]
    assert played.job_id not in [j.id for j in played.other.fine_tuning.jobs.list()]


def test_report_pairs_the_baseline_with_the_chosen_step(played: Played) -> None:
    report = http(played, "report").json()
    base = [sum(reward("valid", 0, i, j) for j in range(2)) / 2 for i in range(VALID_ITEMS)]
    tuned = [sum(reward("valid", 3, i, j) for j in range(2)) / 2 for i in range(VALID_ITEMS)]
    assert report["object"] == "fine_tuning.job.report"
    assert report["step"] == 3 and report["tuned_model"].endswith(":ckpt-step-3")
    assert report["base_model"] == "tiny-random-llama"
    assert (report["n_items"], report["samples_per_item"]) == (VALID_ITEMS, EVAL_SAMPLES)
    assert report["interval_method"] == "student_t"
    paired = stats.ttest_rel(tuned, base).confidence_interval()
    assert report["difference"]["ci95"] == pytest.approx([paired.low, paired.high])
    assert report["base"]["reward_mean"] == pytest.approx(sum(base) / VALID_ITEMS)
    changes = [t - b for t, b in zip(tuned, base, strict=True)]
    assert report["wins"] == sum(c > 1e-9 for c in changes)
    assert report["ties"] == sum(abs(c) <= 1e-9 for c in changes)
    assert report["most_changed"][0]["base_completion"].startswith("valid answer 0/")


def test_samples_and_report_are_fine_tune_results_files(played: Played) -> None:
    job = played.owner.fine_tuning.jobs.retrieve(played.job_id)
    files = {played.owner.files.retrieve(f).filename: f for f in job.result_files}
    assert set(files) >= {"samples.jsonl", "report.json"}
    assert played.owner.files.retrieve(files["samples.jsonl"]).purpose == "fine-tune-results"
    lines = played.owner.files.content(files["samples.jsonl"]).text.splitlines()
    assert len(lines) == len(all_pages(played, limit=1000))
    assert json.loads(lines[0])["completion"] == "valid answer 0/0/0"
    report_file = json.loads(played.owner.files.content(files["report.json"]).text)
    assert len(report_file["items"]) == VALID_ITEMS
    assert report_file["wins"] == http(played, "report").json()["wins"]


def test_a_job_without_a_report_is_404_report_not_ready(played: Played) -> None:
    job = played.owner.fine_tuning.jobs.create(
        model="tiny-random-llama", training_file=upload_jsonl(played.owner), method=rft_method()
    )
    response = httpx.get(
        f"{played.server.base_url}/fine_tuning/jobs/{job.id}/report",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "report_not_ready"
    played.owner.fine_tuning.jobs.cancel(job.id)
