"""A real HTTP reward-function server on loopback whose behaviour each test chooses by path."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LEAKED_SECRET = b"AKIA-internal-secret"


def score_items(event: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1.0 when the rollout equals the reference answer, with two metrics."""
    answers = []
    for item in event:
        output = item["messages"][-1]["content"]
        correct = output == item["reference_answer"]["text"]
        answers.append(
            {
                "id": item["id"],
                "aggregate_reward_score": 1.0 if correct else 0.0,
                "metrics_list": [
                    {"name": "accuracy", "value": float(correct), "type": "Reward"},
                    {
                        "name": "length",
                        "value": len(item["messages"][-1]["content"]),
                        "type": "Metric",
                    },
                ],
            }
        )
    return answers


class RewardHandler(BaseHTTPRequestHandler):
    """Paths: /ok, /flaky/<n> (n 500s first), /slow, /garbage, /drop, /error400, /notalist,
    /leak (a 403 whose long body holds terminal escapes and a secret past its 200th byte)."""

    server: RewardServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.events.append(event)
        self.server.calls[self.path] += 1
        parts = self.path.strip("/").split("/")
        if parts[0] == "flaky" and self.server.calls[self.path] <= int(parts[1]):
            return self._reply(500, b"oops")
        if parts[0] == "slow":
            time.sleep(2.0)
        if parts[0] == "garbage":
            return self._reply(200, b"<html>not json")
        if parts[0] == "notalist":
            return self._reply(200, b'{"id": "a"}')
        if parts[0] == "error400":
            return self._reply(400, b"bad request")
        if parts[0] == "leak":
            return self._reply(403, b"denied\x1b[2J\r\n" + b"x" * 200 + LEAKED_SECRET)
        answers = score_items(event)
        if parts[0] == "drop":
            answers[0]["aggregate_reward_score"] = "high"
            answers[1]["id"] = "unknown-id"
            del answers[2]
        self._reply(200, json.dumps(answers).encode())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RewardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RewardHandler)
        self.calls: Counter[str] = Counter()
        self.events: list[list[dict[str, Any]]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@contextmanager
def running_reward_server() -> Iterator[RewardServer]:
    server = RewardServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
