"""One warm sandbox process: user code loaded once, then many calls over a framed pipe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import struct
from dataclasses import dataclass
from typing import Any

from openrft.graders.sandbox.launch import SANDBOX_ENV, Isolation, child_command

_MAX_FRAME = 64 * 1024**2


@dataclass(frozen=True)
class Outcome:
    """The result of one call: ``value`` when ``ok``, else ``error`` (a traceback or reason);
    ``logs``: what the code printed or logged during the call (bounded)."""

    ok: bool
    value: Any = None
    error: str | None = None
    logs: str = ""


class SandboxCrashed(Exception):
    """The process died, timed out or spoke garbage; the worker must be restarted."""


class SandboxWorker:
    """Runs calls one at a time, in order, in one sandbox process; restarts it when it dies.

    ``config`` is the child's first frame (see ``child.py``); ``call_timeout_s`` is the wall-clock
    limit of one call (and of loading the code); ``binds`` are host paths bound into it.
    """

    def __init__(
        self,
        config: dict[str, Any],
        isolation: Isolation,
        call_timeout_s: float,
        binds: tuple[tuple[str, str], ...] = (),
    ):
        self.config = config
        self.binds = binds
        self.isolation = isolation
        self.call_timeout_s = call_timeout_s
        self.process: asyncio.subprocess.Process | None = None
        self.load_error: str | None = None
        self.load_logs = ""

    async def start(self) -> None:
        """Spawn the process and load the code; a load failure is kept in ``load_error``
        (and retried by the next ``run``, in case it was the machine, not the code)."""
        self.load_error, self.load_logs = None, ""
        self.process = await asyncio.create_subprocess_exec(
            *child_command(self.isolation, self.binds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=SANDBOX_ENV,
            start_new_session=True,
            limit=_MAX_FRAME,
        )
        self._send(self.config)
        try:
            reply = await asyncio.wait_for(self._receive(), self.call_timeout_s)
        except (TimeoutError, SandboxCrashed):
            await self.kill()
            self.load_error = "the sandbox process did not start (crashed or timed out)"
            return
        self.load_logs = str(reply.get("logs") or "")
        if not reply.get("ok"):
            await self.kill()
            self.load_error = f"the grader code failed to load:\n{reply.get('error')}"

    async def run(self, calls: list[list[Any]]) -> list[Outcome]:
        """Each call's outcome, in order. A call that crashes or times out the process gets an
        error outcome; the process is restarted for the calls after it."""
        outcomes: list[Outcome] = []
        while len(outcomes) < len(calls):
            if self.process is None or self.process.returncode is not None:
                await self.start()
            if self.load_error is not None:
                failed = Outcome(False, error=self.load_error, logs=self.load_logs)
                return outcomes + [failed] * (len(calls) - len(outcomes))
            outcomes += await self._run_until_crash(calls[len(outcomes) :])
        return outcomes

    async def _run_until_crash(self, calls: list[list[Any]]) -> list[Outcome]:
        """Pipeline all frames; stop at the first crash, timeout or retire request."""
        writer = asyncio.create_task(self._send_all(calls))
        outcomes: list[Outcome] = []
        try:
            for _ in calls:
                try:
                    reply = await asyncio.wait_for(self._receive(), self.call_timeout_s)
                except TimeoutError:
                    await self.kill()
                    outcomes.append(Outcome(False, error=f"timed out after {self.call_timeout_s}s"))
                    break
                except SandboxCrashed as exc:
                    await self.kill()
                    outcomes.append(Outcome(False, error=f"the sandbox process died: {exc}"))
                    break
                if reply.get("retire"):
                    await self.kill()
                    break
                logs = str(reply.get("logs") or "")
                outcomes.append(
                    Outcome(bool(reply["ok"]), reply.get("value"), reply.get("error"), logs)
                )
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await writer
        return outcomes

    async def _send_all(self, calls: list[list[Any]]) -> None:
        assert self.process is not None and self.process.stdin is not None
        for args in calls:
            self._send({"args": args})
            await self.process.stdin.drain()

    def _send(self, message: Any) -> None:
        assert self.process is not None and self.process.stdin is not None
        data = json.dumps(message).encode()
        self.process.stdin.write(struct.pack(">I", len(data)) + data)

    async def _receive(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        try:
            header = await self.process.stdout.readexactly(4)
            (size,) = struct.unpack(">I", header)
            if size > _MAX_FRAME:
                raise SandboxCrashed(f"reply of {size} bytes")
            reply = json.loads(await self.process.stdout.readexactly(size))
        except asyncio.IncompleteReadError as exc:
            raise SandboxCrashed("it exited") from exc
        except ValueError as exc:
            raise SandboxCrashed("it wrote garbage to the protocol pipe") from exc
        if not isinstance(reply, dict):
            raise SandboxCrashed("it wrote garbage to the protocol pipe")
        return reply

    async def kill(self) -> None:
        """Kill the process group and reap it."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
