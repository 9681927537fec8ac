"""The views on screen and on disk: rich tables, the graph files, one HTML page per execution."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.config import Settings
from harness.executions.api import (
    ExecutionRecord,
    ExecutionSummary,
    list_executions,
    load_execution,
    stepfunctions_client,
)
from harness.executions.graph import COLOURS, write_graph
from harness.executions.history import cause_text, shorten, state_outcomes

_RICH_STATUS = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "red",
    "RUNNING": "blue",
    "succeeded": "green",
    "failed": "red",
    "caught": "dark_orange",
    "running": "blue",
    "not reached": "grey50",
}


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def executions_table(items: Iterable[ExecutionSummary], title: str = "") -> Table:
    table = Table(title=title or None, header_style="bold")
    for column in ("name", "input image", "status", "error", "duration", "started (UTC)"):
        table.add_column(column, no_wrap=column in ("name", "started (UTC)"))
    for item in items:
        colour = _RICH_STATUS.get(item.status, "")
        table.add_row(
            item.name,
            item.input_key or "-",
            f"[{colour}]{item.status}[/]" if colour else item.status,
            item.error or "",
            duration_text(item.duration_s),
            item.start.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


def states_table(record: ExecutionRecord, width: int = 90) -> Table:
    s = record.summary
    title = " · ".join(
        part for part in (s.name, s.status, duration_text(s.duration_s), s.input_key) if part
    )
    table = Table(title=title, header_style="bold", show_lines=True)
    for column in (
        "state",
        "type",
        "status",
        "started",
        "duration",
        "retries",
        "input",
        "output",
        "error",
    ):
        table.add_column(column, overflow="fold")
    for row in record.rows:
        colour = _RICH_STATUS.get(row.status, "")
        error = f"{row.error}: {cause_text(row.cause) or ''}" if row.error else ""
        table.add_row(
            row.name,
            row.type,
            f"[{colour}]{row.status}[/]",
            row.start.strftime("%H:%M:%S.%f")[:-3],
            duration_text(row.duration_s),
            str(row.retries),
            shorten(row.input, width) or "",
            shorten(row.output, width) or "",
            error,
        )
    return table


def print_executions(
    items: list[ExecutionSummary], title: str = "", console: Console | None = None
) -> None:
    (console or Console()).print(executions_table(items, title))


def print_states(record: ExecutionRecord, console: Console | None = None) -> None:
    (console or Console()).print(states_table(record))


@dataclass(frozen=True)
class ViewFiles:
    html: Path
    svg: Path
    png: Path


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "execution"


def write_views(record: ExecutionRecord, out_dir: Path, png: bool = True) -> ViewFiles:
    """Write <name>.svg, <name>.png and <name>.html (table + embedded graph) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_name(record.summary.name)
    files = ViewFiles(out_dir / f"{stem}.html", out_dir / f"{stem}.svg", out_dir / f"{stem}.png")
    title = f"{record.summary.name} · {record.summary.status}"
    write_graph(
        record.definition,
        state_outcomes(record.rows),
        files.svg,
        files.png if png else None,
        title=title,
    )
    files.html.write_text(execution_html(record, files), encoding="utf-8")
    return files


def execution_html(record: ExecutionRecord, files: ViewFiles) -> str:
    s = record.summary
    esc = html.escape
    svg = files.svg.read_text(encoding="utf-8")
    svg = svg[svg.index("<svg") :]  # inline: drop the XML prolog and doctype
    rows = []
    for row in record.rows:
        colour = COLOURS.get(row.status, "#ffffff")
        error = (
            f"<b>{esc(row.error)}</b><br>{esc(cause_text(row.cause) or '')}" if row.error else ""
        )
        rows.append(
            f"<tr><td>{esc(row.name)}</td><td>{esc(row.type)}</td>"
            f'<td style="background:{colour}">{esc(row.status)}</td>'
            f"<td>{esc(row.start.isoformat())}</td><td>{duration_text(row.duration_s)}</td>"
            f"<td>{row.retries}</td><td><code>{esc(row.input or '')}</code></td>"
            f"<td><code>{esc(row.output or '')}</code></td><td>{error}</td></tr>"
        )
    facts = [
        ("status", s.status),
        ("input image", s.input_key or "-"),
        ("started", s.start.isoformat()),
        ("duration", duration_text(s.duration_s)),
        ("error", s.error or "-"),
        ("cause", cause_text(s.cause) or "-"),
        ("ARN", s.arn),
    ]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{esc(s.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }}
code {{ word-break: break-all; font-size: 0.9em; }}
.graph svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>Execution {esc(s.name)}</h1>
<table>{"".join(f"<tr><th>{k}</th><td>{esc(v)}</td></tr>" for k, v in facts)}</table>
<h2>Graph view</h2>
<div class="graph">{svg}</div>
<p><a href="{esc(files.svg.name)}">SVG</a> · <a href="{esc(files.png.name)}">PNG</a></p>
<h2>Table view</h2>
<table><tr><th>state</th><th>type</th><th>status</th><th>started</th><th>duration</th>
<th>retries</th><th>input</th><th>output</th><th>error</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""


def record_json(record: ExecutionRecord, files: ViewFiles | None = None) -> dict[str, Any]:
    """What `harness show --json` prints."""
    out: dict[str, Any] = {
        "execution": record.summary.to_dict(),
        "states": [r.to_dict() for r in record.rows],
    }
    if files is not None:
        out["views"] = {"html": str(files.html), "svg": str(files.svg), "png": str(files.png)}
    return out


def write_execution_views(
    settings: Settings, out_dir: Path, limit: int = 5, client: Any = None
) -> list[tuple[str, Path]]:
    """Views of the `limit` latest executions in out_dir: (title, html path) pairs, newest first.

    For the monitoring report's links. Raises HarnessError when the target does not answer
    or has no state machine named settings.state_machine_name.
    """
    client = client or stepfunctions_client(settings)
    pages = []
    for item in list_executions(client, settings.state_machine_name, limit=limit):
        files = write_views(load_execution(client, item.arn, item), Path(out_dir))
        title = f"{item.name} · {item.status}" + (f" · {item.input_key}" if item.input_key else "")
        pages.append((title, files.html))
    return pages
