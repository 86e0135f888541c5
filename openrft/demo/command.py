"""``openrft demo``: the typer command; cli.py registers it with ``app.command("demo")``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openrft.demo.config import DemoConfig

_DEFAULTS = DemoConfig()


def demo(
    base_url: Annotated[
        str | None, typer.Option(help="Use this server's /v1 instead of starting one.")
    ] = None,
    api_key: Annotated[str, typer.Option(help="API key for --base-url.")] = _DEFAULTS.api_key,
    gsm8k_dir: Annotated[
        Path | None, typer.Option(help="Directory with GSM8K train.jsonl and test.jsonl.")
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Where data, plot and results go.")] = (
        _DEFAULTS.out_dir
    ),
    model: Annotated[str, typer.Option(help="Base model to fine-tune.")] = _DEFAULTS.model,
    system_prompt: Annotated[
        str, typer.Option(help='System message of every prompt; "" = Bedrock\'s prompt only.')
    ] = _DEFAULTS.system_prompt,
    train_rows: Annotated[int, typer.Option(min=1)] = _DEFAULTS.train_rows,
    valid_rows: Annotated[int, typer.Option(min=1)] = _DEFAULTS.valid_rows,
    eval_rows: Annotated[
        int, typer.Option(min=1, help="Held-out test questions for base vs tuned.")
    ] = _DEFAULTS.eval_rows,
    steps: Annotated[int, typer.Option(min=1, help="Training steps.")] = _DEFAULTS.steps,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts per step.")] = (
        _DEFAULTS.batch_size
    ),
    group_size: Annotated[int, typer.Option(min=2, help="Samples per prompt.")] = (
        _DEFAULTS.group_size
    ),
    max_tokens: Annotated[int, typer.Option(min=1, help="Tokens per completion.")] = (
        _DEFAULTS.max_tokens
    ),
    learning_rate: Annotated[float, typer.Option(min=0.0)] = _DEFAULTS.learning_rate,
    temperature: Annotated[
        float, typer.Option(min=0.0, max=2.0, help="Sampling temperature of the rollouts.")
    ] = _DEFAULTS.temperature,
    eval_interval: Annotated[int, typer.Option(min=1)] = _DEFAULTS.eval_interval,
    seed: Annotated[int, typer.Option()] = _DEFAULTS.seed,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Concurrent chat requests in the comparison.")
    ] = _DEFAULTS.concurrency,
) -> None:
    """The GSM8K walkthrough: fine-tune with a Bedrock-style reward, then compare base vs tuned."""
    config = DemoConfig(
        out_dir=out_dir,
        base_url=base_url,
        api_key=api_key,
        gsm8k_dir=gsm8k_dir,
        model=model,
        system_prompt=system_prompt,
        train_rows=train_rows,
        valid_rows=valid_rows,
        eval_rows=eval_rows,
        steps=steps,
        batch_size=batch_size,
        group_size=group_size,
        max_tokens=max_tokens,
        learning_rate=learning_rate,
        temperature=temperature,
        eval_interval=eval_interval,
        seed=seed,
        concurrency=concurrency,
    )
    from openrft.demo.dataset import DatasetUnavailableError
    from openrft.demo.walkthrough import DemoFailedError, run_demo

    console = Console()
    try:
        run_demo(config, console)
    except (DatasetUnavailableError, DemoFailedError) as error:
        console.print(f"[red]demo failed:[/] {error}")
        raise typer.Exit(1) from error
