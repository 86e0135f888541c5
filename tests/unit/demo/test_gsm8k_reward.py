"""The demo's Bedrock-contract GSM8K reward: extraction, matching, and the handler's I/O."""

import subprocess
import sys
from pathlib import Path

from openrft.demo import gsm8k_reward
from openrft.demo.gsm8k_reward import (
    extract_answer,
    lambda_handler,
    reference_of,
    score_completion,
)


def test_extract_answer_takes_last_match_and_strips_commas_and_dollars() -> None:
    assert extract_answer("first #### 3 then\n#### 1,234") == "1234"
    assert extract_answer("#### -7.5") == "-7.5"
    assert extract_answer("so the answer is #### 18.") == "18"
    assert extract_answer("The answer is 18") is None
    assert extract_answer("####18") is None  # the Bedrock regex wants a space


def test_extract_answer_only_reads_the_last_300_characters() -> None:
    assert extract_answer("#### 5" + "x" * 300) is None
    assert extract_answer("x" * 400 + "#### 5") == "5"


def test_score_completion_compares_numbers_by_value() -> None:
    assert score_completion("... #### 18.00", "18") == (1.0, 1.0)
    assert score_completion("... #### 17", "18") == (0.0, 1.0)
    assert score_completion("eighteen", "18") == (0.0, 0.0)


def test_more_than_one_answer_scores_nothing() -> None:
    assert score_completion("#### 18\n#### 18\n#### 18", "18") == (0.0, 0.0)
    assert score_completion("maybe #### 17 or #### 18", "18") == (0.0, 0.0)
    assert score_completion("18 + 0 = 18\n#### 18\nThe answer is 18.", "18") == (1.0, 1.0)


def test_reference_of_reads_every_bedrock_shape() -> None:
    solution = "2 + 2 = 4\n#### 4"
    assert reference_of({"metadata": {"ground_truth": "1,000"}}) == "1000"
    assert reference_of({"reference_answer": solution}) == "4"
    assert reference_of({"metadata": {"reference_answer": solution}}) == "4"
    assert reference_of({"reference_answer": {"text": solution}}) == "4"
    assert reference_of({"reference_answer": 12}) == "12"
    assert reference_of({"messages": []}) is None


def test_lambda_handler_scores_a_batch_in_bedrock_shape() -> None:
    def trajectory(id_: str, rollout: str) -> dict:
        return {
            "id": id_,
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": rollout},
            ],
            "metadata": {"reference_answer": "work\n#### 72", "ground_truth": "72"},
            "reference_answer": "work\n#### 72",
        }

    results = lambda_handler(
        [trajectory("a", "so #### 72"), trajectory("b", "#### 71"), trajectory("c", "72")], None
    )
    assert [r["id"] for r in results] == ["a", "b", "c"]
    assert [r["aggregate_reward_score"] for r in results] == [1.0, 0.1, 0.0]
    metrics = {m["name"]: m["value"] for m in results[1]["metrics_list"]}
    assert metrics == {"accuracy": 0.0, "format": 1.0}
    wrapped = lambda_handler({"trajectories": [trajectory("z", "#### 72")]}, None)
    assert wrapped[0]["aggregate_reward_score"] == 1.0


def test_reward_file_runs_standalone_with_only_the_standard_library(tmp_path: Path) -> None:
    copy = tmp_path / "demo_reward.py"
    copy.write_text(Path(gsm8k_reward.__file__).read_text())
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import demo_reward; "
        "print(json.dumps(demo_reward.lambda_handler([{'id': '1', 'messages': "
        "[{'role': 'assistant', 'content': '#### 3'}], 'reference_answer': '#### 3'}], None)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"aggregate_reward_score": 1.0' in out.stdout
