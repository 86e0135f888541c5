"""The supervised/DPO loop on tiny-random-llama against a fake runtime: it lowers the loss,
checkpoints, pauses and resumes exactly, and token ids come from the one prompt renderer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from openrft.inference.registry import load_base_model
from openrft.inference.tokens import encode_chat
from openrft.training.config import TrainConfig
from openrft.training.policy import Policy
from openrft.training.tuning import (
    PreferenceObjective,
    SupervisedObjective,
    TuningController,
)
from openrft.training.tuning_data import preference_tokens, supervised_tokens
from tests.unit.training.fakes import FakeRuntime

USER = {"role": "user", "content": "colour?"}
CONVERSATION = {
    "messages": [
        USER,
        {"role": "assistant", "content": "blue", "weight": 0},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "red"},
    ]
}
PAIR = {
    "input": {"messages": [USER]},
    "preferred_output": [{"role": "assistant", "content": "blue"}],
    "non_preferred_output": [{"role": "assistant", "content": "green grass"}],
}


def _text(tokenizer: Any, ids: torch.Tensor, mask: torch.Tensor | None = None) -> str:
    kept = ids if mask is None else ids[mask.bool()]
    return str(tokenizer.decode(kept.tolist()))


def test_supervised_rows_render_like_the_conversation_and_learn_weighted_turns(
    tiny: tuple[Any, Any],
) -> None:
    _, tokenizer = tiny
    tokens = supervised_tokens(tokenizer, CONVERSATION)
    assert tokens.prompt_ids.tolist() == encode_chat(tokenizer, [USER])
    whole = encode_chat(tokenizer, CONVERSATION["messages"], add_generation_prompt=False)
    sequence = tokens.prompt_ids.tolist() + tokens.completion_ids[0].tolist()
    assert tokenizer.decode(sequence) == tokenizer.decode(whole).rstrip("\n")
    assert _text(tokenizer, tokens.completion_ids[0], tokens.mask[0]) == "red<|im_end|>"


def test_preference_rows_share_the_prompt_preferred_first(tiny: tuple[Any, Any]) -> None:
    _, tokenizer = tiny
    tokens = preference_tokens(tokenizer, PAIR)
    assert tokens.prompt_ids.tolist() == encode_chat(tokenizer, [USER])
    answers = [_text(tokenizer, tokens.completion_ids[i], tokens.mask[i]) for i in (0, 1)]
    assert answers == ["blue<|im_end|>", "green grass<|im_end|>"]


def _controller(cache: Path, runtime: FakeRuntime, tmp_path: Path, method: str) -> TuningController:
    """A fresh model each time (a resumed job's worker loads the base model again)."""
    torch.manual_seed(0)
    model, tokenizer = load_base_model("tiny-random-llama", cache_dir=cache)
    config = TrainConfig(
        batch_size=2,
        n_epochs=3,
        learning_rate=2e-2,
        lora_rank=4,
        lora_alpha=8,
        eval_interval=2,
        beta=0.5,
        seed=1,
    )
    policy = Policy(model, tokenizer, lora_rank=4, lora_alpha=8, beta=config.beta)
    if method == "dpo":
        objective: Any = PreferenceObjective(policy, config.beta)
        examples = [preference_tokens(tokenizer, PAIR) for _ in range(4)]
    else:
        objective = SupervisedObjective(policy)
        examples = [supervised_tokens(tokenizer, CONVERSATION) for _ in range(4)]
    return TuningController(
        "ftjob-t", config, objective, policy, runtime, (examples, examples[:1]), tmp_path
    )


def test_supervised_loop_lowers_validation_loss_and_picks_the_best_checkpoint(
    tiny_cache: Path, tmp_path: Path
) -> None:
    runtime = FakeRuntime(tmp_path / "store")
    controller = _controller(tiny_cache, runtime, tmp_path / "scratch", "supervised")
    assert controller.run() == "succeeded"
    metrics = runtime.metrics_events()
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    baseline = runtime.events[0]["data"]["valid_loss"]
    valid = [m["valid_loss"] for m in metrics if "valid_loss" in m]
    assert len(valid) == 3 and valid[-1] < baseline
    assert set(runtime.checkpoints) == {2, 4, 6}
    best = min(runtime.checkpoints, key=lambda s: runtime.checkpoints[s]["valid_loss"])
    assert runtime.finished == {"status": "succeeded", "fine_tuned_step": best, "error": None}
    assert b"train_loss" in runtime.results["step_metrics.csv"]


def test_dpo_loop_learns_the_preference_and_resumes_where_it_paused(
    tiny_cache: Path, tmp_path: Path
) -> None:
    runtime = FakeRuntime(tmp_path / "store", controls={4: "pause"})
    assert _controller(tiny_cache, runtime, tmp_path / "a", "dpo").run() == "paused"
    assert runtime.finished is not None and runtime.finished["status"] == "paused"
    assert [m["step"] for m in runtime.metrics_events()] == [1, 2, 3]
    assert 3 in runtime.checkpoints

    resumed = FakeRuntime(tmp_path / "store")
    controller = _controller(tiny_cache, resumed, tmp_path / "b", "dpo")
    assert controller.run(resume_from=tmp_path / "store" / "step-3") == "succeeded"
    steps = [m["step"] for m in resumed.metrics_events()]
    assert steps == [4, 5, 6]
    final = resumed.metrics_events()[-1]
    assert final["valid_rewards/accuracies"] == 1.0 and final["valid_rewards/margins"] > 0
    assert final["valid_loss"] < runtime.events[0]["data"]["valid_loss"]
