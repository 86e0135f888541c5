"""The data dir is private to the server's user: the directory 0700, everything in it 0600.

It holds every project's uploads, weights and the SQLite database (API key hashes, jobs), so no
other local user, and no sandboxed grader running as another user, may read it. The process
umask becomes 077, so whatever the server and its workers create later is private too.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
# The SQLite database and its write-ahead log files, made before this release possibly 0644.
SQLITE_FILES = ("openrft.db", "openrft.db-wal", "openrft.db-shm")


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) if needed, tighten an existing one and its database files,
    and set the umask so every later file is 0600 and every directory 0700."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    data_dir.chmod(DIR_MODE)
    for name in SQLITE_FILES:
        path = data_dir / name
        if path.exists():
            path.chmod(FILE_MODE)
