"""``Idempotency-Key`` on job creation and uploads: a retry returns the first object; a new
body is a 400."""

from __future__ import annotations

import openai
import pytest

from tests.integration.conftest import ServerHandle, rft_method, upload_jsonl


def test_same_key_same_body_returns_the_first_job(rft_server: ServerHandle) -> None:
    client = rft_server.client()
    file_id = upload_jsonl(client)
    headers = {"Idempotency-Key": "create-once-1"}

    def create(**extra: object) -> object:
        return client.fine_tuning.jobs.create(
            model="tiny-random-llama",
            training_file=file_id,
            method=rft_method(),
            extra_headers=headers,
            **extra,  # type: ignore[arg-type]
        )

    before = len(client.fine_tuning.jobs.list(limit=100).data)
    first, again = create(), create()
    assert first.id == again.id  # type: ignore[attr-defined]
    assert len(client.fine_tuning.jobs.list(limit=100).data) == before + 1
    with pytest.raises(openai.BadRequestError) as info:
        create(suffix="other")
    assert info.value.code == "idempotency_key_reused"
    assert len(client.fine_tuning.jobs.list(limit=100).data) == before + 1


def test_a_retried_upload_stores_one_file(rft_server: ServerHandle) -> None:
    """Before: a client retrying ``POST /v1/files`` after a lost response stored the file twice
    (and twice against the project's disk quota)."""
    client = rft_server.client()
    data = b'{"messages": [{"role": "user", "content": "once"}]}\n'
    headers = {"Idempotency-Key": "upload-once-1"}

    def upload(content: bytes) -> str:
        made = client.files.create(
            file=("once.jsonl", content), purpose="fine-tune", extra_headers=headers
        )
        return made.id

    before = len(client.files.list().data)
    assert upload(data) == upload(data)
    assert len(client.files.list().data) == before + 1
    with pytest.raises(openai.BadRequestError) as info:
        upload(data + data)
    assert info.value.code == "idempotency_key_reused"
    assert len(client.files.list().data) == before + 1
