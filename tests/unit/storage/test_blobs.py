"""Blob store: atomic writes, directory copies, safe keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrft.storage.blobs import BlobStore


def test_put_and_read_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.put_bytes("files/file-1", b"abc")
    assert store.read_bytes("files/file-1") == b"abc"
    assert store.exists("files/file-1")
    store.put_bytes("files/file-1", b"xyz")
    assert store.read_bytes("files/file-1") == b"xyz"


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    with pytest.raises(TypeError):
        store.put_bytes("files/x", object())  # type: ignore[arg-type]
    assert list((tmp_path / "files").iterdir()) == []


def test_put_dir_copies_and_replaces(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("1")
    store = BlobStore(tmp_path / "store")
    target = store.put_dir("checkpoints/job/step-1", src)
    assert (target / "a.txt").read_text() == "1"
    (src / "a.txt").write_text("2")
    store.put_dir("checkpoints/job/step-1", src)
    assert (target / "a.txt").read_text() == "2"
    assert [p.name for p in target.parent.iterdir()] == ["step-1"]


def test_hardlinked_dir_survives_deleting_the_source_tree(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    src = store.path("checkpoints/j/step-2")
    src.mkdir(parents=True)
    (src / "w.bin").write_bytes(b"w")
    store.put_dir("models/j", src, hardlink=True)
    store.delete("checkpoints/j/step-2")
    assert store.read_bytes("models/j/w.bin") == b"w"


def test_delete_is_idempotent(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.put_bytes("k", b"1")
    store.delete("k")
    store.delete("k")
    assert not store.exists("k")


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        BlobStore(tmp_path / "root").path("../outside")
