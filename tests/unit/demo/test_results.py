"""The comparison summary, event bookkeeping, the reward plot and the job's hyperparameters."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from openrft.demo.config import DemoConfig
from openrft.demo.evaluation import Comparison, ModelScores
from openrft.demo.plot import plot_reward_curve, reward_series
from openrft.demo.progress import JobHistory


def _scores(model: str, correct: list[bool], formatted: list[bool]) -> ModelScores:
    return ModelScores(model, correct, formatted, [""] * len(correct))


def test_comparison_reports_both_sides_and_paired_gains() -> None:
    n = 40
    base = _scores("base", [False] * n, [True] * 4 + [False] * 36)
    tuned = _scores("tuned", [True] * 2 + [False] * 38, [True] * 30 + [False] * 10)
    summary = Comparison(base, tuned).as_dict()
    assert summary["n_questions"] == n
    assert summary["base"]["format_rate"]["value"] == pytest.approx(0.1)
    assert summary["tuned"]["accuracy"]["value"] == pytest.approx(0.05)
    low, high = summary["tuned"]["format_rate"]["ci95"]
    assert low < 0.75 < high
    assert summary["improvement"]["format_rate"]["value"] == pytest.approx(0.65)
    assert summary["improvement"]["format_rate"]["excludes_zero"] is True
    assert summary["improvement"]["accuracy"]["excludes_zero"] is False


def test_per_question_records_pair_each_prompt_with_both_answers() -> None:
    base = ModelScores("base", [False, True], [False, True], ["no idea", "#### 2"])
    tuned = ModelScores("tuned", [True, True], [True, True], ["#### 1", "#### 2"])
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}], "ground_truth": str(i + 1)}
        for i in range(2)
    ]
    records = Comparison(base, tuned).per_question(rows)
    assert [r["prompt"] for r in records] == ["q0", "q1"]
    assert records[0]["base"] == {"completion": "no idea", "correct": False, "formatted": False}
    assert records[0]["tuned"]["completion"] == "#### 1" and records[0]["tuned"]["correct"]


def _event(id_: str, created_at: int, type_: str, data: dict | None, message: str = "m") -> object:
    return SimpleNamespace(id=id_, created_at=created_at, type=type_, data=data, message=message)


def test_job_history_records_each_event_once_in_time_order() -> None:
    history = JobHistory()
    step1 = {"step": 1, "total_steps": 4, "train_reward_mean": 0.1}
    step2 = {"step": 2, "total_steps": 4, "train_reward_mean": 0.3, "valid_reward_mean": 0.2}
    page = [  # newest first, as the API lists them; two messages share a second
        _event("e4", 3, "metrics", step2),
        _event("e3", 2, "metrics", step1),
        _event("e2", 1, "message", None, "validated"),
        _event("e1", 1, "message", None, "created"),
    ]
    assert history.record(page) == ["created", "validated"]
    assert history.record(page) == []
    assert sorted(history.metrics) == [1, 2]
    assert history.latest()["train_reward_mean"] == 0.3
    assert history.eta_seconds() is not None


def test_baseline_evaluation_is_step_zero_of_the_validation_curve() -> None:
    history = JobHistory()
    baseline = {"step": 0, "phase": "baseline", "valid_reward_mean": 0.05}
    step1 = {"step": 1, "total_steps": 2, "train_reward_mean": 0.1, "valid_reward_mean": 0.2}
    page = [_event("e2", 2, "metrics", step1), _event("e1", 1, "message", baseline, "Baseline")]
    assert history.record(page) == ["Baseline"]
    assert reward_series(history.metrics) == ([(1, 0.1)], [(0, 0.05), (1, 0.2)])


def test_reward_series_and_plot(tmp_path: Path) -> None:
    metrics = {
        2: {"train_reward_mean": 0.5, "valid_reward_mean": 0.4},
        1: {"train_reward_mean": 0.2, "valid_reward_mean": None},
    }
    train, valid = reward_series(metrics)
    assert train == [(1, 0.2), (2, 0.5)] and valid == [(2, 0.4)]
    path = plot_reward_curve(metrics, tmp_path / "curve.png", "demo")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hyperparameters_cover_the_requested_steps() -> None:
    hyper = DemoConfig(train_rows=10, steps=7, batch_size=4).hyperparameters()
    assert hyper["max_steps"] == 7 and hyper["batch_size"] == 4
    assert hyper["n_epochs"] * 10 >= 7 * 4
    assert hyper["lora_alpha"] == 2 * hyper["lora_rank"]
