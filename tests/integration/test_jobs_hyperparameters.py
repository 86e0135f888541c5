"""Hyperparameters that do nothing here are accepted, echoed, and named in a warn event."""

from __future__ import annotations

from tests.integration.conftest import RFT_API_KEY, ServerHandle, rft_method, upload_jsonl


def test_no_effect_hyperparameters_get_a_warn_event(rft_server: ServerHandle) -> None:
    client = rft_server.client(RFT_API_KEY)
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=upload_jsonl(client),
        method=rft_method(reasoningEffort="high", compute_multiplier=2, batch_size=2),
        metadata={"fake_worker": "wait"},
    )
    hp = job.method.reinforcement.hyperparameters.to_dict()
    assert (hp["reasoning_effort"], hp["compute_multiplier"], hp["batch_size"]) == ("high", 2, 2)
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    warnings = [e.message for e in events if e.level == "warn"]
    client.fine_tuning.jobs.cancel(job.id)
    assert len(warnings) == 2
    assert any("'reasoningEffort' (reasoning_effort) = 'high' has no effect" in w for w in warnings)
    assert any("'compute_multiplier' = 2 has no effect" in w for w in warnings)
