"""Data Capture as SageMaker writes it (docs/contracts.md section 4), off the request path.

The request thread only appends a small tuple to a list (`DataCapture.record`); a background
thread turns pending records into JSON Lines files and uploads them through the S3 API
every `flush_seconds`, and once more on `stop()`. A failed upload keeps its records for the
next flush and logs why, so nothing is lost silently. With a spool folder (capture_spool.py)
the records also wait on disk, so a server that is killed loses none: the next one uploads them.

Key layout: {DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/{mm-ss-mmm}-{uuid}.jsonl,
named after the first record's time, one file per hour per flush. The uuid is derived from the
batch's name (its spool segment's), so an upload made again writes the same key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from harness.config import Settings
from harness.errors import HarnessError
from harness.model_server.capture_spool import CaptureSpool, SpoolBusy

log = logging.getLogger("harness.model_server.capture")

# What the SageMaker SDK's DataCaptureConfig lists by default; anything else is captured as BASE64.
JSON_CONTENT_TYPES = ("application/json",)
CSV_CONTENT_TYPES = ("text/csv",)
# Bound memory when S3 stays unreachable: past this, the oldest records are dropped, loudly.
MAX_PENDING_RECORDS = 100_000
_KEYS = uuid.UUID("6f0b3c1e-5a7d-4c59-9a43-2f1d8e0c7b25")  # the namespace of the keys' uuid5


@dataclass(frozen=True)
class CaptureConfig:
    enabled: bool
    destination: str  # s3://bucket/prefix
    sampling_percentage: int
    capture_input: bool
    capture_output: bool
    endpoint_name: str
    variant_name: str
    flush_seconds: float
    s3_endpoint_url: str | None
    region: str
    spool_dir: str = ""  # empty: records wait in memory only

    @classmethod
    def from_settings(cls, settings: Settings) -> CaptureConfig:
        options = {o.strip().lower() for o in settings.capture_options.split(",") if o.strip()}
        unknown = options - {"input", "output"}
        if unknown or not options:
            raise HarnessError(
                f"CAPTURE_OPTIONS={settings.capture_options!r} is not valid.",
                'use "Input", "Output" or "Input,Output"',
            )
        if not 0 <= settings.capture_sampling_percentage <= 100:
            raise HarnessError(
                f"CAPTURE_SAMPLING_PERCENTAGE={settings.capture_sampling_percentage} is out of range.",
                "use an integer from 0 to 100, as InitialSamplingPercentage",
            )
        if not settings.capture_destination.startswith("s3://"):
            raise HarnessError(
                f"Data Capture destination {settings.capture_destination!r} is not an s3:// URI.",
                "set CAPTURE_DESTINATION_S3_URI=s3://<bucket>/<prefix>",
            )
        return cls(
            enabled=settings.capture_enabled,
            destination=settings.capture_destination.rstrip("/"),
            sampling_percentage=settings.capture_sampling_percentage,
            capture_input="input" in options,
            capture_output="output" in options,
            endpoint_name=settings.endpoint_name,
            variant_name=settings.variant_name,
            flush_seconds=settings.capture_flush_seconds,
            # empty: the stack's S3 when the target is local, AWS's own otherwise
            s3_endpoint_url=settings.capture_s3_endpoint_url or settings.aws_endpoint_url,
            region=settings.region,
            spool_dir=settings.capture_spool_dir,
        )

    @property
    def bucket_and_prefix(self) -> tuple[str, str]:
        bucket, _, prefix = self.destination[len("s3://") :].partition("/")
        return bucket, prefix.strip("/")


class CapturedInvocation(NamedTuple):
    time: float  # epoch seconds
    input_body: bytes
    input_type: str
    output_body: bytes
    output_type: str
    inference_id: str | None
    custom_attributes: str | None


_q = json.encoder.encode_basestring_ascii  # str -> JSON string literal (C implementation)


def _encoded(data: bytes, content_type: str, mode: str) -> str:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in JSON_CONTENT_TYPES or kind in CSV_CONTENT_TYPES:
        encoding = "JSON" if kind in JSON_CONTENT_TYPES else "CSV"
        text = _q(data.decode("utf-8", "replace"))
    else:
        encoding, text = "BASE64", '"' + base64.b64encode(data).decode("ascii") + '"'
    return (
        f'{{"observedContentType":{_q(content_type)},"mode":"{mode}",'
        f'"data":{text},"encoding":"{encoding}"}}'
    )


def event_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs from one urandom call: uuid4() per record costs more."""
    raw = os.urandom(16 * count).hex()
    ids = []
    for i in range(0, 32 * count, 32):
        h = raw[i : i + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


def capture_line(
    item: CapturedInvocation,
    event_id: str,
    inference_time: str,
    capture_input: bool = True,
    capture_output: bool = True,
) -> str:
    """One JSON Lines record, field for field (and in SageMaker's key order) as SageMaker writes
    it. Built as text: json.dumps of nested dicts for every record was the flush's main cost."""
    parts = []
    if capture_input:
        parts.append('"endpointInput":' + _encoded(item.input_body, item.input_type, "INPUT"))
    if capture_output:
        parts.append('"endpointOutput":' + _encoded(item.output_body, item.output_type, "OUTPUT"))
    meta = f'"eventId":"{event_id}"'
    if item.inference_id:
        meta += f',"inferenceId":{_q(item.inference_id)}'
    if item.custom_attributes:
        meta += f',"customAttributes":{_q(item.custom_attributes)}'
    return (
        f'{{"captureData":{{{",".join(parts)}}},'
        f'"eventMetadata":{{{meta},"inferenceTime":"{inference_time}"}},"eventVersion":"0"}}'
    )


_loader: Any = None
_loader_lock = threading.Lock()
# (region, S3 endpoint) -> a client built before the servers were forked (prebuild_s3_client)
_prebuilt: dict[tuple[str, str | None], Any] = {}


def _session(region: str | None):
    """A boto3 session reading botocore's data through this process's one loader: a
    supervisor that preloads the model server (preload.py) parses endpoints.json and the S3
    model once, and every server it forks shares those pages (~16 MB each otherwise)."""
    import boto3
    from botocore.loaders import create_loader

    global _loader
    session = boto3.session.Session(region_name=region)
    with _loader_lock:
        if _loader is None:
            _loader = create_loader(session._session.get_config_variable("data_path"))
    session._session.register_component("data_loader", _loader)
    return session


def prebuild_s3_client() -> None:
    """Build, in the supervisor (preload.py), the S3 client that the servers it forks will use
    as is. A server building its own writes the reference count of every piece of parsed
    botocore data the build touches, and so copies those pages (~7 MB), and takes ~20 ms of
    its replacement. No request is made here: the client's connection pool is still empty
    at the fork. With capture off, or settings a server will refuse (and say why), there is
    nothing to build."""
    try:
        config = CaptureConfig.from_settings(Settings.from_env())
    except HarnessError:
        return
    if config.enabled:
        _prebuilt[(config.region, config.s3_endpoint_url)] = _s3_client(config)


def _s3_client(config: CaptureConfig):
    from harness.clients import LOCAL_CREDENTIALS

    prebuilt = _prebuilt.get((config.region, config.s3_endpoint_url))
    if prebuilt is not None:
        return prebuilt
    session = _session(config.region)
    kwargs: dict[str, Any] = {}
    if config.s3_endpoint_url and session.get_credentials() is None:
        # a local S3 emulator accepts any credentials; AWS itself never gets these
        kwargs.update(LOCAL_CREDENTIALS)
    return session.client("s3", endpoint_url=config.s3_endpoint_url or None, **kwargs)


@dataclass(eq=False)
class Batch:
    """The records of one flush interval (one spool segment): its S3 objects' keys follow from
    its name, so a batch uploaded twice lands once."""

    name: str
    items: list[CapturedInvocation] = field(default_factory=list)


class DataCapture:
    """Collects sampled invocations and writes them to S3 in batches from its own thread."""

    def __init__(self, config: CaptureConfig, s3_client=None):
        self.config = config
        self.bucket, self.prefix = config.bucket_and_prefix
        self._s3 = s3_client
        self._waiting: list[Batch] = []  # closed, oldest first, not yet in S3
        self._current = Batch(uuid.uuid4().hex)  # record() appends here
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time: the timer's or stop()'s
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.records_written = 0
        self.records_dropped = 0
        self.upload_failures = 0
        self.last_error: str | None = None
        self.records_recovered = 0  # from the spool a killed server left
        self._spool: CaptureSpool | None = None

    # --- request path: cheap ---
    def sampled(self) -> bool:
        pct = self.config.sampling_percentage
        return self.config.enabled and (pct >= 100 or (pct > 0 and random.random() * 100 < pct))

    def record(
        self,
        input_body: bytes,
        input_type: str,
        output_body: bytes,
        output_type: str,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> None:
        item = CapturedInvocation(
            time.time(),
            input_body,
            input_type,
            output_body,
            output_type,
            inference_id,
            custom_attributes,
        )
        with self._lock:
            self._current.items.append(item)
            if self._spool is not None:
                self._spool.append(item)

    # --- background ---
    def connect(self) -> DataCapture:
        """Build the S3 client (boto3's import and setup: about half a second), before any
        caller; a server forked from the embedded stack's supervisor finds it built there."""
        if self._s3 is None:
            self._s3 = _s3_client(self.config)
        return self

    def start(self) -> DataCapture:
        self.connect()
        if self.config.spool_dir:
            self._open_spool()
        self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self._thread.start()
        if self.records_recovered:
            self._wake.set()  # upload what a killed server left now, not one interval later
        return self

    def _open_spool(self) -> None:
        try:
            self._spool = CaptureSpool(self.config.spool_dir)
        except (SpoolBusy, OSError) as exc:
            log.warning("Data Capture: no spool (%s); records wait in memory only", exc)
            return
        recovered = []
        for name, records in self._spool.recover():
            if records:
                recovered.append(Batch(name, [CapturedInvocation(*r) for r in records]))
            else:
                self._spool.remove(name)
        with self._lock:
            self._waiting[:0] = recovered
            if self._current.items:  # recorded before the spool opened
                self._waiting.append(self._current)
            self._current = Batch(self._spool.segment_name)
        self.records_recovered = sum(len(batch.items) for batch in recovered)
        if recovered:
            log.info(
                "Data Capture: recovered %d record(s) a stopped server left in %s; uploading them",
                self.records_recovered,
                self.config.spool_dir,
            )

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.config.flush_seconds)
            self._wake.clear()
            self.flush()

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending_unlocked()

    def _pending_unlocked(self) -> int:
        return len(self._current.items) + sum(len(batch.items) for batch in self._waiting)

    def flush(self) -> int:
        """Upload everything pending; return how many records were written. Never raises."""
        with self._flush_lock:
            with self._lock:
                if self._current.items:
                    self._waiting.append(self._current)
                    # the closed segment holds exactly this batch's records
                    name = self._spool.rotate() if self._spool is not None else uuid.uuid4().hex
                    self._current = Batch(name)
                batches = list(self._waiting)
            written, failed = 0, False
            for batch in batches:
                if self._upload_batch(batch):
                    written += len(batch.items)
                    with self._lock:
                        self._waiting.remove(batch)
                    if self._spool is not None:
                        self._spool.remove(batch.name)
                else:
                    failed = True  # kept, under the same keys, for the next flush
            if failed:
                self._drop_excess()
            self.records_written += written
            return written

    def _upload_batch(self, batch: Batch) -> bool:
        by_hour: dict[int, list[CapturedInvocation]] = {}
        for item in batch.items:
            by_hour.setdefault(int(item.time) // 3600, []).append(item)
        uploaded = True
        for hour, items in by_hour.items():
            hour_path = time.strftime("%Y/%m/%d/%H", time.gmtime(hour * 3600))
            uploaded = self._upload(hour_path, items, batch.name) and uploaded
        return uploaded

    def _key(self, hour: str, first: CapturedInvocation, batch_name: str) -> str:
        when = datetime.fromtimestamp(first.time, UTC)
        unique = uuid.uuid5(_KEYS, f"{batch_name}/{hour}")
        name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{unique}.jsonl"
        parts = [self.prefix, self.config.endpoint_name, self.config.variant_name, hour, name]
        return "/".join(p for p in parts if p)

    def _upload(self, hour: str, items: list[CapturedInvocation], batch_name: str) -> bool:
        times: dict[int, str] = {}  # formatted once per second, not once per record
        lines = []
        for item, event_id in zip(items, event_ids(len(items)), strict=True):
            second = int(item.time)
            if second not in times:
                times[second] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            lines.append(
                capture_line(
                    item,
                    event_id,
                    times[second],
                    self.config.capture_input,
                    self.config.capture_output,
                )
            )
        key = self._key(hour, items[0], batch_name)
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=("\n".join(lines) + "\n").encode(),
                ContentType="application/jsonl",
            )
        except Exception as exc:  # noqa: BLE001 (botocore ClientError, connection errors, ...: all kept for retry)
            self.upload_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error(
                "Data Capture: cannot write %d record(s) to s3://%s/%s (%s); kept for the next flush. "
                "Check that the bucket exists and CAPTURE_S3_ENDPOINT_URL / credentials reach it.",
                len(items),
                self.bucket,
                key,
                self.last_error,
            )
            return False
        log.debug("Data Capture: wrote %d record(s) to s3://%s/%s", len(items), self.bucket, key)
        return True

    def _drop_excess(self) -> None:
        """Past MAX_PENDING_RECORDS the oldest batches go, whole (a batch keeps its keys)."""
        dropped = []
        with self._lock:
            excess = self._pending_unlocked() - MAX_PENDING_RECORDS
            while excess > 0 and self._waiting:
                batch = self._waiting.pop(0)
                dropped.append(batch)
                excess -= len(batch.items)
        for batch in dropped:
            if self._spool is not None:
                self._spool.remove(batch.name)
            self.records_dropped += len(batch.items)
        if dropped:
            log.error(
                "Data Capture: dropped the %d oldest record(s): S3 unreachable for too long",
                sum(len(batch.items) for batch in dropped),
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the timer thread and flush what is left (three attempts, half a second apart)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for attempt in range(3):
            if attempt:
                time.sleep(0.5)
            self.flush()
            if not self.pending:
                break
        if self.pending:
            log.error(
                "Data Capture: %d record(s) could not be written before shutdown (%s)%s",
                self.pending,
                self.last_error,
                f"; they stay in {self.config.spool_dir} for the next start" if self._spool else "",
            )
        if self._spool is not None:
            self._spool.close(delivered=not self.pending)
            self._spool = None
