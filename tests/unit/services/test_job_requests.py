"""Create-request checks that need no database: method, suffix, seed, metadata, grader echo."""

from __future__ import annotations

import json

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
    kind, section = req.method_section(method, {"batch_size": 2})
    assert kind == "reinforcement"
    assert section["hyperparameters"] == {"batch_size": 2}


def test_no_method_means_supervised_with_the_top_level_hyperparameters() -> None:
    assert req.method_section(None, {"n_epochs": 2}) == (
        "supervised",
        {"hyperparameters": {"n_epochs": 2}},
    )


@pytest.mark.parametrize("kind", ["supervised", "dpo"])
def test_supervised_and_dpo_sections_may_be_left_out(kind: str) -> None:
    assert req.method_section({"type": kind}, None) == (kind, {"hyperparameters": None})
    hp = {"n_epochs": 1}
    given = {"type": kind, kind: {"hyperparameters": hp}}
    assert req.method_section(given, None) == (kind, {"hyperparameters": hp})


def test_hyperparameters_given_twice_are_refused() -> None:
    method = {"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {}}}
    method["reinforcement"]["hyperparameters"] = {"n_epochs": 2}
    with pytest.raises(InvalidRequestError) as info:
        req.method_section(method, {"batch_size": 2})
    assert info.value.param == "hyperparameters"


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ({"type": "sft"}, "method.type"),
        ({"type": 3}, "method.type"),
        ({"type": "reinforcement", "reinforcement": "x"}, "method.reinforcement"),
        (
            {"type": "reinforcement", "reinforcement": {"graders": {}}},
            "method.reinforcement.graders",
        ),
        ({"type": "dpo", "dpo": {"grader": GRADER}}, "method.dpo.grader"),
        ({"type": "dpo", "supervised": {}}, "method.supervised"),
        ({"type": "supervised", "supervised": []}, "method.supervised"),
    ],
)
def test_bad_methods_name_their_field(method: dict | None, param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        req.method_section(method, None)
    assert info.value.param == param


def test_rows_that_do_not_suit_the_method_name_the_line_and_field() -> None:
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    lines = [
        json.dumps({"messages": chat}).encode(),
        b"",
        json.dumps({"input": {"messages": chat[:1]}, "preferred_output": []}).encode(),
    ]
    req.check_rows(lines[:2], "supervised", "training_file", "file-1")
    with pytest.raises(InvalidRequestError) as info:
        req.check_rows(lines, "dpo", "validation_file", "file-2")
    assert info.value.param == "validation_file"
    assert info.value.message.startswith(
        "Invalid validation_file 'file-2' for method 'dpo': line 1: missing \"input\" object"
    )


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
