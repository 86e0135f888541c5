"""The before/after report compares rewards only: samples the grader erred on are left out."""

from __future__ import annotations

from openrft.domain.samples import RolloutSample
from openrft.services.reports import paired_items


def sample(step: int, item: int, index: int, reward: float, errors=()) -> RolloutSample:
    return RolloutSample(
        step=step,
        split="valid",
        item=item,
        sample=index,
        prompt=[{"role": "user", "content": f"q{item}"}],
        completion="a",
        reward=reward,
        finish_reason="stop",
        completion_tokens=1,
        prompt_tokens=1,
        errors=list(errors),
    )


def test_errored_samples_are_not_compared_as_zero_rewards() -> None:
    base = [
        sample(0, 0, 0, 1.0),
        sample(0, 0, 1, 0.0, errors=["python_grader_runtime_error"]),
        sample(0, 1, 0, 0.0, errors=["python_grader_runtime_error"]),
    ]
    tuned = [sample(4, 0, 0, 1.0), sample(4, 0, 1, 1.0), sample(4, 1, 0, 1.0)]
    [only] = paired_items(base, tuned)  # item 1 has no graded base sample: nothing to pair
    assert only.item == 0
    assert only.base_rewards == [1.0] and only.tuned_rewards == [1.0, 1.0]
