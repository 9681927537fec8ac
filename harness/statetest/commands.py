"""`harness test-state`: click only parses and prints; the work is in statetest/request.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from harness.cli import TARGET_OPTION
from harness.config import Settings


@click.command("test-state")
@click.argument("state")
@click.option(
    "--input", "payload", default=None, metavar="JSON|@FILE", help="the state's input (default {})"
)
@click.option(
    "--mock",
    default=None,
    metavar="JSON|@FILE",
    help='a mocked answer instead of calling the service: {"result": ...} or '
    '{"errorOutput": {"error": ..., "cause": ...}} (and "fieldValidationMode")',
)
@click.option(
    "--level",
    type=click.Choice(["INFO", "DEBUG", "TRACE"]),
    default="DEBUG",
    show_default=True,
    help="DEBUG shows each data-flow stage",
)
@click.option(
    "--definition",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="a state machine file (default: the settings' state machine file)",
)
@TARGET_OPTION
def test_state(
    state: str,
    payload: str | None,
    mock: str | None,
    level: str,
    definition: Path | None,
    target: str | None,
) -> None:
    """Run one STATE of the state machine once through Step Functions' TestState API and print
    what each stage did, the output, the status and the next state. A Task without --mock
    really calls its service (the deployed Lambda). Exits 1 when the state FAILED."""
    from harness.statetest import request

    settings = Settings.from_env(target=target)
    answer = request.call(
        settings,
        state,
        request.definition_text(settings, definition),
        request.read_json_option(payload, "input"),
        request.mock_input(request.read_json_option(mock, "mock")),
        level,
    )
    request.print_answer(answer, state, Console())
    if answer.get("status") == "FAILED":
        sys.exit(1)
