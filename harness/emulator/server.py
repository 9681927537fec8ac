"""EmbeddedAWS: moto's server with Step Functions execution on and Lambda code in warm workers.

    aws = EmbeddedAWS(settings).start()   # port 0 = a free port; aws.url has the real one
    ...                                   # boto3 clients with endpoint_url=aws.url
    aws.reset()                           # empty every service, end every worker
    aws.stop()                            # no worker process left behind

One per process: moto's backends and the hooks are process-wide. moto_hooks.py holds what
moto must have patched for the workflow to run right; moto_speedups.py what only makes it
fast (Settings.emulator_speedups, HARNESS_EMULATOR_SPEEDUPS=false, leaves it out).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Self

from harness import c_allocator
from harness.config import Settings
from harness.emulator import (
    heap,
    http_server,
    logs,
    moto_hooks,
    moto_speedups,
    moto_trackers,
    sfn_ended,
)
from harness.emulator.contract import HEALTH_PATH, WAIT_EXECUTION_PATH
from harness.emulator.worker_manager import WorkerManager
from harness.emulator.workers import PoolOptions
from harness.errors import HarnessError


class EmbeddedAWS:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self._server = None
        self._thread: threading.Thread | None = None
        self.manager: WorkerManager | None = None
        self.url = ""
        self._moto_app = None
        # Step Functions requests wait for this: set once the interpreter is imported and hooked
        # (at once without the speed-ups: moto then imports it on the first request)
        self._sfn_ready = threading.Event()
        self._sfn_error: Exception | None = None
        self.persister = None  # S3 and executions under <state_dir>/data (persistence.py)
        # what a burst of requests (or the warm-up) freed goes back to the system after it
        self.trimmer = c_allocator.TrimWhenQuiet()

    def start(self) -> EmbeddedAWS:
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        # as ThreadedMotoServer, but binding here so a busy port raises now, not in a thread
        host, port = self.settings.host, self.settings.aws_port
        moto_app, handler = _moto_server_parts(self.settings.emulator_speedups)
        try:
            _check_port_free(host, port)
            # werkzeug reports a busy port itself, with a print and SystemExit
            self._server = make_server(
                host, port, self._with_health(moto_app), threaded=True, request_handler=handler
            )
        except (OSError, SystemExit) as exc:
            raise HarnessError(
                f"{host}:{port} is already in use, so the embedded AWS cannot start.",
                "stop what runs there (`make local-down`, or `harness status` to see it) "
                "or pick another port with HARNESS_AWS_PORT",
            ) from exc
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._moto_app = moto_app
        # moto's own code (the interpreter's Task clients, Lambda env) reads MOTO_PORT
        self._moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self.manager = WorkerManager(
            PoolOptions(
                host=host,
                endpoint_url=self.url,
                state_dir=self.settings.state_dir,
                min_workers=self.settings.lambda_workers_per_function,
                max_workers=self.settings.lambda_max_workers_per_function,
                idle_seconds=self.settings.lambda_idle_seconds,
            ),
            fork_workers=self.settings.lambda_fork_workers,
        )
        try:
            moto_hooks.install(
                moto_app,
                self.manager.invoke,
                self._created_hook(),
                self.manager.forget,
                # with the speed-ups the engine's hooks go in on the warm-up thread, before
                # any Step Functions request is let through (_sfn_ready)
                stepfunctions=not self.settings.emulator_speedups,
            )
            logs.install(self.settings.log_events_kept)
            moto_trackers.install()
            if self.settings.persist:  # restored before anyone is answered
                from harness.emulator.persistence import Persister

                self.persister = Persister.for_settings(self.settings)
                self.persister.after_write = self.trimmer.busy  # its writes churn the heap too
                self.persister.restore()
                self.persister.start()
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="embedded-aws"
        )
        self._thread.start()
        self.trimmer.start()
        if self.settings.emulator_speedups:
            threading.Thread(
                target=self._warm_stepfunctions, daemon=True, name="sfn-warm-up"
            ).start()
        else:  # moto imports its interpreter on the first Step Functions request
            self._sfn_ready.set()
        return self

    def _created_hook(self):
        return self.manager.prewarm if self.settings.lambda_prewarm else None

    def _warm_stepfunctions(self) -> None:
        try:
            moto_hooks.install_stepfunctions()
            moto_speedups.install_stepfunctions(self.url)
            moto_speedups.warm_up(self.settings.region)
            self._warm_sagemaker()
            heap.freeze()  # everything imported and warmed stays: no collection walks it again
            self.trimmer.busy()  # the warm-up's scratch goes once it is quiet
        except Exception as exc:  # noqa: BLE001 - reported on every Step Functions request
            self._sfn_error = exc
            print(f"error: Step Functions will not run: {exc}", file=sys.stderr, flush=True)
        self._sfn_ready.set()

    def _warm_sagemaker(self) -> None:
        """SageMaker's first request builds its backend and loads its large service model
        (~0.5 s), and the deploy's SageMaker calls come last, on its critical path: pay it
        here, in-process (no client, no socket). Warming every service this way over HTTP
        made `up` slower instead: the deploy reaches the others early anyway."""
        from werkzeug.test import Client

        Client(self._moto_app).post(
            "/",
            data="{}",
            headers={
                "X-Amz-Target": "SageMaker.ListEndpoints",
                "Content-Type": "application/x-amz-json-1.1",
                "Host": f"api.sagemaker.{self.settings.region}.amazonaws.com",
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/"
                f"{self.settings.region}/sagemaker/aws4_request, SignedHeaders=host, Signature=0",
            },
        )

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
            "wait_execution": True,  # WAIT_EXECUTION_PATH: clients need not poll
            "persistence": self.persister.health() if self.persister else {"enabled": False},
            "memory_trims": self.trimmer.releases,  # c_allocator.TrimWhenQuiet
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
            self.trimmer.busy()  # health checks are not work: the stack's pollers never stop
            if environ.get("PATH_INFO") == WAIT_EXECUTION_PATH:
                return sfn_ended.answer(environ, start_response)
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
        """Forget every resource (moto's /moto-api/reset) and end every worker."""
        from werkzeug.test import Client

        if self.manager is not None:
            self.manager.close()
        response = Client(self._moto_app).post("/moto-api/reset")  # hooks and config stay
        if response.status_code != 200:
            raise HarnessError(f"moto's /moto-api/reset answered {response.status}")
        moto_trackers.install()  # the reset put moto's own trackers back
        if self.persister is not None:
            self.persister.wipe()  # forgotten on disk too

    def stop(self) -> None:
        if self._thread is not None:
            self._sfn_ready.wait(120)  # else the warm-up could hook moto again after uninstall
        if self.manager is not None:
            self.manager.close()
        if self._server is not None:
            if self._thread is not None:  # shutdown() waits for a serve_forever that ran
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
            http_server.close_connections(self._server)  # kept-alive ones would answer on
            self._server = self._thread = None
        if self.persister is not None:  # nothing writes any more: the final snapshot
            self.persister.stop()
            self.persister = None
        self.trimmer.stop()
        moto_speedups.uninstall()
        moto_hooks.uninstall()
        logs.uninstall()
        moto_trackers.uninstall()
        heap.thaw()
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


def _moto_server_parts(speedups: bool) -> tuple:
    """moto's WSGI dispatcher and request handler, as ThreadedMotoServer builds them."""
    if speedups:
        return moto_speedups.dispatcher_app(), http_server.request_handler()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler


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
    """Block until an embedded AWS answers at url (polling, 10 ms growing to 200 ms)."""
    deadline, delay = time.monotonic() + timeout, 0.01
    while not is_ready(url):
        if time.monotonic() > deadline:
            raise HarnessError(
                f"the embedded AWS at {url}: not ready after {timeout:.0f} s.",
                "look at its log (.harness/) or run `python -m harness.emulator` to see it start",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
