"""The console in a real browser (headless Chromium), against an embedded stack of its own
(free ports, own state folder) holding known executions: one failed on a below-threshold
image and one succeeded, both chosen by asking the endpoint."""

from __future__ import annotations

import json
import re
import time

import pytest

from harness import clients
from harness.console.server import ConsoleServer
from harness.dataset import listed_images
from harness.e2e.runner import run_execution
from harness.executions.graph import COLOURS, svg_id
from harness.executions.history import FAILED
from harness.labels import LABELS
from harness.loop.run import read_image
from harness.stack.readiness import free_port
from tests.console.browser import (
    CHROMIUM_ARGS,
    PageErrors,
    chromium_path,
    screenshots_dir,
    seconds_until_shown,
    watch_rows,
)
from tests.support.stacks import embedded_stack

CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install -y chromium)"
    ),
]
FILTER_STATE = "Filter low-confidence inferences"
SHOTS = screenshots_dir()


@pytest.fixture(scope="module")
def local(tmp_path_factory, settings, data_dir):
    with embedded_stack(settings, tmp_path_factory.mktemp("console"), data_dir) as (local, _):
        yield local


def answer(local, body: bytes, content_type: str) -> list[float]:
    runtime = clients.client(local, "sagemaker-runtime")
    reply = runtime.invoke_endpoint(
        EndpointName=local.endpoint_name, ContentType=content_type, Body=body
    )
    return json.loads(reply["Body"].read())


@pytest.fixture(scope="module")
def images(local, data_dir):
    """A test image the filter rejects and one it passes, by the endpoint's own answers."""
    low = high = None
    for image in listed_images(data_dir):
        body, content_type, _ = read_image(image.path)
        probabilities = answer(local, body, content_type)
        if max(probabilities) < local.threshold and low is None:
            low = (image, probabilities)
        elif max(probabilities) >= local.threshold and high is None:
            high = (image, probabilities)
        if low and high:
            return {"low": low, "high": high}
    pytest.fail("the test images hold no below-threshold and above-threshold pair")


@pytest.fixture(scope="module")
def known(local, images):
    """The stack's known executions: one FAILED, one SUCCEEDED."""
    sfn = clients.client(local, "stepfunctions")
    machine = clients.find_state_machine(sfn, local.state_machine_name)
    failed = run_execution(sfn, machine, local.bucket, images["low"][0].key, "known-failed")
    passed = run_execution(sfn, machine, local.bucket, images["high"][0].key, "known-passed")
    assert (failed.status, passed.status) == ("FAILED", "SUCCEEDED")
    return {"failed": failed, "passed": passed, "sfn": sfn, "machine": machine}


@pytest.fixture(scope="module")
def console(local, known):
    with ConsoleServer(local, port=free_port()) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_errors():
    return PageErrors()


@pytest.fixture
def page(browser, page_errors):
    """A fresh page; the test fails if any page logged a JavaScript error."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.on("page", page_errors.watch)
    page = context.new_page()
    yield page
    context.close()
    assert page_errors == [], page_errors


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_failed_execution_shows_the_failed_state_and_its_error(console, page, known, images):
    page.goto(f"{console.url}/machines/{known['failed'].arn.split(':')[-2]}")
    rows = page.locator("#rows tr")
    assert rows.filter(has_text="known-failed").count() == 1
    assert rows.filter(has_text="known-passed").count() == 1
    shot(page, "executions")

    page.select_option("select[name=status]", "FAILED")  # the filter submits on change
    page.wait_for_url(re.compile(r"status=FAILED"))
    assert page.locator("#rows tr").filter(has_text="known-passed").count() == 0
    page.locator("#rows a", has_text="known-failed").click()
    page.wait_for_url(re.compile(r"/executions/arn:"))
    assert page.locator("#execution-status").inner_text() == "FAILED"

    # Graph view: the filter state's box is filled with the failed colour, the others not
    box = page.locator(f'g[id="{svg_id("state", FILTER_STATE)}"] path')
    assert COLOURS[FAILED] in box.get_attribute("style")
    retries = page.locator(f'g[id="{svg_id("retries", FILTER_STATE)}"]')
    assert retries.count() == 1

    # Table view: the failed row carries the error and the Lambda's message, not its JSON
    probabilities = images["low"][1]
    label = LABELS[probabilities.index(max(probabilities))]
    row = page.locator(f'tr.state[data-state="{FILTER_STATE}"]')
    assert row.get_attribute("data-status") == FAILED
    error = row.locator("td.error").inner_text()
    assert "THRESHOLD_CONFIDENCE_NOT_MET" in error
    assert re.search(rf"top confidence 0\.\d+ \({label}\) is below the threshold 0\.93", error)
    assert "errorMessage" not in error
    # images show as thumbnails, never as base64 text
    assert page.locator("img.thumb").count() >= 2
    assert "iVBOR" not in page.locator("#table").inner_text()
    events = page.locator("#events")
    assert events.locator("tr.failure").count() >= 1
    assert "is below the threshold" in events.inner_text()
    assert "errorMessage" not in events.inner_text() and "iVBOR" not in events.inner_text()
    shot(page, "execution-failed")


def test_a_finished_execution_appears_live_within_a_second(console, page, known, local, images):
    page.goto(f"{console.url}/machines/{local.state_machine_name}")
    assert page.locator("#rows").get_attribute("data-live")
    watch_rows(page)
    result = run_execution(
        known["sfn"], known["machine"], local.bucket, images["high"][0].key, "live-check"
    )
    seen_after = seconds_until_shown(page, "live-check", time.time())
    assert result.status == "SUCCEEDED"
    assert page.locator("#rows tr", has_text="live-check").locator(".badge.SUCCEEDED").count() == 1
    assert seen_after <= 1.0, f"shown {seen_after:.2f} s after it finished"


def test_a_run_from_the_page_lands_on_its_execution_and_finishes(
    console, page, images, tmp_path, local
):
    from PIL import Image

    image, _ = images["high"]
    gif = tmp_path / "my bike.gif"
    Image.open(image.path).save(gif)  # any common format: the page converts it as `run` does
    expected = max(answer(local, *read_image(gif)[:2])) >= local.threshold
    page.goto(f"{console.url}/run")
    assert page.locator("#key option").count() > 100  # the bucket's test images
    page.set_input_files("#image", str(gif))
    page.click("#start")
    page.wait_for_url(re.compile(r"/executions/arn:.*:console-"))
    badge = page.locator("#execution-status:not([data-poll])")  # reloaded once it finished
    badge.wait_for(timeout=30000)
    assert badge.inner_text() == ("SUCCEEDED" if expected else "FAILED")
    assert "/my_bike.png" in page.locator("table.facts").inner_text()
    shot(page, "execution-run")


def test_a_test_image_can_be_picked_to_run(console, page, images):
    page.goto(f"{console.url}/run")
    page.select_option("#key", images["low"][0].key)
    page.click("#start")
    page.locator("#execution-status:not([data-poll])").wait_for(timeout=30000)
    assert page.locator("#execution-status").inner_text() == "FAILED"
    assert page.locator("#execution-error").inner_text() == "THRESHOLD_CONFIDENCE_NOT_MET"


def test_a_non_image_upload_is_refused_on_the_page(console, page, page_errors, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    page.goto(f"{console.url}/run")
    page.set_input_files("#image", str(fake))
    page.click("#start")
    # the user's file name, not the server's temporary copy
    assert page.locator("#problem").inner_text().startswith("notes.png is not an image")
    assert "/run" in page.url
    # the refusal is a 400 answer, which Chromium logs; it is expected, not a script error
    page_errors.remove(
        "console: Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
    )
    shot(page, "run-refused")


def test_the_functions_page_shows_configuration_and_log_lines(console, page, known, local):
    page.goto(f"{console.url}/functions")
    for folder in ("serialize_image_data", "classify_image", "filter_inferences"):
        section = page.locator(f"#fn-{folder}")
        assert "python3" in section.locator("table.facts").inner_text()
        assert "START RequestId" in section.locator("pre.log").inner_text()
    shot(page, "functions")


def test_the_endpoint_page_shows_traffic_and_data_capture_views(console, page, known):
    page.goto(f"{console.url}/endpoint")
    assert "InService" in page.locator("h1").inner_text()
    assert re.search(r"\d+ invocations", page.locator("main").inner_text())
    assert page.locator("#drift").inner_text()  # a verdict, or why there is none
    charts = page.locator("img.chart")
    assert charts.count() >= 5  # traffic + confidence, histogram, class mix, share below...
    for i in range(charts.count()):  # each one really loaded
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.get_by_text("least confident inputs").count() == 1
    shot(page, "endpoint")
