"""The program inside a sandbox: load user code once, then answer calls until stdin closes.

Runs as ``python -I -c <this file's source>``; imports nothing from openrft. Protocol: frames
of a 4-byte big-endian length plus UTF-8 JSON, on the original stdin/stdout. The first frame is
the config (source, entry, kind, limits, ...); each later frame is ``{"args": [...]}`` and gets
``{"ok": true, "value": ...}``, ``{"ok": false, "error": "<traceback>"}`` or ``{"retire": true}``
(CPU budget of this process used up: the parent restarts it and sends the call again).
User code sees stdin and stdout as ``/dev/null``.
"""

import contextlib
import json
import math
import os
import resource
import struct
import sys
import traceback
from typing import Any, BinaryIO

NOBODY = 65534
# mount(2) flags of the tmpfs that covers a hidden path: read-only, nosuid, nodev, noexec.
HIDE_FLAGS = 1 | 2 | 4 | 8
# Imported before dropping root, in case the Python installation is not readable by nobody
# (e.g. under /root) and no bind mount makes it so.
PRELOAD = (
    "ast",
    "base64",
    "bisect",
    "collections",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "encodings.idna",
    "enum",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "itertools",
    "math",
    "operator",
    "random",
    "re",
    "socket",
    "statistics",
    "string",
    "textwrap",
    "time",
    "typing",
    "unicodedata",
)


def read_frame(stream: BinaryIO) -> Any:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    return json.loads(stream.read(size))


def write_frame(stream: BinaryIO, message: Any) -> None:
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def hide(paths: list[str]) -> None:
    """Cover each path with an empty read-only tmpfs; only sent in a private mount namespace.
    A path that cannot be covered stops the sandbox (the parent reports a load failure)."""
    if not paths:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for path in paths:
        if libc.mount(b"none", path.encode(), b"tmpfs", HIDE_FLAGS, b"size=4k,mode=000") != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"cannot hide {path}: {os.strerror(errno)}")


def apply_limits(config: dict[str, Any]) -> None:
    """Hidden paths, rlimits for this process and everything it forks; drop root to nobody."""
    hide(config["hide"])
    memory, nproc, fsize = (
        config["memory_bytes"],
        config["max_processes"],
        config["file_size_bytes"],
    )
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    hard = math.ceil(config["cpu_lifetime_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    if os.geteuid() == 0:
        for name in PRELOAD:
            with contextlib.suppress(ImportError):
                __import__(name)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)


def reap_strays(config: dict[str, Any]) -> None:
    """Kill whatever the last call forked (only inside our own PID namespace) and reap it."""
    if config["own_pid_namespace"]:
        with contextlib.suppress(OSError):
            os.kill(-1, 9)
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def encode(value: Any, kind: str) -> dict[str, Any]:
    """A reply frame; ``grade`` must return a finite number, a Lambda any JSON value."""
    if kind == "grade":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return {"ok": False, "error": f"grade() returned {type(value).__name__}, not a float"}
        if not math.isfinite(value):
            return {"ok": False, "error": f"grade() returned {value}"}
        return {"ok": True, "value": float(value)}
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        return {"ok": False, "error": f"handler returned a value that is not JSON: {exc}"}
    return {"ok": True, "value": value}


class LambdaContext:
    """The attributes AWS passes as ``context``, for ``handler(event, context)``."""

    def __init__(self, info: dict[str, Any], deadline_s: float) -> None:
        self.function_name = info.get("function_name", "reward")
        self.memory_limit_in_mb = info.get("memory_limit_in_mb", 0)
        self.invoked_function_arn = info.get("invoked_function_arn", "")
        self.aws_request_id = info.get("aws_request_id", "")
        self._deadline_s = deadline_s

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline_s - time.monotonic()) * 1000))


def call(func: Any, message: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    args = list(message["args"])
    if config["kind"] == "lambda":
        import time

        args[1] = LambdaContext(args[1], time.monotonic() + config["wall_time_s"])
    try:
        return encode(func(*args), config["kind"])
    except BaseException:
        return {"ok": False, "error": traceback.format_exc(limit=-4)[-4000:]}


def serve(proto_in: BinaryIO, proto_out: BinaryIO) -> None:
    config = read_frame(proto_in)
    sys.path.extend(config["paths"])
    apply_limits(config)
    namespace: dict[str, Any] = {"__name__": "__grader__"}
    try:
        exec(compile(config["source"], config["filename"], "exec"), namespace)
        func = namespace[config["entry"]]
    except BaseException:
        write_frame(proto_out, {"ok": False, "error": traceback.format_exc(limit=-4)[-4000:]})
        return
    write_frame(proto_out, {"ok": True})
    main_pid = os.getpid()
    while (message := read_frame(proto_in)) is not None:
        used = cpu_used()
        if used + config["cpu_time_s"] > config["cpu_lifetime_s"]:
            write_frame(proto_out, {"retire": True})
            return
        soft = math.ceil(used + config["cpu_time_s"])
        resource.setrlimit(resource.RLIMIT_CPU, (soft, math.ceil(config["cpu_lifetime_s"])))
        reply = call(func, message, config)
        if os.getpid() != main_pid:  # a fork of user code returned into our loop
            os._exit(0)
        reap_strays(config)
        write_frame(proto_out, reply)


def main() -> None:
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    serve(proto_in, proto_out)


if __name__ == "__main__":
    main()
