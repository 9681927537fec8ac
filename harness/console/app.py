"""The console's pages (Flask routes); the data comes from executions/functions/endpoint.py.

Server-rendered Jinja2 templates; static/live.js is the only script: it polls a fragment
twice a second so a finished execution shows up without a reload (CloudWatch and Step
Functions have no push API to relay, and polling keeps the server stateless).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import UTC
from pathlib import Path

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from flask import Flask, abort, redirect, render_template, request, send_from_directory, url_for
from werkzeug.utils import secure_filename

from harness import clients
from harness.config import Settings
from harness.console.executions import ExecutionsReader
from harness.errors import HarnessError
from harness.executions.api import STATUSES, execution_arn, stepfunctions_client
from harness.executions.render import duration_text
from harness.loop.logs import parse_since

HERE = Path(__file__).parent
MAX_UPLOAD = 6 * 1024 * 1024  # InvokeEndpoint's own payload limit
TEST_PREFIX = "test/"  # the test images the deployer uploads


def create_app(settings: Settings, allow_run: bool | None = None) -> Flask:
    """The console for `settings`' target. Runs are allowed locally, on AWS only if asked."""
    app = Flask(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD + 64 * 1024
    can_run = settings.target != "aws" or bool(allow_run)
    reader = ExecutionsReader(stepfunctions_client(settings))
    report_dir = settings.state_dir / "console" / "endpoint"
    where = settings.aws_endpoint_url or f"AWS {settings.region}"
    app.jinja_env.globals.update(
        where=where,
        target=settings.target,
        can_run=can_run,
        machine=settings.state_machine_name,
        duration_text=duration_text,
        statuses=STATUSES,
    )

    app.jinja_env.filters["utc"] = lambda when: when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @app.errorhandler(HarnessError)
    def harness_error(exc: HarnessError):
        return render_template("error.html", message=exc.message, hint=exc.hint), 503

    @app.errorhandler(EndpointConnectionError)
    def not_up(exc: EndpointConnectionError):
        hint = (
            "check the network and AWS_REGION"
            if settings.target == "aws"
            else "start it with `make local-up` (then reload this page)"
        )
        message = f"The {'AWS' if settings.target == 'aws' else 'local stack'} does not answer at {where}."
        return render_template("error.html", message=message, hint=hint), 503

    @app.errorhandler(NoCredentialsError)
    def no_credentials(exc: NoCredentialsError):
        return render_template(
            "error.html",
            message="No AWS credentials found.",
            hint="run `aws configure` or `aws sso login`",
        ), 503

    @app.errorhandler(ClientError)
    def refused(exc: ClientError):  # e.g. AccessDenied on AWS: say which call and why
        error = exc.response.get("Error", {})
        message = f"{exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}"
        return render_template("error.html", message=message, hint=""), 502

    @app.get("/")
    def home():
        return render_template("machines.html", machines=reader.state_machines())

    @app.get("/machines/<name>")
    def executions(name: str):
        page = reader.page(name, _status(), request.args.get("token") or None)
        return render_template("executions.html", page=page)

    @app.get("/machines/<name>/rows")
    def execution_rows(name: str):
        """The live fragment: the first page's rows, fetched by static/live.js."""
        return render_template("_rows.html", page=reader.page(name, _status()))

    @app.get("/executions/<path:arn>")
    def execution(arn: str):
        view = reader.view(_arn(arn))
        return render_template("execution.html", view=view, s=view.record.summary)

    @app.get("/executions/<path:arn>/status")
    def execution_status(arn: str):
        """Polled by static/live.js on a running execution's page; it reloads when this changes."""
        return reader.summary(_arn(arn)).status, 200, {"Content-Type": "text/plain"}

    @app.get("/functions")
    def functions():
        from harness.console.functions import function_views

        since = request.args.get("since", "15m")
        return render_template(
            "functions.html", functions=function_views(settings, parse_since(since)), since=since
        )

    @app.get("/endpoint")
    def endpoint():
        from harness.console.endpoint import endpoint_view

        since = request.args.get("since", "1h")
        view = endpoint_view(settings, parse_since(since), report_dir)
        return render_template("endpoint.html", view=view, since=since)

    @app.get("/endpoint/views/<name>")
    def endpoint_file(name: str):
        return send_from_directory(report_dir, name, max_age=0)

    @app.get("/run")
    def run_form():
        return render_template("run.html", images=_test_images(settings), error=None)

    @app.post("/run")
    def run():
        if not can_run:
            abort(403, "This console is read-only on AWS: start it with --allow-run to run.")
        try:
            key = _input_key(settings)
        except HarnessError as exc:
            images = _test_images(settings)
            return render_template("run.html", images=images, error=exc), 400
        machine_arn = reader.machine_arn(settings.state_machine_name)
        started = reader.sfn.start_execution(
            stateMachineArn=machine_arn,
            name=f"console-{uuid.uuid4().hex[:12]}",  # always named (moto: ':None' otherwise)
            input=json.dumps({"s3_bucket": settings.bucket, "s3_key": key}),
        )
        return redirect(url_for("execution", arn=started["executionArn"]), 303)

    def _arn(value: str) -> str:
        return execution_arn(reader.sfn, settings, value)

    return app


def _status() -> str | None:
    status = (request.args.get("status") or "").upper()
    return status if status in STATUSES else None


def _test_images(settings: Settings) -> list[str]:
    s3 = clients.client(settings, "s3", connect_timeout=2, retries={"max_attempts": 1})
    listed = s3.list_objects_v2(Bucket=settings.bucket, Prefix=TEST_PREFIX, MaxKeys=1000)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def _input_key(settings: Settings) -> str:
    """The S3 key to run on: a picked test image, or an uploaded file (stored as `harness run`
    stores it: any format Pillow reads, converted to PNG unless PNG or JPEG)."""
    from harness.loop.run import upload

    upload_file = request.files.get("image")
    if upload_file is not None and upload_file.filename:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (secure_filename(upload_file.filename) or "upload")
            upload_file.save(path)
            try:
                return upload(settings, path).key
            except HarnessError as exc:  # name the user's file, not our temporary copy
                message = exc.message.replace(str(path), upload_file.filename)
                raise HarnessError(message, exc.hint) from exc
    key = request.form.get("key", "")
    if not key:
        raise HarnessError("No image given.", "pick a test image or choose a file to upload")
    return key
