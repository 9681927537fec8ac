"""`harness serve`: the model server alone, in the foreground (click lives here only)."""

from __future__ import annotations

from pathlib import Path

import click

from harness.config import Settings


@click.command()
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="An unpacked model (default: SAGEMAKER_MODEL_DIR if it holds one).",
)
@click.option(
    "--model-artifact",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A model.tar.gz (default: SCONES_MODEL_ARTIFACT, the trained one).",
)
@click.option("--host", help="Listen address (default MODEL_SERVER_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default MODEL_SERVER_PORT, 8080; 0 = any free one).")
@click.option(
    "--capture/--no-capture", default=None, help="Data Capture to S3 (default CAPTURE_ENABLED, on)."
)
def serve(
    model_dir: Path | None,
    model_artifact: Path | None,
    host: str | None,
    port: int | None,
    capture: bool | None,
) -> None:
    """Run the model server alone: /ping, /invocations and the InvokeEndpoint mirror."""
    if model_dir and model_artifact:
        raise click.UsageError("pass --model-dir or --model-artifact, not both")
    from harness.model_server.server import serve_until_signal

    settings = Settings.from_env(model_server_host=host, model_server_port=port)
    serve_until_signal(settings, model_dir, model_artifact, capture)
