"""``method.reinforcement.monitor_grader`` and ``preflight`` through the official SDK: echoed on
the job, and refused with a 400 naming the field when wrong."""

from __future__ import annotations

import openai
import pytest

from tests.integration.conftest import (
    RFT_API_KEY,
    STRING_CHECK,
    ServerHandle,
    rft_method,
    upload_jsonl,
)

MONITOR = {
    "type": "python",
    "name": "strict",
    "source": "def grade(sample, item):\n"
    "    return float(sample['output_text'] == item['answer'])\n",
}


def test_monitor_grader_and_preflight_are_stored_and_echoed(rft_server: ServerHandle) -> None:
    client = rft_server.client(RFT_API_KEY)
    method = rft_method(select_checkpoint_by="monitor", max_grader_error_rate=0.5)
    method["reinforcement"] |= {"monitor_grader": MONITOR, "preflight": "warn"}
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client),
        method=method,
        metadata={"fake_worker": "wait"},
    )
    try:
        for echoed in (job, client.fine_tuning.jobs.retrieve(job.id)):
            section = echoed.method.reinforcement.to_dict()
            assert section["monitor_grader"]["source"] == MONITOR["source"]
            assert section["monitor_grader"]["type"] == "python"
            assert section["preflight"] == "warn"
            assert section["hyperparameters"]["select_checkpoint_by"] == "monitor"
            assert section["hyperparameters"]["max_grader_error_rate"] == 0.5
    finally:
        client.fine_tuning.jobs.cancel(job.id)


@pytest.mark.parametrize(
    ("extra", "hyperparameters", "param"),
    [
        ({"preflight": "strict"}, {}, "method.reinforcement.preflight"),
        (
            {"monitor_grader": {"type": "python", "source": "x = 1"}},
            {},
            "method.reinforcement.monitor_grader.source",
        ),
        (
            {},
            {"select_checkpoint_by": "monitor"},
            "method.reinforcement.hyperparameters.select_checkpoint_by",
        ),
        (
            {"monitor_grader": STRING_CHECK},
            {"max_grader_error_rate": 1.5},
            "method.reinforcement.hyperparameters.max_grader_error_rate",
        ),
    ],
)
def test_bad_integrity_options_are_refused(
    rft_server: ServerHandle, extra: dict, hyperparameters: dict, param: str
) -> None:
    client = rft_server.client(RFT_API_KEY)
    method = rft_method(**hyperparameters)
    method["reinforcement"] |= extra
    before = len(client.fine_tuning.jobs.list(limit=100).data)
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.create(
            model="tiny-random-llama", training_file=upload_jsonl(client), method=method
        )
    assert caught.value.body["param"] == param  # type: ignore[index]
    assert len(client.fine_tuning.jobs.list(limit=100).data) == before  # nothing stored
