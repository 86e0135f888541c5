"""Blob store on the local filesystem: every write lands atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from openrft.ids import random_suffix


class BlobStore:
    """Keys are relative POSIX paths (``files/file-abc``, ``checkpoints/ftjob-x/step-3``)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Absolute path of ``key``; refuses keys that would escape the root."""
        target = (self.root / key).resolve()
        if target != self.root and self.root not in target.parents:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return target

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def put_bytes(self, key: str, data: bytes) -> Path:
        """Write ``data`` at ``key``: readers see the old blob or the whole new one, never part."""
        target = self.path(key)
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
        return target

    def put_dir(self, key: str, src: Path, *, hardlink: bool = False) -> Path:
        """Copy directory ``src`` to ``key`` atomically (copy to a temp dir, then rename).

        ``hardlink``: link files instead of copying (``src`` must be on the same filesystem);
        deleting either tree later leaves the other intact.
        """
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{random_suffix(8)}.tmp"
        try:
            shutil.copytree(src, tmp, copy_function=os.link if hardlink else shutil.copy2)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        """Remove a blob or a blob directory; missing keys are fine."""
        target = self.path(key)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files under directory ``path`` (symlinks not followed)."""
    return sum(
        p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink()
    )
