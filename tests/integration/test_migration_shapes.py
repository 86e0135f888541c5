"""Code written for OpenAI RFT or Bedrock RFT, in its own shapes, gets the right reward here.

Graders in the shapes of OpenAI's cookbook RFT notebooks (a multi grader of python + fuzzy
match, a score_model judge, a HealthBench-style rubric judge over ``{{item.messages}}``) and
reward handlers in the idioms of Bedrock's RFT samples (``reference_answer`` at the top level or
in ``metadata``, as a string or an object), all through the official SDK on a live server whose
alias map sends ``gpt-4.1`` to tiny-random-llama (a fast judge: the server's constrained decoding
makes any model's verdict parse; SmolLM2 judges in the slow ``test_migration_jobs.py``).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from rapidfuzz import fuzz, utils

from tests.conftest import REPO_ROOT
from tests.integration.conftest import ServerHandle, start_server
from tests.unit.graders.test_judge_channel import REACH_SOURCE

JUDGE_ALIAS = "gpt-4.1"
FAST_JUDGE = "tiny-random-llama"
QUESTION = [{"role": "user", "content": "Janet has 3 apples and buys 4 more. How many now?"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    flags = ("--model-alias", f"{JUDGE_ALIAS}={FAST_JUDGE}")
    with start_server(tmp_path_factory.mktemp("migration"), extra_args=flags) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> openai.OpenAI:
    return server.client().with_options(timeout=600)


def run(client: openai.OpenAI, grader: dict[str, Any], sample: str, item: dict[str, Any]) -> Any:
    return client.fine_tuning.alpha.graders.run(grader=grader, model_sample=sample, item=item)  # type: ignore[arg-type]


def errors_of(response: Any) -> list[str]:
    errors = response.metadata.errors.model_dump()
    return [key for key, value in errors.items() if value is True]


# --- OpenAI cookbook graders -------------------------------------------------------------

CLINICAL_SOURCE = textwrap.dedent(
    """
    import json
    from rapidfuzz import fuzz, utils

    def grade(sample, item) -> float:
        try:
            predicted = json.loads(sample["output_text"])["diagnosis"]
        except (ValueError, KeyError, TypeError):
            return 0.0
        reference = item["reference_answer"]
        return fuzz.WRatio(predicted, reference, processor=utils.default_process) / 100.0
    """
)
MULTI = {
    "type": "multi",
    "graders": {
        "structure": {"type": "python", "name": "structure", "source": CLINICAL_SOURCE},
        "fuzzy": {
            "type": "text_similarity",
            "name": "fuzzy",
            "input": "{{sample.output_json.diagnosis}}",
            "reference": "{{item.reference_answer}}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.5 * structure + 0.5 * fuzzy",
}


@pytest.mark.parametrize(
    ("diagnosis", "reference"),
    [("Type 2 diabetes", "type 2 diabetes mellitus"), ("asthma", "Asthma"), ("flu", "migraine")],
)
def test_cookbook_multi_python_plus_fuzzy(
    client: openai.OpenAI, diagnosis: str, reference: str
) -> None:
    sample = json.dumps({"diagnosis": diagnosis})
    item = {"messages": QUESTION, "reference_answer": reference}
    response = run(client, MULTI, sample, item)
    assert errors_of(response) == []
    structure = fuzz.WRatio(diagnosis, reference, processor=utils.default_process) / 100.0
    assert response.sub_rewards["structure"] == pytest.approx(structure)
    fuzzy = response.sub_rewards["fuzzy"]
    assert 0.0 <= fuzzy <= 1.0 and (fuzzy == 1.0) == (diagnosis.lower() == reference.lower())
    assert response.reward == pytest.approx(0.5 * structure + 0.5 * fuzzy)


SCORE_MODEL = {
    "type": "score_model",
    "name": "gpt41_judge",
    "model": JUDGE_ALIAS,
    "input": [
        {"role": "system", "content": "You grade answers to grade-school math questions."},
        {
            "role": "user",
            "content": "Reference answer: {{item.reference_answer}}\n"
            "Model answer: {{sample.output_text}}\n"
            "Score 1 if the model answer is correct, else 0.",
        },
    ],
    "range": [0, 1],
    "sampling_params": {"temperature": 0, "seed": 42, "max_completions_tokens": 400},
}
HEALTHBENCH = {
    "type": "score_model",
    "name": "rubric_judge",
    "model": JUDGE_ALIAS,
    "input": [
        {
            "role": "user",
            "content": "Conversation:\n{{item.messages}}\n\nRubric:\n{{item.rubric}}\n\n"
            "Final response:\n{{sample.output_text}}\n\n"
            "How well does the final response meet the rubric, from 0 to 1?",
        }
    ],
    "range": [0, 1],
    "sampling_params": {"temperature": 0, "seed": 7, "max_completions_tokens": 400},
}


@pytest.mark.parametrize("grader", [SCORE_MODEL, HEALTHBENCH], ids=["score_model", "healthbench"])
def test_cookbook_score_model_through_the_alias(client: openai.OpenAI, grader: dict) -> None:
    item = {
        "messages": QUESTION,
        "reference_answer": "7",
        "rubric": "Gives the number 7. Shows the addition 3 + 4.",
    }
    response = run(client, grader, "3 + 4 = 7, so Janet has 7 apples.", item)
    assert errors_of(response) == []
    assert 0.0 <= response.reward <= 1.0
    assert response.metadata.sampled_model_name == JUDGE_ALIAS


# --- Bedrock sample handler idioms -------------------------------------------------------

TOP_LEVEL_TEXT = """
import re

def lambda_handler(event, context):
    trajectories = event if isinstance(event, list) else event.get("trajectories", [])
    out = []
    for trajectory in trajectories:
        reference = trajectory.get("reference_answer", {})
        text = reference.get("text", "") if isinstance(reference, dict) else ""
        truth = re.findall(r"#### (\\-?[0-9\\.\\,]+)", text)
        answer = re.findall(r"#### (\\-?[0-9\\.\\,]+)", trajectory["messages"][-1]["content"])
        score = float(bool(truth) and bool(answer) and truth[-1] == answer[-1])
        print(f"id={trajectory['id']} answer={answer} truth={truth} score={score}")
        out.append({"id": trajectory["id"], "aggregate_reward_score": score, "metrics_list": []})
    return out
"""
METADATA_FIELD = """
def lambda_handler(event, context):
    out = []
    for trajectory in event:
        reference = trajectory["metadata"]["reference_answer"]
        if isinstance(reference, dict):
            reference = reference["answer"]
        answer = trajectory["messages"][-1]["content"].split("####")[-1].strip()
        score = 1.0 if answer == str(reference).split("####")[-1].strip() else 0.0
        out.append({"id": trajectory["id"], "aggregate_reward_score": score,
                    "metrics_list": [{"name": "accuracy", "value": score, "type": "Reward"}]})
    return out
"""
GROUND_TRUTH = """
def lambda_handler(event, context):
    out = []
    for trajectory in event:
        reference = trajectory.get("reference_answer", {})
        truth = reference.get("text") if reference else trajectory["metadata"]["ground_truth"]
        answer = trajectory["messages"][-1]["content"].split("####")[-1].strip()
        out.append({"id": trajectory["id"], "aggregate_reward_score": float(answer == truth)})
    return out
"""


def upload_handler(client: openai.OpenAI, source: str) -> dict[str, Any]:
    file = client.files.create(
        file=("reward.py", textwrap.dedent(source).encode()),
        purpose="grader",  # type: ignore[arg-type]
    )
    return {"type": "lambda", "lambda": {"function": f"{file.id}:lambda_handler"}}


@pytest.mark.parametrize(
    ("handler", "row", "sample", "reward"),
    [
        (
            TOP_LEVEL_TEXT,
            {"reference_answer": "3 + 4 = 7\n#### 7", "ground_truth": "7"},
            "So 7.\n#### 7",
            1.0,
        ),
        (TOP_LEVEL_TEXT, {"reference_answer": "3 + 4 = 7\n#### 7"}, "So 8.\n#### 8", 0.0),
        (METADATA_FIELD, {"reference_answer": "3 + 4 = 7\n#### 7"}, "#### 7", 1.0),
        (METADATA_FIELD, {"reference_answer": {"answer": "7"}}, "#### 7", 1.0),
        (METADATA_FIELD, {"reference_answer": {"answer": "7"}}, "#### 6", 0.0),
        (GROUND_TRUTH, {"ground_truth": "7"}, "#### 7", 1.0),
        (GROUND_TRUTH, {"metadata": {"ground_truth": "7"}}, "#### 7", 1.0),
    ],
    ids=[
        "top-text",
        "top-text-wrong",
        "meta-string",
        "meta-dict",
        "meta-dict-wrong",
        "no-reference",
        "row-metadata-field",
    ],
)
def test_bedrock_handler_idioms(
    client: openai.OpenAI, handler: str, row: dict, sample: str, reward: float
) -> None:
    response = run(client, upload_handler(client, handler), sample, {"messages": QUESTION, **row})
    assert errors_of(response) == [], response.metadata.error_details
    assert response.reward == reward


def test_handler_output_and_traceback_come_back_from_run(client: openai.OpenAI) -> None:
    grader = upload_handler(
        client,
        """
        def lambda_handler(event, context):
            print("scoring", len(event), "trajectories")
            return [{"id": t["id"], "aggregate_reward_score": t["metadata"]["missing"]}
                    for t in event]
        """,
    )
    grader["lambda"]["max_retries"] = 0
    response = run(client, grader, "7", {"messages": QUESTION})
    assert errors_of(response) == ["unresponsive_reward_error"]
    assert response.metadata.logs == "scoring 1 trajectories\n"
    assert "KeyError: 'missing'" in response.metadata.error_details
    ok = run(
        client,
        upload_handler(client, TOP_LEVEL_TEXT),
        "#### 7",
        {"messages": QUESTION, "reference_answer": "#### 7"},
    )
    assert ok.metadata.logs == "id=sample-0 answer=['7'] truth=['7'] score=1.0\n"


# --- Judges from handlers ----------------------------------------------------------------


def test_the_pandalm_example_gets_answers_from_a_judge(client: openai.OpenAI) -> None:
    source = (REPO_ROOT / "examples" / "pandalm_judge.py").read_text()
    item = {"messages": QUESTION, "reference_answer": "Janet has 7 apples."}
    response = run(client, upload_handler(client, source), "3 + 4 = 7 apples.", item)
    assert errors_of(response) == [], response.metadata.error_details
    assert response.reward in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert response.metadata.logs.count("[INFO] root: judge said:") == 2


def test_a_handler_reaches_the_judge_and_nothing_else(
    client: openai.OpenAI, server: ServerHandle
) -> None:
    port = int(server.root_url.rsplit(":", 1)[1])
    handler = REACH_SOURCE + textwrap.dedent(f"""
    from openai import OpenAI

    def lambda_handler(event, context):
        reply = OpenAI().chat.completions.create(
            model="{JUDGE_ALIAS}", messages=[{{"role": "user", "content": "Say yes."}}],
            max_tokens=5)
        print("judge:", bool(reply.choices[0].message.content))
        for host, port in [("127.0.0.1", {port}), ("localhost", {port}), ("10.0.0.1", 80),
                           ("8.8.8.8", 53)]:
            print(host, port, reach(host, port))
        return [{{"id": t["id"], "aggregate_reward_score": 1.0}} for t in event]
    """)
    response = run(client, upload_handler(client, handler), "x", {"messages": QUESTION})
    assert errors_of(response) == [], response.metadata.error_details
    lines = response.metadata.logs.splitlines()
    assert lines[0] == "judge: True"
    assert len(lines) == 5 and not any(line.endswith("connected") for line in lines[1:]), lines
