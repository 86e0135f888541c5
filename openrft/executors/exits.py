"""Why a training worker ended without finishing its job: an error code and a reason.

``out_of_memory``: killed by SIGKILL that the scheduler did not send (the kernel's OOM killer),
or a ``MemoryError`` / ENOMEM in its log. ``out_of_disk``: ENOSPC in its log. ``job_timeout``:
the scheduler stopped it at ``OPENRFT_MAX_JOB_SECONDS``. Anything else is ``worker_died``.
"""

from __future__ import annotations

import signal

# torch's CPU allocator says "can't allocate memory"; CUDA's "out of memory".
OOM_MARKERS = ("MemoryError", "Cannot allocate memory", "can't allocate memory", "out of memory")
DISK_MARKERS = ("No space left on device", "Disk quota exceeded")


def classify_exit(code: int, log_tail: str, *, killed_by_us: bool) -> tuple[str, str]:
    """``(error_code, reason)`` for a worker that exited with ``code``."""
    if any(marker in log_tail for marker in DISK_MARKERS):
        return "out_of_disk", "it ran out of disk space (free space in the data directory)"
    if any(marker in log_tail for marker in OOM_MARKERS):
        return "out_of_memory", "it ran out of memory (use a smaller batch, group or model)"
    if code == -signal.SIGKILL and not killed_by_us:
        return "out_of_memory", (
            "it was killed by SIGKILL, most likely by the kernel's out-of-memory killer "
            "(use a smaller batch, group or model)"
        )
    return "worker_died", f"it exited with code {code}"
