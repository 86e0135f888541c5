"""Job status lifecycle: legal and illegal transitions."""

from __future__ import annotations

import pytest

from openrft.domain.jobs import JobStatus, can_transition, ensure_transition
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


def test_illegal_transition_message_says_what_is_allowed() -> None:
    with pytest.raises(InvalidRequestError) as info:
        ensure_transition(S.SUCCEEDED, S.QUEUED, action="resume", job_id="ftjob-1")
    message = info.value.message
    assert "Cannot resume job ftjob-1" in message
    assert "'succeeded'" in message
    assert "paused" in message
    assert info.value.status == 400
