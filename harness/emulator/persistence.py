"""The embedded emulator's data outlives it: S3 and ended executions, under <state_dir>/data.

moto keeps everything in memory. So, inside the emulator process (issue 15 point 4):
- `restore()`, before the server answers anyone: buckets and objects (content type, metadata,
  ETag, LastModified) go back into moto's S3 backend; ended executions wait, keyed by their
  state machine's ARN, until `up`'s deploy creates that state machine again (same name, same
  ARN), and then join its executions, so ListExecutions / DescribeExecution /
  GetExecutionHistory answer as before. A file it cannot read is named and skipped.
- a background thread takes a snapshot every HARNESS_PERSIST_INTERVAL seconds: it walks moto's
  buckets and state machines (copies of their dicts and lists, which the GIL makes atomic) and
  writes only what changed since the last one, so no request does any extra work. Objects are
  told apart by a fingerprint (identity, LastModified, size, ETag, metadata), executions by
  ARN once they have ended. A kill -9 thus loses at most the last interval.
- `stop()` takes a final snapshot (the stack stops the model server first, so the Data
  Capture it flushes on shutdown is in S3 by then).
The newest HARNESS_PERSIST_MAX_EXECUTIONS executions are kept on disk (by start date).
The file layout is persistence_store.py's.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.emulator.persistence_bodies import BodyReleases
from harness.emulator.persistence_executions import (
    ENDED,
    RestoredExecution,
    record,
    state_machines,
    status,
)
from harness.emulator.persistence_store import Store, StoredObject, Unreadable, data_dir


def _log(message: str) -> None:
    print(f"persistence: {message}", file=sys.stderr, flush=True)


def _fingerprint(key) -> int:
    metadata = key.metadata
    items = tuple(getattr(metadata, "store", metadata).items())
    return hash((id(key), key.last_modified, key.contentsize, key._etag, items))


class Persister:
    def __init__(self, root: Path, interval: float = 2.0, max_executions: int = 1000):
        self.store = Store(root)
        self.interval = max(interval, 0.1)  # 0 would spin
        self.max_executions = max_executions
        self._objects: dict[tuple[str, str], int] = {}  # (bucket, key) -> fingerprint on disk
        self.bodies = BodyReleases()  # keys whose body is read from their stored file
        self._buckets: dict[str, int] = {}  # name -> fingerprint of (region, tags) on disk
        self._on_disk: dict[str, tuple] = {}  # execution ARN -> (start date, path)
        self._done: set[str] = set()  # ARNs of ended executions already on disk
        self._restored: dict[str, RestoredExecution] = {}
        self._pending: dict[str, list[RestoredExecution]] = {}  # machine ARN -> waiting
        self.restored = {"buckets": 0, "objects": 0, "executions": 0, "skipped": [], "seconds": 0}
        self.snapshots = 0
        self.persisted_through = 0.0  # every write acknowledged before this (epoch s) is on disk
        self.last_snapshot_seconds = 0.0
        self.last_error = ""
        self._lock = threading.Lock()  # one snapshot (or wipe) at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._original_create = None
        self.after_write: Callable[[], None] | None = None  # a snapshot wrote something

    @classmethod
    def for_settings(cls, settings) -> Persister:
        return cls(
            data_dir(settings.state_dir),
            settings.persist_interval,
            settings.persist_max_executions,
        )

    # --- restore ---------------------------------------------------------------------------

    def restore(self) -> dict:
        started = time.monotonic()
        self._install_hook()
        with self._lock:
            self.store.remove_temporary()
            self._restore_s3()
            self._restore_executions()
        self.restored["seconds"] = round(time.monotonic() - started, 3)
        if self.restored["objects"] or self.restored["executions"]:
            _log(
                f"restored {self.restored['objects']} objects in {self.restored['buckets']} "
                f"bucket(s) and {self.restored['executions']} executions from {self.store.root} "
                f"in {self.restored['seconds']} s"
            )
        return self.restored

    def _skip(self, problem: Unreadable) -> None:
        self.restored["skipped"].append(str(problem))
        _log(f"skipped {problem}")

    def _restore_s3(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        for folder, header in self.store.buckets():
            if isinstance(header, Unreadable):
                self._skip(header)
                continue
            backend = s3_backends[header.get("account") or DEFAULT_ACCOUNT_ID]["aws"]
            try:  # a hand-edited header (a bad name, say) must not keep the emulator down
                self._restore_bucket(backend, header)
            except Exception as exc:  # noqa: BLE001 - named, then the rest is restored
                self._skip(Unreadable(f"{folder}: {exc!r}"))
                continue
            for path in self.store.object_files(folder):
                try:
                    self._restore_object(backend, header["name"], path)
                except Unreadable as exc:
                    self._skip(exc)
                except Exception as exc:  # noqa: BLE001 - as above
                    self._skip(Unreadable(f"{path}: {exc!r}"))

    def _restore_bucket(self, backend, header: dict) -> None:
        name, region = header["name"], header.get("region") or "us-east-1"
        if name not in backend.buckets:
            backend.create_bucket(name, region)
        tags = dict(header.get("tags") or {})
        if tags:
            backend.put_bucket_tagging(name, tags)
        self._buckets[name] = hash((region, tuple(sorted(tags.items()))))
        self.restored["buckets"] += 1

    def _restore_object(self, backend, bucket: str, path: Path) -> None:
        stored = self.store.read_object(path)
        key = backend.put_object(
            bucket, stored.key, stored.body, etag=stored.etag or None, disable_notification=True
        )
        key.set_metadata({**stored.metadata, "Content-Type": stored.content_type})
        if stored.last_modified is not None:
            key.last_modified = stored.last_modified
        self._objects[(bucket, stored.key)] = _fingerprint(key)
        self.bodies.release(key, path)  # read from that file from now on, not held in memory
        self.restored["objects"] += 1

    def _restore_executions(self) -> None:
        found = []
        for path in self.store.execution_files():
            try:
                found.append(RestoredExecution(self.store.read_execution_summary(path), path))
            except Unreadable as exc:
                self._skip(exc)
        for execution in found:
            self._remember(execution.execution_arn, execution.start_date, execution.path)
            self._done.add(execution.execution_arn)
            self._restored[execution.execution_arn] = execution
            waiting = self._pending.setdefault(execution.state_machine_arn, [])
            waiting.append(execution)
            execution.holder = waiting
        self._prune()
        self.restored["executions"] = len(self._restored)

    def _install_hook(self) -> None:
        """Restored executions join their state machine when `up`'s deploy creates it."""
        from moto.stepfunctions.models import StepFunctionBackend

        if self._original_create is not None:
            return
        original = self._original_create = StepFunctionBackend.create_state_machine
        persister = self

        def create_state_machine(backend, *args, **kwargs):
            machine = original(backend, *args, **kwargs)
            waiting = persister._pending.pop(machine.arn, None)
            if waiting:
                machine.executions[:0] = waiting
                for execution in waiting:
                    execution.holder = machine.executions
            return machine

        StepFunctionBackend.create_state_machine = create_state_machine

    def uninstall(self) -> None:
        if self._original_create is not None:
            from moto.stepfunctions.models import StepFunctionBackend

            StepFunctionBackend.create_state_machine = self._original_create
            self._original_create = None

    # --- snapshots -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="persistence")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.snapshot_safely()

    def snapshot_safely(self) -> None:
        try:
            wrote = self.snapshot()
            if any(wrote.values()) and self.after_write is not None:
                self.after_write()
        except Exception as exc:  # noqa: BLE001 - a full disk must not end the emulator
            message = f"snapshot failed: {exc!r}"
            if message != self.last_error:
                _log(f"{message} (the next one is tried in {self.interval} s)")
            self.last_error = message

    def snapshot(self) -> dict:
        """Write what changed since the last snapshot; returns what it wrote."""
        with self._lock:
            began, clock = time.time(), time.process_time()
            wrote = self._snapshot_s3()
            wrote["executions"] = self._snapshot_executions()
            self.snapshots += 1
            self.persisted_through = began
            self.last_snapshot_seconds = time.process_time() - clock
            self.last_error = ""
            return wrote

    def _snapshot_s3(self) -> dict:
        if "moto.s3.models" not in sys.modules:
            return {"objects": 0, "deleted": 0}
        from moto.s3.models import FakeKey, s3_backends

        written = 0
        seen_buckets, seen = set(), set()
        for per_account in list(dict.values(s3_backends)):
            for backend in list(dict.values(per_account)):
                for name, bucket in list(backend.buckets.items()):
                    seen_buckets.add(name)
                    tags = backend.tagger.get_tag_dict_for_resource(bucket.arn)
                    fingerprint = hash((bucket.region_name, tuple(sorted(tags.items()))))
                    if self._buckets.get(name) != fingerprint:
                        self.store.write_bucket(name, bucket.region_name, tags)
                        self._buckets[name] = fingerprint
                    for key_name, versions in list(dict.items(bucket.keys)):
                        key = versions[-1] if versions else None
                        if not isinstance(key, FakeKey):  # a delete marker
                            continue
                        seen.add((name, key_name))
                        fingerprint = _fingerprint(key)
                        if self._objects.get((name, key_name)) == fingerprint:
                            continue
                        if self._write_key(name, key):
                            self._objects[(name, key_name)] = fingerprint
                            written += 1
        deleted = [pair for pair in self._objects if pair not in seen]
        for bucket, key in deleted:
            self.bodies.before_replace(self.store.object_path(bucket, key))
            self.store.delete_object(bucket, key)
            del self._objects[(bucket, key)]
        for name in [name for name in self._buckets if name not in seen_buckets]:
            self.store.delete_bucket(name)
            del self._buckets[name]
        return {"objects": written, "deleted": len(deleted)}

    def _write_key(self, bucket: str, key) -> bool:
        try:
            body = key.value  # under the key's own lock
        except ValueError:  # deleted meanwhile: its buffer is closed; the next snapshot sees
            return False
        metadata = dict(getattr(key.metadata, "store", key.metadata))
        content_type = metadata.pop("content-type", "binary/octet-stream")
        self.bodies.before_replace(self.store.object_path(bucket, key.name))
        path = self.store.write_object(
            StoredObject(
                bucket=bucket,
                key=key.name,
                body=body,
                content_type=content_type,
                metadata=metadata,
                etag=key.etag.strip('"'),
                last_modified=key.last_modified,
            )
        )
        self.bodies.release(key, path)
        return True

    def _snapshot_executions(self) -> int:
        written = 0
        for machine in state_machines():
            for execution in list(machine.executions):
                arn = execution.execution_arn
                if arn in self._done or status(execution) not in ENDED:
                    continue
                try:  # an OSError (a full disk) propagates: the next snapshot tries again
                    path = self.store.write_execution(*record(execution, machine))
                except (AttributeError, KeyError, TypeError, ValueError) as exc:
                    _log(f"not saving {arn}: {exc!r}")  # one odd execution must not block the rest
                    self._done.add(arn)
                    continue
                self._done.add(arn)
                self._remember(arn, execution.start_date, path)
                self._release(machine.executions, execution, path)
                written += 1
        if written:
            self._prune()
        return written

    def _release(self, executions: list, execution, path: Path) -> None:
        """Swap a saved execution for its light record (history read from disk when asked).

        moto keeps each ended execution's engine (parsed program, environment, threads' objects:
        about 70 KB) for ever; this keeps the stack's memory flat over thousands of executions
        and lets _prune cap what stays listed."""
        try:
            light = RestoredExecution(self.store.read_execution_summary(path), path)
            executions[executions.index(execution)] = light  # one list store: atomic for readers
        except (Unreadable, ValueError):
            return  # keep the live one: it answers just as well
        light.holder = executions
        self._restored[light.execution_arn] = light

    def _remember(self, arn: str, start, path: Path) -> None:
        self._on_disk[arn] = (start.timestamp() if hasattr(start, "timestamp") else 0.0, path)

    def _prune(self) -> None:
        """Keep the newest `max_executions` on disk; restored ones beyond it leave memory too."""
        extra = len(self._on_disk) - self.max_executions
        if extra <= 0:
            return
        oldest = sorted(self._on_disk.items(), key=lambda item: item[1][0])[:extra]
        for arn, (_, path) in oldest:
            path.unlink(missing_ok=True)
            del self._on_disk[arn]
            restored = self._restored.pop(arn, None)
            if restored is not None and restored.holder is not None:
                try:
                    restored.holder.remove(restored)
                except ValueError:
                    pass

    # --- life cycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """End the thread and take the final snapshot."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.snapshot_safely()
        self.uninstall()

    def wipe(self) -> None:
        """Forget what is on disk (the emulator's reset)."""
        with self._lock:
            self.bodies.restore_all()
            self.store.wipe()
            for index in (self._objects, self._buckets, self._on_disk, self._restored):
                index.clear()
            self._pending.clear()
            self._done.clear()

    def health(self) -> dict:
        return {
            "enabled": True,
            "dir": str(self.store.root),
            "interval_seconds": self.interval,
            "restored": self.restored,
            "snapshots": self.snapshots,
            "persisted_through": self.persisted_through,
            "last_snapshot_cpu_seconds": round(self.last_snapshot_seconds, 4),
            "objects": len(self._objects),
            "executions": len(self._on_disk),
            "last_error": self.last_error,
        }
