"""A pool of warm sandbox workers running one piece of user code (a ``grade`` or a handler)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from openrft.graders.sandbox.judge_relay import SANDBOX_SOCKET, JudgeRelay
from openrft.graders.sandbox.launch import detect_isolation, library_paths, sandbox_path
from openrft.graders.sandbox.worker import Outcome, SandboxWorker
from openrft.graders.types import JudgeAccess, SandboxLimits


class SandboxPool:
    """``run(calls)`` spreads calls over up to ``limits.workers`` processes, in order.

    ``kind`` is ``"grade"`` (``entry(sample, item) -> float``), ``"lambda"``
    (``entry(event, context) -> JSON``) or ``"tool"`` (``entry(name, arguments) -> JSON``, the
    python tools of multi-turn rollouts). Processes start lazily and stay warm until ``aclose``.
    With ``judge``, the code can call this server's chat completions through a ``JudgeRelay``.
    """

    def __init__(
        self,
        *,
        source: str,
        entry: str,
        kind: str,
        filename: str,
        limits: SandboxLimits,
        judge: JudgeAccess | None = None,
    ) -> None:
        self.limits = limits
        self.isolation = detect_isolation(limits.isolation, limits.tmp_size_bytes)
        config = {
            "source": source,
            "entry": entry,
            "kind": kind,
            "filename": filename,
            "paths": library_paths(),
            "memory_bytes": limits.memory_bytes,
            "max_processes": limits.max_processes,
            "file_size_bytes": limits.file_size_bytes,
            "cpu_time_s": limits.cpu_time_s,
            "cpu_lifetime_s": max(600.0, 10 * limits.cpu_time_s),
            "wall_time_s": limits.wall_time_s,
            "own_pid_namespace": self.isolation.own_pid_namespace,
            "log_chars": limits.log_chars,
            "hide": list(limits.hidden) if self.isolation.own_mount_namespace else [],
        }
        self.relay = JudgeRelay(judge) if judge is not None else None
        binds: tuple[tuple[str, str], ...] = ()
        if self.relay is not None:
            host = str(self.relay.socket_path)
            binds = ((host, SANDBOX_SOCKET),)
            config["judge"] = {
                "socket": sandbox_path(self.isolation, host, SANDBOX_SOCKET),
                "key": self.relay.key,
            }
        self.workers = [
            SandboxWorker(config, self.isolation, limits.wall_time_s, binds)
            for _ in range(limits.workers)
        ]
        self.idle: asyncio.Queue[SandboxWorker] = asyncio.Queue()
        for worker in self.workers:
            self.idle.put_nowait(worker)

    async def run(self, calls: list[list[Any]]) -> list[Outcome]:
        """One outcome per call, in the order of ``calls``."""
        if not calls:
            return []
        if self.relay is not None:
            await self.relay.start()
        size = math.ceil(len(calls) / len(self.workers))
        slices = [calls[i : i + size] for i in range(0, len(calls), size)]
        parts = await asyncio.gather(*(self._run_slice(part) for part in slices))
        return [outcome for part in parts for outcome in part]

    async def _run_slice(self, calls: list[list[Any]]) -> list[Outcome]:
        worker = await self.idle.get()
        try:
            return await worker.run(calls)
        finally:
            self.idle.put_nowait(worker)

    async def aclose(self) -> None:
        await asyncio.gather(*(worker.kill() for worker in self.workers))
        if self.relay is not None:
            await self.relay.aclose()
