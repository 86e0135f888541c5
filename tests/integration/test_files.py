"""Files through the official SDK: upload, list pages, purpose filter, content, delete."""

from __future__ import annotations

import json

import openai
import pytest

from tests.integration.conftest import ServerHandle, upload_jsonl


def test_upload_retrieve_content_delete(server: ServerHandle) -> None:
    client = server.client()
    data = b'{"messages": [{"role": "user", "content": "hi"}], "reference_answer": [1, 2]}\n'
    created = client.files.create(file=("rows.jsonl", data), purpose="fine-tune")
    assert created.id.startswith("file-") and created.object == "file"
    assert (created.bytes, created.filename, created.purpose) == (
        len(data),
        "rows.jsonl",
        "fine-tune",
    )
    assert created.status == "processed"
    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).read() == data
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    assert not (server.data_dir / "blobs" / "files" / created.id).exists()


def test_list_pages_orders_and_filters(server: ServerHandle) -> None:
    client = server.client()
    tuned = [upload_jsonl(client, rows=1) for _ in range(3)]
    other = client.files.create(file=("notes.txt", b"plain text"), purpose="assistants").id
    newest_first = [f.id for f in client.files.list(limit=2)]
    assert newest_first[:4] == [other, *tuned[::-1]]
    page = client.files.list(limit=2)
    assert page.has_more and page.first_id == other and page.last_id == tuned[2]
    oldest_first = [f.id for f in client.files.list(limit=1, order="asc")]
    assert [i for i in oldest_first if i in tuned] == tuned
    only_tuning = [f.id for f in client.files.list(purpose="fine-tune")]
    assert other not in only_tuning and set(tuned) <= set(only_tuning)
    assert client.files.content(other).read() == b"plain text"


def test_any_row_keys_are_kept_verbatim(server: ServerHandle) -> None:
    client = server.client()
    row = {"messages": [{"role": "user", "content": "q"}], "compliant": "yes", "x": {"y": None}}
    file_id = client.files.create(
        file=("r.jsonl", json.dumps(row).encode()), purpose="fine-tune"
    ).id
    assert json.loads(client.files.content(file_id).read()) == row
