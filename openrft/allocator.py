"""glibc malloc settings that let torch reuse freed tensor memory instead of refaulting it.

glibc serves a block larger than its mmap threshold (128 KiB, rising with use to at most
32 MiB) with a fresh ``mmap`` and unmaps it on free, and it returns the top of the heap to the
kernel once more than the trim threshold is free there. A training pass allocates and frees
activations of a few MiB thousands of times, so each one came back as new pages: the kernel
zeroed them on first touch, 2.6 million page faults and 15 s of system time over a four-pass
benchmark (issue 19). With a high mmap threshold and trim threshold, freed blocks stay in the
heap for the next allocation: 0.7 million faults, and the training pass 20-25% faster
(bench/training_flops.py). The cost is that memory freed at the end of a step stays with the
process, which its next step reuses; a freed block can also fall a few bytes short of the next
aligned request of the same size, so the heap may grow by a block before reuse settles
(tests/unit/test_allocator.py: a training loop's rounds fault no page from the fourth on).

Applied when ``openrft`` is imported, unless the user set glibc's malloc tunables
(``GLIBC_TUNABLES`` or ``MALLOC_*_`` variables) themselves. Other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter numbers (glibc malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap; larger ones (rare: a model's weights are loaded
# before this matters) are still mapped and returned on free.
MMAP_THRESHOLD = 256 << 20
# Free memory at the top of the heap is returned to the kernel beyond this.
TRIM_THRESHOLD = 1 << 30


def user_tuned() -> bool:
    """Whether the environment already sets glibc's malloc tunables."""
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return True
    return any(name.startswith("MALLOC_") and name.endswith("_") for name in os.environ)


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds; whether they were set."""
    if not sys.platform.startswith("linux") or user_tuned():
        return False
    libc = ctypes.CDLL(None)  # the C library this process runs on, already loaded
    if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: mallopt is not glibc's
        return False
    mmap_set = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    trim_set = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return mmap_set and trim_set
