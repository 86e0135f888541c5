"""The ``openrft`` command line. Each command builds one Settings object and injects it.

Other parts register their commands here with one line each, e.g.
``app.command("export")(export_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openrft.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Self-hosted reinforcement fine-tuning service.")


@app.callback()
def _root() -> None:
    """openrft: serve the API, manage keys, follow jobs."""


def build_settings(**flags: Any) -> Settings:
    """Flags that were given win; the rest come from ``OPENRFT_*`` env or defaults."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data dir [./openrft-data].")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL.")] = None,
    api_key: Annotated[str | None, typer.Option(help="Key for project 'default'.")] = None,
    executor: Annotated[str | None, typer.Option(help="local | ray.")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    max_concurrent_jobs: Annotated[int | None, typer.Option(help="Parallel jobs [1].")] = None,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from openrft.api.app import create_app

    settings = build_settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        api_key=api_key,
        executor=executor,
        ray_address=ray_address,
        max_concurrent_jobs=max_concurrent_jobs,
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
