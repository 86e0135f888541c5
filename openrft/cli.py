"""The ``openrft`` command line. Each command builds one Settings object and injects it.

Other parts register their commands here with one line each, e.g.
``app.command("export")(export_command)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from openrft.demo.command import demo as demo_command
from openrft.preflight_command import preflight as preflight_command
from openrft.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Self-hosted reinforcement fine-tuning service.")
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys.")
jobs_app = typer.Typer(no_args_is_help=True, help="Watch fine-tuning jobs.")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.command("demo")(demo_command)
app.command("preflight")(preflight_command)

DataDirOption = Annotated[Path | None, typer.Option(help="Data dir [./openrft-data].")]
DatabaseUrlOption = Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")]


def build_settings(**flags: Any) -> Settings:
    """Flags that were given win; the rest come from ``OPENRFT_*`` env or defaults."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})


@app.callback()
def _root() -> None:
    """openrft: serve the API, manage keys, follow jobs."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    api_key: Annotated[str | None, typer.Option(help="Key for project 'default'.")] = None,
    executor: Annotated[str | None, typer.Option(help="local | ray.")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    max_concurrent_jobs: Annotated[int | None, typer.Option(help="Parallel jobs [1].")] = None,
    storage_url: Annotated[
        str | None,
        typer.Option(help="fsspec URL for uploads and weights [file://<data-dir>/blobs]."),
    ] = None,
    grader_base_dir: Annotated[
        Path | None,
        typer.Option(help="Lambda 'file.py:handler' files are read from here, nothing outside."),
    ] = None,
    egress_allow: Annotated[
        list[str] | None,
        typer.Option(help="CIDR or host name tenant URLs may reach besides public addresses."),
    ] = None,
    model_alias: Annotated[
        list[str] | None,
        typer.Option(help="NAME=MODEL: serve MODEL under NAME too (e.g. gpt-4.1=Qwen/Qwen3-0.6B)."),
    ] = None,
    inference_engine: Annotated[
        str | None,
        typer.Option(help="auto | openrft | vllm: serving, and rollouts of 'auto' jobs [auto]."),
    ] = None,
    sandbox_isolation: Annotated[
        str | None,
        typer.Option(help="auto|bwrap: bubblewrap or no user code; unshare|none: weaker, opt-in."),
    ] = None,
    max_template_chars: Annotated[
        int | None, typer.Option(help="Characters per grader template [65536].")
    ] = None,
    max_render_chars: Annotated[
        int | None, typer.Option(help="Characters per rendered template [1048576].")
    ] = None,
    max_grader_source_bytes: Annotated[
        int | None, typer.Option(help="Bytes of python grader or Lambda handler code [262144].")
    ] = None,
    max_lambda_timeout_s: Annotated[
        float | None, typer.Option(help="Highest Lambda grader timeout_s [900].")
    ] = None,
    max_lambda_retries: Annotated[
        int | None, typer.Option(help="Highest Lambda grader max_retries [10].")
    ] = None,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from openrft.api.app import StartupRefusedError, build_services, create_app
    from openrft.domain.model_aliases import AliasError, parse_alias_flags

    try:
        aliases = parse_alias_flags(model_alias) if model_alias else None
    except AliasError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings = build_settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        api_key=api_key,
        executor=executor,
        ray_address=ray_address,
        max_concurrent_jobs=max_concurrent_jobs,
        storage_url=storage_url,
        grader_base_dir=grader_base_dir,
        egress_allow=egress_allow,
        model_aliases=aliases,
        inference_engine=inference_engine,
        sandbox_isolation=sandbox_isolation,
        max_template_chars=max_template_chars,
        max_render_chars=max_render_chars,
        max_grader_source_bytes=max_grader_source_bytes,
        max_lambda_timeout_s=max_lambda_timeout_s,
        max_lambda_retries=max_lambda_retries,
    )
    try:  # fail before binding, with a plain message (keyless off loopback, no executor)
        build_services(settings).engine.dispose()
    except StartupRefusedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project that owns the key's objects.")],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create an API key for PROJECT and print it (only its hash is stored)."""
    from openrft.db.engine import make_engine, make_session_factory, upgrade_database
    from openrft.errors import OpenRFTError
    from openrft.services.keys import KeyService
    from openrft.storage.private import make_private

    settings = build_settings(data_dir=data_dir, database_url=database_url)
    make_private(settings.data_dir)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade_database(engine)
        typer.echo(KeyService(make_session_factory(engine)).create(project))
    except OpenRFTError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@jobs_app.command("follow")
def jobs_follow(
    job_id: str,
    base_url: Annotated[str, typer.Option(envvar="OPENAI_BASE_URL")] = "http://127.0.0.1:8000/v1",
    api_key: Annotated[str, typer.Option(envvar="OPENAI_API_KEY")] = "none",
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 2.0,
) -> None:
    """Show live progress of JOB_ID until it ends; exit code 1 unless it succeeded."""
    status = follow_job(job_id, base_url=base_url, api_key=api_key, interval_s=interval)
    raise typer.Exit(0 if status == "succeeded" else 1)


@app.command("export")
def export(
    model_id: str,
    out_dir: Path,
    merged: Annotated[bool, typer.Option(help="Merge the LoRA adapter into full weights.")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write MODEL_ID as a Hugging Face model dir (safetensors + tokenizer) in OUT_DIR."""
    from openrft.errors import OpenRFTError
    from openrft.services.export import export_model

    settings = build_settings(data_dir=data_dir, database_url=database_url)
    try:
        export_model(model_id, out_dir, settings=settings, merged=merged)
    except OpenRFTError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(str(out_dir))


TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Progress:
    """What ``jobs follow`` shows; rewards (reinforcement) or losses (supervised, DPO) are the
    latest reported means."""

    status: str = "?"
    step: int | None = None
    total_steps: int | None = None
    train_reward: float | None = None
    valid_reward: float | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    estimated_finish: int | None = None
    seen_events: set[str] = field(default_factory=set)

    def absorb_metrics(self, data: dict[str, Any]) -> None:
        self.step = data.get("step", self.step)
        self.total_steps = data.get("total_steps", self.total_steps)
        self.train_reward = data.get("train_reward_mean", self.train_reward)
        if data.get("valid_reward_mean") is not None:
            self.valid_reward = data["valid_reward_mean"]
        self.train_loss = data.get("train_loss", self.train_loss)
        if data.get("valid_loss") is not None:
            self.valid_loss = data["valid_loss"]

    def render(self, job_id: str) -> Table:
        table = Table(title=f"fine-tuning job {job_id}", show_header=False)
        step = f"{self.step}/{self.total_steps}" if self.step is not None else "-"
        eta = "-"
        if self.estimated_finish:
            eta = f"{max(0, self.estimated_finish - int(time.time()))} s"
        scores = (
            (("train loss", self.train_loss), ("valid loss", self.valid_loss))
            if self.train_loss is not None
            else (("train reward", self.train_reward), ("valid reward", self.valid_reward))
        )
        for name, value in (
            ("status", self.status),
            ("step", step),
            *((label, _fmt(number)) for label, number in scores),
            ("ETA", eta),
        ):
            table.add_row(name, value)
        return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def poll_progress(client: Any, job_id: str, progress: Progress, console: Console) -> None:
    """One poll: job status, then new events oldest first (metrics update the numbers)."""
    job = client.fine_tuning.jobs.retrieve(job_id)
    progress.status, progress.estimated_finish = job.status, job.estimated_finish
    events = client.fine_tuning.jobs.list_events(job_id, limit=50).data
    for event in reversed(events):
        if event.id in progress.seen_events:
            continue
        progress.seen_events.add(event.id)
        if event.type == "metrics" and isinstance(event.data, dict):
            progress.absorb_metrics(event.data)
        else:
            console.print(f"[dim]{event.level}[/dim] {event.message}")


def follow_job(job_id: str, *, base_url: str, api_key: str, interval_s: float) -> str:
    """Poll with the openai SDK and redraw until the job ends; returns its final status."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key)
    console, progress = Console(), Progress()
    with Live(progress.render(job_id), console=console, refresh_per_second=4) as live:
        while True:
            poll_progress(client, job_id, progress, console)
            live.update(progress.render(job_id))
            if progress.status in TERMINAL:
                return progress.status
            time.sleep(interval_s)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
