"""The report: its files exist and hold what they claim; drift flagged only when it is there."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from PIL import Image
from rich.console import Console

from harness.cli import cli
from harness.config import Settings
from harness.monitoring.commands import do_monitor
from harness.monitoring.drift import PSI_LIMIT, PSI_MODERATE
from harness.monitoring.report import Summary, render_html
from tests.monitoring.monitoring_helpers import (
    capture_line,
    confidences,
    reencoded_png,
    write_baseline,
)

START = datetime(2024, 10, 15, 9, 0, tzinfo=UTC)
THRESHOLD = 0.87  # not the default, so finding it in the HTML means it was passed through


def write_folder(
    folder: Path,
    tops: list[float],
    images: list[bytes] | None = None,
    predicted: list[int] | None = None,
) -> Path:
    """Capture files, 10 records each, one record a minute; class `predicted[i]` gets `tops[i]`."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, top in enumerate(tops):
        cls = predicted[i] if predicted else i % 2
        probs = [top, 1 - top] if cls == 0 else [1 - top, top]
        lines.append(
            capture_line(probs, START + timedelta(minutes=i), images[i] if images else None)
        )
    for n in range(0, len(lines), 10):
        (folder / f"part-{n:04d}.jsonl").write_text("\n".join(lines[n : n + 10]) + "\n")
    return folder


def run(tmp_path: Path, source: Path, baseline: Path, **kwargs):
    out = io.StringIO()
    result = do_monitor(
        Settings(),
        str(source),
        out=tmp_path / "report",
        threshold=THRESHOLD,
        baseline=baseline,
        console=Console(file=out, width=150),
        **kwargs,
    )
    return result, out.getvalue()


def test_report_files_hold_what_they_claim(tmp_path: Path, test_images, data_dir: Path):
    # GIVEN 24 captured test images (re-encoded), predictions right for 18 of them, one bad line
    chosen = test_images[::8][:24]
    tops = [0.55 + 0.45 * ((i * 7) % 24) / 24 for i in range(24)]
    predicted = [label if i % 4 else 1 - label for i, (_, label) in enumerate(chosen)]
    folder = write_folder(
        tmp_path / "capture", tops, [reencoded_png(p) for p, _ in chosen], predicted
    )
    (folder / "part-0000.jsonl").open("a").write("{broken\n")
    baseline = write_baseline(tmp_path / "metrics.json", confidences(1, 300, confident=True))

    # WHEN the report is written
    result, terminal = run(tmp_path, folder, baseline, labels_dir=data_dir)

    # THEN the summary, the plotted data and the HTML agree with the input
    index = result.index
    summary = json.loads((index.parent / "summary.json").read_text())
    below = sum(t < THRESHOLD for t in tops)
    assert summary["records"] == 24 and summary["below_threshold"] == below
    drawn = summary["plots"]["confidence_over_time.png"]
    assert drawn == {"points": 24, "below": below, "threshold": THRESHOLD}
    assert summary["plots"]["confidence_histogram.png"]["records"] == 24
    mix = summary["plots"]["class_mix_over_time.png"]["counts"]
    assert [sum(mix["bicycle"]), sum(mix["motorcycle"])] == [predicted.count(0), predicted.count(1)]
    assert summary["accuracy"] == {"known": 24, "correct": 18, "value": 0.75}
    thumbs = summary["plots"]["lowest_confidence.png"]["thumbnails"]
    assert [t["confidence"] for t in thumbs] == pytest.approx(sorted(tops)[:8])
    assert [(p["line"], p["reason"][:8]) for p in summary["problems"]] == [(11, "not JSON")]

    html = index.read_text()
    assert f"<th>threshold</th><td>{THRESHOLD:g}</td>" in html
    images = re.findall(r"<img src='([^']+)'", html)
    assert images == [p for p in summary["plots"]]  # every chart is shown, and only those
    for name in images:
        with Image.open(index.parent / name) as png:
            assert png.format == "PNG" and png.width > 200
    assert "part-0000.jsonl:11: not JSON" in html
    assert "Latest executions" not in html
    assert str(index) in terminal.replace("\n", "") and "75.0% (18/24" in terminal


@pytest.mark.parametrize(
    ("seed", "confident", "all_motorcycle", "flagged"),
    [
        (2, True, False, False),  # same model, same kind of traffic: no drift
        (3, False, False, True),  # hesitant model: confidence PSI far above the limit
        (4, True, True, True),  # confident, but only motorcycles: the class mix moved
    ],
)
def test_drift_flagged_only_when_shifted(tmp_path, seed, confident, all_motorcycle, flagged):
    baseline = write_baseline(tmp_path / "metrics.json", confidences(1, 400, confident=True))
    tops = confidences(seed, 200, confident)
    folder = write_folder(tmp_path / "c", tops, predicted=[1] * 200 if all_motorcycle else None)

    result, terminal = run(tmp_path, folder, baseline)

    drift = result.summary.drift
    assert drift.flagged is flagged
    assert (drift.psi_confidence > PSI_LIMIT) is (not confident)
    if confident:
        assert drift.psi_confidence < PSI_MODERATE
    assert (drift.class_shift > 0.4) is all_motorcycle
    html = result.index.read_text()
    assert ("<p class='flag'>DRIFT" in html) is flagged
    assert "population stability index" in html and "drift_bins.png" in html
    assert ("DRIFT" in terminal) is flagged


def test_empty_window_says_so_and_writes_nothing(tmp_path, samples_dir):
    result, terminal = run(tmp_path, samples_dir, tmp_path / "none.json", since="2030-01-01")
    assert result.index is None and not (tmp_path / "report").exists()
    assert "No Data Capture records" in terminal and "24 files read" in terminal


def test_real_samples_report_without_baseline(tmp_path, samples_dir, data_dir):
    result, terminal = run(tmp_path, samples_dir, tmp_path / "missing.json", labels_dir=data_dir)
    summary = json.loads((result.index.parent / "summary.json").read_text())
    assert summary["plots"]["confidence_over_time.png"]["points"] == 37
    assert summary["drift"] is None and "no baseline" in summary["baseline"]
    assert summary["accuracy"]["known"] == 36
    assert "drift not computed" in terminal


def test_latest_executions_rendered_only_when_given():
    summary = Summary("s", 1, 0, 0.93, [])
    with_links = render_html(summary, [], [("run 1 <ok>", "executions/run-1.html")])
    assert "<h2>Latest executions</h2>" in with_links
    assert "<a href='executions/run-1.html'>run 1 &lt;ok&gt;</a>" in with_links
    assert "Latest executions" not in render_html(summary, [])


def test_cli_reads_the_capture_destination_on_s3(tmp_path, monkeypatch, test_images):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SCONES_BUCKET": "cli-bucket",
        "SCONES_ENDPOINT_NAME": "ep",
    }.items():
        monkeypatch.setenv(name, value)
    body = "\n".join(
        capture_line([0.4, 0.6], START + timedelta(minutes=i), p.read_bytes())
        for i, (p, _) in enumerate(test_images[:3])
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="cli-bucket")
        s3.put_object(
            Bucket="cli-bucket",
            Key="data_capture/ep/AllTraffic/2024/10/15/09/00-00-000-u.jsonl",
            Body=body.encode(),
        )
        out = tmp_path / "r"
        result = CliRunner().invoke(
            cli,
            [
                "monitor",
                "--target",
                "aws",
                "--out",
                str(out),
                "--baseline",
                str(tmp_path / "none.json"),
                "--link",
                "run 1=executions/run-1.html",
            ],
        )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["records"] == 3
    assert "index.html" in result.output
    assert "<a href='executions/run-1.html'>run 1</a>" in (out / "index.html").read_text()


def test_cli_bad_source_is_a_user_error(tmp_path):
    result = CliRunner().invoke(cli, ["monitor", "--source", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no Data Capture folder" in str(result.exception)
