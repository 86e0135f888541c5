"""The before/after report of a finished job, built from its stored validation samples.

The baseline evaluation (step 0, the base model) and the evaluation of the chosen checkpoint's
step sample the same validation prompts with the same seed (common random numbers), so the two
are paired item by item and graded by the job's own grader.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from openrft.db.samples_repo import ReportRepository, SampleRepository
from openrft.domain.jobs import Job
from openrft.domain.report import ItemOutcome, compare, item_record
from openrft.domain.samples import RolloutSample, SampleFilter
from openrft.errors import NotFoundError
from openrft.services.samples import ensure_job

REPORT_FILENAME = "report.json"
SELECTION_NOTE = (
    "The tuned checkpoint is the one with the best mean validation reward on these same items, "
    "so the difference is optimistic; confirm it on held-out data."
)


def _by_item(samples: list[RolloutSample]) -> dict[int, list[RolloutSample]]:
    """Graded samples by item: a sample the grader erred on has no reward to compare."""
    grouped: dict[int, list[RolloutSample]] = defaultdict(list)
    for sample in samples:
        if not sample.errors:
            grouped[sample.item].append(sample)
    return {item: sorted(group, key=lambda s: s.sample) for item, group in grouped.items()}


def paired_items(base: list[RolloutSample], tuned: list[RolloutSample]) -> list[ItemOutcome]:
    """Items evaluated at both steps, in item order."""
    before, after = _by_item(base), _by_item(tuned)
    return [
        ItemOutcome(
            item=item,
            prompt=before[item][0].prompt,
            base_rewards=[s.reward for s in before[item]],
            tuned_rewards=[s.reward for s in after[item]],
            base_completion=before[item][0].completion,
            tuned_completion=after[item][0].completion,
        )
        for item in sorted(before.keys() & after.keys())
    ]


class ReportService:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def create(self, job: Job, step: int, tuned_model: str) -> tuple[dict[str, Any], bytes] | None:
        """Build, store and return the report and its results file for checkpoint ``step``;
        None when the job has no validation samples of step 0 and ``step`` to compare."""
        with self.sessions() as session:
            samples = SampleRepository(session)
            base = [s.sample for s in samples.all(job.id, SampleFilter(step=0, split="valid"))]
            tuned = [s.sample for s in samples.all(job.id, SampleFilter(step=step, split="valid"))]
        items = paired_items(base, tuned)
        if step == 0 or not items:
            return None
        report = {
            "object": "fine_tuning.job.report",
            "fine_tuning_job_id": job.id,
            "created_at": int(time.time()),
            "base_model": job.model,
            "tuned_model": tuned_model,
            "step": step,
            "split": "valid",
            **compare(items),
            "note": SELECTION_NOTE,
        }
        with self.sessions.begin() as session:
            ReportRepository(session).put(job.id, report)
        file = {**report, "items": [item_record(o) for o in items]}
        return report, json.dumps(file, ensure_ascii=False, indent=1).encode("utf-8")

    def retrieve(self, project: str, job_id: str) -> dict[str, Any]:
        """The report of a job of ``project``; 404 when the job is unknown or has none yet."""
        with self.sessions() as session:
            ensure_job(session, project, job_id)
            report = ReportRepository(session).get(job_id)
        if report is None:
            raise NotFoundError(
                f"Job {job_id} has no report yet: it is written when the job succeeds.",
                param="fine_tuning_job_id",
                code="report_not_ready",
            )
        return report
