"""The before/after report of a real job, checked against the rewards recomputed here."""

from __future__ import annotations

import statistics
from collections import defaultdict

import httpx
import pytest
from scipy import stats

from tests.e2e.conftest import OWNER_KEY, FinishedJob, known_reward


def get(job: FinishedJob, path: str, **params: object) -> dict:
    response = httpx.get(
        f"{job.server.base_url}/fine_tuning/jobs/{job.job_id}/{path}",
        params=params,
        headers={"Authorization": f"Bearer {OWNER_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def valid_scores(job: FinishedJob, step: int) -> dict[int, float]:
    """Per-item mean reward of one evaluation, every reward recomputed from its completion."""
    by_item: dict[int, list[float]] = defaultdict(list)
    for sample in get(job, "samples", step=step, split="valid", limit=1000)["data"]:
        assert sample["reward"] == pytest.approx(known_reward(sample["completion"]))
        by_item[sample["item"]].append(known_reward(sample["completion"]))
    return {item: statistics.fmean(rewards) for item, rewards in by_item.items()}


def test_report_numbers_match_an_independent_computation(finished_job: FinishedJob) -> None:
    report = get(finished_job, "report")
    job = finished_job.owner.fine_tuning.jobs.retrieve(finished_job.job_id)
    assert report["tuned_model"] == f"{job.fine_tuned_model}:ckpt-step-{report['step']}"
    base, tuned = valid_scores(finished_job, 0), valid_scores(finished_job, report["step"])
    items = sorted(base)
    assert items == sorted(tuned) == [0, 1, 2, 3] and report["n_items"] == 4
    b, t = [base[i] for i in items], [tuned[i] for i in items]
    assert report["interval_method"] == "student_t" and report["samples_per_item"] == 2
    assert report["base"]["reward_mean"] == pytest.approx(statistics.fmean(b))
    assert report["tuned"]["reward_mean"] == pytest.approx(statistics.fmean(t))
    for side, values in (("base", b), ("tuned", t)):
        ci = stats.ttest_1samp(values, 0.0).confidence_interval()
        assert report[side]["ci95"] == pytest.approx([ci.low, ci.high])
    if any(x != y for x, y in zip(t, b, strict=True)):
        ci = stats.ttest_rel(t, b).confidence_interval()
        assert report["difference"]["ci95"] == pytest.approx([ci.low, ci.high])
    changes = [y - x for x, y in zip(b, t, strict=True)]
    assert report["wins"] == sum(c > 1e-9 for c in changes)
    assert report["losses"] == sum(c < -1e-9 for c in changes)
    listed = [row["item"] for row in report["most_changed"]]
    assert listed == sorted(
        (i for i in items if abs(tuned[i] - base[i]) > 1e-9),
        key=lambda i: (-abs(tuned[i] - base[i]), i),
    )


def test_training_samples_carry_sub_scores_and_advantages(finished_job: FinishedJob) -> None:
    train = get(finished_job, "samples", split="train", limit=100)["data"]
    assert {s["step"] for s in train} == {1, 2} and len(train) == 2 * 2 * 4
    for sample in train:
        text = sample["completion"]
        assert sample["scores"]["parity"] == float(len(text) % 2 == 0)
        assert sample["scores"]["short"] == pytest.approx(max(0.0, 1 - len(text) / 40))
        assert sample["advantage"] is not None
        assert sample["finish_reason"] in ("stop", "length")
