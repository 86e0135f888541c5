"""How sandbox processes are started: bubblewrap, or ``unshare`` / rlimits only when the operator
opts in.

Every mode applies rlimits (CPU time, address space, processes, file size) inside the child and
drops root to ``nobody``, and no mode passes on the server's environment (API keys, cloud and
database credentials): the child gets ``SANDBOX_ENV`` only. The isolation on top:

- ``bwrap``: new mount namespace holding only read-only ``/usr``, ``/lib*``, the Python prefix and
  its site-packages, a private ``/tmp`` tmpfs (mode 1777), ``/proc`` and ``/dev`` (no ``/etc``,
  no home, no data dir), and the judge relay's socket when the grader has judges
  (``judge_relay.py``); new network (loopback only), PID, IPC and UTS namespaces;
  ``--die-with-parent``.
- ``unshare``: new network, PID and mount namespaces; the data dir (``hidden`` paths) is covered
  by an empty read-only tmpfs, the rest of the file system stays visible.
- ``none``: rlimits and the privilege drop only.

``auto`` (the default) means bubblewrap or nothing: without a working bubblewrap, user code is
refused (``SandboxUnavailableError``) unless the operator names a weaker mode explicitly.
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

from openrft.errors import InvalidRequestError

# The whole environment of a sandbox process, in every mode.
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
UNISOLATED_MODES = ("unshare", "none")

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
        "data dir hidden",
    ),
    "none": ("rlimits (cpu, memory, processes, file size)", "wall-clock timeout"),
}


class SandboxUnavailableError(InvalidRequestError):
    """User code was sent to a server that cannot isolate it and was not told to run it anyway."""

    default_code = "sandbox_unavailable"


@dataclass(frozen=True)
class Isolation:
    """The chosen mode, the command prefix that starts a child in it, and what it enforces."""

    mode: str
    prefix: tuple[str, ...]
    own_pid_namespace: bool

    @property
    def own_mount_namespace(self) -> bool:
        """Mounts made inside the child stay inside it (``hidden`` paths can be covered)."""
        return self.mode == "unshare"

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
    # --mount-proc implies a private mount namespace.
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
            env=SANDBOX_ENV,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.cache
def _probe(mode: str, tmp_size_bytes: int) -> Isolation | None:
    """``mode``'s isolation when it works on this machine (probed once per process)."""
    candidates = {
        "bwrap": lambda: Isolation("bwrap", bwrap_prefix(tmp_size_bytes), True),
        "unshare": lambda: Isolation("unshare", unshare_prefix(), True),
        "none": lambda: Isolation("none", (), False),
    }
    isolation = candidates[mode]()
    return isolation if mode == "none" or _works(isolation.prefix) else None


def detect_isolation(requested: str = "auto", tmp_size_bytes: int = 256 * 1024**2) -> Isolation:
    """bubblewrap for ``auto`` (and ``bwrap``); ``unshare`` or ``none`` only when named.

    Raises SandboxUnavailableError when the mode does not work here: user code never runs with
    less isolation than the operator asked for.
    """
    mode = "bwrap" if requested == "auto" else requested
    isolation = _probe(mode, tmp_size_bytes)
    if isolation is not None:
        return isolation
    if mode == "bwrap":
        raise SandboxUnavailableError(
            "This server runs no user code (python graders, Lambda handler files, python tools): "
            "bubblewrap does not work on it. The operator can install bubblewrap, or accept "
            "weaker isolation with --sandbox-isolation unshare (or none)."
        )
    raise SandboxUnavailableError(
        f"This server runs no user code: its sandbox mode {mode!r} does not work on it; the "
        "operator can choose another --sandbox-isolation."
    )


def isolation_warning(requested: str) -> str | None:
    """What the operator must hear at startup: user code refused, or run with weak isolation."""
    try:
        isolation = detect_isolation(requested)
    except SandboxUnavailableError as exc:
        return exc.message
    if isolation.mode not in UNISOLATED_MODES:
        return None
    return (
        f"--sandbox-isolation {isolation.mode}: user code (python graders, Lambda handler "
        "files, python tools) runs WITHOUT file system isolation; in force only: "
        + ", ".join(isolation.enforced)
        + "."
    )


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
