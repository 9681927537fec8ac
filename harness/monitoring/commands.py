"""`harness monitor`: read Data Capture (S3 or a folder), write the report, print the summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from harness.config import REPO_ROOT, Settings
from harness.monitoring.drift import load_baseline
from harness.monitoring.labels import known_labels
from harness.monitoring.report import Summary, print_summary, summarize, write_report
from harness.monitoring.sources import Capture, parse_when, read_folder, read_s3, s3_client


@dataclass
class MonitorResult:
    summary: Summary
    index: Path | None  # None when the window was empty: no report written


def do_monitor(
    settings: Settings,
    source: str = "s3",
    endpoint: str | None = None,
    variant: str | None = None,
    since: str | None = None,
    until: str | None = None,
    out: Path | None = None,
    threshold: float | None = None,
    baseline: Path | None = None,
    labels_dir: Path | None = None,
    executions: Sequence[tuple[str, str]] | None = None,
    s3: Any = None,
    console: Console | None = None,
    execution_views: int = 0,
) -> MonitorResult:
    """Everything `harness monitor` does; `s3` may be injected (tests), else built for the target."""
    console = console or Console()
    start, end = parse_when(since), parse_when(until)
    capture = _read(settings, source, endpoint or settings.endpoint_name, variant, start, end, s3)
    baseline_path = baseline or settings.model_artifact.parent / "metrics.json"
    base = load_baseline(baseline_path)
    if base is None and baseline is None:  # no loose metrics.json: the one inside the artifact
        base = load_baseline(settings.model_artifact)
    labels = known_labels(labels_dir or settings.data_dir)
    summary = summarize(
        capture, settings.threshold if threshold is None else threshold, labels, base, baseline_path
    )
    if not capture.records:
        first = f"{start:%Y-%m-%d %H:%M:%SZ}" if start else "the beginning"
        last = f"{end:%Y-%m-%d %H:%M:%SZ}" if end else "now"
        window = f"between {first} and {last}"
        console.print(
            f"[yellow]No Data Capture records {window} in {capture.description}[/] "
            f"({capture.files} files read, {len(capture.problems)} problems); no report written."
        )
        for p in capture.problems[:10]:
            console.print(f"[yellow]skipped[/] {p}", highlight=False)
        return MonitorResult(summary, None)
    out = out or REPO_ROOT / "reports" / f"monitor-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    if execution_views:
        executions = [
            *(executions or []),
            *_execution_links(settings, Path(out), execution_views, console),
        ]
    write_report(summary, capture, Path(out), labels, base, executions)
    index = Path(out) / "index.html"
    print_summary(summary, index, console)
    return MonitorResult(summary, index)


def _execution_links(settings: Settings, out: Path, limit: int, console: Console):
    """The latest executions' Table and Graph views, written beside the report, as links."""
    from harness.errors import HarnessError
    from harness.executions.render import write_execution_views

    try:
        pages = write_execution_views(settings, out / "executions", limit=limit)
    except HarnessError as exc:
        console.print(f"[yellow]no execution views in the report:[/] {exc.message}")
        return []
    return [(title, str(path.relative_to(out))) for title, path in pages]


def _read(
    settings: Settings,
    source: str,
    endpoint: str,
    variant: str | None,
    since: datetime | None,
    until: datetime | None,
    s3: Any,
) -> Capture:
    if source == "s3" or source.startswith("s3://"):
        destination = settings.capture_destination if source == "s3" else source
        return read_s3(s3 or s3_client(settings), destination, endpoint, variant, since, until)
    return read_folder(Path(source.removeprefix("folder:")), since, until)


@click.command()
@click.option(
    "--target",
    type=click.Choice(["local", "aws"]),
    default="local",
    show_default=True,
    help="Where S3 is: the local stack or AWS.",
)
@click.option(
    "--source",
    default="s3",
    show_default=True,
    help="s3 (the capture destination), an s3://bucket/prefix URI, or a local folder/file.",
)
@click.option("--endpoint", default=None, help="Endpoint name [default: SCONES_ENDPOINT_NAME].")
@click.option("--variant", default=None, help="Production variant [default: all].")
@click.option("--since", default=None, help="Window start: ISO time or relative (30m, 1h, 2d).")
@click.option("--until", default=None, help="Window end: ISO time or relative.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder [default: reports/monitor-<timestamp>/].",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Confidence threshold [default: SCONES_THRESHOLD].",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="metrics.json with test_predictions [default: next to the model artifact].",
)
@click.option(
    "--labels-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with test.lst for known labels [default: SCONES_DATA_DIR].",
)
@click.option(
    "--executions",
    "execution_views",
    default=5,
    show_default=True,
    help="Link views of this many latest executions (0: none; needs the Step Functions API).",
)
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="TITLE=HREF",
    help="Add to the report's 'Latest executions' section (repeatable).",
)
def monitor(
    target: str,
    source: str,
    endpoint: str | None,
    variant: str | None,
    since: str | None,
    until: str | None,
    out: Path | None,
    threshold: float | None,
    baseline: Path | None,
    labels_dir: Path | None,
    links: tuple[str, ...],
    execution_views: int,
) -> None:
    """Read Data Capture and write a monitoring report (HTML + PNG) with a terminal summary."""
    settings = Settings.from_env(target=target)
    executions = []
    for link in links:
        title, sep, href = link.partition("=")
        if not sep or not title or not href:
            raise click.BadParameter(f"{link!r} is not TITLE=HREF", param_hint="--link")
        executions.append((title, href))
    do_monitor(
        settings,
        source,
        endpoint,
        variant,
        since,
        until,
        out,
        threshold,
        baseline,
        labels_dir,
        executions or None,
        execution_views=execution_views if source == "s3" or source.startswith("s3://") else 0,
    )
