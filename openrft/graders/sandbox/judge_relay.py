"""The narrow channel from a sandbox to this server's chat completions (judges from handlers).

A sandbox has no network. When its grader may call judges, the host side of the channel is a
``JudgeRelay``: an HTTP endpoint on a Unix socket that only the sandbox sees (bound into it).
It answers ``POST /v1/chat/completions`` carrying the relay's own random key and naming a model
the job's project may use, by forwarding the request to this server's ``/v1/chat/completions``
with the project's credentials; everything else gets an OpenAI error object. Inside the sandbox a
loopback port forwards to the socket (``child.py``), and the handler's environment has
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (the relay key, worthless anywhere else).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import h11
import httpx

from openrft.graders.types import JudgeAccess

CHAT_PATH = b"/v1/chat/completions"
MAX_REQUEST_BYTES = 4 * 1024**2
JUDGE_TIMEOUT_S = 600.0
SANDBOX_SOCKET = "/run/openrft/judge.sock"  # where bwrap binds the socket inside the sandbox


def _error(status: int, message: str, param: str | None = None) -> tuple[int, dict[str, Any]]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return status, {"error": {"message": message, "type": kind, "param": param, "code": None}}


class JudgeRelay:
    """One relay per sandbox pool; ``socket_path`` exists once ``start`` ran."""

    def __init__(self, access: JudgeAccess) -> None:
        self.access = access
        self.key = "sk-judge-" + secrets.token_urlsafe(24)
        self.directory = Path(tempfile.mkdtemp(prefix="openrft-judge-"))
        self.socket_path = self.directory / "judge.sock"
        self.server: asyncio.Server | None = None
        self.client = httpx.AsyncClient(timeout=JUDGE_TIMEOUT_S, trust_env=False)

    async def start(self) -> None:
        if self.server is not None:
            return
        self.server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path))
        # The sandbox user (nobody) connects to it; nothing else can reach this private dir
        # except through the path handed to the sandbox.
        os.chmod(self.directory, 0o711)
        os.chmod(self.socket_path, 0o666)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            request, body = await _read_request(conn, reader)
            status, payload = await self._answer(request, body)
        except (h11.RemoteProtocolError, ValueError):
            status, payload = _error(400, "Malformed HTTP request.")
        except ConnectionError:
            writer.close()
            return
        data = json.dumps(payload).encode()
        headers = [
            ("content-type", "application/json"),
            ("content-length", str(len(data))),
            ("connection", "close"),
        ]
        with contextlib.suppress(ConnectionError, h11.LocalProtocolError):
            writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
            writer.write(conn.send(h11.Data(data=data)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
        writer.close()

    async def _answer(self, request: h11.Request, body: bytes) -> tuple[int, dict[str, Any]]:
        if request.target != CHAT_PATH:
            return _error(404, "The judge channel serves only POST /v1/chat/completions.")
        if request.method != b"POST":
            return _error(405, "The judge channel serves only POST /v1/chat/completions.")
        auth = dict(request.headers).get(b"authorization", b"").decode(errors="replace")
        if not secrets.compare_digest(auth, f"Bearer {self.key}"):
            return _error(401, "Use the OPENAI_API_KEY of the sandbox's environment.")
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "The request body must be JSON.")
        model = payload.get("model") if isinstance(payload, dict) else None
        if not isinstance(model, str):
            return _error(400, "Name the judge with 'model'.", "model")
        if payload.get("stream"):
            return _error(400, "The judge channel does not stream; leave 'stream' off.", "stream")
        if not await asyncio.to_thread(self.access.knows_model, model):
            return _error(404, f"The model '{model}' is not served to this job's project.", "model")
        return await self._forward(payload)

    async def _forward(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = {"authorization": f"Bearer {self.access.api_key}"} if self.access.api_key else {}
        url = self.access.chat_base_url.rstrip("/") + "/chat/completions"
        try:
            response = await self.client.post(url, json=payload, headers=headers)
            return response.status_code, response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return _error(502, f"The judge could not be reached: {type(exc).__name__}.")

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await self.client.aclose()
        shutil.rmtree(self.directory, ignore_errors=True)


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes]:
    """One request and its body (at most ``MAX_REQUEST_BYTES``)."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_REQUEST_BYTES:
                raise ValueError("request too large")
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("closed before the request ended")
