"""EmbeddedAWS: moto's server with Step Functions execution on and Lambda code in warm workers.

    aws = EmbeddedAWS(settings).start()   # port 0 = a free port; aws.url has the real one
    ...                                   # boto3 clients with endpoint_url=aws.url
    aws.reset()                           # empty every service, end every worker
    aws.stop()                            # no worker process left behind

One per process: moto's backends and the hooks are process-wide.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import urllib.error
import urllib.request
from typing import Self

from harness.config import Settings
from harness.emulator import moto_hooks
from harness.emulator.workers import WorkerManager
from harness.errors import HarnessError
from harness.stack.readiness import wait_until

# like LocalStack's /_localstack/health: cheap, and tells our emulator from any other server
HEALTH_PATH = "/_harness/health"


class EmbeddedAWS:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self._server = None
        self._thread: threading.Thread | None = None
        self.manager: WorkerManager | None = None
        self.url = ""
        # Step Functions requests wait for this: set once the interpreter is imported and hooked
        self._sfn_ready = threading.Event()
        self._sfn_error: Exception | None = None

    def start(self) -> EmbeddedAWS:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        # as ThreadedMotoServer, but binding here so a busy port raises now, not in a thread
        host, port = self.settings.host, self.settings.aws_port
        app = self._with_health(moto_hooks.dispatcher_app())
        try:
            _check_port_free(host, port)
            # werkzeug reports a busy port itself, with a print and SystemExit
            self._server = make_server(
                host, port, app, threaded=True, request_handler=MotoRequestHandler
            )
        except (OSError, SystemExit) as exc:
            raise HarnessError(
                f"{host}:{port} is already in use, so the embedded AWS cannot start.",
                "stop what runs there (`make local-down`, or `harness status` to see it) "
                "or pick another port with HARNESS_AWS_PORT",
            ) from exc
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        # moto's own code (SFN tasks not covered by our hook, Lambda env) reads MOTO_PORT
        self._moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self.manager = WorkerManager(
            host=host,
            endpoint_url=self.url,
            state_dir=self.settings.state_dir,
            min_workers=self.settings.lambda_workers_per_function,
            max_workers=self.settings.lambda_max_workers_per_function,
        )
        moto_hooks.install_lambda(self.manager.invoke, self._created_hook(), self.manager.forget)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="embedded-aws"
        )
        self._thread.start()
        threading.Thread(target=self._warm_stepfunctions, daemon=True, name="sfn-warm-up").start()
        return self

    def _created_hook(self):
        return self.manager.prewarm if self.settings.lambda_prewarm else None

    def _warm_stepfunctions(self) -> None:
        try:
            _warm_services(self.url, self.settings.region)
            moto_hooks.install_stepfunctions(self.url)
            moto_hooks.warm_up(self.settings.region)
        except Exception as exc:  # noqa: BLE001 - reported on every Step Functions request
            self._sfn_error = exc
            print(f"error: Step Functions will not run: {exc}", file=sys.stderr, flush=True)
        self._sfn_ready.set()

    def wait_stepfunctions(self, timeout: float = 120) -> None:
        """Block until state machines can run (the interpreter imports in the background)."""
        if not self._sfn_ready.wait(timeout):
            raise HarnessError(f"the Step Functions interpreter was not ready within {timeout} s")
        if self._sfn_error is not None:
            raise self._sfn_error

    def health(self) -> dict:
        from moto.core.config import default_user_config

        return {
            "status": "ready",
            "service": "embedded-aws",
            "execute_state_machine": bool(
                default_user_config.get("stepfunctions", {}).get("execute_state_machine")
            ),
            "stepfunctions_warm": self._sfn_ready.is_set() and self._sfn_error is None,
            "lambda_workers": self.manager.workers() if self.manager else 0,
        }

    def _with_health(self, app):
        def health_or_moto(environ, start_response):
            if environ.get("PATH_INFO") == HEALTH_PATH:
                body = json.dumps(self.health()).encode()
                start_response(
                    "200 OK",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                )
                return [body]
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith("AWSStepFunctions"):
                try:
                    self.wait_stepfunctions()
                except Exception as exc:  # noqa: BLE001 - the caller gets AWS's error shape
                    body = json.dumps({"__type": "ServiceUnavailable", "message": str(exc)})
                    start_response(
                        "503 Service Unavailable", [("Content-Type", "application/x-amz-json-1.0")]
                    )
                    return [body.encode()]
            return app(environ, start_response)

        return health_or_moto

    def reset(self) -> None:
        """Forget every resource (as moto's /moto-api/reset does) and end every worker."""
        from moto.moto_api._internal.models import moto_api_backend

        if self.manager is not None:
            self.manager.close()
        moto_api_backend.reset()  # the hooks and moto's config stay as they are

    def stop(self) -> None:
        if self._thread is not None:
            self._sfn_ready.wait(120)  # else the warm-up could hook moto again after uninstall
        if self.manager is not None:
            self.manager.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None
        moto_hooks.uninstall()
        if self.url:
            if self._moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._moto_port
            self.url = ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


# A cheap call per service the workflow uses, and one that fails: moto builds each service's
# backend, request router and error tables on first use (up to ~0.5 s each, under a global
# dispatcher lock), which would otherwise land on the deploy.
_WARM_CALLS = (
    ("s3", "list_buckets", {}),
    ("s3", "head_bucket", {"Bucket": "harness-warm-up-missing"}),
    ("iam", "list_roles", {}),
    ("sts", "get_caller_identity", {}),
    ("lambda", "list_functions", {}),
    ("lambda", "get_function", {"FunctionName": "harness-warm-up-missing"}),
    ("logs", "describe_log_groups", {}),
    ("sagemaker", "list_endpoints", {}),
)


def _warm_services(url: str, region: str) -> None:
    import boto3
    from botocore.exceptions import ClientError

    from harness.clients import LOCAL_CREDENTIALS

    session = boto3.session.Session()
    clients: dict = {}
    for service, operation, params in _WARM_CALLS:
        if service not in clients:
            clients[service] = session.client(
                service, endpoint_url=url, region_name=region, **LOCAL_CREDENTIALS
            )
        try:
            getattr(clients[service], operation)(**params)
        except ClientError:
            pass  # the error path is what we warmed


def _check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        probe.bind((host, port))


def is_ready(url: str, timeout: float = 1.0) -> bool:
    """True when an embedded AWS answers at url with state machine execution on."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + HEALTH_PATH, timeout=timeout) as response:
            health = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return health.get("status") == "ready" and bool(health.get("execute_state_machine"))


def wait_ready(url: str, timeout: float = 10.0) -> None:
    wait_until(
        lambda: is_ready(url),
        f"the embedded AWS at {url}",
        timeout,
        "look at its log (.harness/) or run `python -m harness.emulator` to see it start",
    )
