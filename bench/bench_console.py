"""Console benchmark (issue 16): with 1,000 executions in the stack, how fast the executions
page and an execution page are served, and how soon a finished execution shows up live.

Prints its figures and writes bench/results/console.json. Starts its own embedded stack and
console on free ports (packages already installed):
    .venv/bin/python bench/bench_console.py [--executions 1000] [--loads 20]
Targets: executions page p50 <= 300 ms, execution page p50 <= 200 ms, live <= 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.console.browser

from figures import (  # bench/figures.py (this folder is on sys.path)
    own_stack_settings,
    percentile,
    write_figures,
)

from harness import clients
from harness.config import Settings
from harness.console.server import ConsoleServer
from harness.dataset import listed_images
from harness.e2e.runner import run_execution, run_many
from harness.stack import stack
from harness.stack.readiness import free_port
from tests.console.browser import CHROMIUM_ARGS, chromium_path, seconds_until_shown, watch_rows

POLL_S = 0.5  # static/live.js's POLL_MS, for the run without a browser


def fetch_ms(url: str) -> float:
    """One page as a browser gets it: a new connection, the whole body read."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        answer.read()
        assert answer.status == 200, (url, answer.status)
    return (time.perf_counter() - start) * 1000


def live_with_browser(console: ConsoleServer, settings: Settings, run, rounds: int) -> list[float]:
    """Seconds from an execution's end to its row in an open executions page (live.js)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{console.url}/machines/{settings.state_machine_name}")
        watch_rows(page)  # the page notes when each row shows up finished
        for i in range(rounds):
            name = f"live-{i}-{time.time_ns()}"
            time.sleep(POLL_S * i / rounds)  # spread the ends over the script's poll period
            run(name)
            out.append(seconds_until_shown(page, name, time.time()))
        browser.close()
    return out


def live_polling(console: ConsoleServer, settings: Settings, run, rounds: int) -> list[float]:
    """The same without a browser: poll the rows fragment as live.js does."""
    rows = f"{console.url}/machines/{settings.state_machine_name}/rows"
    out = []
    for i in range(rounds):
        name = f"live-{i}-{time.time_ns()}"
        run(name)
        finished = time.monotonic()
        time.sleep(POLL_S * i / rounds)  # the script's next tick falls anywhere in its period
        while name not in urllib.request.urlopen(rows, timeout=30).read().decode():
            time.sleep(POLL_S)
        out.append(time.monotonic() - finished)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--live-rounds", type=int, default=10)
    args = parser.parse_args()

    settings = own_stack_settings("console")
    keys = [image.key for image in listed_images(settings.data_dir)]
    stack.up(settings, Console(record=True))
    try:
        sfn = clients.client(settings, "stepfunctions")
        machine = clients.find_state_machine(sfn, settings.state_machine_name)
        started = time.monotonic()
        wanted = [keys[i % len(keys)] for i in range(args.executions)]
        results = run_many(sfn, machine, settings.bucket, wanted, parallel=8, prefix="bench")
        filled_s = time.monotonic() - started
        listed = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        total = sum(len(page["executions"]) for page in listed)

        with ConsoleServer(settings, port=free_port()) as console:
            executions_url = f"{console.url}/machines/{settings.state_machine_name}"
            first_list = fetch_ms(executions_url)  # nothing cached yet
            list_ms = [fetch_ms(executions_url) for _ in range(args.loads)]
            failed_ms = [fetch_ms(executions_url + "?status=FAILED") for _ in range(args.loads)]
            # 20 different executions: each one's history is read afresh (no page cache helps)
            chosen = results[-args.loads :]
            execution_ms = [fetch_ms(f"{console.url}/executions/{r.arn}") for r in chosen]
            repeat_ms = [fetch_ms(f"{console.url}/executions/{chosen[0].arn}") for _ in range(5)]

            def run(name: str) -> None:
                run_execution(sfn, machine, settings.bucket, results[0].s3_key, name)

            if chromium_path():
                live, how = live_with_browser(console, settings, run, args.live_rounds), "chromium"
            else:
                live, how = live_polling(console, settings, run, args.live_rounds), "polling"
    finally:
        stack.down(settings, Console(record=True))

    figures = {
        "executions_in_stack": total,
        "fill_seconds": round(filled_s, 1),
        "executions_page_first_ms": round(first_list, 1),
        "executions_page_p50_ms": round(statistics.median(list_ms), 1),
        "executions_page_p95_ms": round(percentile(list_ms, 0.95), 1),
        "executions_page_failed_filter_p50_ms": round(statistics.median(failed_ms), 1),
        "execution_page_p50_ms": round(statistics.median(execution_ms), 1),
        "execution_page_p95_ms": round(percentile(execution_ms, 0.95), 1),
        "execution_page_first_ms": round(execution_ms[0], 1),
        "execution_page_repeat_p50_ms": round(statistics.median(repeat_ms), 1),
        "loads": args.loads,
        "live_seconds_p50": round(statistics.median(live), 3),
        "live_seconds_max": round(max(live), 3),
        "live_rounds": len(live),
        "live_measured_with": how,
        "targets": {"executions_page_ms": 300, "execution_page_ms": 200, "live_seconds": 1.0},
    }
    figures["met"] = (
        figures["executions_page_p50_ms"] <= 300
        and figures["execution_page_p50_ms"] <= 200
        and figures["live_seconds_max"] <= 1.0
    )
    write_figures("console", figures)
    sys.exit(0 if figures["met"] else 1)


if __name__ == "__main__":
    main()
