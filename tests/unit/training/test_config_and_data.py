import pytest

from openrft.domain.hyperparameters import resolve_hyperparameters
from openrft.errors import InvalidRequestError
from openrft.graders import GradingFailedError
from openrft.training.config import TrainConfig
from openrft.training.data import epoch_batches, holdout_split
from openrft.training.stopping import EarlyStopping
from openrft.worker import failure_error


def test_config_from_the_control_planes_resolved_hyperparameters() -> None:
    resolved = resolve_hyperparameters(
        {"batchSize": 4, "epsilon": 0.3, "lora_rank": 0, "max_grad_norm": None},
        n_train_rows=40,
    )
    config = TrainConfig.from_hyperparameters(resolved, seed=5)
    assert config.batch_size == 4 and config.seed == 5
    assert config.epsilon_high == 0.3  # defaults to epsilon
    assert config.lora_rank == 0 and config.learning_rate == pytest.approx(1e-6)
    assert config.max_grad_norm is None  # null means no clipping, not the default
    assert config.early_stopping.patience == resolved["early_stopping"]["patience"]
    assert config.eval_interval == resolved["eval_interval"]


def test_config_rejects_unresolved_auto() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig.from_hyperparameters({"batch_size": "auto"}, seed=0)


def test_holdout_is_seeded_ten_percent_and_disjoint() -> None:
    rows = [{"i": i} for i in range(25)]
    train, valid = holdout_split(rows, seed=3)
    assert len(valid) == 3 and len(train) == 22
    assert {r["i"] for r in train}.isdisjoint(r["i"] for r in valid)
    assert holdout_split(rows, seed=3) == (train, valid)
    assert holdout_split(rows, seed=4)[1] != valid
    assert holdout_split(rows[:1], seed=0) == (rows[:1], rows[:1])


def test_epoch_order_is_a_seeded_permutation_per_epoch() -> None:
    first = epoch_batches(10, 4, seed=1, epoch=0)
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(i for b in first for i in b) == list(range(10))
    assert epoch_batches(10, 4, seed=1, epoch=0) == first
    assert epoch_batches(10, 4, seed=1, epoch=1) != first


def test_early_stopping_patience_and_min_delta() -> None:
    from openrft.training.config import EarlyStoppingConfig

    stop = EarlyStopping(EarlyStoppingConfig(patience=2, min_delta=0.1))
    assert stop.update(0.5) is None  # baseline
    assert stop.update(0.55) is None  # +0.05 is not an improvement
    assert stop.update(0.7) is None  # +0.2 is: counter resets
    assert stop.update(0.75) is None
    reason = stop.update(0.6)
    assert reason is not None and "best 0.7000 for 2 evaluations" in reason


def test_failure_error_is_short_and_keeps_typed_codes() -> None:
    typed = failure_error(GradingFailedError("Lambda down after 3 retries"))
    assert typed == {"code": "grading_failed", "message": "Lambda down after 3 retries"}
    bad = failure_error(InvalidRequestError("bad", code="invalid_model"))
    assert bad["code"] == "invalid_model"
    generic = failure_error(RuntimeError("boom\nTraceback (most recent call last): ..."))
    assert generic == {"code": "training_failed", "message": "RuntimeError: boom"}


def test_config_fields_are_the_schemas_trained_hyperparameters() -> None:
    from openrft.domain.hyperparameters import HYPERPARAMETERS
    from openrft.training.config import hyperparameter_fields

    assert hyperparameter_fields() == {h.name for h in HYPERPARAMETERS.values() if h.trains}


def test_config_defaults_are_what_an_empty_request_resolves_to_on_a_large_file() -> None:
    resolved = resolve_hyperparameters({}, n_train_rows=1000)
    assert TrainConfig.from_hyperparameters(resolved, seed=0) == TrainConfig()


def test_config_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="warp_speed"):
        TrainConfig.from_hyperparameters({"warp_speed": 9}, seed=0)
