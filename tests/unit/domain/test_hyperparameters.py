"""Hyperparameter validation, Bedrock aliases and "auto" resolution."""

from __future__ import annotations

import pytest

from openrft.domain.hyperparameters import resolve_hyperparameters
from openrft.errors import InvalidRequestError


def test_auto_values_resolve_from_row_count() -> None:
    hp = resolve_hyperparameters(None, n_train_rows=100)
    assert hp["batch_size"] == 8
    assert hp["n_epochs"] == 1
    assert hp["learning_rate_multiplier"] == 1.0
    assert hp["learning_rate"] == pytest.approx(1e-4)
    # 100 rows / 8 per step = 13 steps per epoch → 13 // 4 = 3.
    assert hp["eval_interval"] == 3
    assert hp["eval_samples"] == 1
    assert hp["reasoning_effort"] == "default"
    assert hp["epsilon_high"] == hp["epsilon"] == 0.2
    assert hp["early_stopping"] == {"patience": 3, "min_delta": 0.01, "target_reward": None}
    # "auto" stays only where it is a value of its own: the engine is chosen where the job runs.
    assert [k for k, v in hp.items() if v == "auto"] == ["rollout_engine"]
    assert hp["rollout_dtype"] == "float32"


def test_small_dataset_caps_batch_size_and_eval_interval() -> None:
    hp = resolve_hyperparameters({}, n_train_rows=3)
    assert hp["batch_size"] == 3
    assert hp["eval_interval"] == 1


def test_eval_interval_is_at_most_ten() -> None:
    assert resolve_hyperparameters({}, n_train_rows=10_000)["eval_interval"] == 10


def test_full_fine_tune_uses_smaller_base_learning_rate() -> None:
    hp = resolve_hyperparameters({"lora_rank": 0, "learning_rate_multiplier": 2}, n_train_rows=8)
    assert hp["learning_rate"] == pytest.approx(2e-6)


def test_absolute_learning_rate_overrides_multiplier() -> None:
    hp = resolve_hyperparameters(
        {"learning_rate": 3e-5, "learning_rate_multiplier": 5}, n_train_rows=8
    )
    assert hp["learning_rate"] == pytest.approx(3e-5)


def test_bedrock_aliases_map_to_openrft_names() -> None:
    hp = resolve_hyperparameters(
        {
            "trainingSamplePerPrompt": 4,
            "inferenceMaxTokens": 64,
            "maxPromptLength": 512,
            "epochCount": 2,
            "learningRate": 1e-5,
            "evalInterval": 5,
            "batchSize": 2,
        },
        n_train_rows=50,
    )
    assert (hp["group_size"], hp["max_completion_tokens"], hp["max_prompt_tokens"]) == (4, 64, 512)
    assert (hp["n_epochs"], hp["learning_rate"], hp["eval_interval"]) == (2, 1e-5, 5)
    assert hp["batch_size"] == 2
    assert "trainingSamplePerPrompt" not in hp


def test_explicit_epsilon_high_is_kept() -> None:
    assert resolve_hyperparameters({"epsilon_high": 0.28}, n_train_rows=1)["epsilon_high"] == 0.28


def test_early_stopping_merges_with_defaults() -> None:
    hp = resolve_hyperparameters({"early_stopping": {"target_reward": 0.9}}, n_train_rows=1)
    assert hp["early_stopping"] == {"patience": 3, "min_delta": 0.01, "target_reward": 0.9}


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"batch_size": "big"}, "batch_size"),
        ({"n_epochs": 51}, "n_epochs"),
        ({"learning_rate_multiplier": 0}, "learning_rate_multiplier"),
        ({"compute_multiplier": 11}, "compute_multiplier"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"group_size": 1}, "group_size"),
        ({"top_p": 1.5}, "top_p"),
        ({"temperature": 0}, "temperature"),
        ({"beta": -0.1}, "beta"),
        ({"loss_type": "ppo"}, "loss_type"),
        ({"scale_rewards": "yes"}, "scale_rewards"),
        ({"dtype": "float16"}, "dtype"),
        ({"lora_rank": -1}, "lora_rank"),
        ({"max_steps": 0}, "max_steps"),
        ({"early_stopping": {"patience": 0}}, "early_stopping.patience"),
        ({"early_stopping": {"wait": 2}}, "early_stopping.wait"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"async_rollouts": 1}, "async_rollouts"),
        ({"async_rollouts": "true"}, "async_rollouts"),
        ({"wibble": 1}, "wibble"),
        ({"batchSize": 2, "batch_size": 2}, "batch_size"),
    ],
)
def test_bad_values_name_the_field(raw: dict, param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        resolve_hyperparameters(raw, n_train_rows=10)
    assert info.value.param == f"method.reinforcement.hyperparameters.{param}"
    assert param.split(".")[-1] in info.value.message


def test_async_rollouts_is_off_by_default_and_echoed_when_on() -> None:
    assert resolve_hyperparameters({}, n_train_rows=10)["async_rollouts"] is False
    assert resolve_hyperparameters({"async_rollouts": True}, n_train_rows=10)["async_rollouts"]


def test_hyperparameters_must_be_an_object() -> None:
    with pytest.raises(InvalidRequestError) as info:
        resolve_hyperparameters([1], n_train_rows=10)  # type: ignore[arg-type]
    assert info.value.param == "method.reinforcement.hyperparameters"


def test_supervised_jobs_take_openai_fields_and_the_optimiser_knobs() -> None:
    hp = resolve_hyperparameters(
        {"n_epochs": 3, "learning_rate_multiplier": 2}, n_train_rows=20, method="supervised"
    )
    assert hp["batch_size"] == 8 and hp["n_epochs"] == 3
    assert hp["learning_rate"] == pytest.approx(2e-4)
    assert "beta" not in hp and "group_size" not in hp


def test_dpo_beta_is_the_preference_temperature_with_openais_bounds() -> None:
    assert resolve_hyperparameters(None, n_train_rows=4, method="dpo")["beta"] == 0.1
    assert resolve_hyperparameters({"beta": 2}, n_train_rows=4, method="dpo")["beta"] == 2.0
    with pytest.raises(InvalidRequestError) as info:
        resolve_hyperparameters({"beta": 0}, n_train_rows=4, method="dpo")
    assert info.value.param == "method.dpo.hyperparameters.beta"
    assert "a number > 0.0 and <= 2.0" in info.value.message


def test_reinforcement_only_fields_are_refused_for_supervised_jobs() -> None:
    with pytest.raises(InvalidRequestError) as info:
        resolve_hyperparameters({"group_size": 4}, n_train_rows=4, method="supervised")
    assert info.value.param == "method.supervised.hyperparameters.group_size"
    assert "for method 'supervised'" in info.value.message
    with pytest.raises(InvalidRequestError) as info:
        resolve_hyperparameters({"batch_size": 0}, n_train_rows=4, method="dpo")
    assert info.value.param == "method.dpo.hyperparameters.batch_size"
