"""The endpoint page: invocations, errors and latency over time, and the monitoring views.

Where the numbers come from, in order (only AWS APIs and Data Capture):
- CloudWatch's AWS/SageMaker metrics (Invocations, Invocation4XX/5XXErrors, ModelLatency),
  which AWS publishes for a real endpoint;
- else (the local endpoint mirror publishes no CloudWatch metrics) the classify_image
  function's CloudWatch Logs: each of its invocations calls InvokeEndpoint once, its
  REPORT line gives the duration around that call, and an ERROR line marks a failure.
The monitoring views are harness.monitoring's report, drawn from Data Capture in S3.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib
from botocore.exceptions import ClientError

matplotlib.use("Agg")
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from harness import clients
from harness.config import Settings
from harness.deploy.workflow import FUNCTIONS
from harness.errors import HarnessError
from harness.loop.logs import log_group, read_cloudwatch
from harness.monitoring import plots
from harness.monitoring.drift import load_baseline
from harness.monitoring.labels import known_labels
from harness.monitoring.report import Summary, summarize, write_report
from harness.monitoring.sources import read_s3, s3_client

_REPORT = re.compile(r"^REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms")
_REQUEST = re.compile(r'"request_id": "([^"]+)"')
METRICS_FILE = "endpoint_metrics.png"
_LOCK = threading.Lock()  # one report folder: one writer at a time


@dataclass
class Metrics:
    source: str
    times: list[datetime] = field(default_factory=list)  # minute buckets
    invocations: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # mean per bucket (nan: none)

    @property
    def total(self) -> int:
        return sum(self.invocations)


@dataclass
class EndpointView:
    name: str
    description: dict
    metrics: Metrics
    summary: Summary | None
    drawn: list[plots.Plot]
    folder: Path
    capture_note: str = ""


def cloudwatch_metrics(settings: Settings, since: datetime, now: datetime) -> Metrics | None:
    cw = clients.client(settings, "cloudwatch", connect_timeout=2, retries={"max_attempts": 1})
    dims = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": settings.variant_name},
    ]
    queries = [
        {
            "Id": ident,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dims},
                "Period": 60,
                "Stat": stat,
            },
        }
        for ident, metric, stat in (
            ("inv", "Invocations", "Sum"),
            ("e4", "Invocation4XXErrors", "Sum"),
            ("e5", "Invocation5XXErrors", "Sum"),
            ("lat", "ModelLatency", "Average"),
        )
    ]
    answer = cw.get_metric_data(MetricDataQueries=queries, StartTime=since, EndTime=now)
    series = {r["Id"]: dict(zip(r["Timestamps"], r["Values"])) for r in answer["MetricDataResults"]}
    if not series.get("inv"):
        return None
    times = sorted(series["inv"])
    return Metrics(
        "CloudWatch AWS/SageMaker metrics",
        times,
        [int(series["inv"][t]) for t in times],
        [int(series["e4"].get(t, 0) + series["e5"].get(t, 0)) for t in times],
        [series["lat"].get(t, float("nan")) / 1000 for t in times],  # ModelLatency is in µs
    )


def log_metrics(settings: Settings, since_s: float) -> Metrics:
    classify = next(spec.folder for spec in FUNCTIONS if "classify" in spec.folder)
    group = log_group(settings, classify)
    buckets: dict[datetime, list] = defaultdict(lambda: [0, 0, 0.0])
    failed: set[str] = set()
    reports = []
    try:
        for line in read_cloudwatch(settings, group, since_s, False):
            report = _REPORT.match(line.message)
            if report and line.timestamp:
                reports.append((line.timestamp, report[1], float(report[2])))
            elif '"level": "ERROR"' in line.message or "errorType" in line.message:
                request = _REQUEST.search(line.message)
                failed.add(request[1] if request else line.source)
    except HarnessError:
        pass  # no log group yet: no invocations
    for when, request, duration in reports:
        bucket = buckets[when.replace(second=0, microsecond=0)]
        bucket[0] += 1
        bucket[1] += request in failed
        bucket[2] += duration
    times = sorted(buckets)
    return Metrics(
        f"{group} in CloudWatch Logs (one InvokeEndpoint per invocation; the local endpoint "
        "publishes no CloudWatch metrics)",
        times,
        [buckets[t][0] for t in times],
        [buckets[t][1] for t in times],
        [buckets[t][2] / buckets[t][0] for t in times],
    )


def draw_metrics(metrics: Metrics, out: Path) -> None:
    fig = Figure(figsize=(9, 5.4))
    axes = fig.subplots(3, 1, sharex=True)
    width = 1 / 24 / 60 * 0.8  # a minute, in days
    axes[0].bar(metrics.times, metrics.invocations, width=width, color=plots.ABOVE)
    axes[0].set_ylabel("invocations")
    axes[1].bar(metrics.times, metrics.errors, width=width, color=plots.BELOW)
    axes[1].set_ylabel("errors")
    axes[1].set_ylim(0, max([1, *metrics.errors]) * 1.1)  # no errors: a flat zero, not ±0.05
    axes[2].plot(metrics.times, metrics.latency_ms, marker="o", markersize=3, color="#444")
    axes[2].set_ylabel("latency (ms)")
    pad = timedelta(minutes=2)  # one busy minute must not fill the axis as one wide bar
    axes[2].set_xlim(metrics.times[0] - pad, metrics.times[-1] + pad)
    locator = mdates.AutoDateLocator()
    axes[2].xaxis.set_major_locator(locator)
    axes[2].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[0].set_title("per minute (UTC)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / METRICS_FILE, dpi=90, format="png")


def endpoint_view(settings: Settings, since_s: float, folder: Path) -> EndpointView:
    now = datetime.now(UTC)
    since = now - timedelta(seconds=since_s)
    sm = clients.client(settings, "sagemaker", connect_timeout=2, retries={"max_attempts": 1})
    try:
        description = sm.describe_endpoint(EndpointName=settings.endpoint_name)
    except ClientError as exc:  # no endpoint yet: shown on the page, the views below still help
        description = {"EndpointName": settings.endpoint_name, "EndpointStatus": f"unknown ({exc})"}
    metrics = cloudwatch_metrics(settings, since, now) or log_metrics(settings, since_s)
    capture = read_s3(
        s3_client(settings), settings.capture_destination, settings.endpoint_name, since=since
    )
    with _LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()  # a view the new window does not draw must not linger
        if metrics.times:
            draw_metrics(metrics, folder)
        if not capture.records:
            note = f"No Data Capture records in {capture.description} in this window."
            return EndpointView(
                settings.endpoint_name, description, metrics, None, [], folder, note
            )
        base = load_baseline(settings.model_artifact.parent / "metrics.json") or load_baseline(
            settings.model_artifact
        )
        labels = known_labels(settings.data_dir)
        summary = summarize(capture, settings.threshold, labels, base)
        drawn = write_report(summary, capture, folder, labels, base)
    return EndpointView(settings.endpoint_name, description, metrics, summary, drawn, folder)
