"""Sample running processes with py-spy while a bench runs, and summarise where the time went.

    handle = profiling.start({"emulator": pid, ...})   # one py-spy per root, its children too
    ...the workload...
    summary = profiling.stop(handle, raw_path)         # a dict for the figures' JSON

py-spy runs as a separate process that reads the targets' memory; it needs ptrace rights over
them (root, or kernel.yama.ptrace_scope 0). When it is missing or cannot attach, the summary
carries the reason instead of figures: a profile is a help, never the bench's failure.

Each sample is the stack of the thread holding the GIL (`--gil`), so samples follow Python's
own CPU time: py-spy's idle filter let waiting threads through here (Condition.wait came out
on top). Native code that releases the GIL (onnxruntime's inference, socket I/O) is not seen.
`--nonblocking` reads without pausing the targets: pausing a dozen processes 100 times a
second cut the stack's throughput by three quarters; a stack may then rarely be torn.
Samples are aggregated per function (`--function`: the line is the function's first line).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# py-spy falls behind above ~100 Hz on a 2-core box with a dozen processes to walk
DEFAULT_RATE = 100
PROCESS_FRAME = re.compile(r'^process (\d+):"(.*)"$')
FRAME = re.compile(r"^(.*) \((.*):(\d+)\)$")
# shorten paths to what a reader recognises: a package, the repo, the stdlib
PATH_PREFIXES = (
    re.compile(r"^.*/site-packages/"),
    re.compile(r"^.*/lib/python3\.\d+/"),
    re.compile("^" + re.escape(str(Path(__file__).resolve().parent.parent)) + "/"),
)


@dataclass
class Handle:
    rate: int
    classify: Callable[[str], str | None] | None
    spies: dict[str, subprocess.Popen] = field(default_factory=dict)  # role -> py-spy
    raw: dict[str, Path] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # role -> why it is not profiled
    started: float = 0.0
    folder: Path | None = None  # py-spy's files, removed by stop


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, when its bin/ is not on PATH
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(
    pids: Mapping[str, int],
    rate: int = DEFAULT_RATE,
    classify: Callable[[str], str | None] | None = None,
) -> Handle:
    """Start one py-spy per role's root process, with its subprocesses. `classify` names the
    role of a subprocess from its command line (None: the root's role)."""
    handle = Handle(rate=rate, classify=classify, started=time.monotonic())
    exe = py_spy()
    if exe is None:
        handle.errors = dict.fromkeys(pids, "py-spy is not installed (pip install py-spy)")
        return handle
    folder = handle.folder = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    for role, pid in pids.items():
        raw, log = folder / f"{role}.txt", folder / f"{role}.log"
        command = [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
        command += ["--rate", str(rate), "--gil", "--nonblocking", "--function"]
        command += ["--full-filenames", "-o", str(raw)]
        with log.open("wb") as out:
            spy = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        handle.spies[role], handle.raw[role], handle.logs[role] = spy, raw, log
    # wait until each one samples, so the workload that follows is covered from its start
    deadline = time.monotonic() + 10
    for role, spy in list(handle.spies.items()):
        while "Sampling process" not in _text(handle.logs[role]) and time.monotonic() < deadline:
            if spy.poll() is not None:  # could not attach: ptrace denied, no such process...
                handle.errors[role] = _reason(handle.logs[role], spy.returncode)
                del handle.spies[role]
                break
            time.sleep(0.05)
    handle.started = time.monotonic()
    return handle


def stop(handle: Handle, raw_out: Path | None = None, top: int = 25) -> dict:
    """Stop every py-spy (SIGINT: it then writes its file), summarise, and save the collapsed
    stacks of all roles in one file at raw_out (each stack starts with its process)."""
    seconds = time.monotonic() - handle.started
    lines: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    for role, spy in handle.spies.items():
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
            handle.errors[role] = "py-spy did not stop on SIGINT within 60 s"
            continue
        if not handle.raw[role].exists():
            handle.errors[role] = _reason(handle.logs[role], spy.returncode)
            continue
        lines[role] = handle.raw[role].read_text().splitlines()
        notes[role] = _counts(handle.logs[role])
    if raw_out is not None and lines:
        raw_out.parent.mkdir(parents=True, exist_ok=True)
        raw_out.write_text("".join(line + "\n" for role in lines.values() for line in role))
    if handle.folder is not None:
        shutil.rmtree(handle.folder, ignore_errors=True)
    summary: dict = {
        "tool": "py-spy",
        "rate_hz": handle.rate,
        "seconds": round(seconds, 1),
        "not_profiled": handle.errors,
    }
    if not lines:
        return summary
    by_role = _by_role(lines, handle)
    total = sum(sum(c.values()) for c, _ in by_role.values())
    own_all: Counter = Counter()
    incl_all: Counter = Counter()
    for own, inclusive in by_role.values():
        own_all.update(own)
        incl_all.update(inclusive)
    summary |= {
        "py_spy": notes,  # its own count of samples and errors (e.g. a process that exited)
        "samples": total,
        "top_own": _top(own_all, total, top),
        "top_inclusive": _top(incl_all, total, top),
        "by_role": {
            role: {
                "samples": sum(own.values()),
                "share": round(sum(own.values()) / total, 3),
                "top_own": _top(own, sum(own.values()), top),
                "top_inclusive": _top(inclusive, sum(own.values()), top),
            }
            for role, (own, inclusive) in sorted(by_role.items())
        },
    }
    return summary


def _by_role(lines: dict[str, list[str]], handle: Handle) -> dict[str, tuple[Counter, Counter]]:
    """Own (leaf frame) and inclusive (each distinct frame of the stack once) samples per
    function, by role: the innermost process frame's command line, else the root's role."""
    out: dict[str, tuple[Counter, Counter]] = {}
    for role, role_lines in lines.items():
        for line in role_lines:
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames, owner = [], role
            for frame in stack.split(";"):
                process = PROCESS_FRAME.match(frame)
                if process:
                    owner = (handle.classify and handle.classify(process.group(2))) or role
                else:
                    frames.append(_function(frame))
            if not frames:
                continue
            own, inclusive = out.setdefault(owner, (Counter(), Counter()))
            own[frames[-1]] += int(count)
            for function in set(frames):
                inclusive[function] += int(count)
    return out


def _function(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame)
    if not match:
        return frame, ""
    path = match.group(2)
    for prefix in PATH_PREFIXES:
        path = prefix.sub("", path)
    return match.group(1), f"{path}:{match.group(3)}"


def _top(counts: Counter, total: int, n: int) -> list[dict]:
    return [
        {"function": name, "file_line": at, "share": round(count / total, 4)}
        for (name, at), count in counts.most_common(n)
    ]


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _counts(path: Path) -> str:
    """py-spy's own tally; errors are mostly torn reads of a stack that moved (--nonblocking)."""
    text = _text(path)
    found = re.findall(r"Samples: \d+ Errors: \d+", text)
    behind = " (py-spy fell behind the rate)" if "behind" in text else ""
    return (found[-1] if found else "no tally") + behind


def _reason(log: Path, returncode: int | None) -> str:
    text = " ".join(_text(log).split("Stack backtrace")[0].split())[-300:]
    hint = " (ptrace not allowed? run as root or set kernel.yama.ptrace_scope=0)"
    denied = "ermission" in text or "ptrace" in text.lower()
    return f"py-spy exited {returncode}: {text}" + (hint if denied else "")


if __name__ == "__main__":  # profile any process for a few seconds: profiling.py PID [SECONDS]
    import json

    pid = int(sys.argv[1])
    handle = start({"target": pid})
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 5)
    print(json.dumps(stop(handle, top=10), indent=2))
