"""A Bedrock reward function that asks a judge model which of two answers is better, in the
style of PandaLM (a pairwise judge: "1", "2" or "Tie", then a reason).

It runs unchanged in openrft's sandbox: the sandbox has no network, but its environment holds
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` for a narrow channel to this server's chat
completions, on the job's project's models only. Upload it and name it as the job's grader:

    handler = client.files.create(file=open("pandalm_judge.py", "rb"), purpose="grader")
    grader = {"type": "lambda", "lambda": {"function": f"{handler.id}:lambda_handler"}}

The rollout is answer 1 and the row's reference answer is answer 2; the reward is 1 when the
judge prefers the rollout, 0.5 for a tie, 0 when it prefers the reference, and the reverse
order is asked too, to cancel the judge's position bias. ``JUDGE_MODEL`` names any model the
project may use: a base, a fine-tuned model, or, as here, an alias the server maps to a local
model (``openrft serve --model-alias gpt-4.1=SmolLM2-135M-Instruct``).
"""

import logging
import re

from openai import OpenAI

JUDGE_MODEL = "gpt-4.1"
PROMPT = (
    "Below are two responses for a given task. The task is defined by the Instruction. "
    "Evaluate the responses and generate a reference answer for the task.\n\n"
    "### Instruction:\n{instruction}\n\n### Response 1:\n{first}\n\n### Response 2:\n{second}"
    "\n\n### Evaluation:\nReply with 1, 2 or Tie on the first line, then the reason."
)
VERDICT = re.compile(r"^\s*(1|2|tie)\b", re.IGNORECASE)

logger = logging.getLogger()
logger.setLevel(logging.INFO)
client = OpenAI()  # OPENAI_BASE_URL and OPENAI_API_KEY come from the sandbox's environment


def verdict(instruction, first, second):
    """1.0 if the judge prefers ``first``, 0.0 if ``second``, 0.5 for a tie or no verdict."""
    reply = client.chat.completions.create(
        model=JUDGE_MODEL,
        messages=[
            {
                "role": "user",
                "content": PROMPT.format(instruction=instruction, first=first, second=second),
            }
        ],
        temperature=0,
        max_tokens=64,
    )
    text = reply.choices[0].message.content or ""
    logger.info("judge said: %r", text[:200])
    match = VERDICT.match(text)
    choice = match.group(1).lower() if match else "tie"
    return {"1": 1.0, "2": 0.0}.get(choice, 0.5)


def reference_text(trajectory):
    """The reference answer, top level or in metadata, as a string or ``{"text": ...}``."""
    reference = trajectory.get("reference_answer", trajectory["metadata"].get("reference_answer"))
    if isinstance(reference, dict):
        reference = reference.get("text", reference.get("answer", ""))
    return str(reference or "")


def lambda_handler(event, context):
    trajectories = event if isinstance(event, list) else event.get("trajectories", [])
    results = []
    for trajectory in trajectories:
        messages = trajectory["messages"]
        instruction = next((m["content"] for m in messages if m["role"] == "user"), "")
        rollout = messages[-1]["content"] if messages[-1]["role"] == "assistant" else ""
        reference = reference_text(trajectory)
        forward = verdict(instruction, rollout, reference)
        backward = 1.0 - verdict(instruction, reference, rollout)
        score = (forward + backward) / 2
        results.append(
            {
                "id": trajectory["id"],
                "aggregate_reward_score": score,
                "metrics_list": [{"name": "judge_preference", "value": score, "type": "Reward"}],
            }
        )
    return results
