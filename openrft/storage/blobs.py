"""Blob store: uploads, checkpoints and fine-tuned weights behind one fsspec file system.

The storage URL picks it: ``file://`` (the default, ``<data_dir>/blobs``) or any fsspec URL
(``memory://``, ``s3://bucket/prefix`` with s3fs installed, ...). Every write is atomic: it goes
to a temp key that is then renamed, so no reader sees half a blob. (Where a rename is a copy, as
on object stores, the database row naming a blob is still only written after the blob.)
Libraries that need a local path (safetensors, peft, transformers) ask ``local_path``: the blob
itself on a local file system, a copy in the cache dir otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from openrft.ids import random_suffix
from openrft.settings import Settings


class BlobStore:
    """Keys are relative POSIX paths (``files/file-abc``, ``checkpoints/ftjob-x/step-3``) under
    ``root`` on ``fs``; ``cache_dir`` holds local copies and staged uploads."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, cache_dir: Path):
        self.fs = fs
        self.root = root.rstrip("/")
        self.cache_dir = cache_dir

    def _path(self, key: str) -> str:
        """``key`` on the file system; refuses keys that would escape the root."""
        parts = PurePosixPath(key).parts
        if not parts or PurePosixPath(key).is_absolute() or ".." in parts:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return f"{self.root}/{key}"

    def _temp(self, key: str) -> str:
        """A fresh sibling of ``key`` that readers never ask for."""
        parent, name = posix_split(self._path(key))
        return f"{parent}/.{name}.{random_suffix(8)}.tmp"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def open(self, key: str) -> BinaryIO:
        return cast(BinaryIO, self.fs.open(self._path(key), "rb"))

    def read_bytes(self, key: str) -> bytes:
        return bytes(self.fs.cat_file(self._path(key)))

    def size(self, key: str) -> int:
        """Bytes of the blob, or of every file under a blob directory."""
        return sum(int(info["size"]) for info in self._files(key).values())

    def _files(self, key: str) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.fs.find(self._path(key), detail=True))

    def delete(self, key: str) -> None:
        """Remove a blob or a blob directory (and local copies of it); missing keys are fine."""
        path = self._path(key)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)
        for copy in self.cache_dir.glob(f"*/{key}"):
            shutil.rmtree(copy) if copy.is_dir() else copy.unlink()

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key``: readers see the old blob or the whole new one, never part."""
        with self._writing(key) as temp, self.fs.open(temp, "wb") as handle:
            handle.write(data)

    def put_file(self, key: str, src: Path) -> None:
        """Store the local file ``src`` (from ``staging_dir``) at ``key``; ``src`` is consumed."""
        with self._writing(key) as temp:
            self.fs.put_file(str(src), temp)
        src.unlink()

    def put_dir(self, key: str, src: Path) -> None:
        """Copy local directory ``src`` to ``key``."""
        with self._writing(key) as temp:
            self.fs.makedirs(temp, exist_ok=True)  # an empty directory is a blob too
            for file in sorted(p for p in Path(src).rglob("*") if p.is_file()):
                self.fs.put_file(str(file), f"{temp}/{file.relative_to(src).as_posix()}")

    def copy(self, src_key: str, key: str) -> None:
        """Copy blob directory ``src_key`` to ``key``; deleting either later leaves the other."""
        src = self._path(src_key)
        with self._writing(key) as temp:
            for path in self._files(src_key):
                self.fs.copy(path, f"{temp}/{path[len(src) + 1 :]}")

    @contextmanager
    def _writing(self, key: str) -> Iterator[str]:
        """A temp key to write; renamed to ``key`` when the block ends, removed if it fails."""
        temp = self._temp(key)
        try:
            yield temp
            self._commit(temp, key)
        except BaseException:
            self._discard(temp)
            raise

    def _commit(self, temp: str, key: str) -> None:
        target = self._path(key)
        if self.fs.isdir(target):
            self.fs.rm(target, recursive=True)
        self.fs.mv(temp, target, recursive=True)

    def _discard(self, temp: str) -> None:
        if self.fs.exists(temp):
            self.fs.rm(temp, recursive=True)

    def staging_dir(self) -> Path:
        """A local directory for uploads on their way in (see ``put_file``)."""
        staging = self.cache_dir / ".incoming"
        staging.mkdir(parents=True, exist_ok=True)
        return staging

    def local_path(self, key: str) -> Path:
        """A local file or directory with the blob's content, for libraries that open paths.

        A copy in the cache dir, named after the blob's listing (sizes, times, ETags), so a blob
        written again gets a new copy and a copy is made once per version."""
        files = self._files(key)
        if not files:
            raise FileNotFoundError(f"no blob {key!r}")
        version = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
        local = self.cache_dir / version / key
        if local.exists():
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{local.name}.", suffix=".tmp"))
        try:
            path = self._path(key)
            if list(files) == [path] and files[path]["type"] == "file":
                self.fs.get_file(path, str(temp / "blob"))
                os.replace(temp / "blob", local)
                temp.rmdir()
                return local
            for name in files:
                dest = temp / name[len(path) + 1 :]
                dest.parent.mkdir(parents=True, exist_ok=True)
                self.fs.get_file(name, str(dest))
            os.replace(temp, local)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return local


class LocalBlobStore(BlobStore):
    """A directory of the local (or a shared, mounted) file system: writes are fsynced and
    renamed in place, copies are hard links, and ``local_path`` is the blob itself."""

    def __init__(self, root: Path):
        self.dir = Path(root).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        super().__init__(LocalFileSystem(), self.dir.as_posix(), self.dir)

    def local_path(self, key: str) -> Path:
        return Path(self._path(key))

    def delete(self, key: str) -> None:
        target = self.local_path(key)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, src: Path) -> None:
        """A rename: ``staging_dir`` is inside the store, on the same file system."""
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, target)

    def put_dir(self, key: str, src: Path) -> None:
        self._copy_tree(Path(src), key, shutil.copy2)

    def copy(self, src_key: str, key: str) -> None:
        """Hard links: no second copy of the weights on disk."""
        self._copy_tree(self.local_path(src_key), key, os.link)

    def _copy_tree(self, src: Path, key: str, copy_function: Any) -> None:
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{random_suffix(8)}.tmp"
        try:
            shutil.copytree(src, tmp, copy_function=copy_function)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def open_blob_store(settings: Settings) -> BlobStore:
    """The store at ``settings.storage_url`` (default ``<data_dir>/blobs``)."""
    if settings.storage_url is None:
        return LocalBlobStore(settings.data_dir / "blobs")
    fs, root = fsspec.core.url_to_fs(settings.storage_url)
    if isinstance(fs, LocalFileSystem):
        return LocalBlobStore(Path(root))
    return BlobStore(fs, root, settings.resolved_blob_cache_dir)


def posix_split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files under directory ``path`` (symlinks not followed)."""
    return sum(
        p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink()
    )
