"""Which code a bench run measured: the checkout's commit and a digest of its uncommitted changes.

Measuring children import ``openrft`` when they start, so a file edited while ``python -m
bench`` runs changes what the later benchmarks measure. The runner records this state before
and after the run (``bench/results/summary.json``) and says so when it changed.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

# What the benchmarks run: the package and the bench itself.
MEASURED_PATHS = ("openrft", "bench")


def source_state(root: Path) -> dict[str, Any]:
    """``{"commit", "uncommitted_digest"}`` of the git checkout at ``root`` (the digest covers
    the diff against HEAD and untracked files under ``MEASURED_PATHS``; None when clean), or
    ``{"commit": None}`` outside a git checkout."""

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=True
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").decode().strip()
        diff = git("diff", "HEAD", "--binary", "--", *MEASURED_PATHS)
        untracked = git("ls-files", "--others", "--exclude-standard", "-z", "--", *MEASURED_PATHS)
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None}
    digest = hashlib.sha256(diff)
    for name in sorted(n for n in untracked.split(b"\0") if n):
        digest.update(name + b"\0" + (root / name.decode()).read_bytes())
    changed = bool(diff or untracked.strip(b"\0"))
    return {"commit": commit, "uncommitted_digest": digest.hexdigest() if changed else None}
