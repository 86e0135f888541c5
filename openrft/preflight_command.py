"""``openrft preflight``: run a job's preflight on a server and print the report.

Files may be file ids or local JSONL paths (uploaded with purpose ``fine-tune`` first); the
grader and hyperparameters are JSON text or paths to JSON files. Exit status 1 when the verdict
is ``block``, 2 when the server refused the request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

PREFLIGHT_TIMEOUT_S = 1800.0


def json_argument(value: str, name: str) -> Any:
    """``value`` parsed as JSON, or the JSON content of the file it names."""
    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.is_file() else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{name} is neither JSON nor a JSON file: {exc}") from None


def file_id(client: Any, value: str | None) -> str | None:
    """A file id as given, or the id of a local JSONL file uploaded now."""
    if value is None or not Path(value).is_file():
        return value
    return str(client.files.create(file=Path(value), purpose="fine-tune").id)


def preflight(
    model: Annotated[str, typer.Option(help="Base model the job would train.")],
    training_file: Annotated[str, typer.Option(help="File id or local JSONL path.")],
    grader: Annotated[str, typer.Option(help="Grader JSON, or a path to a JSON file.")],
    validation_file: Annotated[str | None, typer.Option(help="File id or JSONL path.")] = None,
    hyperparameters: Annotated[
        str | None, typer.Option(help="Hyperparameters JSON, or a path to a JSON file.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the subset and sampling [0].")] = None,
    max_prompts: Annotated[
        int | None,
        typer.Option(help="Prompts sampled (at most 128) [as many as 12,288 tokens allow, 4-16]."),
    ] = None,
    pass_threshold: Annotated[float, typer.Option(help="Reward that counts as solved.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    base_url: Annotated[str, typer.Option(envvar="OPENAI_BASE_URL")] = "http://127.0.0.1:8000/v1",
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY")] = "none",
) -> None:
    """Sample and grade MODEL on a seeded subset of the training file before training: prompts
    it always or never solves, the learnable fraction, grader health, exploit probes, a
    forecast and advice."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=PREFLIGHT_TIMEOUT_S)
    section: dict[str, Any] = {"grader": json_argument(grader, "--grader")}
    if hyperparameters is not None:
        section["hyperparameters"] = json_argument(hyperparameters, "--hyperparameters")
    body = {
        "model": model,
        "training_file": file_id(client, training_file),
        "validation_file": file_id(client, validation_file),
        "method": {"type": "reinforcement", "reinforcement": section},
        "seed": seed,
        "max_prompts": max_prompts,
        "pass_threshold": pass_threshold,
    }
    try:
        report: dict[str, Any] = client.post(
            "/fine_tuning/alpha/preflight", body=body, cast_to=dict
        )
    except openai.APIStatusError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, indent=2) if as_json else report["report_text"])
    raise typer.Exit(1 if report["verdict"] == "block" else 0)
