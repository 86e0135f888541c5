"""Request limits on a live server: a clear 4xx naming the setting, and nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.conftest import ServerHandle, start_server

ROW = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
LONG_ROW = b'{"messages": [{"role": "user", "content": "' + b"x" * 400 + b'"}]}\n'
LIMITS = {
    "OPENRFT_MAX_UPLOAD_BYTES": "4096",
    "OPENRFT_MAX_REQUEST_BYTES": "2048",
    "OPENRFT_MAX_JSONL_LINE_BYTES": "256",
    "OPENRFT_MAX_JSONL_ROWS": "3",
    "OPENRFT_PROJECT_DISK_QUOTA_BYTES": "6000",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start_server(tmp_path_factory.mktemp("openrft-limits"), env=LIMITS) as handle:
        yield handle


def _nothing_stored(server: ServerHandle) -> None:
    assert server.client().files.list().data == []
    blobs = server.data_dir / "blobs"
    stored = [p for p in blobs.rglob("*") if p.is_file()] if blobs.exists() else []
    assert stored == []


def _multipart(data: bytes, filename: str = "rows.jsonl") -> tuple[bytes, str]:
    boundary = "openrft-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_oversize_upload_with_content_length_is_413(limited: ServerHandle) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        limited.client().files.create(file=("big.jsonl", ROW * 20_000), purpose="fine-tune")
    assert info.value.status_code == 413
    assert "OPENRFT_MAX_UPLOAD_BYTES" in info.value.message
    _nothing_stored(limited)


def test_oversize_chunked_upload_is_413_after_the_cap(limited: ServerHandle) -> None:
    body, boundary = _multipart(ROW * 200)  # ~9 KB file: over 4096, under the framing slack

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = httpx.post(
        f"{limited.base_url}/files",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert "4096 bytes" in response.json()["error"]["message"]
    _nothing_stored(limited)


@pytest.mark.parametrize(
    ("data", "setting"),
    [
        (LONG_ROW, "JSONL_LINE_BYTES"),
        (ROW * 4, "JSONL_ROWS"),
    ],
)
def test_jsonl_line_and_row_caps_are_400(limited: ServerHandle, data: bytes, setting: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        limited.client().files.create(file=("rows.jsonl", data), purpose="fine-tune")
    assert f"OPENRFT_MAX_{setting}" in info.value.message
    _nothing_stored(limited)
    assert not any((limited.data_dir / "blobs" / ".incoming").glob("*"))


def test_json_body_over_the_request_cap_is_413(limited: ServerHandle) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        limited.client().fine_tuning.jobs.create(model="m", training_file="f" * 5000)
    assert info.value.status_code == 413
    assert "OPENRFT_MAX_REQUEST_BYTES" in info.value.message


def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    env = {"OPENRFT_RATE_LIMIT_PER_SECOND": "0.2", "OPENRFT_RATE_LIMIT_BURST": "3"}
    with start_server(tmp_path, env=env) as handle:
        statuses = [
            httpx.get(f"{handle.base_url}/files", headers={"authorization": "Bearer a"})
            for _ in range(4)
        ]
        other_key = httpx.get(f"{handle.base_url}/files", headers={"authorization": "Bearer b"})
        health = httpx.get(f"{handle.root_url}/health")
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    limited = statuses[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert "OPENRFT_RATE_LIMIT_PER_SECOND" in limited.json()["error"]["message"]
    assert (other_key.status_code, health.status_code) == (200, 200)


@pytest.mark.timeout(120)
def test_hostile_template_is_a_prompt_400(server: ServerHandle) -> None:
    grader = {"type": "string_check", "name": "g", "operation": "eq", "reference": "x"}
    client = httpx.Client(base_url=server.base_url, timeout=60)
    flood = client.post(
        "/fine_tuning/alpha/graders/run",
        json={"grader": grader | {"input": "{{" * (24 * 1024)}, "model_sample": "x"},
    )
    assert flood.status_code == 400 and "Unclosed" in flood.json()["error"]["message"]
    huge = client.post(
        "/fine_tuning/alpha/graders/validate", json={"grader": grader | {"input": "y" * 70_000}}
    )
    assert huge.status_code == 400 and "templates are limited" in huge.json()["error"]["message"]


def test_project_quota_is_413_and_frees_up_on_delete(limited: ServerHandle) -> None:
    client = limited.client()
    kept = client.files.create(file=("a.jsonl", ROW * 3), purpose="fine-tune")
    filler = client.files.create(file=("b.bin", b"x" * 4000), purpose="assistants")
    with pytest.raises(openai.APIStatusError) as info:  # 156 + 4000 + 2000 > 6000
        client.files.create(file=("c.bin", b"y" * 2000), purpose="assistants")
    assert info.value.status_code == 413
    assert "OPENRFT_PROJECT_DISK_QUOTA_BYTES" in info.value.message
    assert {f.id for f in client.files.list().data} == {kept.id, filler.id}
    client.files.delete(filler.id)
    client.files.create(file=("c.bin", b"y" * 2000), purpose="assistants")
    for stored in client.files.list().data:
        client.files.delete(stored.id)
