"""Job status lifecycle: legal and illegal transitions."""

from __future__ import annotations

import pytest

from openrft.domain.jobs import JobStatus, can_transition, ensure_action
from openrft.errors import InvalidRequestError

S = JobStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.VALIDATING_FILES, S.QUEUED),
        (S.QUEUED, S.RUNNING),
        (S.QUEUED, S.PAUSED),
        (S.RUNNING, S.SUCCEEDED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELLED),
        (S.RUNNING, S.PAUSED),
        (S.PAUSED, S.QUEUED),
        (S.PAUSED, S.CANCELLED),
    ],
)
def test_legal_transitions(current: JobStatus, target: JobStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize("terminal", [S.SUCCEEDED, S.FAILED, S.CANCELLED])
@pytest.mark.parametrize("target", list(JobStatus))
def test_terminal_statuses_never_change(terminal: JobStatus, target: JobStatus) -> None:
    assert terminal.is_terminal
    assert not can_transition(terminal, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.QUEUED, S.SUCCEEDED), (S.PAUSED, S.RUNNING), (S.RUNNING, S.QUEUED), (S.PAUSED, S.PAUSED)],
)
def test_illegal_transitions(current: JobStatus, target: JobStatus) -> None:
    assert not can_transition(current, target)


def test_resume_of_a_finished_job_says_only_paused_jobs_resume() -> None:
    with pytest.raises(InvalidRequestError) as info:
        ensure_action(S.SUCCEEDED, "resume", job_id="ftjob-1")
    assert info.value.message == (
        "Cannot resume job ftjob-1: it is 'succeeded'. Only jobs that are paused can be resumed."
    )
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("action", "current"),
    [("pause", S.PAUSED), ("pause", S.VALIDATING_FILES), ("cancel", S.FAILED)],
)
def test_actions_refused_outside_their_statuses(action: str, current: JobStatus) -> None:
    with pytest.raises(InvalidRequestError, match=f"Cannot {action} job"):
        ensure_action(current, action, job_id="ftjob-1")


@pytest.mark.parametrize(
    ("action", "current"),
    [("pause", S.QUEUED), ("pause", S.RUNNING), ("cancel", S.PAUSED), ("resume", S.PAUSED)],
)
def test_actions_allowed_in_their_statuses(action: str, current: JobStatus) -> None:
    ensure_action(current, action, job_id="ftjob-1")
