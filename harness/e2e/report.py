"""Judge each execution against its case and print the table."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from harness.e2e.cases import Case
from harness.e2e.runner import ExecutionResult


@dataclass(frozen=True)
class Verdict:
    case: Case
    result: ExecutionResult
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(case: Case, result: ExecutionResult) -> Verdict:
    problems = []
    if result.status != case.expect_status:
        problems.append(f"expected {case.expect_status}, got {result.status}")
    if case.expect_label and result.label != case.expect_label:
        problems.append(f"expected label {case.expect_label}, got {result.label or 'none'}")
    if case.expect_error and result.error != case.expect_error:
        problems.append(f"expected error {case.expect_error}, got {result.error or 'none'}")
    # a missing object must fail with a message naming it, not a bare stack trace
    if (
        case.expect_status == "FAILED"
        and not case.expect_error
        and case.s3_key not in result.cause_message
    ):
        problems.append(f"error message does not name the key: {result.cause_message[:120]!r}")
    return Verdict(case, result, tuple(problems))


def print_table(verdicts: list[Verdict], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="End-to-end executions", show_lines=False)
    for column in (
        "execution",
        "scenario",
        "image",
        "status",
        "label",
        "confidence",
        "ms",
        "check",
    ):
        table.add_column(column, justify="right" if column in ("confidence", "ms") else "left")
    for v in verdicts:
        r = v.result
        status_style = "green" if r.status == "SUCCEEDED" else "red"
        detail = r.error or ""
        table.add_row(
            r.name,
            v.case.scenario,
            r.s3_key,
            f"[{status_style}]{r.status}[/]" + (f" {detail}" if detail else ""),
            r.label,
            f"{r.confidence:.3f}" if r.confidence is not None else "",
            f"{r.seconds * 1000:.0f}",
            "[green]ok[/]" if v.ok else "[red]" + "; ".join(v.problems) + "[/]",
        )
    console.print(table)
    failed = [v for v in verdicts if not v.ok]
    if failed:
        console.print(
            f"[red]{len(failed)} of {len(verdicts)} executions did not do what they should.[/]"
        )
    else:
        console.print(f"[green]All {len(verdicts)} executions behaved as expected.[/]")
