"""The program inside a sandbox: load user code once, then answer calls until stdin closes.

Runs as ``python -I -c <this file's source>``; imports nothing from openrft. Protocol: frames
of a 4-byte big-endian length plus UTF-8 JSON, on the original stdin/stdout. The first frame is
the config (source, entry, kind, limits, ...); each later frame is ``{"args": [...]}`` and gets
``{"ok": true, "value": ...}``, ``{"ok": false, "error": "<traceback>"}`` or ``{"retire": true}``
(CPU budget of this process used up: the parent restarts it and sends the call again).
User code sees stdin as ``/dev/null``. What it writes to ``sys.stdout``, ``sys.stderr`` and
``logging`` (root handler at the default WARNING level, like AWS Lambda's runtime) is captured,
bounded to ``log_chars`` characters (the start and the end), and sent back as ``"logs"`` in the
reply (also on the load reply, for output at import time).
"""

import contextlib
import json
import logging
import math
import os
import resource
import selectors
import socket
import struct
import sys
import threading
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


class LogCapture:
    """A text stream keeping the first quarter of ``limit`` characters and the last rest."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 4
        self.tail_limit = limit - self.head_limit
        self.reset()

    def reset(self) -> None:
        self.head, self.tail, self.dropped = "", "", 0

    def write(self, text: str) -> int:
        text = str(text)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head, rest = self.head + text[:room], text[room:]
        else:
            rest = text
        self.tail += rest
        excess = len(self.tail) - self.tail_limit
        if excess > 0:
            self.dropped += excess
            self.tail = self.tail[excess:]
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        if not self.dropped:
            return self.head + self.tail
        return f"{self.head}\n[... {self.dropped} characters dropped ...]\n{self.tail}"


def capture_output(limit: int) -> LogCapture:
    """Route ``sys.stdout``, ``sys.stderr`` and the root logger to one capture."""
    capture = LogCapture(limit)
    sys.stdout = sys.stderr = capture
    handler = logging.StreamHandler(capture)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return capture


def pump(selector: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
    """Move what one side of a forwarded connection sent to the other; close both at EOF."""
    source, peer = key.fileobj, key.data
    try:
        data = source.recv(65536)  # type: ignore[union-attr]
        if data:
            peer.sendall(data)
            return
    except OSError:
        pass
    for sock in (source, peer):
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(sock)
        sock.close()  # type: ignore[union-attr]


def forward_loop(listener: socket.socket, socket_path: str) -> None:
    """Each connection to ``listener`` is joined to a new connection to the Unix socket."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is not listener:
                pump(selector, key)
                continue
            client, _ = listener.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(socket_path)
            except OSError:
                client.close()
                continue
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)


def open_judge_channel(judge: dict[str, str]) -> None:
    """A loopback port that forwards to the judge relay's socket; the OpenAI SDK finds it
    through ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``. Without a loopback device (``unshare``
    mode) there is no channel."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
    except OSError:
        listener.close()
        return
    listener.listen(16)
    port = listener.getsockname()[1]
    thread = threading.Thread(target=forward_loop, args=(listener, judge["socket"]), daemon=True)
    thread.start()
    os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{port}/v1"
    os.environ["OPENAI_API_KEY"] = judge["key"]


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
    capture = capture_output(config["log_chars"])
    apply_limits(config)
    if config.get("judge"):
        open_judge_channel(config["judge"])
    namespace: dict[str, Any] = {"__name__": "__grader__"}
    try:
        exec(compile(config["source"], config["filename"], "exec"), namespace)
        func = namespace[config["entry"]]
    except BaseException:
        error = traceback.format_exc(limit=-4)[-4000:]
        write_frame(proto_out, {"ok": False, "error": error, "logs": capture.text()})
        return
    write_frame(proto_out, {"ok": True, "logs": capture.text()})
    main_pid = os.getpid()
    while (message := read_frame(proto_in)) is not None:
        used = cpu_used()
        if used + config["cpu_time_s"] > config["cpu_lifetime_s"]:
            write_frame(proto_out, {"retire": True})
            return
        soft = math.ceil(used + config["cpu_time_s"])
        resource.setrlimit(resource.RLIMIT_CPU, (soft, math.ceil(config["cpu_lifetime_s"])))
        capture.reset()
        reply = call(func, message, config)
        if os.getpid() != main_pid:  # a fork of user code returned into our loop
            os._exit(0)
        reap_strays(config)
        reply["logs"] = capture.text()
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
