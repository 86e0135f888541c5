"""How sandbox processes are started: bubblewrap when it works, else ``unshare``, else rlimits only.

Every mode applies rlimits (CPU time, address space, processes, file size) inside the child and
drops root to ``nobody``. The isolation on top, probed once per process:

- ``bwrap``: new mount namespace holding only read-only ``/usr``, ``/lib*``, the Python prefix and
  its site-packages, a private ``/tmp`` tmpfs (mode 1777), ``/proc`` and ``/dev`` (no ``/etc``,
  no home, no data dir), and the judge relay's socket when the grader has judges
  (``judge_relay.py``); new network (loopback only), PID, IPC and UTS namespaces;
  ``--die-with-parent``.
- ``unshare``: new network and PID namespaces; the file system stays visible.
- ``none``: rlimits and the privilege drop only.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

ENFORCED = {
    "bwrap": (
        "rlimits (cpu, memory, processes, file size)",
        "wall-clock timeout",
        "read-only minimal file system",
        "no network",
        "own PID namespace",
        "dies with the server",
    ),
    "unshare": (
        "rlimits (cpu, memory, processes, file size)",
        "wall-clock timeout",
        "no network",
        "own PID namespace",
    ),
    "none": ("rlimits (cpu, memory, processes, file size)", "wall-clock timeout"),
}


@dataclass(frozen=True)
class Isolation:
    """The chosen mode, the command prefix that starts a child in it, and what it enforces."""

    mode: str
    prefix: tuple[str, ...]
    own_pid_namespace: bool

    @property
    def enforced(self) -> tuple[str, ...]:
        return ENFORCED[self.mode]


def python_executable() -> str:
    """The real interpreter behind the venv's ``python`` symlink."""
    return os.path.realpath(sys.executable)


def library_paths() -> list[str]:
    """site-packages directories the child appends to ``sys.path`` (read-only in bwrap)."""
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(p for p in paths if Path(p).is_dir())


def bwrap_prefix(tmp_size_bytes: int) -> tuple[str, ...]:
    """The bubblewrap command line up to ``--``."""
    args = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:
        # Unprivileged bwrap needs a user namespace; RLIMIT_NPROC then counts per namespace.
        args += ["--unshare-user", "--disable-userns"]
    for path in ("/usr", "/lib", "/lib64", "/lib32", "/bin"):
        args += ["--ro-bind-try", path, path]
    prefix = os.path.realpath(sys.base_prefix)
    for path in [prefix, *library_paths()]:
        if path.startswith("/usr/"):
            continue
        # Parents like /root are created 0700 otherwise, and the child runs as nobody.
        for parent in reversed(Path(path).parents[:-1]):
            args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", path, path]
    # /tmp is writable by the sandbox user (nobody), as code that uses ``tempfile`` expects.
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmp_size_bytes)]
    args += ["--tmpfs", "/tmp"]
    args += ["--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]
    args += ["--chdir", "/tmp", "--"]
    return tuple(args)


def unshare_prefix() -> tuple[str, ...]:
    args = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        args.append("--map-root-user")
    return (*args, "--")


def _works(prefix: tuple[str, ...]) -> bool:
    if shutil.which(prefix[0]) is None:
        return False
    try:
        probe = subprocess.run(
            [*prefix, python_executable(), "-I", "-c", "import json"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.cache
def detect_isolation(requested: str = "auto", tmp_size_bytes: int = 256 * 1024**2) -> Isolation:
    """The strongest working mode (or ``requested`` if it works); probed once per process."""
    candidates = {
        "bwrap": Isolation("bwrap", bwrap_prefix(tmp_size_bytes), True),
        "unshare": Isolation("unshare", unshare_prefix(), True),
        "none": Isolation("none", (), False),
    }
    order = ["bwrap", "unshare", "none"] if requested == "auto" else [requested, "none"]
    for mode in order:
        isolation = candidates[mode]
        if mode == "none" or _works(isolation.prefix):
            return isolation
    return candidates["none"]


def child_command(isolation: Isolation, binds: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """The full argv of one sandbox process; ``binds``: (host path, sandbox path) pairs made
    visible inside (bwrap only: the other modes see the host's file system)."""
    source = (Path(__file__).parent / "child.py").read_text()
    prefix = list(isolation.prefix)
    if isolation.mode == "bwrap":
        extra = []
        for host, inside in binds:  # the parent made traversable for the sandbox user
            extra += ["--perms", "0755", "--dir", str(Path(inside).parent), "--bind", host, inside]
        prefix[-1:-1] = extra  # before the final "--"
    return [*prefix, python_executable(), "-I", "-c", source]


def sandbox_path(isolation: Isolation, host: str, inside: str) -> str:
    """Where the sandbox sees a host path that ``child_command`` binds at ``inside``."""
    return inside if isolation.mode == "bwrap" else host
