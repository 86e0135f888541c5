"""Blob store: atomic writes, directory copies, safe keys; on the local file system and on
fsspec's in-memory one (the stand-in for an object store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openrft.ids import random_suffix
from openrft.settings import Settings
from openrft.storage.blobs import BlobStore, LocalBlobStore, open_blob_store


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    url = f"memory://blobs-{random_suffix(10)}" if request.param == "memory" else None
    settings = Settings(data_dir=tmp_path / "data", storage_url=url)
    blobs = open_blob_store(settings)
    yield blobs
    if url is not None and blobs.fs.exists(blobs.root):
        blobs.fs.rm(blobs.root, recursive=True)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_put_and_read_bytes(store: BlobStore) -> None:
    store.put_bytes("files/file-1", b"abc")
    assert store.read_bytes("files/file-1") == b"abc"
    assert store.exists("files/file-1") and store.size("files/file-1") == 3
    store.put_bytes("files/file-1", b"xyz")
    with store.open("files/file-1") as handle:
        assert handle.read() == b"xyz"


def test_failed_write_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(TypeError):
        store.put_bytes("files/x", object())  # type: ignore[arg-type]
    assert store.size("files") == 0


def test_put_file_consumes_the_staged_file(store: BlobStore) -> None:
    staged = store.staging_dir() / "upload.part"
    staged.write_bytes(b"rows")
    store.put_file("files/file-2", staged)
    assert store.read_bytes("files/file-2") == b"rows"
    assert not staged.exists()


def test_put_dir_copies_and_replaces(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("1")
    (src / "sub" / "b.txt").write_text("22")
    store.put_dir("checkpoints/job/step-1", src)
    assert _tree(store.local_path("checkpoints/job/step-1")) == {"a.txt": b"1", "sub/b.txt": b"22"}
    (src / "a.txt").write_text("3")
    store.put_dir("checkpoints/job/step-1", src)
    assert _tree(store.local_path("checkpoints/job/step-1"))["a.txt"] == b"3"
    assert store.size("checkpoints") == 3  # the temp copies are gone


def test_a_copy_survives_deleting_its_source(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "w.bin").write_bytes(b"w")
    store.put_dir("checkpoints/j/step-2", src)
    store.copy("checkpoints/j/step-2", "models/j")
    store.delete("checkpoints/j/step-2")
    assert store.read_bytes("models/j/w.bin") == b"w"
    assert not store.exists("checkpoints/j/step-2")


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.put_bytes("k", b"1")
    store.delete("k")
    store.delete("k")
    assert not store.exists("k")


def test_keys_cannot_escape_the_root(store: BlobStore) -> None:
    for key in ("../outside", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            store.put_bytes(key, b"x")


def test_local_path_is_the_blob_itself_on_a_local_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes("files/f", b"1")
    assert store.local_path("files/f") == tmp_path / "blobs" / "files" / "f"
    src = tmp_path / "src"
    src.mkdir()
    (src / "w.bin").write_bytes(b"w")
    store.put_dir("checkpoints/j/step-1", src)
    store.copy("checkpoints/j/step-1", "models/j")
    linked = [store.local_path(k) / "w.bin" for k in ("checkpoints/j/step-1", "models/j")]
    assert linked[0].stat().st_ino == linked[1].stat().st_ino  # hard links, one copy on disk


def test_a_remote_blob_is_copied_once_per_version(tmp_path: Path) -> None:
    url = f"memory://blobs-{random_suffix(10)}"
    store = open_blob_store(Settings(data_dir=tmp_path / "data", storage_url=url))
    store.put_bytes("files/f", b"1")
    first = store.local_path("files/f")
    assert first.is_relative_to(tmp_path / "data" / "blob-cache") and first.read_bytes() == b"1"
    assert store.local_path("files/f") == first
    store.put_bytes("files/f", b"22")
    second = store.local_path("files/f")
    assert second != first and second.read_bytes() == b"22"
    store.delete("files/f")
    assert not first.exists() and not second.exists()
