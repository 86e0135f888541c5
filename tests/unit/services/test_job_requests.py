"""Create-request checks that need no database: method, suffix, seed, metadata, grader echo."""

from __future__ import annotations

import pytest

from openrft.domain.jobs import public_grader
from openrft.domain.records import FileRecord
from openrft.errors import InvalidRequestError
from openrft.services import job_requests as req

GRADER = {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}


def _file(purpose: str = "fine-tune") -> FileRecord:
    return FileRecord("file-1", "p", "t.jsonl", purpose, 10, 0, rows=3)


def test_reinforcement_section_folds_in_legacy_hyperparameters() -> None:
    method = {"type": "reinforcement", "reinforcement": {"grader": GRADER}}
    section = req.reinforcement_section(method, {"batch_size": 2})
    assert section["hyperparameters"] == {"batch_size": 2}


def test_hyperparameters_given_twice_are_refused() -> None:
    method = {"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {}}}
    method["reinforcement"]["hyperparameters"] = {"n_epochs": 2}
    with pytest.raises(InvalidRequestError) as info:
        req.reinforcement_section(method, {"batch_size": 2})
    assert info.value.param == "hyperparameters"


@pytest.mark.parametrize(
    ("method", "param"),
    [
        (None, "method"),
        ({"type": "supervised"}, "method.type"),
        ({"type": 3}, "method.type"),
        ({"type": "reinforcement", "reinforcement": "x"}, "method.reinforcement"),
        (
            {"type": "reinforcement", "reinforcement": {"graders": {}}},
            "method.reinforcement.graders",
        ),
    ],
)
def test_bad_methods_name_their_field(method: dict | None, param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        req.reinforcement_section(method, None)
    assert info.value.param == param


def test_training_file_must_exist_and_be_for_fine_tuning() -> None:
    assert req.check_training_file(_file(), "file-1", "training_file").rows == 3
    with pytest.raises(InvalidRequestError, match="no such file"):
        req.check_training_file(None, "file-1", "validation_file")
    with pytest.raises(InvalidRequestError, match="its purpose is 'batch'") as info:
        req.check_training_file(_file("batch"), "file-1", "training_file")
    assert info.value.param == "training_file"


@pytest.mark.parametrize("suffix", ["", "a:b", "x" * 65, "has space"])
def test_bad_suffixes(suffix: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        req.check_suffix(suffix)
    assert info.value.param == "suffix"


def test_good_suffix_and_seed() -> None:
    assert req.check_suffix("my-model_v1.2") == "my-model_v1.2"
    assert req.resolve_seed(42) == 42
    assert 0 <= req.resolve_seed(None) <= req.MAX_SEED
    with pytest.raises(InvalidRequestError):
        req.resolve_seed(req.MAX_SEED + 1)


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"": "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
    ],
)
def test_bad_metadata(metadata: dict[str, str], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        req.check_metadata(metadata)
    assert info.value.param == param


def test_grader_echo_hides_internal_keys_at_every_depth() -> None:
    stored = {
        "type": "multi",
        "_source": "secret",
        "graders": {"a": {"type": "python", "_inlined": "code", "source": "def grade(): ..."}},
        "list": [{"_x": 1, "y": 2}],
    }
    assert public_grader(stored) == {
        "type": "multi",
        "graders": {"a": {"type": "python", "source": "def grade(): ..."}},
        "list": [{"y": 2}],
    }
