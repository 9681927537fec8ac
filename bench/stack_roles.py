"""The embedded stack's processes by role, and what they hold or spend: shared by bench_stack.py
and soak.py (bench/ is on sys.path when they run as scripts).

Roles: the emulator, its Lambda workers (the emulator's children), the model server (its
supervisor with its server).
"""

from __future__ import annotations

import psutil

from harness.config import Settings
from harness.stack import embedded
from harness.stack.processes import StackState

ROLES = ("emulator", "lambda-workers", "model-server")


def stack_processes(settings: Settings) -> dict[str, list[psutil.Process]]:
    """The stack's processes by role: the emulator, its Lambda workers, the model server's
    supervisor with its servers."""
    state = StackState.load(settings)
    roles: dict[str, list[psutil.Process]] = {
        "emulator": [],
        "lambda-workers": [],
        "model-server": [],
    }
    for name, pid in state.processes.items():
        try:
            root = psutil.Process(pid)
            below = root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        if name == embedded.EMULATOR:
            roles["emulator"].append(root)
            roles["lambda-workers"] += below
        else:
            roles["model-server"] += [root, *below]
    return roles


def is_lambda_worker(proc: psutil.Process) -> bool:
    """A Lambda worker, started fresh (`python -m awslambdaric`) or forked from a template
    (named `awslambdaric`), not a template itself."""
    return proc.name() == "awslambdaric" or "awslambdaric" in proc.cmdline()


def footprint(settings: Settings) -> dict:
    """Memory (USS and PSS, as in `memory`) and open descriptors, in all and by role."""
    out: dict = {"uss_mb": 0.0, "pss_mb": 0.0, "fds": 0}
    for role, procs in stack_processes(settings).items():
        uss = pss = fds = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
                uss, pss, fds = uss + info.uss, pss + info.pss, fds + proc.num_fds()
            except psutil.NoSuchProcess:
                continue
        out[role] = {"processes": len(procs), "fds": fds}
        for key, value in (("uss_mb", uss), ("pss_mb", pss)):
            out[role][key] = round(value / 2**20, 1)
            out[key] = round(out[key] + value / 2**20, 1)
        out["fds"] += fds
    return out


def memory(settings: Settings) -> dict:
    """USS (what the process alone holds: the figure the goals use), PSS (each shared page
    split among the processes mapping it: what the stack costs the machine, its sum honest
    where USS leaves out pages two of our processes share) and RSS (which counts shared
    libraries once per process, so it overstates a stack of many Pythons), by role."""
    out: dict = {"uss_mb": 0.0, "pss_mb": 0.0, "rss_mb": 0.0, "processes": 0}
    for role, procs in stack_processes(settings).items():
        uss = pss = rss = counted = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
            except psutil.Error:  # gone, or a zombie the pool has not reaped yet
                continue
            uss, pss, rss = uss + info.uss, pss + info.pss, rss + info.rss
            counted += 1
        out[role] = {"processes": counted}
        for key, value in (("uss_mb", uss), ("pss_mb", pss), ("rss_mb", rss)):
            out[role][key] = round(value / 2**20, 1)
            out[key] = round(out[key] + value / 2**20, 1)
        out["processes"] += counted
    return out


def _spent(times, children: bool) -> float:
    own = times.user + times.system
    return own + (times.children_user + times.children_system if children else 0.0)


# What cpu_seconds cannot see. A process that came and went between two listings still counts:
# the kernel adds it to its parent's children_* times once the parent waits for it, and the
# roles' parents do (the Lambda pool and the supervisor wait for theirs).
NOT_COUNTED = (
    "processes outside the stack and the bench client (other benchmarks, py-spy); "
    "descendants whose parent never waited for them (none expected: the Lambda pool and "
    "the supervisor wait for every child)"
)


def cpu_seconds(settings: Settings) -> dict[str, float]:
    """CPU seconds (user + system) each role has spent so far; take it before and after a
    phase and subtract. Workers that came and went count through their parent's children_*
    times (the emulator's, or their template's: each waits for its own), servers the supervisor
    replaced through the supervisor's."""
    out = dict.fromkeys(ROLES, 0.0)
    for role, procs in stack_processes(settings).items():
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            if role == "emulator":  # its own time; its reaped workers' time is theirs
                out["emulator"] += _spent(times, children=False)
                out["lambda-workers"] += times.children_user + times.children_system
            else:
                out[role] += _spent(times, children=True)
    return out


def wait_until_quiet(settings: Settings, busy_share: float = 0.05, timeout: float = 20.0) -> float:
    """Seconds until the stack's processes use under `busy_share` of one core over 0.5 s:
    right after `up` Lambda workers and moto's warm-up still load,
    and a latency taken then measures them, not the execution."""
    import time

    start = time.monotonic()
    before = sum(cpu_seconds(settings).values())
    while time.monotonic() - start < timeout:
        time.sleep(0.5)  # a measuring window, not a wait for readiness
        now = sum(cpu_seconds(settings).values())
        if now - before < busy_share * 0.5:
            break
        before = now
    return round(time.monotonic() - start, 1)
