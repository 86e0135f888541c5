"""The real worker catches what training raises: running out of memory or disk there gives the
same error codes as a worker the scheduler saw die of it (not a generic training_failed)."""

from __future__ import annotations

import errno
import os

import pytest

from openrft.worker import failure_error


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (MemoryError(), "out_of_memory", "ran out of memory"),
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't "
                "allocate memory: you tried to allocate 8589934592 bytes."
            ),
            "out_of_memory",
            "ran out of memory",
        ),
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "step-3/adapter_model.safetensors"),
            "out_of_disk",
            "ran out of disk space",
        ),
        (RuntimeError("shapes do not match"), "training_failed", "RuntimeError: shapes"),
    ],
)
def test_memory_and_disk_failures_get_their_codes(exc: BaseException, code: str, says: str) -> None:
    error = failure_error(exc)
    assert error["code"] == code
    assert says in error["message"]
