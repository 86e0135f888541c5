"""GSM8K loading and the Bedrock-shaped rows the demo uploads."""

import json
from pathlib import Path

import pytest

from openrft.demo.dataset import (
    DatasetUnavailableError,
    load_gsm8k,
    split_train_valid,
    to_row,
    write_jsonl,
)

EXAMPLE = {"question": "Tom has 3 apples and buys 4. How many? ", "answer": "3 + 4 = 7\n#### 7"}


def _gsm8k_dir(tmp_path: Path, rows: int) -> Path:
    examples = [{"question": f"q{i}?", "answer": f"work\n#### {i}"} for i in range(rows)]
    write_jsonl(tmp_path / "train.jsonl", examples)
    write_jsonl(tmp_path / "test.jsonl", examples[:3])
    return tmp_path


def test_to_row_builds_the_bedrock_sample_shape() -> None:
    row = to_row(EXAMPLE)
    assert row == {
        "messages": [
            {
                "role": "user",
                "content": "Tom has 3 apples and buys 4. How many? Let's think step by step "
                'and output the final answer after "####".',
            }
        ],
        "reference_answer": "3 + 4 = 7\n#### 7",
        "ground_truth": "7",
    }


def test_to_row_rejects_an_answer_without_a_final_line() -> None:
    with pytest.raises(ValueError, match="####"):
        to_row({"question": "q", "answer": "no final line"})


def test_load_gsm8k_reads_the_split_from_a_directory(tmp_path: Path) -> None:
    directory = _gsm8k_dir(tmp_path, 5)
    assert len(load_gsm8k("train", directory)) == 5
    assert load_gsm8k("test", directory)[2] == {"question": "q2?", "answer": "work\n#### 2"}
    with pytest.raises(DatasetUnavailableError, match=r"validation\.jsonl"):
        load_gsm8k("validation", directory)


def test_split_is_disjoint_sized_and_reproducible(tmp_path: Path) -> None:
    examples = load_gsm8k("train", _gsm8k_dir(tmp_path, 30))
    train, valid = split_train_valid(examples, 10, 5, seed=1)
    assert (len(train), len(valid)) == (10, 5)
    train_truths = {row["ground_truth"] for row in train}
    assert train_truths.isdisjoint(row["ground_truth"] for row in valid)
    assert split_train_valid(examples, 10, 5, seed=1) == (train, valid)
    assert split_train_valid(examples, 10, 5, seed=2) != (train, valid)
    with pytest.raises(ValueError, match="only 30"):
        split_train_valid(examples, 30, 1, seed=0)


def test_write_jsonl_writes_one_object_per_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "sub" / "rows.jsonl", [to_row(EXAMPLE), to_row(EXAMPLE)])
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["ground_truth"] == "7"


def test_to_row_puts_an_optional_system_turn_before_the_bedrock_prompt() -> None:
    row = to_row(EXAMPLE, "Be brief.")
    assert [m["role"] for m in row["messages"]] == ["system", "user"]
    assert row["messages"][0]["content"] == "Be brief."
    assert row["messages"][1] == to_row(EXAMPLE)["messages"][0]
