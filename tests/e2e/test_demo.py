"""`openrft demo` end to end on tiny-random-llama: real server, real SDK, a handful of rows."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from openrft.demo.dataset import write_jsonl

pytestmark = pytest.mark.timeout(900)


def _tiny_gsm8k(directory: Path) -> Path:
    examples = [
        {
            "question": f"Sam has {i} apples and buys {i + 1} more. How many now?",
            "answer": f"{i} + {i + 1} = {2 * i + 1}\n#### {2 * i + 1}",
        }
        for i in range(12)
    ]
    write_jsonl(directory / "train.jsonl", examples[:8])
    write_jsonl(directory / "test.jsonl", examples[8:])
    return directory


def test_demo_runs_end_to_end_and_writes_results(tmp_path: Path) -> None:
    out_dir = tmp_path / "demo-out"
    command = [sys.executable, "-c", "from openrft.cli import app; app()", "demo"]
    command += ["--gsm8k-dir", str(_tiny_gsm8k(tmp_path / "gsm8k")), "--out-dir", str(out_dir)]
    command += ["--model", "tiny-random-llama", "--train-rows", "4", "--valid-rows", "2"]
    command += ["--eval-rows", "4", "--steps", "2", "--batch-size", "2", "--group-size", "2"]
    command += ["--max-tokens", "8", "--eval-interval", "1", "--concurrency", "4"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=840)
    server_log = out_dir / "server.log"
    assert run.returncode == 0, (
        run.stdout[-4000:]
        + run.stderr[-4000:]
        + (server_log.read_text()[-4000:] if server_log.exists() else "")
    )

    results = json.loads((out_dir / "results.json").read_text())
    assert results["n_questions"] == 4
    assert results["steps_trained"] == 2
    assert results["base_model"] == "tiny-random-llama"
    assert results["fine_tuned_model"].startswith("ft:tiny-random-llama:")
    for side in ("base", "tuned"):
        for metric in ("accuracy", "format_rate"):
            estimate = results[side][metric]
            low, high = estimate["ci95"]
            assert 0.0 <= low <= estimate["value"] <= high <= 1.0
    for metric in ("accuracy", "format_rate"):
        gain = results["improvement"][metric]
        low, high = gain["ci95"]
        assert low <= gain["value"] <= high
        assert gain["excludes_zero"] == (low > 0 or high < 0)
    assert results["wall_time_s"] > 0

    assert (out_dir / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "def lambda_handler" in (out_dir / "demo_reward.py").read_text()
    assert len((out_dir / "data" / "gsm8k_train.jsonl").read_text().splitlines()) == 4
    assert len((out_dir / "comparison.jsonl").read_text().splitlines()) == 4
    assert "Checkpoints" in run.stdout and "tuned − base" in run.stdout
