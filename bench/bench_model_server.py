"""Model server benchmark (issue 2): latency and throughput through boto3, server overhead, Data Capture cost.

    .venv/bin/python bench/bench_model_server.py [--model-artifact model.tar.gz] [--seconds 5]

The server runs as its own process (`python -m harness.model_server serve`), as in the container;
clients are separate processes too, so that the GIL of one does not slow the other. Data Capture
writes to moto's S3 server on 127.0.0.1. Prints the figures and writes bench/results/model_server.json.
Targets (2 cores): p50 <= 3 ms, >= 500 invocations/s with keep-alive clients, capture cost <= 10 %.
Issue 17: server_overhead_ms = boto3 p50 minus the model's own p50 (onnxruntime session.run
in-process, batch 1), goal <= 1 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from figures import percentile, write_figures  # bench/figures.py (this folder is on sys.path)
from support.images import png  # tests/support/images.py

from harness.clients import runtime_at
from harness.config import Settings
from harness.stack.readiness import free_port

ENDPOINT = Settings().endpoint_name
CREDS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


BODY_RGB = (180, 40, 60)  # the request body: a uniform 32x32 PNG of this colour


def percentiles(samples: list[float]) -> dict[str, float]:
    return {f"p{q}_ms": round(percentile(samples, q / 100) * 1000, 3) for q in (50, 95, 99)}


class Server:
    """The model server as a child process, ready once it prints its ready line."""

    def __init__(self, model_dir: Path, capture_env: dict[str, str] | None):
        port = free_port()
        env = {
            **os.environ,
            **CREDS,
            "PYTHONPATH": str(REPO),
            "MODEL_SERVER_HOST": "127.0.0.1",
            "MODEL_SERVER_PORT": str(port),
            "SAGEMAKER_MODEL_DIR": str(model_dir),
            **(capture_env or {"CAPTURE_ENABLED": "false"}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.model_server", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if "ready" not in line:
            raise SystemExit(f"model server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{port}"

    def cpu_seconds(self) -> float:
        """CPU time the server process used so far (user + system), from /proc (Linux)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _load_worker(url: str, threads: int, seconds: float, use_boto3: bool, out: mp.Queue) -> None:
    """One client process: `threads` keep-alive clients calling as fast as they can."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    body, counts, totals, errors = png(BODY_RGB), [0] * threads, [0] * threads, [0]
    client = runtime_at(url, max_pool_connections=16) if use_boto3 else None
    path = f"/endpoints/{ENDPOINT}/invocations"
    start = time.perf_counter() + 0.5  # warm the connections first
    stop = start + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port)
        while (now := time.perf_counter()) < stop:
            try:
                if client is not None:
                    client.invoke_endpoint(
                        EndpointName=ENDPOINT, Body=body, ContentType="image/png"
                    )["Body"].read()
                else:
                    conn.request("POST", path, body=body, headers={"Content-Type": "image/png"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 200:
                        errors[0] += 1
            except Exception:  # noqa: BLE001 (counted and reported)
                errors[0] += 1
            totals[i] += 1
            if now >= start:
                counts[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((sum(counts), sum(totals), errors[0]))


def throughput(
    server: Server, seconds: float, processes: int, threads: int, use_boto3: bool
) -> dict:
    """Invocations per second, and the server's CPU time per invocation: the second stays
    meaningful when other work on the machine steals cores from the run."""
    url, cpu_before = server.url, server.cpu_seconds()
    queue: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=_load_worker, args=(url, threads, seconds, use_boto3, queue))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    calls, total, errors = (sum(r[i] for r in results) for i in range(3))
    cpu_per_call = (server.cpu_seconds() - cpu_before) / max(1, total)  # warm-up calls included
    return {
        "server_cpu_ms_per_invocation": round(cpu_per_call * 1000, 3),
        "invocations_per_s": round(calls / seconds, 1),
        "errors": errors,
        "clients": f"{processes} processes x {threads} threads",
        "client": "boto3" if use_boto3 else "http.client",
    }


def latency(url: str, n: int) -> dict:
    client, body = runtime_at(url, max_pool_connections=16), png(BODY_RGB)
    for _ in range(100):
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType="image/png")[
            "Body"
        ].read()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType="image/png")[
            "Body"
        ].read()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def http_latency(url: str, n: int) -> dict:
    """The same call over one keep-alive http.client connection: the server without boto3's cost."""
    import http.client
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port)
    body, path, samples = png(BODY_RGB), f"/endpoints/{ENDPOINT}/invocations", []
    for i in range(n + 100):
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": "image/png"})
        conn.getresponse().read()
        if i >= 100:
            samples.append(time.perf_counter() - t0)
    conn.close()
    return percentiles(samples)


def in_process(model_dir: Path, n: int) -> dict:
    from harness.model_server.inference import model_fn, transform

    model, body = model_fn(model_dir), png(BODY_RGB)
    for _ in range(100):
        transform(body, "image/png", None, model)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        transform(body, "image/png", None, model)
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def model_only(model_dir: Path, n: int) -> dict:
    """The network alone: session.run at batch 1 on the request body's decoded input, in the
    server's session (model_fn), so nothing of decode, JSON or HTTP is in it."""
    from harness.model_server.inference import input_fn, model_fn

    model = model_fn(model_dir)
    meta, session = model.metadata, model.session
    feed = {meta.input_name: input_fn(png(BODY_RGB), "image/png", model)}
    for _ in range(100):
        session.run([meta.output_name], feed)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        session.run([meta.output_name], feed)
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def capture_cpu_per_record(s3_url: str, n: int = 5000) -> dict:
    """Data Capture's own CPU per record, measured in this thread (record + build + upload):
    steadier than comparing two throughput runs when other work shares the machine."""
    from harness.model_server.capture import CaptureConfig, DataCapture

    settings = Settings(capture_s3_uri="s3://bench/data_capture", capture_s3_endpoint_url=s3_url)
    capture = DataCapture(CaptureConfig.from_settings(settings)).start()
    body, answer = png(BODY_RGB), b"[0.8807970285415649, 0.11920291930761147]"
    try:
        capture.flush()  # warm: client creation, first connection
        t0 = time.thread_time()
        for _ in range(n):
            if capture.sampled():
                capture.record(body, "image/png", answer, "application/json")
        t1 = time.thread_time()
        written = capture.flush()
        t2 = time.thread_time()
    finally:
        capture.stop()
    if written != n:
        raise SystemExit(f"capture wrote {written} of {n} records")
    return {
        "request_path_us": round((t1 - t0) / n * 1e6, 2),
        "flush_us": round((t2 - t1) / n * 1e6, 2),
        "total_us": round((t2 - t0) / n * 1e6, 2),
    }


def model_dir_for(artifact: Path | None, work: Path) -> tuple[Path, str]:
    from harness.model_server.artifact import unpack_artifact

    settings = Settings.from_env()
    if artifact is None and settings.model_artifact.is_file():
        artifact = settings.model_artifact
    if artifact is None:
        from support.tiny_model import build_tiny_artifact

        artifact, label = build_tiny_artifact(work), "tiny test model (tests/support/tiny_model.py)"
    else:
        label = str(artifact)
    return unpack_artifact(artifact, work / "model"), label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-artifact", type=Path)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--requests", type=int, default=2000, help="sequential calls for latency")
    parser.add_argument(
        "--rounds", type=int, default=3, help="capture on/off alternations (median kept)"
    )
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log lines

    work = Path(tempfile.mkdtemp(prefix="bench-model-server-"))
    model_dir, model_label = model_dir_for(args.model_artifact, work)
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    import boto3

    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="bench")
    capture_env = {
        "CAPTURE_ENABLED": "true",
        "CAPTURE_SAMPLING_PERCENTAGE": "100",
        "CAPTURE_DESTINATION_S3_URI": "s3://bench/data_capture",
        "CAPTURE_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "CAPTURE_FLUSH_SECONDS": "1",
    }
    load = {"processes": 2, "threads": 4}
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "model": model_label,
        "image": "32x32 PNG",
        "note": "keep-alive clients are http.client (the server is the bottleneck); boto3 clients "
        "spend ~1-2 ms of Python CPU per call themselves, which caps them on 2 shared cores",
    }
    try:
        report["in_process_model"] = in_process(model_dir, args.requests)
        report["in_process_session_run"] = model_only(model_dir, args.requests)
        report["capture_cpu_per_record"] = capture_cpu_per_record(f"http://127.0.0.1:{s3_port}")
        server = Server(model_dir, None)
        try:
            report["boto3_latency"] = latency(server.url, args.requests)
            report["http_client_latency"] = http_latency(server.url, args.requests)
            report["throughput_boto3"] = throughput(server, args.seconds, use_boto3=True, **load)
        finally:
            server.stop()
        off, on = [], []
        for _ in range(args.rounds):  # alternate, so that other load on the machine hits both alike
            for env, runs in ((None, off), (capture_env, on)):
                server = Server(model_dir, env)
                try:
                    runs.append(throughput(server, args.seconds, use_boto3=False, **load))
                finally:
                    server.stop()
    finally:
        moto.stop()

    def summary(runs: list[dict]) -> dict:
        rates = [r["invocations_per_s"] for r in runs]
        cpu = statistics.median(r["server_cpu_ms_per_invocation"] for r in runs)
        return {
            **runs[0],
            "invocations_per_s": statistics.median(rates),
            "runs": rates,
            "server_cpu_ms_per_invocation": cpu,
        }

    report["throughput_keepalive_capture_off"] = summary(off)
    report["throughput_keepalive_capture_100"] = summary(on)
    rate_off, rate_on = summary(off)["invocations_per_s"], summary(on)["invocations_per_s"]
    report["capture_cost_percent"] = round(100 * (rate_off - rate_on) / rate_off, 1)
    cpu_off = report["throughput_keepalive_capture_off"]["server_cpu_ms_per_invocation"]
    cpu_on = report["throughput_keepalive_capture_100"]["server_cpu_ms_per_invocation"]
    report["capture_cost_cpu_percent"] = round(100 * (cpu_on - cpu_off) / cpu_off, 1)
    report["capture_cost_cpu_percent_per_record"] = round(
        100 * report["capture_cpu_per_record"]["total_us"] / (cpu_off * 1000), 1
    )
    report["server_capacity_per_core_per_s"] = round(1000 / cpu_off, 1)
    report["server_overhead_p50_ms"] = round(
        report["boto3_latency"]["p50_ms"] - report["in_process_model"]["p50_ms"], 3
    )
    report["server_overhead_p50_ms_without_boto3"] = round(
        report["http_client_latency"]["p50_ms"] - report["in_process_model"]["p50_ms"], 3
    )
    # issue 17's figures: what the server and client add on top of the network itself
    report["boto3_p50_ms"] = report["boto3_latency"]["p50_ms"]
    report["model_in_process_p50_ms"] = report["in_process_session_run"]["p50_ms"]
    report["server_overhead_ms"] = round(
        report["boto3_p50_ms"] - report["model_in_process_p50_ms"], 3
    )
    report["goal_server_overhead_ms"] = 1
    report["goal_server_overhead_met"] = (
        report["server_overhead_ms"] <= report["goal_server_overhead_ms"]
    )
    report["definitions"] = {
        "in_process_model": "transform() in-process: decode + preprocess + session.run + JSON",
        "in_process_session_run": "session.run alone, batch 1 (model_in_process_p50_ms)",
        "server_overhead_p50_ms": "boto3 p50 - in_process_model p50 (HTTP, server, boto3)",
        "server_overhead_ms": "boto3 p50 - session.run p50 (also decode, preprocess, JSON)",
    }
    report["targets"] = {
        "p50_le_3ms": report["boto3_latency"]["p50_ms"] <= 3.0,
        "throughput_ge_500": rate_off >= 500,
        # the throughput A/B swings with other load on a shared machine: both are reported
        "capture_cost_le_10pct_by_cpu_per_record": report["capture_cost_cpu_percent_per_record"]
        <= 10.0,
        "capture_cost_le_10pct_by_throughput_ab": report["capture_cost_percent"] <= 10.0,
        "server_overhead_le_1ms": report["goal_server_overhead_met"],
    }
    write_figures("model_server", report)


if __name__ == "__main__":
    main()
