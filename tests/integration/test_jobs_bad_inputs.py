"""Bad inputs, one table: each gets the right status, a message saying what to fix, the right
``param``, and leaves nothing half-written (no new file, job or blob)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.integration.conftest import (
    RFT_API_KEY,
    RFT_MAX_UPLOAD_BYTES,
    STRING_CHECK,
    ServerHandle,
    rft_method,
    upload_jsonl,
    wait_for_status,
)
from tests.integration.test_auth import create_key

GOOD_ROW = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
_PAIR = {
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "preferred_output": [{"role": "assistant", "content": "hello"}],
    "non_preferred_output": [{"role": "assistant", "content": "go away"}],
}
DPO_ROW = json.dumps(_PAIR)
BAD_DPO_ROW = json.dumps({**_PAIR, "non_preferred_output": [{"role": "assistant"}]})


@dataclass
class Ctx:
    client: openai.OpenAI
    intruder: openai.OpenAI
    server: ServerHandle
    training_file: str
    assistants_file: str
    cancelled_job: str
    bad_pairs_file: str  # a DPO pair, then a supervised row (each valid for some method)

    def upload(self, name: str, data: bytes, purpose: str = "fine-tune") -> Any:
        return self.client.files.create(file=(name, data), purpose=purpose)  # type: ignore[arg-type]

    def create_job(self, **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "model": "tiny-random-llama",
            "training_file": self.training_file,
            "method": rft_method(),
        }
        args.update(overrides)
        return self.client.fine_tuning.jobs.create(**args)


@pytest.fixture(scope="module")
def ctx(rft_server: ServerHandle) -> Ctx:
    client = rft_server.client(RFT_API_KEY)
    training = upload_jsonl(client)
    assistants = client.files.create(file=("a.txt", b"x"), purpose="assistants").id
    job = client.fine_tuning.jobs.create(
        model="tiny-random-llama",
        training_file=training,
        method=rft_method(),
        metadata={"fake_worker": "wait"},
    )
    client.fine_tuning.jobs.cancel(job.id)
    wait_for_status(client, job.id, {"cancelled"})
    intruder = rft_server.client(create_key(rft_server, "bad-inputs-other"))
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    pairs = f"{DPO_ROW}\n{json.dumps({'messages': chat})}".encode()
    bad_pairs = client.files.create(file=("pairs.jsonl", pairs), purpose="fine-tune").id
    return Ctx(client, intruder, rft_server, training, assistants, job.id, bad_pairs)


def _reinforcement(**section: Any) -> dict[str, Any]:
    return {"type": "reinforcement", "reinforcement": section}


def _hp(**hyperparameters: Any) -> dict[str, Any]:
    return _reinforcement(grader=STRING_CHECK, hyperparameters=hyperparameters)


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[Ctx], Any]
    status: int
    says: str  # part of the message that tells the user what to fix
    param: str | None = None


CASES = [
    # Files.
    Case(
        "malformed JSON line",
        lambda c: c.upload("t.jsonl", f"{GOOD_ROW}\n{{oops".encode()),
        400,
        "line 2: not valid JSON",
        "file",
    ),
    Case(
        "row without messages",
        lambda c: c.upload("t.jsonl", b'{"prompt": "x"}'),
        400,
        'line 1: missing or empty "messages"',
        "file",
    ),
    Case(
        "row with empty messages",
        lambda c: c.upload("t.jsonl", b'{"messages": []}'),
        400,
        "missing or empty",
        "file",
    ),
    Case(
        "message with unknown role",
        lambda c: c.upload("t.jsonl", b'{"messages": [{"role": "bot", "content": "x"}]}'),
        400,
        "messages[0].role must be one of",
        "file",
    ),
    Case(
        "row that is a list",
        lambda c: c.upload("t.jsonl", b"[1]"),
        400,
        "expected a JSON object",
        "file",
    ),
    Case(
        "empty fine-tune file",
        lambda c: c.upload("t.jsonl", b"\n"),
        400,
        "upload at least one JSON line",
        "file",
    ),
    Case(
        "fine-tune file not named .jsonl",
        lambda c: c.upload("t.csv", GOOD_ROW.encode()),
        400,
        "with a .jsonl name",
        "file",
    ),
    Case(
        "unknown purpose",
        lambda c: c.upload("t.jsonl", GOOD_ROW.encode(), "training"),
        400,
        "use one of: assistants",
        "purpose",
    ),
    Case(
        "oversize upload",
        lambda c: c.upload("big.jsonl", b"x" * (RFT_MAX_UPLOAD_BYTES + 1)),
        413,
        "the limit of 16384 bytes",
        "file",
    ),
    Case(
        "unknown file",
        lambda c: c.client.files.retrieve("file-nope"),
        404,
        "No such File object: file-nope",
        "file_id",
    ),
    Case(
        "content of unknown file",
        lambda c: c.client.files.content("file-nope"),
        404,
        "No such File object",
        "file_id",
    ),
    Case(
        "delete unknown file",
        lambda c: c.client.files.delete("file-nope"),
        404,
        "No such File object",
        "file_id",
    ),
    Case(
        "files list limit 0", lambda c: c.client.files.list(limit=0), 400, "use 1 to 10000", "limit"
    ),
    Case(
        "files list bad order",
        lambda c: c.client.files.list(order="up"),  # type: ignore[arg-type]
        400,
        "use asc or desc",
        "order",
    ),
    Case(
        "files list unknown cursor",
        lambda c: c.client.files.list(after="file-nope"),
        400,
        "no object with id 'file-nope'",
        "after",
    ),
    Case(
        "other project's file",
        lambda c: c.intruder.files.retrieve(c.training_file),
        404,
        "No such File object",
        "file_id",
    ),
    # Job creation.
    Case(
        "unknown base model",
        lambda c: c.create_job(model="gpt-17"),
        400,
        "Use one of tiny-random-llama",
        "model",
    ),
    Case(
        "unknown training file",
        lambda c: c.create_job(training_file="file-nope"),
        400,
        "Upload it first with files.create(purpose='fine-tune')",
        "training_file",
    ),
    Case(
        "training file with wrong purpose",
        lambda c: c.create_job(training_file=c.assistants_file),
        400,
        "uploaded with purpose='fine-tune'",
        "training_file",
    ),
    Case(
        "unknown validation file",
        lambda c: c.create_job(validation_file="file-nope"),
        400,
        "no such file in this project",
        "validation_file",
    ),
    Case(
        "other project's training file",
        lambda c: c.intruder.fine_tuning.jobs.create(
            model="tiny-random-llama", training_file=c.training_file, method=rft_method()
        ),
        400,
        "no such file in this project",
        "training_file",
    ),
    Case(
        "no method (supervised) on prompt-only rows",
        lambda c: c.create_job(method=openai.omit),
        400,
        "for method 'supervised': line 1: messages has no assistant message to learn",
        "training_file",
    ),
    Case(
        "supervised method on prompt-only rows",
        lambda c: c.create_job(method={"type": "supervised"}),
        400,
        "line 1: messages has no assistant message to learn",
        "training_file",
    ),
    Case(
        "dpo method on prompt rows",
        lambda c: c.create_job(method={"type": "dpo"}),
        400,
        "for method 'dpo': line 1: missing \"input\" object",
        "training_file",
    ),
    Case(
        "dpo file whose second row is a supervised example",
        lambda c: c.create_job(training_file=c.bad_pairs_file, method={"type": "dpo"}),
        400,
        "for method 'dpo': line 2: missing \"input\" object",
        "training_file",
    ),
    Case(
        "upload of a DPO pair whose answer has no content",
        lambda c: c.upload("pairs.jsonl", f"{DPO_ROW}\n{BAD_DPO_ROW}".encode()),
        400,
        'line 2: non_preferred_output[0] has no "content"',
        "file",
    ),
    Case(
        "dpo with reinforcement-only hyperparameters",
        lambda c: c.create_job(
            method={"type": "dpo", "dpo": {"hyperparameters": {"group_size": 2}}}
        ),
        400,
        "Unknown hyperparameter 'group_size' for method 'dpo'",
        "method.dpo.hyperparameters.group_size",
    ),
    Case(
        "unknown method type",
        lambda c: c.create_job(method={"type": "magic"}),
        400,
        "use 'supervised', 'dpo' or 'reinforcement'",
        "method.type",
    ),
    Case(
        "unknown integration type",
        lambda c: c.create_job(integrations=[{"type": "comet", "comet": {}}]),
        400,
        "must be 'wandb' (Weights & Biases) or 'mlflow'",
        "integrations.0.type",
    ),
    Case(
        "wandb integration without a project",
        lambda c: c.create_job(integrations=[{"type": "wandb", "wandb": {"name": "run"}}]),
        400,
        "must be a non-empty string",
        "integrations.0.wandb.project",
    ),
    Case(
        "mlflow integration with list tags",
        lambda c: c.create_job(
            integrations=[{"type": "mlflow", "mlflow": {"experiment_name": "e", "tags": ["x"]}}]
        ),
        400,
        "mlflow.tags must be an object",
        "integrations.0.mlflow.tags",
    ),
    Case(
        "missing reinforcement section",
        lambda c: c.create_job(method={"type": "reinforcement"}),
        400,
        "must be an object with a 'grader'",
        "method.reinforcement",
    ),
    Case(
        "missing grader",
        lambda c: c.create_job(method=_reinforcement()),
        400,
        "give a grader object",
        "method.reinforcement.grader",
    ),
    Case(
        "grader of unknown type",
        lambda c: c.create_job(method=_reinforcement(grader={"type": "vibes", "name": "v"})),
        400,
        "vibes",
        "method.reinforcement.grader.type",
    ),
    Case(
        "unknown reinforcement field",
        lambda c: c.create_job(method=_reinforcement(grader=STRING_CHECK, reward="x")),
        400,
        "allowed: grader, hyperparameters",
        "method.reinforcement.reward",
    ),
    Case(
        "batch_size 0",
        lambda c: c.create_job(method=_hp(batch_size=0)),
        400,
        "between 1 and 256",
        "method.reinforcement.hyperparameters.batch_size",
    ),
    Case(
        "unknown hyperparameter",
        lambda c: c.create_job(method=_hp(warp_speed=9)),
        400,
        "Unknown hyperparameter 'warp_speed'",
        "method.reinforcement.hyperparameters.warp_speed",
    ),
    Case(
        "bad loss type",
        lambda c: c.create_job(method=_hp(loss_type="ppo")),
        400,
        'one of "dapo", "grpo"',
        "method.reinforcement.hyperparameters.loss_type",
    ),
    Case(
        "suffix too long",
        lambda c: c.create_job(suffix="s" * 65),
        400,
        "use 1-64 letters",
        "suffix",
    ),
    Case("negative seed", lambda c: c.create_job(seed=-1), 400, "from 0 to 2147483647", "seed"),
    Case(
        "seed of wrong type",
        lambda c: c.create_job(seed="abc"),
        400,
        "Invalid value for 'seed'",
        "seed",
    ),
    Case(
        "too much metadata",
        lambda c: c.create_job(metadata={f"k{i}": "v" for i in range(17)}),
        400,
        "at most 16 are allowed",
        "metadata",
    ),
    Case(
        "unknown top-level field",
        lambda c: c.create_job(extra_body={"epochs": 3}),
        400,
        "Invalid value for 'epochs'",
        "epochs",
    ),
    # Job lifecycle and lookups.
    Case(
        "unknown job",
        lambda c: c.client.fine_tuning.jobs.retrieve("ftjob-nope"),
        404,
        "No such fine-tuning job: ftjob-nope",
        "fine_tuning_job_id",
    ),
    Case(
        "other project's job",
        lambda c: c.intruder.fine_tuning.jobs.retrieve(c.cancelled_job),
        404,
        "No such fine-tuning job",
        "fine_tuning_job_id",
    ),
    Case(
        "resume a cancelled job",
        lambda c: c.client.fine_tuning.jobs.resume(c.cancelled_job),
        400,
        "Only jobs that are paused can be resumed.",
    ),
    Case(
        "pause a cancelled job",
        lambda c: c.client.fine_tuning.jobs.pause(c.cancelled_job),
        400,
        "it is 'cancelled'",
    ),
    Case(
        "cancel a cancelled job",
        lambda c: c.client.fine_tuning.jobs.cancel(c.cancelled_job),
        400,
        "Cannot cancel job",
    ),
    Case(
        "jobs list limit 0",
        lambda c: c.client.fine_tuning.jobs.list(limit=0),
        400,
        "use 1 to 1000",
        "limit",
    ),
    Case(
        "events of unknown job",
        lambda c: c.client.fine_tuning.jobs.list_events("ftjob-x"),
        404,
        "No such fine-tuning job",
        "fine_tuning_job_id",
    ),
    Case(
        "events after unknown cursor",
        lambda c: c.client.fine_tuning.jobs.list_events(c.cancelled_job, after="ftevent-x"),
        400,
        "no object with id 'ftevent-x'",
        "after",
    ),
    # Models and auth.
    Case(
        "unknown model",
        lambda c: c.client.models.retrieve("ft:x:default::ftjob-x"),
        404,
        "does not exist or you do not have access",
        "model",
    ),
    Case(
        "delete a base model",
        lambda c: c.client.models.delete("tiny-random-llama"),
        403,
        "only fine-tuned models",
        "model",
    ),
    Case(
        "wrong API key",
        lambda c: c.server.client("sk-wrong").models.list(),
        401,
        "Incorrect API key provided",
    ),
]


def _snapshot(c: Ctx) -> tuple[int, int, int]:
    files_dir = c.server.data_dir / "blobs" / "files"
    return (
        len(c.client.files.list().data),
        len(list(c.client.fine_tuning.jobs.list(limit=1000))),
        len(list(files_dir.iterdir())),
    )


def test_table_has_at_least_25_distinct_cases() -> None:
    assert len({case.name for case in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(ctx: Ctx, case: Case) -> None:
    before = _snapshot(ctx)
    with pytest.raises(openai.APIStatusError) as info:
        case.call(ctx)
    error = info.value
    assert error.status_code == case.status, error.body
    body = error.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert case.says in body["message"], body["message"]
    assert body["param"] == case.param
    assert _snapshot(ctx) == before
    ctx.client.models.list()  # the server keeps working
