"""The fault model and its file: `faults.json` in the state folder.

The CLI writes it (read-modify-write under a lock file, then an atomic rename); the running
components read it on every request, but parse it only when its stat changes (a `stat` costs a
few microseconds, so a stack without faults pays nothing worth measuring). Times are wall-clock
seconds since the epoch: the emulator, the model server and its container share the host's
clock. A timed fault ends by itself: components skip it once `expires_at` is past, and the CLI
drops it from the file the next time it writes.

Standard library only: the model-server image (core packages only) imports this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import HarnessError

FAULTS_FILE = "faults.json"
ENDPOINT, LAMBDA = "endpoint", "lambda"
ENDPOINT_KINDS = ("ModelNotReadyException", "ServiceUnavailable", "ModelError", "slow")
LAMBDA_KINDS = ("timeout", "crash", "error")

log = logging.getLogger("harness.faults")


@dataclass(frozen=True)
class Fault:
    id: str
    scope: str  # ENDPOINT or LAMBDA
    target: str  # the endpoint's name, or the function's
    kind: str  # one of ENDPOINT_KINDS or LAMBDA_KINDS
    rate: float = 1.0  # the probability that one request or invocation meets it
    params: dict = field(default_factory=dict)  # delay, status, error, service
    created_at: float = 0.0
    expires_at: float | None = None  # None: until `harness fault clear`

    def expired(self, now: float | None = None) -> bool:
        return (
            self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at
        )

    def seconds_left(self, now: float | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - (time.time() if now is None else now))

    def hits(self, roll: Callable[[], float] = random.random) -> bool:
        return roll() < self.rate

    def describe(self) -> str:
        p = self.params
        if self.kind == "slow":
            return f"slow: +{p.get('delay', 0):g} s a request"
        if self.kind == "ModelError":
            return f"ModelError (OriginalStatusCode {p.get('status', 500)})"
        if self.kind == "error":
            what = (
                f"service error, HTTP {p.get('status')}" if p.get("service") else "function error"
            )
            return f"error {p.get('error')} ({what})"
        if self.kind == "timeout":
            return "timeout (Sandbox.Timedout after the function's Timeout)"
        if self.kind == "crash":
            return "crash (worker killed: Runtime.ExitError)"
        return self.kind

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> Fault:
        return cls(
            id=str(raw["id"]),
            scope=str(raw["scope"]),
            target=str(raw["target"]),
            kind=str(raw["kind"]),
            rate=float(raw.get("rate", 1.0)),
            params=dict(raw.get("params") or {}),
            created_at=float(raw.get("created_at", 0.0)),
            expires_at=None if raw.get("expires_at") is None else float(raw["expires_at"]),
        )


def new_fault(
    scope: str,
    target: str,
    kind: str,
    rate: float = 1.0,
    params: dict | None = None,
    duration: float | None = None,
    now: float | None = None,
) -> Fault:
    if not 0.0 < rate <= 1.0:
        raise HarnessError(f"--rate {rate:g} is not a probability.", "give a number in (0, 1]")
    now = time.time() if now is None else now
    expires = None if duration is None else now + duration
    return Fault(secrets.token_hex(3), scope, target, kind, rate, dict(params or {}), now, expires)


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, option: str = "--for") -> float:
    """'500ms', '2s', '2', '1.5m', '1h' -> seconds (> 0)."""
    match = _DURATION.fullmatch(text or "")
    seconds = float(match[1]) * _UNITS[match[2]] if match else 0.0
    if seconds <= 0:
        raise HarnessError(
            f"{option} {text!r} is not a duration.", "write it like 500ms, 30s, 2m or 1h"
        )
    return seconds


def faults_path(state_dir: Path) -> Path:
    return Path(state_dir) / FAULTS_FILE


def _parse(text: str) -> list[Fault]:
    raw = json.loads(text) if text.strip() else {}
    return [Fault.from_dict(item) for item in raw.get("faults", [])]


class FaultStore:
    """The CLI's side: every change is a read-modify-write under `faults.lock`."""

    def __init__(self, state_dir: Path):
        self.path = faults_path(state_dir)

    def read(self) -> list[Fault]:
        """Every fault in the file, the expired ones too."""
        try:
            return _parse(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HarnessError(
                f"{self.path} cannot be read ({exc}).",
                "`harness fault clear` writes it afresh (it removes every fault)",
            ) from exc

    def active(self, now: float | None = None) -> list[Fault]:
        return [f for f in self.read() if not f.expired(now)]

    def add(self, fault: Fault) -> Fault:
        with self._locked():
            self._write([*self.active(), fault])
        return fault

    def clear(self, fault_id: str | None = None) -> list[Fault]:
        """Remove one fault (by id) or all; returns the active ones removed."""
        with self._locked():
            if fault_id is None:
                try:
                    removed = self.active()
                except HarnessError:  # a broken file: clearing is how to mend it
                    removed = []
                self._write([])
                return removed
            active = self.active()
            removed = [f for f in active if f.id == fault_id]
            if not removed:
                known = ", ".join(f.id for f in active) or "none is active"
                raise HarnessError(
                    f"No active fault has the id {fault_id!r}.",
                    f"`harness fault list` shows them (active ids: {known})",
                )
            self._write([f for f in active if f.id != fault_id])
            return removed

    def prune(self) -> list[Fault]:
        """The active faults; drops the expired ones from the file (only if there are any)."""
        with self._locked():
            faults = self.read()
            active = [f for f in faults if not f.expired()]
            if len(active) != len(faults):
                self._write(active)
            return active

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write(self, faults: list[Fault]) -> None:
        tmp = self.path.with_name(f".{FAULTS_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"faults": [f.to_dict() for f in faults]}, indent=1) + "\n")
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one


class FaultFile:
    """The components' side: the faults that apply to one target now, cheap to ask per request."""

    def __init__(self, path: Path, roll: Callable[[], float] = random.random):
        self.path = Path(path)
        self.roll = roll
        self._key: tuple | None = None
        self._faults: tuple[Fault, ...] = ()
        self._lock = threading.Lock()

    def active(self, scope: str, target: str, now: float | None = None) -> list[Fault]:
        faults = self._load()
        if not faults:
            return []
        now = time.time() if now is None else now
        return [f for f in faults if f.scope == scope and f.target == target and not f.expired(now)]

    def _load(self) -> tuple[Fault, ...]:
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if key == self._key:
            return self._faults
        with self._lock:
            if key != self._key:
                self._faults = self._read() if key is not None else ()
                self._key = key
        return self._faults

    def _read(self) -> tuple[Fault, ...]:
        try:
            return tuple(_parse(self.path.read_text()))
        except FileNotFoundError:
            return ()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s: %s (`harness fault clear` rewrites it)", self.path, exc)
            return ()
