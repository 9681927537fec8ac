"""The emulator hands what a burst of requests freed back to the system once it is quiet
(harness/c_allocator.py, issue 17), and health checks, which the stack's pollers never stop
sending, do not count as work."""

from __future__ import annotations

import json
import urllib.request

from harness.emulator import HEALTH_PATH
from harness.stack.readiness import wait_until


def health_trims(aws) -> int:
    with urllib.request.urlopen(aws.url + HEALTH_PATH, timeout=10) as answer:
        return json.load(answer)["memory_trims"]


def quiet_ticks(aws, count: int) -> None:
    """Until the trimmer has looked `count` more times, health checks alone meanwhile."""
    start = aws.trimmer.ticks
    wait_until(
        lambda: health_trims(aws) is not None and aws.trimmer.ticks >= start + count,
        f"{count} checks of the trimmer",
        timeout=10,
    )


def test_work_is_followed_by_one_release_and_health_checks_by_none(aws, client, monkeypatch):
    monkeypatch.setattr(aws.trimmer, "quiet", 0.05)
    quiet_ticks(aws, 3)  # what the module's earlier requests left is released by now
    settled = health_trims(aws)
    quiet_ticks(aws, 3)
    assert health_trims(aws) == settled  # health checks alone: nothing to give back
    client("s3").list_buckets()
    wait_until(lambda: health_trims(aws) == settled + 1, "the release after a request", timeout=10)
    quiet_ticks(aws, 3)
    assert health_trims(aws) == settled + 1
